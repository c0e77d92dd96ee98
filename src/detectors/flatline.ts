/**
 * flatline: a metric that normally moves has stopped moving — a stuck or frozen sensor, a dead
 * transmitter repeating its last value, or a replayed/frozen feed masking the real process.
 *
 * Metrics that are constant by nature (state flags, setpoints) never fire, because the detector
 * first learns how often the metric changes and its longest normal run of repeats; it fires only
 * when a run is several times longer than anything seen while learning and lasts a minimum time.
 * The score is the tail probability of that run under the metric's own change rate.
 *
 * Runs are judged per value. A value the metric has already held still more than once, at least
 * once for HELD_RUN readings (0 rpm when a line stops, 0 transactions when a store is closed), is
 * an operating mode, not a stuck sensor: a run there is compared with the longest runs previously seen at that value, and even
 * a longer one (a weekend stop after overnight ones) stays low. A sensor that freezes at an
 * arbitrary value is compared with the longest runs at values the metric does not hold, so the
 * long holds of its modes do not make it blind to a frozen reading.
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { scoreFromP } from './score.js';
import { TELEMETRY_ONLY, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from './types.js';
import type { M2MEvent, TelemetryEvent } from '../events/types.js';
import { compact } from './lib/compact.js';
import { fmt, fmtDuration } from './lib/format.js';
import { EXCLUDE_PARAM, METRICS_PARAM, metricFilter } from './lib/metric-filter.js';
import { reviveNumbers } from './keyed.js';
import { changeRole } from './fleet.js';

export interface FlatlineParams extends Record<string, unknown> {
  metrics: string[];
  exclude: string[];
  tolerance: number;
  min_run: number;
  min_duration: number;
  run_factor: number;
  min_change_rate: number;
  min_samples: number;
  learning: number;
  max_metrics: number;
  incident_gap: number;
}

/**
 * One metric's flat numeric state (unboxed doubles, updated without allocating):
 *
 * | index | field                                                                 |
 * |-------|-----------------------------------------------------------------------|
 * | T0    | first reading's time                                                  |
 * | N     | readings seen                                                         |
 * | CH    | changes seen (halved with N to follow the present)                    |
 * | V     | value the current run repeats                                         |
 * | RL    | length of the current run                                             |
 * | RS    | start of the current run                                              |
 * | MR    | longest normal run (readings) at values not held                      |
 * | MD    | its duration (ms)                                                     |
 * | LT    | last reading's time                                                   |
 * | VR..  | values held for runs of at least HOLD_MIN: [value, runs, longest run, its duration] × ≤ HOLD_K |
 */
const T0 = 0;
const N = 1;
const CH = 2;
const V = 3;
const RL = 4;
const RS = 5;
const MR = 6;
const MD = 7;
const LT = 8;
const VR = 9;

export interface FlatlineState {
  m: Record<string, number[]>;
  nm: number;
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const HALVE_AT = 100_000;
/** Held values remembered per metric, and the run length that counts as holding a value. */
const HOLD_K = 4;
const HOLD_MIN = 3;
/**
 * A value counts as held (an operating mode) once held more than once, at least once for this
 * many readings: fixed, not min_run, since min_run is only a floor on the evidence for a finding.
 */
const HELD_RUN = 20;
/** Highest score (low) for a run at a value the metric regularly holds. */
const HELD_CAP = 0.45;

export const flatline: DetectorSpec<FlatlineParams> = {
  name: 'flatline',
  family: 'telemetry',
  summary:
    'A metric that normally moves stops moving (stuck or frozen sensor, repeating transmitter, frozen or replayed feed). Learns how often each metric changes and its longest normal run of repeated values; naturally constant metrics never fire.',
  params: {
    metrics: METRICS_PARAM,
    exclude: EXCLUDE_PARAM,
    tolerance: { type: 'number', description: 'Readings within this of the run value count as "unchanged" (0: exactly equal).', default: 0, minimum: 0 },
    min_run: {
      type: 'integer',
      description:
        'Repeated readings before a run can fire: a floor only. What decides is time: a run must last `min_duration` and `run_factor` times the longest normal run (readings and duration), which scales with the metric\'s own cadence (7 readings of a 5-minute sensor, 60 of a 10-second one).',
      default: 6,
      minimum: 3,
    },
    min_duration: { type: 'duration', description: 'A run must also last this long in event time.', default: '15m' },
    run_factor: { type: 'number', description: 'A run must be this many times longer than the longest normal run, in readings and in duration.', default: 3, minimum: 1 },
    min_change_rate: {
      type: 'number',
      description: 'Only metrics that changed on at least this fraction of readings while learning are watched (constant-by-nature metrics are skipped).',
      default: 0.3,
      minimum: 0,
      maximum: 1,
    },
    min_samples: { type: 'integer', description: 'Readings per metric before it can fire.', default: 100, minimum: 10 },
    learning: { type: 'duration', description: 'Event time per metric before it can fire.', default: '24h' },
    max_metrics: { type: 'integer', description: 'Metrics tracked per device (bounds state).', default: 64, minimum: 1, maximum: 1024 },
    incident_gap: { type: 'duration', description: 'A run that continues within this extends one finding.', default: '1h' },
  },
  example:
    'tank-2 (level_sensor) has reported level_cm=143.2 unchanged 240 times over 4h, although it normally changes on 96% of readings (longest normal run 4); check the sensor and its link, and do not trust this reading for control decisions.',
  mitre: ['T0856', 'T0815'],
  fleet: changeRole(),
  create(params, id) {
    return new FlatlineDetector(params, id);
  },
};

class FlatlineDetector implements DetectorInstance<FlatlineState> {
  readonly spec = flatline;
  readonly eventTypes = TELEMETRY_ONLY;
  readonly maxStateBytes: number;
  private readonly filter: ((m: string) => boolean) | null;

  constructor(
    private readonly p: FlatlineParams,
    readonly id: string,
  ) {
    this.filter = metricFilter(p.metrics, p.exclude);
    this.maxStateBytes = 64 + p.max_metrics * (64 + 10 * 20 + HOLD_K * 4 * 20 + 140);
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): FlatlineState {
    return { m: {}, nm: 0, inc: null };
  }

  revive(state: unknown): FlatlineState | undefined {
    const o = state as Partial<Record<keyof FlatlineState, unknown>> | null;
    if (typeof o !== 'object' || o === null || typeof o.m !== 'object' || o.m === null || typeof o.nm !== 'number' || typeof o.inc !== 'object') return undefined;
    const src = o.m as Record<string, unknown>;
    const m: Record<string, number[]> = {};
    for (const k in src) {
      const a = reviveNumbers(src[k]);
      if (a === undefined || a.length < VR || (a.length - VR) % 4 !== 0) return undefined;
      m[k] = a;
    }
    return { m, nm: o.nm, inc: o.inc as IncidentBook | null };
  }

  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly res: StepResult<FlatlineState> = { state: undefined as unknown as FlatlineState, findings: NONE };

  step(s: FlatlineState, ev: M2MEvent): StepResult<FlatlineState> {
    const e = ev as TelemetryEvent;
    const p = this.p;
    let out: FindingDraft[] | null = null;
    for (const name in e.metrics) {
      if (this.filter !== null && !this.filter(name)) continue;
      const x = e.metrics[name];
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      let m = s.m[name];
      if (m === undefined) {
        if (s.nm >= p.max_metrics) continue;
        // A literal is allocated at its exact length (pushes into [] reserve 17 slots).
        s.m[name] = [e.ts, 1, 0, x, 1, e.ts, 1, 0, e.ts];
        s.nm++;
        continue;
      }
      // Late readings cannot extend or break a run in event order.
      if (e.ts <= m[LT]!) continue;
      const prevTs = m[LT]!;
      m[LT] = e.ts;
      m[N]!++;
      const warm = m[N]! >= p.min_samples && e.ts - m[T0]! >= p.learning;
      if (Math.abs(x - m[V]!) <= p.tolerance) {
        m[RL]!++;
        // A run that began while learning is part of what is being learned (the first closed
        // night of a shop, the first weekend of a plant), not a deviation from it.
        if (!warm || m[RS]! < m[T0]! + p.learning) continue;
        const rate = (m[CH]! + 1) / (m[N]! + 2);
        if (rate < p.min_change_rate) continue;
        const dur = e.ts - m[RS]!;
        reference(m, p.tolerance, HELD_RUN);
        const refMr = refRun;
        const refMd = refDur;
        const refHeld = refIsHeld;
        const rl = m[RL]!;
        if (rl < p.min_run || rl < p.run_factor * refMr || dur < p.min_duration || dur < p.run_factor * refMd) continue;
        const v = m[V]!;
        const pr = Math.pow(1 - rate, rl);
        let score = Math.max(0.3, Math.min(0.85, scoreFromP(pr)));
        if (refHeld && score > HELD_CAP) score = HELD_CAP;
        const f = raiseThrottled((s.inc ??= {}),
          {
            detector: this.id,
            key: name,
            device_id: e.device_id,
            device_class: e.device_class,
            ts: e.ts,
            score,
            observed: `${name}=${fmt(v)} unchanged ×${rl} over ${fmtDuration(dur)}`,
            expected: `changes on ${Math.round(rate * 100)}% of readings; longest normal run ${refMr}${refHeld ? ` at ${fmt(v)}` : ''}`,
            explanation: `${e.device_id} (${e.device_class}) has reported ${name}=${fmt(v)} unchanged ${rl} times over ${fmtDuration(dur)}, although it normally changes on ${Math.round(rate * 100)}% of readings (longest normal run ${refHeld ? `at this value, a value it regularly holds, ${refMr}` : refMr}); check the sensor and its link, and do not trust this reading for control decisions.`,
            evidence: { metric: name, value: v, run: rl, run_ms: dur, since_ts: m[RS]!, change_rate: compact(rate), longest_normal_run: refMr, longest_normal_ms: refMd, held_value: refHeld },
            mitre: flatline.mitre,
          },
          p.incident_gap,
        );
        if (f !== null) (out ??= []).push(f);
      } else {
        // A run ended. Learn its length unless it was itself an open incident.
        if (s.inc === null || s.inc[name] === undefined) {
          const g = learnRun(m, prevTs - m[RS]!, p.tolerance);
          if (g !== m) s.m[name] = m = g;
        } else delete s.inc[name];
        m[CH]!++;
        m[V] = x;
        m[RL] = 1;
        m[RS] = e.ts;
        if (m[N]! > HALVE_AT) {
          m[N] = Math.round(m[N]! / 2);
          m[CH] = Math.round(m[CH]! / 2);
        }
      }
    }
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    const r = this.res;
    r.state = s;
    r.findings = out ?? NONE;
    return r;
  }
}

const NONE: FindingDraft[] = [];

/**
 * A mode: a value held more than once, at least once for a run as long as a finding needs. A
 * quantised sensor repeats its steps for a few readings all the time; that is not holding.
 */
function isHeld(m: readonly number[], i: number, minRun: number): boolean {
  return m[i + 1]! >= 2 && m[i + 2]! >= minRun;
}

function heldIndex(m: readonly number[], v: number, tol: number): number {
  for (let i = VR; i < m.length; i += 4) if (Math.abs(m[i]! - v) <= tol) return i;
  return -1;
}

/** reference()'s answer, in module scope so the hot path allocates no result object. */
let refRun = 0;
let refDur = 0;
let refIsHeld = false;

/**
 * What the current run is compared with: at a value held more than once, the longest runs at
 * that value (a mode); otherwise the longest runs at values the metric does not hold repeatedly.
 */
function reference(m: readonly number[], tol: number, minRun: number): void {
  let mr = m[MR]!;
  let md = m[MD]!;
  refIsHeld = false;
  if (m.length > VR) {
    const j = heldIndex(m, m[V]!, tol);
    if (j >= 0 && isHeld(m, j, minRun)) {
      refRun = m[j + 2]!;
      refDur = m[j + 3]!;
      refIsHeld = true;
      return;
    }
    for (let i = VR; i < m.length; i += 4) {
      if (isHeld(m, i, minRun)) continue;
      if (m[i + 2]! > mr) mr = m[i + 2]!;
      if (m[i + 3]! > md) md = m[i + 3]!;
    }
  }
  refRun = mr;
  refDur = md;
}

/**
 * Record a finished run at m[V]: per held value, or in the general longest run. Returns the
 * metric's array, a new one when it had to grow.
 */
function learnRun(m: number[], dur: number, tol: number): number[] {
  const rl = m[RL]!;
  if (rl < HOLD_MIN) {
    if (rl > m[MR]!) m[MR] = rl;
    if (dur > m[MD]! && rl > 1) m[MD] = dur;
    return m;
  }
  const j = heldIndex(m, m[V]!, tol);
  if (j >= 0) {
    if (m[j + 1]! < 1e6) m[j + 1] = m[j + 1]! + 1;
    if (rl > m[j + 2]!) m[j + 2] = rl;
    if (dur > m[j + 3]!) m[j + 3] = dur;
    return m;
  }
  if (m.length >= VR + 4 * HOLD_K) {
    // Forget the value with the shortest longest run; its run still bounds arbitrary values.
    let k = VR;
    for (let i = VR + 4; i < m.length; i += 4) if (m[i + 2]! < m[k + 2]!) k = i;
    if (m[k + 2]! > rl) {
      if (rl > m[MR]!) m[MR] = rl;
      if (dur > m[MD]!) m[MD] = dur;
      return m;
    }
    if (m[k + 2]! > m[MR]!) m[MR] = m[k + 2]!;
    if (m[k + 3]! > m[MD]!) m[MD] = m[k + 3]!;
    m.splice(k, 4);
    m.push(compact(m[V]!), 1, rl, dur);
    return m;
  }
  // A new array of the exact length: push would reserve 16 spare slots in every such metric.
  return m.concat([compact(m[V]!), 1, rl, dur]);
}
