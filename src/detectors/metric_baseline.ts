/**
 * metric_baseline: a robust per-device, per-metric baseline with hour-of-day seasonality, and
 * spikes against it.
 *
 * Why this shape:
 * - The first samples are buffered and summarised by median/MAD, so the baseline starts from a
 *   robust estimate rather than from whatever the first reading was.
 * - After that, centre and spread follow a Huber-clipped EWMA (residuals clipped at 3σ), which is
 *   O(1) per sample and has bounded influence: one wild reading moves the baseline by at most
 *   3σ/window. Readings that are themselves anomalous only nudge the centre (a quarter weight,
 *   so a genuine re-calibration is eventually learned) and never widen the spread.
 * - Seasonality: hour-of-day (optionally split weekday/weekend) buckets learn their own centre
 *   and spread once the device has enough history. The hour on either side is also consulted and
 *   the least surprising one wins, so DST shifts and ramps at hour boundaries do not fire. A
 *   bucket's spread is floored at a fraction of the global spread because a bucket learned from
 *   a few days has not yet seen day-to-day variation.
 * - Cumulative counters (energy meters, packet counters) are detected during warm-up and scored
 *   on their rate, because a counter's level is always "new".
 * - Spreads are floored at the sensor's resolution (the smallest step it has shown) and at a
 *   small fraction of the level, so a quantised or nearly constant reading does not turn a
 *   one-step change into an infinite z.
 */
import { closeStale, raise } from './incident.js';
import type { IncidentBook } from './incident.js';
import { scoreFromZ } from './score.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { M2MEvent, TelemetryEvent } from '../events/types.js';
import { EXCLUDE_PARAM, METRICS_PARAM, compact, fmt, hourOfDay, isWeekend, mad, median, metricFilter } from './util.js';

export interface MetricBaselineParams extends Record<string, unknown> {
  metrics: string[];
  exclude: string[];
  min_samples: number;
  min_learning: number;
  window: number;
  threshold_z: number;
  min_abs_deviation: number;
  min_rel_deviation: number;
  seasonality: 'none' | 'hour_of_day' | 'weekday_hour';
  seasonal_after: number;
  max_metrics: number;
  incident_gap: number;
  detect_counters: boolean;
}

/** Samples summarised by median/MAD before the EWMA takes over. */
const INIT_N = 20;
/** Huber clip for residuals, in σ. */
const CLIP = 3;
/** E|Z| for a standard normal is √(2/π); dividing by it turns mean |r| into σ. */
const ABS_TO_SIGMA = 1.2533;
/** Samples a seasonal bucket needs before it is trusted. */
const MIN_BUCKET_N = 8;
/** A bucket's spread is at least this fraction of the global spread (see header). */
const BUCKET_SPREAD_FLOOR = 0.33;

export interface MetricState {
  /** Samples learned (in the space being scored: value, or rate for counters). */
  n: number;
  /** First sample time. */
  t0: number;
  /** Centre and σ of the global baseline. */
  c: number;
  s: number;
  /** Smallest non-zero step seen (sensor resolution); 0 = none yet. */
  q: number;
  /** Previous raw value and its time (counter rates, resolution). */
  p: number | null;
  pt: number;
  /** Warm-up buffer until INIT_N samples. */
  w?: number[];
  /** Counter mode: the baseline is on the rate per second. */
  k?: 1;
  /** Rising / falling steps during warm-up (counter detection). */
  up?: number;
  dn?: number;
  /** Seasonal buckets, flat [centre, σ, n] × buckets. */
  sb?: number[];
}

export interface MetricBaselineState {
  m: Record<string, MetricState>;
  nm: number;
  inc: IncidentBook;
}

function bucketCount(mode: MetricBaselineParams['seasonality']): number {
  return mode === 'none' ? 0 : mode === 'hour_of_day' ? 24 : 48;
}

function bucketOf(mode: MetricBaselineParams['seasonality'], ts: number): number {
  const h = hourOfDay(ts);
  return mode === 'weekday_hour' && isWeekend(ts) ? 24 + h : h;
}

function neighbour(b: number, d: number): number {
  const base = b >= 24 ? 24 : 0;
  return base + ((((b - base + d) % 24) + 24) % 24);
}

export const metricBaseline: DetectorSpec<MetricBaselineParams> = {
  name: 'metric_baseline',
  family: 'telemetry',
  summary:
    'Spikes and dips in any numeric metric against a robust per-device baseline (clipped EWMA of centre and spread, initialised by median/MAD) with hour-of-day seasonality once enough history exists. Cumulative counters are recognised and scored on their rate. Anomalous readings do not widen the baseline.',
  params: {
    metrics: METRICS_PARAM,
    exclude: EXCLUDE_PARAM,
    min_samples: { type: 'integer', description: 'Samples per metric before it can fire (warm-up).', default: 60, minimum: INIT_N },
    min_learning: { type: 'duration', description: 'Event time per metric before it can fire (warm-up).', default: '6h', examples: ['1h', '24h'] },
    window: {
      type: 'integer',
      description: 'Effective memory of the baseline in samples (EWMA weight 1/window once warm).',
      default: 500,
      minimum: 20,
    },
    threshold_z: {
      type: 'number',
      description: 'Robust z (deviation in baseline σ) at which a reading is anomalous. 5 → score 0.4 (low), 6 → 0.5 (medium), 8 → 0.7 (high).',
      default: 5,
      minimum: 2,
      maximum: 20,
    },
    min_abs_deviation: {
      type: 'number',
      description: 'Deviations smaller than this, in the metric\'s own unit, never fire (0: off).',
      default: 0,
      minimum: 0,
    },
    min_rel_deviation: {
      type: 'number',
      description: 'Deviations smaller than this fraction of the baseline level never fire; also floors the spread at a tenth of it.',
      default: 0.01,
      minimum: 0,
      maximum: 1,
    },
    seasonality: {
      type: 'string',
      description:
        'Seasonal buckets: none, hour_of_day (24, UTC), or weekday_hour (24 weekday + 24 weekend, so plants that idle at weekends do not fire every Saturday). Until a bucket has learned, the global baseline is used.',
      enum: ['none', 'hour_of_day', 'weekday_hour'],
      default: 'weekday_hour',
    },
    seasonal_after: { type: 'duration', description: 'History a metric needs before seasonal buckets are used.', default: '2d' },
    max_metrics: {
      type: 'integer',
      description: 'Metrics tracked per device; further metrics are ignored (bounds state).',
      default: 32,
      minimum: 1,
      maximum: 512,
    },
    incident_gap: { type: 'duration', description: 'Anomalous readings closer than this extend one finding.', default: '30m' },
    detect_counters: {
      type: 'boolean',
      description: 'Score monotonically increasing metrics (cumulative counters) on their rate per second.',
      default: true,
    },
  },
  example:
    'meter-0042 (smart_meter) reported current=41.3, 14.2σ above its usual 4.1 ± 2.6 for 12:00 UTC; check the load on this meter and recent commands to it before trusting its readings.',
  mitre: ['T0831', 'T0856'],
  create(params, id) {
    return new MetricBaselineDetector(params, id);
  },
};

class MetricBaselineDetector implements DetectorInstance<MetricBaselineState> {
  readonly spec = metricBaseline;
  readonly maxStateBytes: number;
  private readonly filter: ((m: string) => boolean) | null;
  private readonly nb: number;
  private readonly alpha0: number;

  constructor(
    private readonly p: MetricBaselineParams,
    readonly id: string,
  ) {
    this.filter = metricFilter(p.metrics, p.exclude);
    this.nb = bucketCount(p.seasonality);
    this.alpha0 = 1 / p.window;
    // Per metric: ~64-char name, ~12 scalar fields of ≤ 14 chars, buckets of 3 numbers ≤ 12
    // chars each, the warm-up buffer, and an open incident; plus the object framing.
    const perMetric = 64 + 12 * 18 + this.nb * 3 * 14 + INIT_N * 22 + 140;
    this.maxStateBytes = 64 + p.max_metrics * perMetric;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): MetricBaselineState {
    return { m: {}, nm: 0, inc: {} };
  }

  step(state: MetricBaselineState, ev: M2MEvent): StepResult<MetricBaselineState> {
    const e = ev as TelemetryEvent;
    let findings: FindingDraft[] | null = null;
    const metrics = e.metrics;
    for (const name in metrics) {
      if (this.filter !== null && !this.filter(name)) continue;
      const x = metrics[name];
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      let ms = state.m[name];
      if (ms === undefined) {
        if (state.nm >= this.p.max_metrics) continue;
        ms = { n: 0, t0: e.ts, c: 0, s: 0, q: 0, p: null, pt: e.ts, w: [], up: 0, dn: 0 };
        state.m[name] = ms;
        state.nm++;
      }
      const f = this.observe(state, ms, name, x, e);
      if (f !== null) (findings ??= []).push(f);
    }
    let hasInc = false;
    for (const _ in state.inc) {
      hasInc = true;
      break;
    }
    if (hasInc) closeStale(state.inc, e.ts, this.p.incident_gap);
    return { state, findings: findings ?? NO_FINDINGS };
  }

  private observe(state: MetricBaselineState, ms: MetricState, name: string, x: number, e: TelemetryEvent): FindingDraft | null {
    const ts = e.ts;
    const prev = ms.p;
    const prevTs = ms.pt;
    // Out-of-order samples are scored but do not drive counter rates or resolution.
    const inOrder = prev === null || ts > prevTs;
    if (inOrder) {
      if (prev !== null) {
        const d = Math.abs(x - prev);
        if (d > 1e-9 * Math.abs(x) && (ms.q === 0 || d < ms.q)) ms.q = compact(d);
      }
      ms.p = x;
      ms.pt = ts;
    }

    let v = x;
    if (ms.k === 1) {
      if (prev === null || !inOrder || x < prev) return null; // counter reset or first reading
      v = (x - prev) / ((ts - prevTs) / 1000);
    }

    if (ms.w !== undefined) {
      this.warm(ms, v, prev, inOrder);
      return null;
    }

    const p = this.p;
    const floorRel = Math.abs(ms.c) * p.min_rel_deviation * 0.1;
    const floorQ = ms.k === 1 ? 0 : ms.q;
    const sg = Math.max(ms.s, floorRel, floorQ, 1e-12);
    const rg = v - ms.c;
    let z = Math.abs(rg) / sg;
    let expC = ms.c;
    let expS = sg;
    let bucket = -1;
    let usedBucket = false;

    // Buckets learn from the end of warm-up on, and are consulted once there is enough history.
    if (this.nb > 0 && ms.sb === undefined) ms.sb = new Array<number>(this.nb * 3).fill(0);
    const sb = ms.sb;
    if (sb !== undefined) bucket = bucketOf(p.seasonality, ts);
    if (sb !== undefined && ts - ms.t0 >= p.seasonal_after) {
      const bfloor = Math.max(sg * BUCKET_SPREAD_FLOOR, floorRel, floorQ, 1e-12);
      let best = Infinity;
      for (let d = -1; d <= 1; d++) {
        const b = d === 0 ? bucket : neighbour(bucket, d);
        if (sb[b * 3 + 2]! < MIN_BUCKET_N) continue;
        const s = Math.max(sb[b * 3 + 1]!, bfloor);
        const zb = Math.abs(v - sb[b * 3]!) / s;
        if (zb < best) {
          best = zb;
          expC = sb[b * 3]!;
          expS = s;
        }
      }
      if (best < Infinity) {
        z = best;
        usedBucket = true;
      }
    }

    const warm = ms.n >= p.min_samples && ts - ms.t0 >= p.min_learning;
    const dev = Math.abs(v - expC);
    const anomalous =
      z >= p.threshold_z && dev >= p.min_abs_deviation && dev >= Math.abs(expC) * p.min_rel_deviation;

    // Learn. Anomalous readings nudge the centre only.
    const a = Math.max(1 / (ms.n + 1), this.alpha0);
    const clip = CLIP * sg;
    const cr = rg > clip ? clip : rg < -clip ? -clip : rg;
    if (anomalous) {
      ms.c = compact(ms.c + 0.25 * a * cr);
    } else {
      ms.c = compact(ms.c + a * cr);
      ms.s = compact((1 - a) * ms.s + a * ABS_TO_SIGMA * Math.abs(cr));
    }
    ms.n++;
    if (sb !== undefined) {
      const i = bucket * 3;
      const nb = sb[i + 2]!;
      if (nb === 0) {
        sb[i] = compact(v);
        sb[i + 1] = 0;
        sb[i + 2] = 1;
      } else {
        const ab = Math.max(1 / (nb + 1), this.alpha0);
        const bs = Math.max(sb[i + 1]!, sg * BUCKET_SPREAD_FLOOR, floorRel, floorQ, 1e-12);
        const r = v - sb[i]!;
        const c2 = r > CLIP * bs ? CLIP * bs : r < -CLIP * bs ? -CLIP * bs : r;
        if (anomalous) sb[i] = compact(sb[i]! + 0.25 * ab * c2);
        else {
          sb[i] = compact(sb[i]! + ab * c2);
          sb[i + 1] = compact((1 - ab) * sb[i + 1]! + ab * ABS_TO_SIGMA * Math.abs(c2));
        }
        if (nb < 1e6) sb[i + 2] = nb + 1;
      }
    }

    if (!anomalous || !warm) return null;

    const dir = v > expC ? 'above' : 'below';
    const what = ms.k === 1 ? `${name} rising at ${fmt(v)}/s` : `${name}=${fmt(v)}`;
    const when = usedBucket ? ` for ${String(bucket % 24).padStart(2, '0')}:00 UTC${bucket >= 24 ? ' on weekends' : ''}` : '';
    return raise(
      state.inc,
      {
        detector: this.id,
        key: name,
        device_id: e.device_id,
        device_class: e.device_class,
        ts,
        score: scoreFromZ(z),
        observed: compact(v),
        expected: `${fmt(expC)} ± ${fmt(expS)}`,
        explanation: `${e.device_id} (${e.device_class}) reported ${what}, ${fmt(z)}σ ${dir} its usual ${fmt(expC)} ± ${fmt(expS)}${when}; check the sensor and recent commands or changes on this device before trusting its readings.`,
        evidence: {
          metric: name,
          value: x,
          ...(ms.k === 1 ? { rate_per_s: compact(v), counter: true } : {}),
          z: compact(z),
          direction: dir,
          baseline_center: compact(expC),
          baseline_sigma: compact(expS),
          global_center: ms.c,
          global_sigma: compact(sg),
          seasonal_bucket: usedBucket ? bucket : null,
          samples: ms.n,
        },
        mitre: metricBaseline.mitre,
      },
      this.p.incident_gap,
    );
  }

  private warm(ms: MetricState, v: number, prev: number | null, inOrder: boolean): void {
    const w = ms.w!;
    if (inOrder && prev !== null && ms.k !== 1) {
      if (v > prev) ms.up = (ms.up ?? 0) + 1;
      else if (v < prev) ms.dn = (ms.dn ?? 0) + 1;
    }
    w.push(v);
    ms.n++;
    if (w.length < INIT_N) return;
    const up = ms.up ?? 0;
    const dn = ms.dn ?? 0;
    delete ms.up;
    delete ms.dn;
    if (this.p.detect_counters && ms.k !== 1 && dn === 0 && up >= 0.8 * (INIT_N - 1)) {
      // A cumulative counter: restart learning on its rate.
      ms.k = 1;
      ms.w = [];
      ms.n = 0;
      return;
    }
    const c = median(w);
    ms.c = compact(c);
    ms.s = compact(1.4826 * mad(w, c));
    delete ms.w;
  }
}

const NO_FINDINGS: FindingDraft[] = [];
