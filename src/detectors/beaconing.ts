/**
 * beaconing: regular check-ins to one peer — the heartbeat of command-and-control.
 *
 * Scoring follows RITA's idea (activecm/rita): a beacon has inter-arrival times with little
 * dispersion (MAD/median) and little skew (Bowley's quartile skewness), covers its time span
 * without many gaps, and tends to send similar payload sizes. Two changes make it robust for
 * machines:
 * - missed beats: an interval close to a whole multiple of the median is folded back (k beats
 *   of the median), so a lost packet does not break the rhythm; coverage then measures how many
 *   beats were actually seen;
 * - M2M devices beacon by design (telemetry every 60 s to their broker), so a device's own
 *   rhythm is not an alarm by itself. Two kinds of channel are told apart:
 *   - a peer first contacted after the learning period that turns regular is a *new* channel and
 *     is reported as soon as min_events connections show it (medium and up);
 *   - a peer the device already used (an implant may be there before monitoring began) is scored
 *     over a longer window (established_window, most of its hours covered) and reported low: its
 *     weight comes from the fleet view, which raises it when no other device of the class talks to
 *     that destination (an implant's server) and folds it when most do (the class's backend).
 * Every peer is tracked (bounded: the least used tracks are evicted, so a scan churns one slot).
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { reusedResult, CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { compact } from './lib/compact.js';
import { fmt, fmtDuration } from './lib/format.js';
import { isInternalIp } from './lib/ip.js';
import { peerSetHas, peerSetMaxBytes, peerSetNew, peerSetProtect, peerSetTouch, peerSetRevive } from './peerset.js';
import type { PeerSet } from './peerset.js';
import { destinationRole, evidenceDestination } from './fleet.js';

export interface BeaconingParams extends Record<string, unknown> {
  min_events: number;
  max_jitter: number;
  min_score: number;
  min_interval: number;
  learning: number;
  only_new_peers: boolean;
  established_window: number;
  max_peers: number;
  max_tracks: number;
  history: number;
  incident_gap: number;
}

interface Track {
  /** Ring of recent connection times and bytes_out (-1: unknown). */
  t: number[];
  b: number[];
  i: number;
  /** Connections seen and last time. */
  c: number;
  lt: number;
  /** Hours (absolute hour index) of the first and last connection, and how many hours had one. */
  h0: number;
  hl: number;
  hn: number;
  /** 1 when the peer was already known to the device when the track began (an established channel). */
  e: number;
}

export interface BeaconingState {
  t0: number;
  /** Known peers (minute last seen), scan-resistant so a scan cannot make old backends look new. */
  k: PeerSet;
  /** Tracked candidate peers. */
  tr: Record<string, Track>;
  tn: number;
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

export interface BeaconScore {
  score: number;
  median: number;
  jitter: number;
  skew: number;
  coverage: number;
  sizeScore: number | null;
}

function quartiles(xs: number[]): [number, number, number] {
  const s = xs.slice().sort((a, b) => a - b);
  const q = (p: number) => {
    const pos = (s.length - 1) * p;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
  };
  return [q(0.25), q(0.5), q(0.75)];
}

function dispersion(xs: number[]): { med: number; mad: number; skew: number } {
  const [q1, q2, q3] = quartiles(xs);
  const dev = xs.map((x) => Math.abs(x - q2));
  const [, mad] = quartiles(dev);
  const skew = q3 - q1 > 0 ? (q3 + q1 - 2 * q2) / (q3 - q1) : 0;
  return { med: q2, mad, skew };
}

/** Beacon score of a series of connection times (ms, ascending) and optional sizes. */
export function beaconScore(times: number[], sizes: number[] | null, maxJitter: number): BeaconScore | null {
  if (times.length < 4) return null;
  const raw: number[] = [];
  for (let i = 1; i < times.length; i++) raw.push(times[i]! - times[i - 1]!);
  const m0 = quartiles(raw)[1];
  if (!(m0 > 0)) return null;
  // Fold missed beats: an interval near k × median is k beats.
  const folded: number[] = [];
  let beats = 0;
  for (const d of raw) {
    const r = d / m0;
    const k = Math.round(r);
    if (k >= 2 && Math.abs(r - k) <= 0.15 * k) {
      folded.push(d / k);
      beats += k;
    } else {
      folded.push(d);
      beats += 1;
    }
  }
  const { med, mad, skew } = dispersion(folded);
  const jitter = med > 0 ? mad / med : 1;
  const coverage = raw.length / beats;
  const skewScore = 1 - Math.min(1, Math.abs(skew));
  // Full marks at half the tolerated jitter, zero at twice it.
  const jitterScore = Math.max(0, Math.min(1, (2 * maxJitter - jitter) / (1.5 * maxJitter)));
  const ts = (skewScore + jitterScore + coverage) / 3;
  let sizeScore: number | null = null;
  if (sizes && sizes.length >= 4) {
    const d = dispersion(sizes);
    const sj = d.med > 0 ? d.mad / d.med : d.mad === 0 ? 0 : 1;
    sizeScore = ((1 - Math.min(1, Math.abs(d.skew))) + Math.max(0, 1 - sj)) / 2;
  }
  const score = sizeScore === null ? ts : 0.75 * ts + 0.25 * sizeScore;
  return { score, median: med, jitter, skew, coverage, sizeScore };
}

export const beaconing: DetectorSpec<BeaconingParams> = {
  name: 'beaconing',
  family: 'connection',
  summary:
    "Regular check-ins to one peer (command-and-control heartbeats), scored RITA-style from interval dispersion and skew, coverage and payload-size regularity, robust to jitter and missed beats. A new peer that turns regular is reported at once; a regular channel to a peer the device already used (an implant present before monitoring began, or the device's own backend) is reported low and weighed by the fleet view: raised when the destination is rare in the class, folded when the class uses it.",
  params: {
    min_events: { type: 'integer', description: 'Connections to one peer before it can be scored.', default: 12, minimum: 5 },
    max_jitter: { type: 'number', description: 'Tolerated interval jitter (MAD / median interval) for a beacon.', default: 0.1, minimum: 0, maximum: 1 },
    min_score: { type: 'number', description: 'Beacon score (0..1, RITA-style) needed to fire.', default: 0.85, minimum: 0.5, maximum: 1 },
    min_interval: { type: 'duration', description: 'Ignore peers contacted more often than this (streams, not beacons).', default: '2s' },
    learning: { type: 'duration', description: 'Peers first seen during this period are the device\'s normal ones.', default: '24h' },
    only_new_peers: { type: 'boolean', description: 'Track only peers first contacted after learning (no established channels; the fleet view then has nothing to weigh).', default: false },
    established_window: { type: 'duration', description: 'A channel to a peer the device already used is scored once it has been regular this long, in most of its hours.', default: '6h' },
    max_peers: { type: 'integer', description: 'Known peers remembered per device.', default: 128, minimum: 8, maximum: 4096 },
    max_tracks: { type: 'integer', description: 'Peers tracked at once per device (the least used evicted).', default: 8, minimum: 1, maximum: 256 },
    history: { type: 'integer', description: 'Recent connections kept per tracked peer.', default: 16, minimum: 8, maximum: 256 },
    incident_gap: { type: 'duration', description: 'Continued beaconing within this extends one finding.', default: '6h' },
  },
  example:
    'cam-12 (camera) has contacted 198.51.100.23:443 every 5m (jitter 2%, 96% of beats present, similar payloads) since it first appeared 2h ago; treat this as a possible command-and-control channel: identify the process, and block the destination if it is not an approved service.',
  mitre: ['T1071', 'T0869', 'T1029'],
  fleet: destinationRole(evidenceDestination),
  create(params, id) {
    return new BeaconingDetector(params, id);
  },
};

class BeaconingDetector implements DetectorInstance<BeaconingState> {
  readonly spec = beaconing;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<BeaconingState>();
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes: number;

  constructor(
    private readonly p: BeaconingParams,
    readonly id: string,
  ) {
    this.maxStateBytes = 200 + peerSetMaxBytes(p.max_peers, 48) + p.max_tracks * (64 + p.history * (15 + 11) + 60) + p.max_tracks * 110;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection';
  }

  init(ev: M2MEvent): BeaconingState {
    return { t0: ev.ts, k: peerSetNew(), tr: {}, tn: 0, inc: null };
  }

  /** Checkpoints from before the peer set's array layout start afresh. */
  revive(state: unknown): BeaconingState | undefined {
    const o = state as Partial<Record<keyof BeaconingState, unknown>> | null;
    if (typeof o !== 'object' || o === null || typeof o.tr !== 'object' || o.tr === null || typeof o.inc !== 'object') return undefined;
    const k = peerSetRevive(o.k);
    if (k === undefined) return undefined;
    // Tracks from before hour bookkeeping start their hours at their last connection.
    const tr: Record<string, Track> = {};
    for (const [key, t] of Object.entries(o.tr as Record<string, Track>)) {
      const h = Math.floor(t.lt / HOUR);
      tr[key] = { ...t, h0: typeof t.h0 === 'number' ? t.h0 : h, hl: typeof t.hl === 'number' ? t.hl : h, hn: typeof t.hn === 'number' ? t.hn : 1, e: t.e === 1 ? 1 : 0 };
    }
    return { ...(o as BeaconingState), k, tr };
  }

  step(s: BeaconingState, ev: M2MEvent): StepResult<BeaconingState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    const key = e.dst_ip.includes(':') ? `[${e.dst_ip}]:${e.dst_port}` : `${e.dst_ip}:${e.dst_port}`;
    const learning = e.ts - s.t0 < p.learning;
    const known = peerSetHas(s.k, key);
    s.k = (learning ? peerSetProtect : peerSetTouch)(s.k, key, Math.floor(e.ts / 60_000), p.max_peers);
    if (p.only_new_peers && (learning || known) && !(key in s.tr)) return this.result(s, NONE);
    let tr = s.tr[key];
    const hour = Math.floor(e.ts / HOUR);
    if (tr === undefined) {
      if (s.tn >= p.max_tracks) this.evictTrack(s);
      tr = { t: [], b: [], i: 0, c: 0, lt: e.ts, h0: hour, hl: hour, hn: 1, e: learning || known ? 1 : 0 };
      s.tr[key] = tr;
      s.tn++;
    }
    if (e.ts < tr.lt) return this.result(s, NONE);
    const b = typeof e.bytes_out === 'number' ? e.bytes_out : -1;
    if (tr.t.length < p.history) {
      tr.t.push(e.ts);
      tr.b.push(b);
    } else {
      tr.t[tr.i] = e.ts;
      tr.b[tr.i] = b;
      tr.i = (tr.i + 1) % p.history;
    }
    tr.c++;
    tr.lt = e.ts;
    if (hour > tr.hl) {
      tr.hl = hour;
      tr.hn++;
    }
    let out: FindingDraft[] = NONE;
    // A new channel is judged from min_events on; an established one once it has been regular
    // for established_window (then every few connections, as the ring moves on).
    const ready = tr.e === 0 ? tr.c >= p.min_events : tr.c >= 2 * p.min_events && e.ts - hourStart(tr.h0) >= p.established_window;
    if (ready && (tr.c === p.min_events || tr.c % 4 === 0)) {
      const f = this.evaluate(s, tr, key, e);
      if (f !== null) out = [f];
    }
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    return this.result(s, out);
  }

  /** The track to give up for a new one: the least used (a scan's targets, seen once), then the least recent, never one with an open finding if avoidable. */
  private evictTrack(s: BeaconingState): void {
    let victim = '';
    let vc = Infinity;
    let vt = Infinity;
    for (const pass of [0, 1]) {
      for (const k in s.tr) {
        if (pass === 0 && s.inc !== null && s.inc[k] !== undefined) continue;
        const t = s.tr[k]!;
        if (t.c < vc || (t.c === vc && t.lt < vt)) ((vc = t.c), (vt = t.lt), (victim = k));
      }
      if (victim !== '') break;
    }
    delete s.tr[victim];
    s.tn--;
  }

  private evaluate(s: BeaconingState, tr: Track, key: string, e: ConnectionEvent): FindingDraft | null {
    const p = this.p;
    const n = tr.t.length;
    const times = new Array<number>(n);
    const sizes: number[] = [];
    for (let j = 0; j < n; j++) {
      const idx = (tr.i + j) % n;
      times[j] = tr.t[idx]!;
      if (tr.b[idx]! >= 0) sizes.push(tr.b[idx]!);
    }
    const established = tr.e === 1;
    // An established channel earns its verdict from persistence (most of its hours, for hours),
    // so it may jitter more than a new one that is judged on a dozen connections.
    const tolerance = established ? ESTABLISHED_JITTER : p.max_jitter;
    const bs = beaconScore(times, sizes.length === n ? sizes : null, tolerance);
    if (bs === null || bs.median < p.min_interval || bs.jitter > tolerance || bs.score < p.min_score) return null;
    const persistence = tr.hn / (tr.hl - tr.h0 + 1);
    // A channel quieter than hourly cannot fill every hour; it must fill those its rhythm allows.
    const expectedHours = Math.min(1, HOUR / bs.median);
    if (established && persistence < PERSISTENCE * expectedHours) return null;
    const strength = (bs.score - p.min_score) / Math.max(1e-6, 1 - p.min_score);
    const score = established ? ESTABLISHED_SCORE : Math.min(0.9, 0.5 + 0.4 * strength);
    const external = !isInternalIp(e.dst_ip);
    const span = times[n - 1]! - times[0]!;
    const since = e.ts - hourStart(tr.h0);
    const rhythm = `every ${fmtDuration(bs.median)} (jitter ${fmt(bs.jitter * 100)}%, ${Math.round(bs.coverage * 100)}% of beats present${bs.sizeScore !== null && bs.sizeScore > 0.8 ? ', similar payloads' : ''})`;
    return raiseThrottled((s.inc ??= {}),
      {
        detector: this.id,
        key,
        device_id: e.device_id,
        device_class: e.device_class,
        ts: e.ts,
        score,
        observed: `every ${fmtDuration(bs.median)} ±${fmt(bs.jitter * 100)}% to ${key}`,
        expected: established ? 'a regular channel only to destinations the class shares' : 'no regular channel to peers first seen after learning',
        explanation: established
          ? `${e.device_id} (${e.device_class}) has contacted ${key}${external ? ' (internet)' : ''} ${rhythm} in ${Math.round(persistence * 100)}% of the hours since ${fmtDuration(since)} ago, a destination it already used; if no other device of its class uses it this is a possible command-and-control channel already in place: identify the process and block the destination if it is not an approved service.`
          : `${e.device_id} (${e.device_class}) has contacted ${key}${external ? ' (internet)' : ''} ${rhythm} over the last ${fmtDuration(span)}; treat this as a possible command-and-control channel: identify the process, and block the destination if it is not an approved service.`,
        evidence: {
          peer: key,
          src_ip: e.src_ip,
          dst_ip: e.dst_ip,
          dst_port: e.dst_port,
          external,
          established,
          beacon_score: compact(bs.score),
          median_interval_ms: Math.round(bs.median),
          jitter: compact(bs.jitter),
          skew: compact(bs.skew),
          coverage: compact(bs.coverage),
          size_score: bs.sizeScore === null ? null : compact(bs.sizeScore),
          connections: tr.c,
          hours_covered: compact(persistence),
          // What the fleet view may raise an established channel to when its destination is rare.
          ...(established ? { rare_score: compact(Math.min(0.85, 0.55 + 0.3 * strength)) } : {}),
        },
        mitre: beaconing.mitre,
      },
      p.incident_gap,
    );
  }

}


const NONE: FindingDraft[] = [];
const HOUR = 3_600_000;
const hourStart = (h: number) => h * HOUR;
/** Jitter (MAD / median) tolerated on an established channel. */
const ESTABLISHED_JITTER = 0.25;
/** Share of the hours its rhythm allows in which an established channel must have been seen. */
const PERSISTENCE = 0.75;
/** An established channel alone is low: the fleet view weighs its destination. */
const ESTABLISHED_SCORE = 0.35;
