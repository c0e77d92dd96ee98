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
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { M2MEvent, TelemetryEvent } from '../events/types.js';
import { EXCLUDE_PARAM, METRICS_PARAM, compact, fmt, fmtDuration, metricFilter } from './util.js';

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

interface FlatMetric {
  t0: number;
  n: number;
  /** Changes seen (halved with n to follow the present). */
  ch: number;
  /** Value the current run repeats, its length and start. */
  v: number;
  rl: number;
  rs: number;
  /** Longest normal run (samples) and its duration at values not kept in `vr`. */
  mr: number;
  md: number;
  lt: number;
  /** Values held for runs of at least HOLD_MIN: flat [value, runs, longest run, its duration] × HOLD_K. */
  vr?: number[];
}

export interface FlatlineState {
  m: Record<string, FlatMetric>;
  nm: number;
  inc: IncidentBook;
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
  create(params, id) {
    return new FlatlineDetector(params, id);
  },
};

class FlatlineDetector implements DetectorInstance<FlatlineState> {
  readonly spec = flatline;
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
    return { m: {}, nm: 0, inc: {} };
  }

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
        s.m[name] = { t0: e.ts, n: 1, ch: 0, v: x, rl: 1, rs: e.ts, mr: 1, md: 0, lt: e.ts, vr: undefined };
        s.nm++;
        continue;
      }
      // Late readings cannot extend or break a run in event order.
      if (e.ts <= m.lt) continue;
      const prevTs = m.lt;
      m.lt = e.ts;
      m.n++;
      const warm = m.n >= p.min_samples && e.ts - m.t0 >= p.learning;
      if (Math.abs(x - m.v) <= p.tolerance) {
        m.rl++;
        // A run that began while learning is part of what is being learned (the first closed
        // night of a shop, the first weekend of a plant), not a deviation from it.
        if (!warm || m.rs < m.t0 + p.learning) continue;
        const rate = (m.ch + 1) / (m.n + 2);
        if (rate < p.min_change_rate) continue;
        const dur = e.ts - m.rs;
        const ref = reference(m, p.tolerance, HELD_RUN);
        if (m.rl < p.min_run || m.rl < p.run_factor * ref.mr || dur < p.min_duration || dur < p.run_factor * ref.md) continue;
        const pr = Math.pow(1 - rate, m.rl);
        let score = Math.max(0.3, Math.min(0.85, scoreFromP(pr)));
        if (ref.held && score > HELD_CAP) score = HELD_CAP;
        const f = raiseThrottled(
          s.inc,
          {
            detector: this.id,
            key: name,
            device_id: e.device_id,
            device_class: e.device_class,
            ts: e.ts,
            score,
            observed: `${name}=${fmt(m.v)} unchanged ×${m.rl} over ${fmtDuration(dur)}`,
            expected: `changes on ${Math.round(rate * 100)}% of readings; longest normal run ${ref.mr}${ref.held ? ` at ${fmt(m.v)}` : ''}`,
            explanation: `${e.device_id} (${e.device_class}) has reported ${name}=${fmt(m.v)} unchanged ${m.rl} times over ${fmtDuration(dur)}, although it normally changes on ${Math.round(rate * 100)}% of readings (longest normal run ${ref.held ? `at this value, a value it regularly holds, ${ref.mr}` : ref.mr}); check the sensor and its link, and do not trust this reading for control decisions.`,
            evidence: { metric: name, value: m.v, run: m.rl, run_ms: dur, since_ts: m.rs, change_rate: compact(rate), longest_normal_run: ref.mr, longest_normal_ms: ref.md, held_value: ref.held },
            mitre: flatline.mitre,
          },
          p.incident_gap,
        );
        if (f !== null) (out ??= []).push(f);
      } else {
        // A run ended. Learn its length unless it was itself an open incident.
        if (s.inc[name] === undefined) learnRun(m, prevTs - m.rs, p.tolerance);
        else delete s.inc[name];
        m.ch++;
        m.v = x;
        m.rl = 1;
        m.rs = e.ts;
        if (m.n > HALVE_AT) {
          m.n = Math.round(m.n / 2);
          m.ch = Math.round(m.ch / 2);
        }
      }
    }
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    return { state: s, findings: out ?? NONE };
  }
}

const NONE: FindingDraft[] = [];

/**
 * A mode: a value held more than once, at least once for a run as long as a finding needs. A
 * quantised sensor repeats its steps for a few readings all the time; that is not holding.
 */
function isHeld(vr: readonly number[], i: number, minRun: number): boolean {
  return vr[i + 1]! >= 2 && vr[i + 2]! >= minRun;
}

function heldIndex(vr: readonly number[], v: number, tol: number): number {
  for (let i = 0; i < vr.length; i += 4) if (Math.abs(vr[i]! - v) <= tol) return i;
  return -1;
}

/**
 * What the current run is compared with: at a value held more than once, the longest runs at
 * that value (a mode); otherwise the longest runs at values the metric does not hold repeatedly.
 */
function reference(m: FlatMetric, tol: number, minRun: number): { mr: number; md: number; held: boolean } {
  const vr = m.vr;
  let mr = m.mr;
  let md = m.md;
  if (vr === undefined) return { mr, md, held: false };
  const j = heldIndex(vr, m.v, tol);
  if (j >= 0 && isHeld(vr, j, minRun)) return { mr: vr[j + 2]!, md: vr[j + 3]!, held: true };
  for (let i = 0; i < vr.length; i += 4) {
    if (isHeld(vr, i, minRun)) continue;
    if (vr[i + 2]! > mr) mr = vr[i + 2]!;
    if (vr[i + 3]! > md) md = vr[i + 3]!;
  }
  return { mr, md, held: false };
}

/** Record a finished run at m.v: per held value, or in the general longest run. */
function learnRun(m: FlatMetric, dur: number, tol: number): void {
  if (m.rl < HOLD_MIN) {
    if (m.rl > m.mr) m.mr = m.rl;
    if (dur > m.md && m.rl > 1) m.md = dur;
    return;
  }
  const vr = (m.vr ??= []);
  const j = heldIndex(vr, m.v, tol);
  if (j >= 0) {
    if (vr[j + 1]! < 1e6) vr[j + 1] = vr[j + 1]! + 1;
    if (m.rl > vr[j + 2]!) vr[j + 2] = m.rl;
    if (dur > vr[j + 3]!) vr[j + 3] = dur;
    return;
  }
  if (vr.length >= 4 * HOLD_K) {
    // Forget the value with the shortest longest run; its run still bounds arbitrary values.
    let k = 0;
    for (let i = 4; i < vr.length; i += 4) if (vr[i + 2]! < vr[k + 2]!) k = i;
    if (vr[k + 2]! > m.rl) {
      if (m.rl > m.mr) m.mr = m.rl;
      if (dur > m.md) m.md = dur;
      return;
    }
    if (vr[k + 2]! > m.mr) m.mr = vr[k + 2]!;
    if (vr[k + 3]! > m.md) m.md = vr[k + 3]!;
    vr.splice(k, 4);
  }
  vr.push(compact(m.v), 1, m.rl, dur);
}
