/**
 * flatline: a metric that normally moves has stopped moving — a stuck or frozen sensor, a dead
 * transmitter repeating its last value, or a replayed/frozen feed masking the real process.
 *
 * Metrics that are constant by nature (state flags, setpoints) never fire, because the detector
 * first learns how often the metric changes and its longest normal run of repeats; it fires only
 * when a run is several times longer than anything seen while learning and lasts a minimum time.
 * The score is the tail probability of that run under the metric's own change rate.
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
  /** Longest normal run (samples) and its duration. */
  mr: number;
  md: number;
  lt: number;
}

export interface FlatlineState {
  m: Record<string, FlatMetric>;
  nm: number;
  inc: IncidentBook;
}

const HALVE_AT = 100_000;

export const flatline: DetectorSpec<FlatlineParams> = {
  name: 'flatline',
  family: 'telemetry',
  summary:
    'A metric that normally moves stops moving (stuck or frozen sensor, repeating transmitter, frozen or replayed feed). Learns how often each metric changes and its longest normal run of repeated values; naturally constant metrics never fire.',
  params: {
    metrics: METRICS_PARAM,
    exclude: EXCLUDE_PARAM,
    tolerance: { type: 'number', description: 'Readings within this of the run value count as "unchanged" (0: exactly equal).', default: 0, minimum: 0 },
    min_run: { type: 'integer', description: 'Repeated readings before a run can fire.', default: 20, minimum: 3 },
    min_duration: { type: 'duration', description: 'A run must also last this long in event time.', default: '15m' },
    run_factor: { type: 'number', description: 'A run must be this many times longer than the longest normal run.', default: 3, minimum: 1 },
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
    this.maxStateBytes = 64 + p.max_metrics * (64 + 10 * 20 + 140);
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
        s.m[name] = { t0: e.ts, n: 1, ch: 0, v: x, rl: 1, rs: e.ts, mr: 1, md: 0, lt: e.ts };
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
        if (m.rl < p.min_run || m.rl < p.run_factor * m.mr || dur < p.min_duration || dur < p.run_factor * m.md) continue;
        const pr = Math.pow(1 - rate, m.rl);
        const score = Math.max(0.3, Math.min(0.85, scoreFromP(pr)));
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
            expected: `changes on ${Math.round(rate * 100)}% of readings; longest normal run ${m.mr}`,
            explanation: `${e.device_id} (${e.device_class}) has reported ${name}=${fmt(m.v)} unchanged ${m.rl} times over ${fmtDuration(dur)}, although it normally changes on ${Math.round(rate * 100)}% of readings (longest normal run ${m.mr}); check the sensor and its link, and do not trust this reading for control decisions.`,
            evidence: { metric: name, value: m.v, run: m.rl, run_ms: dur, since_ts: m.rs, change_rate: compact(rate), longest_normal_run: m.mr, longest_normal_ms: m.md },
            mitre: flatline.mitre,
          },
          p.incident_gap,
        );
        if (f !== null) (out ??= []).push(f);
      } else {
        // A run ended. Learn its length unless it was itself an open incident.
        if (s.inc[name] === undefined) {
          if (m.rl > m.mr) m.mr = m.rl;
          const dur = prevTs - m.rs;
          if (dur > m.md && m.rl > 1) m.md = dur;
        } else delete s.inc[name];
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
