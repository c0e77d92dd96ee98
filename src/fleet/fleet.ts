/**
 * The fleet view: device findings judged against the rest of their class.
 *
 * A change seen on many devices of a class at once is a fleet event (a migration to a new cloud
 * endpoint, a firmware rollout, a site outage, a shift that ends), not N device incidents. The
 * per-device engine cannot see that, so findings of detectors whose role is `change` come here
 * and wait `hold` of fleet time for context (another hold, up to `window`, while other devices
 * keep showing the same change: rollouts spread over hours). Then each is:
 * - **folded** when enough devices of its class showed the same change (same signature) within
 *   `window` of it: it is kept (severity info, the original in its evidence) and one fleet
 *   finding (`fleet_change`, info, the devices and counts) stands for them all;
 * - judged a **fleet service** when its destination is used by a good share of the class: the
 *   class's own backend is periodic and common, an implant's server is periodic and rare;
 * - **raised** when it carries a `rare_score` (an established regular channel, which its device
 *   alone cannot judge) and next to no other device of the class or fleet uses its destination;
 * - otherwise **passed** on as the device raised it.
 *
 * Attacks never fold. Findings of detectors whose role is `attack` (scans, brute force, floods,
 * exfiltration) pass at once and mark their device: a device marked within `window` of its
 * change is not counted towards a fold and its own finding is never folded, so a worm that
 * reaches many devices of a class is an incident on every one of them. A mark that arrives after
 * a fold revokes it for that device (the finding is passed on then). A destination is only a
 * fleet service, or a peer change only folds, when it is common in the class: contact with a
 * destination rare in the fleet always passes.
 *
 * Pure and event-time driven: the same facts and findings in the same order give the same
 * output, so a backtest and a replay agree. Findings keep their ids; a judged finding's later
 * versions get the same judgement.
 */
import type { FleetFact, FleetRole, Finding, FindingDraft } from '../detectors/types.js';
import { finalize } from '../pipeline/engine.js';
import { severityOf } from '../detectors/score.js';
import { peerGroup } from '../detectors/fleet.js';
import { isInternalIp } from '../detectors/lib/ip.js';
import { classSize, newProfile, observe, prevalence, prune, type ClassProfile } from './profile.js';

export interface FleetOptions {
  pipeline: string;
  /** How long a change-role finding waits for fleet context before it passes. */
  hold: number;
  /** Devices showing the same change within this of each other form a fleet change. */
  window: number;
  /** A non-destination change folds on this many devices… */
  minDevices: number;
  /** …or this share of the class, whichever is fewer (never fewer than MIN_FOLD devices). */
  minShare: number;
  /** A destination used by this share of the class (and at least MIN_FOLD devices) is a fleet service. */
  commonShare: number;
  /** How long devices and their destinations are remembered. */
  memory: number;
  /** The fleet role of a detector instance id (the pipeline's detectors). */
  roleOf(detector: string): FleetRole | undefined;
}

export const FLEET_DETECTOR = 'fleet_change';
/** Below this many devices nothing is a fleet: two devices changing together is a coincidence to look at. */
const MIN_FOLD = 3;
/** A destination is rare when at most this share of the class (and of the fleet) uses it besides the device. */
const RARE_SHARE = 0.02;
/** Rarity says nothing in a fleet smaller than this. */
const MIN_RARE_FLEET = 5;
/** Fleet findings list at most this many devices (the count is exact). */
const MAX_LISTED = 50;
/** Judgements and marks are remembered this long after their last use. */
const KEEP = 14 * 86_400_000;
const PRUNE_EVERY = 3_600_000;

type Verdict = 'folded' | 'service' | 'raised' | 'passed';

interface Judged {
  verdict: Verdict;
  cls: string;
  sig?: string;
  /** Destination share that made it a service. */
  users?: number;
  size?: number;
  /** The newest version seen, for revocation; event time of its last update. */
  f: Finding;
}

interface Held {
  f: Finding;
  release: number;
  sig?: string;
  /** Clean devices sharing its change when it was offered or its hold last ended. */
  seen: number;
  /** When its hold began: its event time, or fleet time when it arrived later than that. */
  since: number;
}

interface Change {
  /** Device → first_ts of its newest finding with this signature. */
  members: Map<string, number>;
  /** The fleet event it belongs to once it folded anything. */
  event?: FleetEvent;
}

/**
 * One fleet change as the analyst sees it: changes of several signatures on mostly the same
 * devices at the same time (a rollout brings a new version, a new destination and a new rhythm)
 * are one event with one fleet finding.
 */
interface FleetEvent {
  /** The signature that folded first, and its first device's time: the fleet finding's key and id. */
  key: string;
  idTs: number;
  sigs: string[];
  first_ts: number;
  last_ts: number;
  /** Device → first_ts of its part in the event. */
  devices: Map<string, number>;
  /** Devices the fleet finding last reported. */
  count: number;
}

/** A change joins an event when this share of its devices already belong to it. */
const JOIN_OVERLAP = 0.6;

export interface Fleet {
  /** Facts from the engine (seen devices, destinations in use). */
  facts(fs: readonly FleetFact[]): void;
  /** A device finding; returns what to emit now (passed findings, or new versions of judged ones). */
  offer(f: Finding): Finding[];
  /** Fleet time reached `ts`: held findings whose hold ended are judged and emitted. */
  advanceTo(ts: number): Finding[];
  /** End of input: judge everything still held. */
  flush(): Finding[];
  /** Findings waiting for fleet context. */
  held(): number;
}

export function createFleet(opts: FleetOptions): Fleet {
  const classes = new Map<string, ClassProfile & { changes: Map<string, Change>; events: FleetEvent[] }>();
  /** Every device of every class: rarity is also judged fleet-wide (a class of one says little). */
  const all = newProfile();
  /** Device → event times of its attack findings (a few, newest last). */
  const marks = new Map<string, number[]>();
  const held = new Map<string, Held>();
  /** Held ids by release time (a min-heap; entries judged early are skipped when popped). */
  const queue: Array<[number, string]> = [];
  /** Held ids per class and signature, so a fold reaches its waiting members at once. */
  const heldBySig = new Map<string, Set<string>>();
  const judged = new Map<string, Judged>();
  /** Ids of folded findings per device, for revocation. */
  const foldedOf = new Map<string, Set<string>>();
  let now = Number.NEGATIVE_INFINITY;
  let lastPrune = Number.NEGATIVE_INFINITY;

  function cls(name: string) {
    let c = classes.get(name);
    if (c === undefined) classes.set(name, (c = { ...newProfile(), changes: new Map(), events: [] }));
    return c;
  }

  function marked(device: string, t: number): boolean {
    const m = marks.get(device);
    if (m === undefined) return false;
    for (const x of m) if (Math.abs(x - t) <= opts.window) return true;
    return false;
  }

  /** Devices needed for a fold in a class of `size`. */
  function needed(size: number, byDestination: boolean): number {
    const share = Math.ceil(opts.minShare * size);
    return Math.max(MIN_FOLD, byDestination ? share : Math.min(opts.minDevices, share));
  }

  /** Unmarked devices whose change began within `window` of `t` (stops counting at `enough`). */
  function cleanMembers(ch: Change, t: number, enough = Number.POSITIVE_INFINITY): string[] {
    const out: string[] = [];
    for (const [d, first] of ch.members) {
      if (Math.abs(first - t) <= opts.window && !marked(d, first)) out.push(d);
      if (out.length >= enough) break;
    }
    return out;
  }

  function verdictFor(f: Finding, sig: string | undefined): Judged {
    const role = opts.roleOf(f.detector)!;
    const c = cls(f.device_class);
    const size = classSize(c);
    const peer = role.peer?.(f);
    const group = peer !== undefined ? peerGroup(peer.ip, peer.port) : undefined;
    const users = group !== undefined ? prevalence(c, group, f.device_id) : 0;
    // A destination rare in the class never folds and is never a service.
    const common = group === undefined || users + 1 >= Math.max(MIN_FOLD, Math.ceil(opts.commonShare * size));
    if (sig !== undefined && common && !marked(f.device_id, f.first_ts)) {
      const ch = c.changes.get(sig);
      const need = needed(size, group !== undefined);
      if (ch !== undefined && ch.members.size >= need && cleanMembers(ch, f.first_ts, need).length >= need) return { verdict: 'folded', cls: f.device_class, sig, f };
    }
    if (group !== undefined && common && size >= MIN_FOLD) return { verdict: 'service', cls: f.device_class, users: users + 1, size, f };
    // A finding that says what it is worth when its destination is rare (an established regular
    // channel) is raised to that when next to no other device of the class, or of the fleet, uses
    // the destination: the class's own backends are shared, an implant's server is not. Only in
    // the shared address space: private addresses are planned per site (each store's router, each
    // plant's time server), so a private destination is rare in any fleet by design and rarity says
    // nothing of it; a local host turned command server is lateral movement's to find.
    if (group !== undefined && typeof f.evidence.rare_score === 'number' && f.evidence.rare_score > f.score && !isInternalIp(peer!.ip)) {
      const fleetSize = classSize(all);
      const others = prevalence(all, group, f.device_id);
      const allowed = (n: number) => Math.floor(RARE_SHARE * n);
      if (fleetSize >= MIN_RARE_FLEET && users <= allowed(size) && others <= users + allowed(fleetSize)) return { verdict: 'raised', cls: f.device_class, users: others + 1, size: fleetSize, f };
    }
    return { verdict: 'passed', cls: f.device_class, f };
  }

  /** The finding as a judgement leaves it. */
  function apply(j: Judged, f: Finding): Finding {
    if (j.verdict === 'passed') return f;
    if (j.verdict === 'raised') {
      const score = Math.max(f.score, f.evidence.rare_score as number);
      return {
        ...f,
        score,
        severity: severityOf(score),
        explanation: `${f.explanation} Raised: ${j.users === 1 ? 'no other device' : `only ${j.users} devices`} of the ${j.size} in the fleet ${j.users === 1 ? 'uses' : 'use'} this destination.`,
        evidence: { ...f.evidence, fleet: { verdict: 'raised', devices_using: j.users, fleet_size: j.size, severity: f.severity, score: f.score } },
      };
    }
    const ev = j.verdict === 'folded' ? cls(j.cls).changes.get(j.sig!)?.event : undefined;
    const why =
      j.verdict === 'folded'
        ? `part of a fleet change: ${ev?.count ?? 0} devices of class ${j.cls} changed the same way within ${fmtH(opts.window)} (see ${FLEET_DETECTOR} "${ev?.key ?? j.sig}")`
        : `its destination is a fleet service: ${j.users} of ${j.size} devices of class ${j.cls} use it`;
    return {
      ...f,
      score: Math.min(f.score, 0.2),
      severity: 'info',
      explanation: `${f.explanation} Not alerted: ${why}.`,
      evidence: { ...f.evidence, fleet: { verdict: j.verdict, ...(j.sig !== undefined ? { signature: j.sig } : {}), ...(j.users !== undefined ? { devices_using: j.users, class_size: j.size } : {}), severity: f.severity, score: f.score } },
    };
  }

  /** The fleet event a change belongs to: one it overlaps with, or a new one. */
  function eventOf(className: string, sig: string, ch: Change, clean: string[], first: number): FleetEvent {
    if (ch.event !== undefined) return ch.event;
    const c = cls(className);
    for (const ev of c.events) {
      if (Math.abs(ev.first_ts - first) > opts.window) continue;
      let shared = 0;
      for (const d of clean) if (ev.devices.has(d)) shared++;
      if (shared >= JOIN_OVERLAP * clean.length) {
        ev.sigs.push(sig);
        return (ch.event = ev);
      }
    }
    const ev: FleetEvent = { key: sig, idTs: first, sigs: [sig], first_ts: first, last_ts: first, devices: new Map(), count: 0 };
    c.events.push(ev);
    return (ch.event = ev);
  }

  /** The fleet finding of a change's event, when its device count moved. */
  function fleetFinding(className: string, sig: string, ch: Change, t: number): Finding | undefined {
    const clean = cleanMembers(ch, t).sort((a, b) => ch.members.get(a)! - ch.members.get(b)! || (a < b ? -1 : 1));
    const ev = eventOf(className, sig, ch, clean, ch.members.get(clean[0]!)!);
    for (const d of clean) {
      const at = ch.members.get(d)!;
      const prev = ev.devices.get(d);
      if (prev === undefined || at < prev) ev.devices.set(d, at);
      if (at > ev.last_ts) ev.last_ts = at;
      if (at < ev.first_ts) ev.first_ts = at;
    }
    if (ev.devices.size <= ev.count) return undefined;
    ev.count = ev.devices.size;
    const n = ev.count;
    const size = classSize(cls(className));
    const share = size > 0 ? Math.round((100 * n) / size) : 100;
    const what = ev.sigs.join('; ');
    const devices = [...ev.devices.keys()].sort((a, b) => ev.devices.get(a)! - ev.devices.get(b)! || (a < b ? -1 : 1));
    const draft: FindingDraft = {
      detector: FLEET_DETECTOR,
      key: ev.key,
      device_id: `fleet:${className}`,
      device_class: className,
      first_ts: ev.first_ts,
      last_ts: ev.last_ts,
      count: n,
      score: 0.1,
      severity: 'info',
      observed: `${n} devices (${share}% of ${size}) with ${what}`,
      expected: 'changes on single devices',
      explanation: `${n} of ${size} devices of class ${className} showed the same change (${what}) within ${fmtH(opts.window)} of each other: a fleet change (a migration, a rollout, an outage or a schedule), reported once instead of as ${n} device incidents; confirm it was planned.`,
      evidence: { signatures: ev.sigs, devices: devices.slice(0, MAX_LISTED), device_count: n, class_size: size, share: size > 0 ? n / size : 1 },
      mitre: [],
    };
    // first_ts may move earlier as members arrive late; the id stays the event's first.
    return { ...finalize(opts.pipeline, { ...draft, first_ts: ev.idTs }), first_ts: ev.first_ts };
  }

  function unhold(id: string, h: Held): void {
    held.delete(id);
    if (h.sig !== undefined) {
      const k = sigKey(h.f.device_class, h.sig);
      const ids = heldBySig.get(k);
      ids?.delete(id);
      if (ids?.size === 0) heldBySig.delete(k);
    }
  }

  function record(id: string, j: Judged, out: Finding[]): void {
    judged.set(id, j);
    if (j.verdict === 'folded') {
      let ids = foldedOf.get(j.f.device_id);
      if (ids === undefined) foldedOf.set(j.f.device_id, (ids = new Set()));
      ids.add(id);
      const ff = fleetFinding(j.cls, j.sig!, cls(j.cls).changes.get(j.sig!)!, j.f.first_ts);
      if (ff !== undefined) out.push(ff);
    }
    out.push(apply(j, j.f));
  }

  function judge(id: string, h: Held, out: Finding[]): void {
    unhold(id, h);
    record(id, verdictFor(h.f, h.sig), out);
  }

  /** A change that may just have reached a fold: its held members need not wait any longer. */
  function foldHeld(className: string, sig: string, out: Finding[]): void {
    const ids = heldBySig.get(sigKey(className, sig));
    if (ids === undefined) return;
    for (const id of [...ids]) {
      const h = held.get(id)!;
      const j = verdictFor(h.f, h.sig);
      if (j.verdict !== 'folded') continue;
      unhold(id, h);
      record(id, j, out);
    }
  }

  function mark(f: Finding, out: Finding[]): void {
    let m = marks.get(f.device_id);
    if (m === undefined) marks.set(f.device_id, (m = []));
    if (m.length === 0 || m[m.length - 1] !== f.first_ts) {
      m.push(f.first_ts);
      if (m.length > 8) m.shift();
    }
    // A fold this device took part in no longer holds for it: its finding goes out as raised.
    const ids = foldedOf.get(f.device_id);
    if (ids === undefined) return;
    for (const id of [...ids]) {
      const j = judged.get(id);
      if (j === undefined || Math.abs(j.f.first_ts - f.first_ts) > opts.window) continue;
      ids.delete(id);
      judged.set(id, { verdict: 'passed', cls: j.cls, f: j.f });
      out.push(j.f);
    }
    if (ids.size === 0) foldedOf.delete(f.device_id);
  }

  function prunePeriodically(): void {
    if (now - lastPrune < PRUNE_EVERY) return;
    lastPrune = now;
    prune(all, now, opts.memory);
    for (const c of classes.values()) {
      prune(c, now, opts.memory);
      c.events = c.events.filter((ev) => now - ev.last_ts <= Math.max(KEEP, opts.window));
      for (const [sig, ch] of c.changes) {
        for (const [d, first] of ch.members) if (now - first > Math.max(KEEP, opts.window)) ch.members.delete(d);
        if (ch.members.size === 0) c.changes.delete(sig);
      }
    }
    for (const [id, j] of judged) {
      if (now - j.f.last_ts <= KEEP) continue;
      judged.delete(id);
      const ids = foldedOf.get(j.f.device_id);
      ids?.delete(id);
      if (ids?.size === 0) foldedOf.delete(j.f.device_id);
    }
    for (const [d, m] of marks) if (now - m[m.length - 1]! > KEEP) marks.delete(d);
  }

  /**
   * A hold that ends while other devices of the class show the same change, more of them than
   * when it last ended, is a fleet change forming (a rollout or a migration spreads over hours):
   * wait another hold for it, while it keeps growing and within `window` of its hold's start. A change
   * that stops spreading is judged at once, so an incident on a few devices waits one hold more.
   */
  function extend(id: string, h: Held): boolean {
    if (h.sig === undefined) return false;
    const ch = cls(h.f.device_class).changes.get(h.sig);
    if (ch === undefined) return false;
    const n = cleanMembers(ch, h.f.first_ts).length;
    if (n < 2 || n <= h.seen || h.release + opts.hold > h.since + opts.window) return false;
    if (verdictFor(h.f, h.sig).verdict !== 'passed') return false;
    h.seen = n;
    h.release += opts.hold;
    heapPush(queue, [h.release, id]);
    return true;
  }

  function release(upTo: number): Finding[] {
    const out: Finding[] = [];
    while (queue.length > 0 && queue[0]![0] <= upTo) {
      const [at, id] = heapPop(queue);
      const h = held.get(id);
      // Entries of an extended hold that were queued before it are stale.
      if (h === undefined || at !== h.release) continue;
      if (upTo !== Number.POSITIVE_INFINITY && extend(id, h)) continue;
      judge(id, h, out);
    }
    return out;
  }

  return {
    facts(fs) {
      for (const f of fs) {
        observe(cls(f.c), f);
        observe(all, f);
      }
    },
    offer(f) {
      const role = opts.roleOf(f.detector);
      if (role === undefined) return [f];
      if (role.role === 'attack') {
        const out: Finding[] = [f];
        mark(f, out);
        return out;
      }
      const prior = judged.get(f.finding_id);
      if (prior !== undefined) {
        prior.f = f;
        return [apply(prior, f)];
      }
      const h = held.get(f.finding_id);
      if (h !== undefined) {
        h.f = f;
        return [];
      }
      const sig = role.signature?.(f);
      const out: Finding[] = [];
      // A finding that reaches the fleet view late (a device that uploads in batches, or stores and
      // forwards) waits from its arrival: the rest of its class may be as late as it was.
      const since = Math.max(f.first_ts, now);
      held.set(f.finding_id, { f, release: since + opts.hold, sig, seen: 1, since });
      heapPush(queue, [since + opts.hold, f.finding_id]);
      if (sig !== undefined) {
        const k = sigKey(f.device_class, sig);
        let ids = heldBySig.get(k);
        if (ids === undefined) heldBySig.set(k, (ids = new Set()));
        ids.add(f.finding_id);
        const c = cls(f.device_class);
        let ch = c.changes.get(sig);
        if (ch === undefined) c.changes.set(sig, (ch = { members: new Map() }));
        // Its newest: a change that recurs (a line stopped every weekend, a meter's load up every
        // weekday) is judged against the devices that show it this time, not the first time.
        const prev = ch.members.get(f.device_id);
        if (prev === undefined || f.first_ts > prev) ch.members.set(f.device_id, f.first_ts);
        held.get(f.finding_id)!.seen = cleanMembers(ch, f.first_ts).length;
        foldHeld(f.device_class, sig, out);
      }
      return out;
    },
    advanceTo(ts) {
      if (!(ts > now)) return [];
      now = ts;
      prunePeriodically();
      return release(ts);
    },
    flush() {
      return release(Number.POSITIVE_INFINITY);
    },
    held: () => held.size,
  };
}

function sigKey(cls: string, sig: string): string {
  return `${cls}\u0000${sig}`;
}

function heapPush(h: Array<[number, string]>, x: [number, string]): void {
  let i = h.length;
  h.push(x);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]![0] <= x[0]) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = x;
}

function heapPop(h: Array<[number, string]>): [number, string] {
  const top = h[0]!;
  const last = h.pop()!;
  const n = h.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]![0] < h[l]![0] ? r : l;
      if (h[c]![0] >= last[0]) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}

function fmtH(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 60_000)}m`;
}
