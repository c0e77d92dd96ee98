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
 * - Scores come from the series' own fitted tail (POT/GPD), which is heavy for a multi-modal
 *   series (its second mode sits in the tail). Two consequences are handled explicitly: a known
 *   mode at an hour whose bucket has not seen it is inside the envelope and no more surprising
 *   than a second tail, kept on the global z, says; and a value beyond the envelope is also
 *   scored by its distance past the envelope under the untrained (light) prior tail, so a reading
 *   far past every mode still fires.
 * - Before a full cycle nothing is more than low: the first day has not shown the operating modes
 *   (a line that starts production on the first morning). After it, a reading in an hour bucket
 *   not learned yet may be more than low only far outside the envelope, where "far" also allows a
 *   fraction of the level.
 * - The envelope of ordinary values (min/max ever learned) is a few days' range: within two spreads
 *   (of the nearest occupied level) of it a reading is a first-time extreme of the known range and
 *   stays low.
 * - Multiplicity: the tail probability of a reading (or of the run it belongs to) is multiplied by
 *   the metric's readings per day before it becomes a score, so medium means "rarer than about
 *   1e-5 per metric and day", whatever the cadence.
 * - A metric back from a silence (20 typical intervals without a reading) relearns for a short
 *   grace window: the world moved on while it was not reported (a refuel while parked).
 * - Spreads are floored at the sensor's resolution (the smallest step it has shown) and at a
 *   small fraction of the level, so a quantised or nearly constant reading does not turn a
 *   one-step change into an infinite z.
 * - Novelty, not change: the levels the series has occupied and how long it dwelt at each are
 *   kept (lib/regimes.ts). A reading in a level the series frequently occupies (an operating
 *   mode it returns to) stays low however unusual for the hour or the current baseline; a level
 *   outside every known one by several of its spreads keeps its score.
 *
 * This file holds the spec and the wiring; state.ts the state layout and its revival, model.ts
 * the statistics (arrival, warm-up, expectation, learning), judge.ts the scoring and its caps.
 */
import { closeStale, raise } from '../incident.js';
import { TELEMETRY_ONLY, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from '../types.js';
import type { M2MEvent, TelemetryEvent } from '../../events/types.js';
import { compact } from '../lib/compact.js';
import { fmt, fmtDuration } from '../lib/format.js';
import { restarted } from '../lib/lifecycle.js';
import { EXCLUDE_PARAM, METRICS_PARAM, metricFilter } from '../lib/metric-filter.js';
import { changeRole } from '../fleet.js';
import { ABSORB_RUN, capLow, place, scoreReading } from './judge.js';
import { arrive, bucketCount, expectation, learn, newReading, scoredValue, warmUp } from './model.js';
import type { Reading } from './model.js';
import { C, INIT_N, K, N, SL, WN, initState, newMetric, reviveState, stateBound } from './state.js';
import type { MetricBaselineState, MetricState } from './state.js';

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
  full_cycle: number;
  relearn: number;
}

export const metricBaseline: DetectorSpec<MetricBaselineParams> = {
  name: 'metric_baseline',
  family: 'telemetry',
  summary:
    'Spikes and dips in any numeric metric against a robust per-device baseline (clipped EWMA of centre and spread, initialised by median/MAD) with hour-of-day seasonality once enough history exists. Scores come from the metric\'s own fitted tail (peaks over threshold, after SPOT), so routine large swings stay quiet; a single reading is medium only when extreme for this series, sustained excursions build up. Cumulative counters are recognised and scored on their rate. Anomalous readings do not widen the baseline.',
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
      description:
        'Robust z (deviation in baseline σ) below which a reading is never a finding. Above it the score comes from the tail probability under the metric\'s own fitted tail (peaks over threshold), corrected for the number of readings per day, so a z that is routine for this metric scores low.',
      default: 4,
      minimum: 3,
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
    full_cycle: {
      type: 'duration',
      description:
        'History a metric needs before a reading can be medium or worse: until then its operating modes are not known, everything is learned and findings stay low. With seasonality, a reading whose hour bucket has not learned yet can be medium or worse only far outside the envelope seen so far.',
      default: '24h',
    },
    relearn: {
      type: 'duration',
      description:
        'After a reboot (seq restart) or a firmware change the baseline relearns quickly and findings stay low for this long. A metric back from a silence (a gap of 20 of its typical intervals: a vehicle parked, a sensor unplugged) does the same for 20 typical intervals (at least 5 minutes, at most this long): the jump across a silence is not evidence.',
      default: '2h',
    },
  },
  example:
    'meter-0042 (smart_meter) reported current=41.3, 14.2σ above its usual 4.1 ± 2.6 for 12:00 UTC; check the load on this meter and recent commands to it before trusting its readings.',
  mitre: ['T0831', 'T0856'],
  fleet: changeRole((f) => f.evidence.direction),
  create(params, id) {
    return new MetricBaselineDetector(params, id);
  },
};

class MetricBaselineDetector implements DetectorInstance<MetricBaselineState> {
  readonly spec = metricBaseline;
  readonly eventTypes = TELEMETRY_ONLY;
  readonly maxStateBytes: number;
  private readonly filter: ((m: string) => boolean) | null;
  private readonly nb: number;
  private readonly alpha0: number;
  /** The reading being judged (model.ts): overwritten by every reading, never part of the state. */
  private readonly rd: Reading = newReading();
  /** The engine reads the result at once and keeps neither it nor the state reference in it. */
  private readonly res: StepResult<MetricBaselineState> = { state: null as unknown as MetricBaselineState, findings: NO_FINDINGS };

  constructor(
    private readonly p: MetricBaselineParams,
    readonly id: string,
  ) {
    this.filter = metricFilter(p.metrics, p.exclude);
    this.nb = bucketCount(p.seasonality);
    this.alpha0 = 1 / p.window;
    this.maxStateBytes = stateBound(p.max_metrics, this.nb);
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): MetricBaselineState {
    return initState();
  }

  revive(raw: unknown): MetricBaselineState | undefined {
    return reviveState(raw, this.nb);
  }

  step(state: MetricBaselineState, ev: M2MEvent): StepResult<MetricBaselineState> {
    const e = ev as TelemetryEvent;
    let findings: FindingDraft[] | null = null;
    const metrics = e.metrics;
    // After a restart every metric relearns quickly rather than reporting as anomalous (lib/lifecycle.ts).
    if (restarted(state, e)) state.rb = e.ts;
    for (const name in metrics) {
      if (this.filter !== null && !this.filter(name)) continue;
      const x = metrics[name];
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      let ms = state.m[name];
      if (ms === undefined) {
        if (state.nm >= this.p.max_metrics) continue;
        ms = newMetric(e.ts);
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
    const res = this.res;
    res.state = state;
    res.findings = findings ?? NO_FINDINGS;
    return res;
  }

  /** One reading x of metric `name`: the steps of model.ts and judge.ts, in order, and the finding it makes. */
  private observe(state: MetricBaselineState, ms: MetricState, name: string, x: number, e: TelemetryEvent): FindingDraft | null {
    const p = this.p;
    const rd = this.rd;
    const ts = e.ts;
    arrive(rd, ms.v, x, ts, p.relearn, this.alpha0);
    const v = scoredValue(rd, ms, x, ts);
    if (v !== v) return null;
    if (ms.v[WN] === ms.v[WN]) {
      warmUp(rd, ms, v, p.detect_counters);
      return null;
    }
    expectation(rd, ms, p, this.nb, v, ts);
    place(rd, ms, p, state.rb, v, ts);
    scoreReading(rd, ms, v);
    capLow(rd, ms, p, this.nb, v);
    learn(rd, ms, p, v, ts, this.alpha0, rd.run >= ABSORB_RUN);
    if (!rd.warm || (rd.az < p.threshold_z && !(rd.novel && rd.azr >= p.threshold_z)) || rd.score < 0.3) return null;
    return this.finding(state, ms, rd, name, x, v, e);
  }

  /** The finding for a reading judged worth one (its incident raised or extended). */
  private finding(state: MetricBaselineState, ms: MetricState, rd: Reading, name: string, x: number, v: number, e: TelemetryEvent): FindingDraft {
    const m = ms.v;
    const ts = e.ts;
    const { az, azr, zr, novel, expC, expS, bucket, usedBucket, run } = rd;
    const dir = (novel ? zr > 0 : v > expC) ? 'above' : 'below';
    const counter = m[K] === 1;
    const what = counter ? `${name} rising at ${fmt(v)}/s` : `${name}=${fmt(v)}`;
    const when = usedBucket ? ` for ${String(bucket % 24).padStart(2, '0')}:00 UTC${bucket >= 24 ? ' on weekends' : ''}` : '';
    const sustained = run > 1 ? ` for ${run} readings in a row${ts > (state.inc[name]?.first_ts ?? ts) ? ` (${fmtDuration(ts - state.inc[name]!.first_ts)})` : ''}` : '';
    return raise(
      state.inc,
      {
        detector: this.id,
        key: name,
        device_id: e.device_id,
        device_class: e.device_class,
        ts,
        score: rd.score,
        observed: compact(v),
        expected: `${fmt(expC)} ± ${fmt(expS)}`,
        explanation: `${e.device_id} (${e.device_class}) reported ${what}, ${fmt(az)}σ ${dir} its usual ${fmt(expC)} ± ${fmt(expS)}${when}${novel ? ` and ${fmt(azr)} spreads outside every level it normally occupies` : ''}${sustained}; check the sensor and recent commands or changes on this device before trusting its readings.`,
        evidence: {
          metric: name,
          value: x,
          ...(counter ? { rate_per_s: compact(v), counter: true } : {}),
          z: compact(az),
          direction: dir,
          tail_p: compact(rd.pr),
          run,
          baseline_center: compact(expC),
          baseline_sigma: compact(expS),
          global_center: m[C]!,
          global_sigma: compact(rd.sg),
          seasonal_bucket: usedBucket ? bucket : null,
          samples: m[N]!,
          ...(novel ? { regime_distance: compact(zr) } : {}),
          ...(rd.relearning ? (rd.silent ? { relearning_until_ts: m[SL]! } : { relearning_since_ts: state.rb }) : {}),
        },
        mitre: metricBaseline.mitre,
      },
      this.p.incident_gap,
    );
  }
}

const NO_FINDINGS: FindingDraft[] = [];
