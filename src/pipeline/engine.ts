/**
 * The detection engine: per-device state plus the pipeline's detectors, driven by event time.
 * It is the one piece of code that both the Kafka consumers (one engine per partition) and the
 * in-process backtest run, so a backtest measures exactly what production does.
 *
 * No I/O here. The runner feeds events, collects findings, and snapshots the state together
 * with the offsets it reflects.
 */
import * as crypto from 'node:crypto';
import type { DecodeError } from '../events/decode.js';
import type { M2MEvent } from '../events/types.js';
import type { DetectorInstance, FleetFact, Finding, FindingDraft, StepContext } from '../detectors/types.js';
import { DeviceCap } from './device-cap.js';
import { TickWheel } from './tick-wheel.js';
import { DEFAULT_MAX_FUTURE_SKEW_MS, DUP_RING, DupRings, FutureGate, StreamRank, fingerprint, type EventOutcome } from './time.js';

export type { EventOutcome } from './time.js';

export interface DeviceState {
  device_class: string;
  first_ts: number;
  /** The device's newest timestamp (its own clock). */
  last_ts: number;
  /** Stream time when the device's latest event arrived; absent in older checkpoints (read as last_ts). */
  heard?: number;
  /** Fingerprints of its latest messages, oldest first, for duplicate suppression. */
  dup?: number[];
  /** Per detector instance id. */
  d: Record<string, unknown>;
}

export interface EngineSnapshot {
  v: 1;
  /** Stream time: advanced by several devices, never by one (see pipeline/time.ts). */
  max_ts: number;
  last_tick: number;
  devices: Record<string, DeviceState>;
}

export interface EngineOptions {
  pipeline: string;
  detectors: DetectorInstance[];
  allowedLatenessMs: number;
  idleEvictionMs: number;
  /** How often (event time) silence-style detectors are ticked. */
  tickEveryMs?: number;
  /** Events dated beyond max(wall clock, stream time) + this are rejected (pipeline key max_future_skew). */
  maxFutureSkewMs?: number;
  /**
   * Most devices this engine (one partition) keeps. Past it, the least recently seen (by event
   * time) are evicted to make room, and a `device_cap` finding says so: invented ids are an
   * attack on memory and an anomaly in themselves. Undefined: no cap (backtests).
   */
  maxDevices?: number;
  /** What the engine runs for (e.g. "topic:partition"), for the device_cap finding. */
  scope?: string;
}

export interface Engine {
  /** Score one event; lastOutcome() then says whether it was scored, or rejected and why. */
  process(event: M2MEvent): Finding[];
  /** What process() did with the last event: scored it, or dropped it as a duplicate or as dated in the future. */
  lastOutcome(): EventOutcome;
  /** The dead-letter reason for an event process() just rejected as 'future'. */
  futureError(event: M2MEvent): DecodeError;
  /** The wall clock (ms) the future gate may judge by besides stream time; NaN (the default) for none. */
  setWallClock(ms: number): void;
  /** Advance time without an event (end of input, idle partitions). */
  advanceTo(ts: number): Finding[];
  watermark(): number;
  deviceCount(): number;
  snapshot(): EngineSnapshot;
  restore(snap: EngineSnapshot): void;
  /**
   * Ids of devices whose state changed (stepped, ticked, created or evicted) since the last call
   * or restore, and clears that set. A delta checkpoint writes only these; an id with no
   * device() any more was evicted and becomes a tombstone.
   *
   * A device touched only by ticks is named only if a tick changed its state (compared as JSON
   * around the tick): silence detectors visit many devices without changing them, and writing
   * them all at every checkpoint multiplied the state written. Order: as first changed.
   */
  takeDirty(): string[];
  /** Devices stepped, created or evicted since the last take (ticks not counted): a checkpoint's lower bound. */
  changedCount(): number;
  /**
   * One device's state in checkpoint form, or undefined if it has none. The detector states in it
   * are the live ones (not copies); the wrapper is built for the call.
   */
  device(id: string): DeviceState | undefined;
  /** The event-time clock a checkpoint carries beside the device states: stream time, not any one device's. */
  clock(): { max_ts: number; last_tick: number };
  /** Devices evicted to stay under maxDevices since the engine was created. */
  capEvictions(): number;
  /**
   * Facts for the fleet view raised since the last call (detectors' and the engine's own `seen`
   * facts), in the order raised; the caller forwards them with the findings of the same events.
   */
  takeFacts(): FleetFact[];
  /**
   * Call `fn(id)` just before the engine changes or removes device `id`'s state (a step, a tick
   * visit or an eviction), until watch() is called again without one. A checkpoint being encoded
   * while its partition goes on uses it to write a device as it was before it changes.
   */
  watch(fn?: (id: string) => void): void;
}

// crypto.hash (Node ≥ 20.12) digests in one call; createHash builds a stream object per finding.
// Read off the namespace: a named import of it would not even load on an older Node 20.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;
const sha256Hex: (s: string) => string =
  oneShot !== undefined ? (s) => oneShot('sha256', s, 'hex') : (s) => crypto.createHash('sha256').update(s).digest('hex');

export function findingId(pipeline: string, f: FindingDraft): string {
  return sha256Hex(`${pipeline}\u0000${f.detector}\u0000${f.device_id}\u0000${f.key}\u0000${f.first_ts}`).slice(0, 32);
}

export function finalize(pipeline: string, draft: FindingDraft): Finding {
  return { ...draft, finding_id: findingId(pipeline, draft), pipeline, version: draft.count };
}

// Shared result of the (usual) event that raises nothing; frozen so a caller that pushed into it
// would fail loudly instead of leaking findings into later events.
const NO_FINDINGS: Finding[] = Object.freeze([]) as unknown as Finding[];
const NO_FACTS: FleetFact[] = Object.freeze([]) as unknown as FleetFact[];
const DAY = 86_400_000;

/**
 * Devices live in slots (parallel arrays indexed by a slot number, reused after eviction) so the
 * engine's own per-device bookkeeping (creation order, tick schedule, dirty flag) stays out of the
 * DeviceState that checkpoints serialise. A slot holds its detectors' states in an array indexed
 * like opts.detectors: looking them up by detector id in a per-device object was a megamorphic
 * keyed load for every detector of every event. DeviceState (states keyed by detector id) is the
 * checkpoint form, built by device() and snapshot() and read by restore(); states of detector ids
 * this pipeline does not run (a detector removed from the pipeline) are carried along unchanged.
 *
 * Ticks: a device is visited at a tick only once the watermark has reached its due time, the
 * earliest of its eviction time and its tickers' nextTick() (tick-wheel.ts). A visit evicts or
 * ticks exactly as the tick of every device did, in creation order (= the order of the device
 * map), so findings and state are the same as ticking every device at every tick.
 *
 * Time. Stream time is the streamRank(n)-th newest timestamp among distinct devices (time.ts), so
 * one device's clock cannot move it; the watermark trails it by the allowed lateness. Each device
 * is judged in its own clock frame: its watermark is the stream's shifted by `lag`, the stream
 * time at which its latest event arrived (`heard`) minus its newest timestamp. That is the
 * device's clock offset as its latest arrival shows it: a device an hour behind, or one that
 * uploads hours of buffered readings, is behind by exactly that and not silent; one ahead is
 * ahead; and its silence is the stream time since it was last heard. (A lowest-offset-seen
 * estimate would be steadier on a jittery link, but one reading from a glitching clock would
 * then make the device look silent while it reports, and a device with a stuck clock would look
 * silent for ever; the latest arrival errs only towards finding silence a little later.) Due
 * times are computed in the device's frame and shifted by its lag; detectors see only watermarks.
 */
export function createEngine(opts: EngineOptions): Engine {
  /** device id → slot. Iteration order is creation order, as snapshots have always written it. */
  const devices = new Map<string, number>();
  let cap = 1024;
  const dets = opts.detectors;
  const nDet = dets.length;
  const detIndex = new Map(dets.map((d, i) => [d.id, i]));
  /** Per slot: detector states indexed like `dets` (undefined: that detector has none yet). */
  let dstates: (unknown[] | undefined)[] = new Array(cap).fill(undefined);
  /** Per slot: states of detector ids this pipeline does not run, from a restored checkpoint. */
  let extras: (Record<string, unknown> | undefined)[] = new Array(cap).fill(undefined);
  let classes: (string | undefined)[] = new Array(cap).fill(undefined);
  let firstTs = new Float64Array(cap);
  let lastTs = new Float64Array(cap);
  /** Stream time at the slot's latest event. */
  let heard = new Float64Array(cap);
  const dups = new DupRings(cap);
  let ids: (string | undefined)[] = new Array(cap).fill(undefined);
  /** Creation order: visits within a tick are sorted by it. */
  let seq = new Float64Array(cap);
  /** 0 clean, 1 listed and counted (stepped, created or evicted), 2 listed because a tick changed it. */
  let flags = new Uint8Array(cap);
  const free: number[] = [];
  let used = 0;
  let nextSeq = 0;

  /** Ids changed since the last take, in the order first marked. */
  let dirtyIds: string[] = [];
  /** Distinct devices stepped, created or evicted since the last take. */
  let changed = 0;
  /** Evicted since the last take (their id is listed; a re-created device with that id must not be listed twice). */
  const gone = new Set<string>();

  const tickEvery = opts.tickEveryMs ?? 60_000;
  const wheel = new TickWheel(tickEvery, cap);
  const idle = opts.idleEvictionMs;
  const lateness = opts.allowedLatenessMs;
  /** Indices (into dets) of the detectors with tick(). */
  const tickers = dets.flatMap((d, i) => (typeof d.tick === 'function' ? [i] : []));
  /** Stream time (see time.ts) and the watermark that trails it. */
  let maxTs = Number.NEGATIVE_INFINITY;
  let wm = Number.NEGATIVE_INFINITY;
  let lastTick = Number.NEGATIVE_INFINITY;
  const gate = new FutureGate(opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
  let outcome: EventOutcome = 'scored';

  const rank = new StreamRank();
  /** Set when an eviction rebuilt the ranking from lastTs (which trails the event being processed). */
  let reranked = false;

  /** The watermark handed to detectors: the stream's, in the device's clock frame. */
  const ctx: StepContext = { watermark: Number.NEGATIVE_INFINITY, sinceHeard: NaN, facts: [] };
  let watcher: ((id: string) => void) | undefined;
  // Per event type, the indices of the detectors that may apply (in pipeline order, so findings
  // keep their order): a telemetry event is not offered to a dozen connection detectors one by one.
  const allIdx = dets.map((_d, i) => i);
  const forType = (t: M2MEvent['type']) => allIdx.filter((i) => dets[i]!.eventTypes === undefined || dets[i]!.eventTypes!.includes(t));
  const byType: Record<M2MEvent['type'], number[]> = { telemetry: forType('telemetry'), connection: forType('connection') };
  const tickersOf = (idx: number[]) => idx.filter((i) => typeof dets[i]!.tick === 'function');
  const tickersByType: Record<M2MEvent['type'], number[]> = { telemetry: tickersOf(byType.telemetry), connection: tickersOf(byType.connection) };

  /** The earliest stream watermark at which a visit can evict or tick the device. */
  function dueOf(slot: number): number {
    let due = lastTs[slot]! + idle;
    const ds = dstates[slot]!;
    for (let i = 0; i < tickers.length; i++) {
      const det = dets[tickers[i]!]!;
      const s = ds[tickers[i]!];
      if (s === undefined) continue;
      const t = det.nextTick === undefined ? Number.NEGATIVE_INFINITY : det.nextTick(s);
      if (!(t >= due)) due = t; // NaN → NaN → every tick
    }
    // From the device's frame to the stream's.
    return due + (heard[slot]! - lastTs[slot]!);
  }

  function rankRebuild(): void {
    rank.clear();
    for (const slot of devices.values()) rank.update(slot, lastTs[slot]!);
    reranked = true;
  }

  function grow(): void {
    const n = cap * 2;
    const widen = <T,>(a: (T | undefined)[]): (T | undefined)[] => {
      const b: (T | undefined)[] = new Array(n).fill(undefined);
      for (let i = 0; i < cap; i++) b[i] = a[i];
      return b;
    };
    dstates = widen(dstates);
    extras = widen(extras);
    classes = widen(classes);
    ids = widen(ids);
    const widenF64 = (a: Float64Array<ArrayBuffer>, fill: number): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(n).fill(fill);
      b.set(a);
      return b;
    };
    firstTs = widenF64(firstTs, 0);
    lastTs = widenF64(lastTs, 0);
    heard = widenF64(heard, 0);
    seq = widenF64(seq, 0);
    wheel.grow(n);
    const fl = new Uint8Array(n);
    fl.set(flags);
    flags = fl;
    dups.grow(n);
    cap = n;
  }
  function alloc(id: string, deviceClass: string, first: number, last: number, at: number): number {
    let slot: number;
    if (free.length) slot = free.pop()!;
    else {
      if (used === cap) grow();
      slot = used++;
    }
    dstates[slot] = new Array<unknown>(nDet).fill(undefined);
    extras[slot] = undefined;
    classes[slot] = deviceClass;
    firstTs[slot] = first;
    lastTs[slot] = last;
    heard[slot] = at;
    dups.reset(slot);
    ids[slot] = id;
    seq[slot] = nextSeq++;
    wheel.cancel(slot);
    flags[slot] = gone.has(id) ? 1 : 0;
    devices.set(id, slot);
    return slot;
  }
  function evict(slot: number): void {
    const id = ids[slot]!;
    devices.delete(id);
    if (flags[slot] !== 1) {
      if (flags[slot] === 0) dirtyIds.push(id);
      changed++;
    }
    gone.add(id);
    dstates[slot] = undefined;
    extras[slot] = undefined;
    classes[slot] = undefined;
    ids[slot] = undefined;
    wheel.cancel(slot);
    flags[slot] = 0;
    free.push(slot);
    if (rank.has(slot)) rankRebuild();
  }

  const deviceCap = new DeviceCap(opts.maxDevices, opts.scope);

  /** Make room for one device (device-cap.ts): evict the least recently heard, and say so. */
  function evictForCap(out: Finding[], evTs: number): void {
    const victims = deviceCap.victims(devices, heard);
    for (const slot of victims) {
      if (watcher !== undefined) watcher(ids[slot]!);
      evict(slot);
    }
    // (A partition at its cap has a stream time, unless a restored checkpoint had none.)
    const draft = deviceCap.evictedAt(victims.length, maxTs > Number.NEGATIVE_INFINITY ? maxTs : evTs);
    if (draft !== undefined) out.push(finalize(opts.pipeline, draft));
  }

  /** The checkpoint form of a slot: detector states keyed by id, in pipeline order, then any extras. */
  function deviceState(slot: number): DeviceState {
    const d: Record<string, unknown> = {};
    const ds = dstates[slot]!;
    for (let i = 0; i < nDet; i++) if (ds[i] !== undefined) d[dets[i]!.id] = ds[i];
    const ex = extras[slot];
    if (ex !== undefined) for (const id of Object.keys(ex)) d[id] = ex[id];
    const device_class = classes[slot]!;
    const first_ts = firstTs[slot]!;
    const last_ts = lastTs[slot]!;
    const at = heard[slot]!;
    const dup = dups.list(slot);
    return dup === undefined ? { device_class, first_ts, last_ts, heard: at, d } : { device_class, first_ts, last_ts, heard: at, dup, d };
  }

  function collect(out: Finding[], drafts: FindingDraft[]): void {
    for (const d of drafts) out.push(finalize(opts.pipeline, d));
  }

  const dueSlots: number[] = [];
  const bySeq = (a: number, b: number) => seq[a]! - seq[b]!;

  function runTicks(out: Finding[]): void {
    if (!Number.isFinite(wm)) return;
    if (Number.isFinite(lastTick) && wm - lastTick < tickEvery) return;
    lastTick = Math.floor(wm / tickEvery) * tickEvery;
    wheel.takeDue(Math.floor(wm / tickEvery), dueSlots);
    if (!dueSlots.length) return;
    if (dueSlots.length > 1) dueSlots.sort(bySeq);
    for (let i = 0; i < dueSlots.length; i++) {
      const slot = dueSlots[i]!;
      if (watcher !== undefined) watcher(ids[slot]!);
      // The watermark in the device's frame; idle is the stream time since it was last heard.
      const dwm = wm - (heard[slot]! - lastTs[slot]!);
      if (dwm - lastTs[slot]! > idle) {
        evict(slot);
        continue;
      }
      ctx.watermark = dwm;
      const id = ids[slot]!;
      const ds = dstates[slot]!;
      for (let j = 0; j < tickers.length; j++) {
        const det = dets[tickers[j]!]!;
        const s = ds[tickers[j]!];
        if (s === undefined) continue;
        if (det.nextTick !== undefined && dwm < det.nextTick(s)) continue;
        // Detectors may update state in place: whether the tick changed anything (so that a
        // checkpoint must rewrite the device) is decided by comparing the state's JSON.
        const before = flags[slot] === 0 ? JSON.stringify(s) : undefined;
        const r = det.tick!(s, id, classes[slot]!, ctx);
        ds[tickers[j]!] = r.state;
        if (before !== undefined && JSON.stringify(r.state) !== before) {
          flags[slot] = 2;
          dirtyIds.push(id);
        }
        if (r.findings.length) collect(out, r.findings);
      }
      wheel.schedule(slot, dueOf(slot));
    }
    dueSlots.length = 0;
  }

  /** Findings of ticks run while advancing time; reused, copied out only when non-empty. */
  const tickOut: Finding[] = [];
  function advance(ts: number): void {
    if (ts > maxTs) {
      maxTs = ts;
      wm = maxTs - lateness;
      gate.setStream(maxTs);
      runTicks(tickOut);
    }
  }

  return {
    process(ev) {
      const ts = ev.ts;
      if (ts > gate.bound && !gate.corroborated(ev.device_id, ts, devices.size - (devices.has(ev.device_id) ? 1 : 0))) {
        outcome = 'future';
        return NO_FINDINGS;
      }
      let slot = devices.get(ev.device_id);
      const fp = fingerprint(ev);
      // Only an event at or behind the device's newest timestamp can repeat one already seen.
      if (slot !== undefined && ts <= lastTs[slot]! && dups.has(slot, fp)) {
        outcome = 'duplicate';
        return NO_FINDINGS;
      }
      outcome = 'scored';
      if (watcher !== undefined) watcher(ev.device_id);
      let out = NO_FINDINGS;
      // A new device takes its slot before time advances (ticks do not visit it: nothing is due).
      let created = slot === undefined;
      /** A device_cap finding, reported after this event's ticks (as before time was robust). */
      let capOut: Finding[] | undefined;
      if (slot === undefined) {
        if (devices.size >= deviceCap.max) evictForCap((capOut = []), ts);
        slot = alloc(ev.device_id, ev.device_class, ts, ts, maxTs);
        rank.update(slot, ts);
      } else if (ts > lastTs[slot]!) rank.update(slot, ts);
      const t = rank.time(devices.size);
      if (t > maxTs) {
        reranked = false;
        advance(t);
        if (tickOut.length) {
          out = tickOut.slice();
          tickOut.length = 0;
        }
        if (ids[slot] !== ev.device_id) {
          // Evicted by these ticks (idle past idle_eviction): it starts afresh, as it always has.
          slot = alloc(ev.device_id, ev.device_class, ts, ts, maxTs);
          created = true;
          rank.update(slot, ts);
        } else if (reranked) rank.update(slot, ts);
      }
      if (capOut !== undefined && capOut.length) out = out === NO_FINDINGS ? capOut : out.concat(capOut);
      // The fleet view counts a class's devices from these: one fact a device and day.
      if (created || (ts > lastTs[slot]! && Math.floor(ts / DAY) !== Math.floor(lastTs[slot]! / DAY))) ctx.facts.push({ k: 'seen', d: ev.device_id, c: ev.device_class, ts });
      if (ts > lastTs[slot]!) lastTs[slot] = ts;
      ctx.sinceHeard = created ? NaN : maxTs - heard[slot]!;
      heard[slot] = maxTs;
      dups.add(slot, fp);
      if (created) wheel.schedule(slot, dueOf(slot));
      const ds = dstates[slot]!;
      const fl = flags[slot]!;
      if (fl !== 1) {
        if (fl === 0) dirtyIds.push(ev.device_id);
        flags[slot] = 1;
        changed++;
      }
      // heard is now stream time, so the device's frame is its own newest timestamp.
      ctx.watermark = lastTs[slot]! - lateness;
      const list = byType[ev.type] ?? allIdx;
      for (let i = 0; i < list.length; i++) {
        const di = list[i]!;
        const det = dets[di]!;
        if (!det.applies(ev)) continue;
        let s = ds[di];
        if (s === undefined) s = det.init(ev);
        const r = det.step(s, ev, ctx);
        ds[di] = r.state;
        if (r.findings.length) {
          if (out === NO_FINDINGS) out = [];
          collect(out, r.findings);
        }
      }
      // A step can bring a ticker's due time earlier; eviction only moves later. The lag may have
      // grown (a late event), which leaves an earlier entry: a visit then finds nothing to do.
      const lag = maxTs - lastTs[slot]!;
      const tk = tickersByType[ev.type] ?? tickers;
      for (let i = 0; i < tk.length; i++) {
        const det = dets[tk[i]!]!;
        const s = ds[tk[i]!];
        if (s === undefined) continue;
        wheel.schedule(slot, det.nextTick === undefined ? Number.NEGATIVE_INFINITY : det.nextTick(s) + lag);
      }
      return out;
    },
    lastOutcome: () => outcome,
    futureError: (ev) => gate.error(ev.ts),
    setWallClock(ms) {
      gate.setWall(ms);
    },
    advanceTo(ts) {
      advance(ts);
      const out = tickOut.slice();
      tickOut.length = 0;
      return out;
    },
    watermark: () => wm,
    deviceCount: () => devices.size,
    snapshot() {
      const obj: Record<string, DeviceState> = {};
      for (const [k, slot] of devices) obj[k] = deviceState(slot);
      return { v: 1, max_ts: maxTs, last_tick: lastTick, devices: obj };
    },
    takeDirty() {
      const out = dirtyIds;
      for (const id of out) {
        const slot = devices.get(id);
        if (slot !== undefined) flags[slot] = 0;
      }
      dirtyIds = [];
      changed = 0;
      gone.clear();
      return out;
    },
    changedCount: () => changed,
    device: (id) => {
      const slot = devices.get(id);
      return slot === undefined ? undefined : deviceState(slot);
    },
    clock: () => ({ max_ts: maxTs, last_tick: lastTick }),
    capEvictions: () => deviceCap.evicted,
    takeFacts() {
      if (ctx.facts.length === 0) return NO_FACTS;
      const out = ctx.facts;
      ctx.facts = [];
      return out;
    },
    watch(fn) {
      watcher = fn;
    },
    restore(snap) {
      devices.clear();
      wheel.clear();
      free.length = 0;
      dstates.fill(undefined);
      extras.fill(undefined);
      classes.fill(undefined);
      ids.fill(undefined);
      flags.fill(0);
      used = 0;
      nextSeq = 0;
      dirtyIds = [];
      changed = 0;
      gone.clear();
      for (const k of Object.keys(snap.devices)) {
        const st = snap.devices[k]!;
        const slot = alloc(k, st.device_class, st.first_ts, st.last_ts, typeof st.heard === 'number' ? st.heard : st.last_ts);
        const dup = st.dup;
        if (Array.isArray(dup)) for (let i = Math.max(0, dup.length - DUP_RING); i < dup.length; i++) dups.add(slot, dup[i]! | 0);
        const ds = dstates[slot]!;
        for (const id of Object.keys(st.d)) {
          const s = st.d[id];
          const di = detIndex.get(id);
          if (di === undefined) {
            (extras[slot] ??= {})[id] = s;
            continue;
          }
          const det = dets[di]!;
          // JSON cannot say everything a live state holds (NaN): the detector rebuilds its form.
          ds[di] = s === undefined || det.revive === undefined ? s : det.revive(s);
        }
        wheel.schedule(slot, dueOf(slot));
      }
      maxTs = snap.max_ts;
      lastTick = snap.last_tick;
      wm = Number.isFinite(maxTs) ? maxTs - lateness : Number.NEGATIVE_INFINITY;
      gate.setStream(maxTs);
      rankRebuild();
    },
  };
}
