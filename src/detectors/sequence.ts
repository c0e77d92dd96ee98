/**
 * sequence: message sequence numbers (`seq`) that jump, go backwards or repeat.
 *
 * - replay: a sequence number seen recently arrives again with a different timestamp (an exact
 *   duplicate — same seq and ts — is at-least-once delivery upstream and is ignored);
 * - rollback: the sequence jumps far backwards but not to near zero (old captured traffic being
 *   re-sent, or a cloned device with its own counter);
 * - resets: the counter restarts near zero (a reboot) more often than `max_resets` per day;
 * - gap: a forward jump of at least `min_gap` missing messages (loss of view, or injected
 *   messages with a guessed counter). Small gaps are normal on lossy links and never fire.
 * Late messages that fill a recent hole are expected with allowed lateness and are ignored, and so
 * is any message whose seq *and* ts are both behind the highest seq seen: that is late delivery (a
 * store-and-forward backlog uploaded newest first, after a live reading), told from a replay or a
 * second counter by its time: replayed or cloned traffic carries an old seq with a new ts.
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { TELEMETRY_ONLY, reusedResult, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from './types.js';
import type { M2MEvent, TelemetryEvent } from '../events/types.js';
import { fmtDuration } from './lib/format.js';
import { DAY_MS } from './lib/time.js';
import { reviveNumbers } from './keyed.js';
import { changeRole } from './fleet.js';

export interface SequenceParams extends Record<string, unknown> {
  min_gap: number;
  reset_below: number;
  max_resets: number;
  replay_window: number;
  incident_gap: number;
}

/**
 * Flat numeric state `a` (unboxed doubles, updated without allocating):
 *
 * | index        | field                                                        |
 * |--------------|--------------------------------------------------------------|
 * | MX           | highest sequence number                                      |
 * | MT           | its time                                                     |
 * | RI           | next ring slot to overwrite once the ring is full            |
 * | N            | messages seen                                                |
 * | RN           | ring entries in use (≤ replay_window)                        |
 * | HDR + 2i, +1 | ring of recent (seq, ts); slots at and past RN are spare (NaN) |
 *
 * The ring grows RING_CHUNK entries at a time to the exact length (push would reserve 16 spare
 * slots per growth), so a young device does not carry a full window of spare capacity.
 */
const MX = 0;
const MT = 1;
const RI = 2;
const N = 3;
const RN = 4;
const HDR = 5;
const RING_CHUNK = 8;
/** Pushed, not new Array(n).fill: that array would be holey, and so would every ring grown from it. */
const SPARE: number[] = [];
for (let i = 0; i < 2 * RING_CHUNK; i++) SPARE.push(NaN);

export interface SequenceState {
  a: number[];
  /** Times of recent resets. */
  rz: number[];
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

export const sequence: DetectorSpec<SequenceParams> = {
  name: 'sequence',
  family: 'telemetry',
  summary:
    'Sequence-number anomalies in telemetry: replays (a recent seq repeated with a different timestamp), rollbacks (large backward jumps), frequent counter resets (reboots), and large gaps (lost or injected messages).',
  params: {
    min_gap: { type: 'integer', description: 'Missing messages in one forward jump that fire a gap finding.', default: 100, minimum: 2 },
    reset_below: { type: 'integer', description: 'A backward jump to a seq at or below this is a counter reset (reboot), not a rollback.', default: 16, minimum: 0 },
    max_resets: { type: 'integer', description: 'Counter resets per 24h tolerated before a finding.', default: 3, minimum: 1, maximum: 16 },
    replay_window: { type: 'integer', description: 'Recent sequence numbers remembered for replay detection.', default: 64, minimum: 8, maximum: 1024 },
    incident_gap: {
      type: 'duration',
      description:
        'Anomalies of one kind closer than this extend one finding. Replays and rollbacks are one kind (two counters under one identity); a device that reports hourly when idle needs more than an hour here, or the real device resurfacing below a clone\'s counter is a new finding at every heartbeat.',
      default: '3h',
    },
  },
  example:
    'plc-07 (plc) sent seq 18233 again 42m after it first arrived with that number; treat this as a possible replay or a cloned device: compare source addresses of both messages and check the device for tampering.',
  mitre: ['T0856', 'T0830'],
  fleet: changeRole((f) => f.evidence.kind),
  create(params, id) {
    return new SequenceDetector(params, id);
  },
};

class SequenceDetector implements DetectorInstance<SequenceState> {
  readonly spec = sequence;
  readonly eventTypes = TELEMETRY_ONLY;
  readonly maxStateBytes: number;

  constructor(
    private readonly p: SequenceParams,
    readonly id: string,
  ) {
    this.maxStateBytes = 120 + p.replay_window * (12 + 15) + p.max_resets * 15 + 4 * 110;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry' && typeof ev.seq === 'number';
  }

  init(): SequenceState {
    const a = [-1, 0, 0, 0, 0].concat(SPARE);
    return { a, rz: [], inc: null };
  }

  revive(state: unknown): SequenceState | undefined {
    const o = state as Partial<Record<keyof SequenceState, unknown>> | null;
    if (typeof o !== 'object' || o === null || !Array.isArray(o.a) || typeof o.inc !== 'object') return undefined;
    const rz = reviveNumbers(o.rz);
    if (rz === undefined || o.a.length < HDR || (o.a.length - HDR) % 2 !== 0) return undefined;
    const a: number[] = [];
    for (const x of o.a as unknown[]) {
      if (x === null) a.push(NaN);
      else if (typeof x === 'number') a.push(x);
      else return undefined;
    }
    return { a, rz, inc: o.inc as IncidentBook | null };
  }

  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<SequenceState>();

  step(s: SequenceState, ev: M2MEvent): StepResult<SequenceState> {
    const e = ev as TelemetryEvent;
    const q = e.seq!;
    const p = this.p;
    let a = s.a;
    let f: FindingDraft | null = null;
    if (a[N] === 0) {
      a = this.remember(s, q, e.ts);
      a[MX] = q;
      a[MT] = e.ts;
      a[N] = 1;
      return this.result(s, NONE);
    }
    a[N]!++;
    if (q <= p.reset_below && (q < a[MX]! - 1 || (q === 0 && q < a[MX]!)) && e.ts >= a[MT]!) {
      // A counter restart (reboot, firmware update) in event-time order begins a new epoch: the
      // numbers of the previous epoch come round again and are not replays of it. A restart to 0
      // is one even when the epoch before it was only a message or two long (two reboots within
      // a few sparse heartbeats: a downgrade and its re-flash).
      return this.result(s, this.reset(s, e, q));
    }
    let seenAt = -1;
    const end = HDR + 2 * a[RN]!;
    for (let i = HDR; i < end; i += 2) {
      if (a[i] === q) {
        seenAt = a[i + 1]!;
        if (seenAt === e.ts) break;
      }
    }
    if (seenAt === e.ts) return this.result(s, NONE); // duplicate delivery
    if (q < a[MX]! && e.ts < a[MT]!) {
      // Late delivery: older in both seq and time than what this device has already sent.
      this.remember(s, q, e.ts);
      return this.result(s, NONE);
    }
    if (seenAt >= 0) {
      const ago = Math.abs(e.ts - seenAt);
      f = this.raise(s, e, 'replay', 0.7, `seq ${q} repeated`, 'each seq once', `${e.device_id} (${e.device_class}) sent seq ${q} again ${fmtDuration(ago)} after it first arrived with that number; treat this as a possible replay or a cloned device: compare source addresses of both messages and check the device for tampering.`, { seq: q, first_ts: seenAt, apart_ms: ago });
    } else if (q > a[MX]!) {
      const missing = q - a[MX]! - 1;
      if (missing >= p.min_gap) {
        const score = missing >= 10 * p.min_gap ? 0.45 : 0.3;
        f = this.raise(s, e, 'gap', score, `${missing} messages missing`, `seq ${a[MX]! + 1}`, `${e.device_id} (${e.device_class}) jumped from seq ${a[MX]!} to ${q} (${missing} messages missing over ${fmtDuration(e.ts - a[MT]!)}); check the link for loss, and if the device was online meanwhile, look for messages injected with a guessed counter.`, { seq: q, previous_max: a[MX]!, missing });
      }
      a[MX] = q;
      a[MT] = e.ts;
    } else if (a[MX]! - q <= p.replay_window) {
      // A late message filling a recent hole.
    } else {
      f = this.raise(s, e, 'rollback', 0.6, `seq ${q} after ${a[MX]!}`, `> ${a[MX]!}`, `${e.device_id} (${e.device_class}) went back from seq ${a[MX]!} to ${q} without a reset; treat this as possible replayed traffic or a second device using this identity and compare the source addresses.`, { seq: q, previous_max: a[MX]!, back_by: a[MX]! - q });
      a[MX] = q;
      a[MT] = e.ts;
    }
    this.remember(s, q, e.ts);
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, Math.max(p.incident_gap, DAY_MS));
      break;
    }
    return this.result(s, f === null ? NONE : [f]);
  }

  private reset(s: SequenceState, e: TelemetryEvent, q: number): FindingDraft[] {
    const p = this.p;
    const day = e.ts - DAY_MS;
    s.rz = s.rz.filter((t) => t > day);
    s.rz.push(e.ts);
    let f: FindingDraft | null = null;
    if (s.rz.length > p.max_resets) {
      f = this.raise(s, e, 'resets', 0.35, `${s.rz.length} counter resets in 24h`, `≤ ${p.max_resets} per day`, `${e.device_id} (${e.device_class}) restarted its sequence counter ${s.rz.length} times in 24h (last from ${s.a[MX]!} to ${q}); check for a reboot loop, power problems or repeated tampering.`, { seq: q, previous_max: s.a[MX]!, resets_24h: s.rz.length });
      s.rz.shift();
    }
    const a = s.a;
    a[MX] = q;
    a[MT] = e.ts;
    // The spare slots keep their stale pairs: only the first RN entries are read.
    a[RN] = 0;
    a[RI] = 0;
    this.remember(s, q, e.ts);
    return f === null ? NONE : [f];
  }

  /** Returns s.a, which is a new, longer array when the ring had to grow. */
  private remember(s: SequenceState, q: number, ts: number): number[] {
    let a = s.a;
    const w = this.p.replay_window;
    const rn = a[RN]!;
    if (rn < w) {
      let at = HDR + 2 * rn;
      if (at >= a.length) {
        const more = Math.min(RING_CHUNK, w - rn);
        a = s.a = a.concat(more === RING_CHUNK ? SPARE : SPARE.slice(0, 2 * more));
      }
      a[at++] = q;
      a[at] = ts;
      a[RN] = rn + 1;
      return a;
    }
    const at = HDR + 2 * a[RI]!;
    a[at] = q;
    a[at + 1] = ts;
    a[RI] = (a[RI]! + 1) % w;
    return a;
  }

  private raise(s: SequenceState, e: TelemetryEvent, kind: string, score: number, observed: string, expected: string, explanation: string, evidence: Record<string, unknown>): FindingDraft | null {
    const key = kind === 'replay' || kind === 'rollback' ? IDENTITY : kind;
    return raiseThrottled((s.inc ??= {}),
      { detector: this.id, key, device_id: e.device_id, device_class: e.device_class, ts: e.ts, score, observed, expected, explanation, evidence: { kind, ...evidence }, mitre: key === 'gap' ? ['T0829'] : key === 'resets' ? ['T0816'] : sequence.mitre },
      // A reboot loop spans hours; keep it one incident for the day it is counted over.
      key === 'resets' ? Math.max(this.p.incident_gap, DAY_MS) : this.p.incident_gap,
    );
  }
}

const NONE: FindingDraft[] = [];
/**
 * Replays and rollbacks are the same story told twice: two counters under one identity (a clone
 * or a replaying attacker interleaving with the real device), or old traffic re-sent. They share
 * one incident, so the real device's next report after the clone stops, below the clone's counter,
 * extends the finding already raised instead of opening a second one. The evidence keeps the kind.
 */
const IDENTITY = 'identity';
