/**
 * metric_relation: broken relations between the metrics of one device.
 *
 * Physics couples the readings of one telemetry event: a meter's power is voltage × current ×
 * power factor and its energy counter grows by power × interval; a pump's flow follows its motor
 * speed; a line's pressure follows production. A falsified reading (energy theft that scales the
 * power, an offset on one transmitter) can stay inside everything that metric has ever shown for
 * that hour, so univariate baselines cannot see it, but it no longer agrees with its neighbours.
 *
 * Per device, online and bounded:
 *
 * - Channels. The first readings decide which metrics the device reliably sends (present in
 *   ≥ 90 % of events, at most `max_metrics`); a metric that only ever grows is a cumulative
 *   counter and enters as its rate per hour (only across a normal reporting interval).
 * - Relations. An exponentially weighted mean and covariance of the channels and of their lagged
 *   companions (EW, 15-minute time constant) is kept twice: on the raw values, and on logarithms
 *   for channels that were positive while learning (products such as P = V·I·pf are linear
 *   there, and a scale is an offset). Periodically the precision matrix Θ of each space gives,
 *   for every channel, its least-squares fit on all the other channels and their companions
 *   (conditioning on everything else, then integrating out the channel's own companion: a 2×2
 *   block of Θ) and the share of its variance that fit explains (R², on correlations). Each
 *   channel keeps the space where it is explained clearly best. Only channels explained to at
 *   least `min_r2` are judged: a metric with no strong relation is left to the univariate
 *   detectors, and a device with none at all is watched at an eighth of the cost.
 * - Residuals. Each judged channel's residual (reading minus what its neighbours imply) is
 *   standardised by a robust centre and spread (EW, Huber-clipped) learned separately at three
 *   operating points (what the neighbours imply: low, middle, high), because a line that idles
 *   is quieter than one that runs. For a falsified channel the standardised residual is the
 *   largest of all channels (|Θjk| ≤ √(ΘjjΘkk)), which names the culprit; when only a pair is
 *   coupled either may be named and the explanation names both.
 * - Persistence. A finding needs `min_run` consecutive readings off by ≥ `min_shift`σ in the same
 *   direction over at least `min_duration`, and the recent mean residual (EW over ~6 readings)
 *   must exceed `variability_factor` times its own usual wander and 1.5 times its usual daily
 *   peak: relations that slip at every start-up, warm-up or stop calibrate themselves. The score
 *   grows with that sustained excess.
 * - Learning. Nothing is judged before `learning` and `min_samples`; readings that are off, or
 *   while a finding is open, do not teach the fit, so a falsified metric is not learned as the new
 *   relation. A change that lasts longer than `relearn_after` is then learned quickly (a replaced
 *   sensor, a new power factor) and the detector is quiet meanwhile.
 *
 * Cost per reading is O(D²) for D = 2·channels (channels ≤ `max_metrics`, 5 on a smart meter:
 * two 55-entry covariance updates, a dot product per judged channel, no allocation) plus an
 * O(D³) refit every REFIT readings (at most every 15 minutes); state is a few hundred numbers.
 *
 * This file holds the spec and the wiring; state.ts the state layout and its revival,
 * channels.ts discovery and how a reading enters, fit.ts the relations and their refit,
 * residual.ts each channel's standardised residual, judge.ts the verdict and the finding.
 */
import { closeStale } from '../incident.js';
import { TELEMETRY_ONLY, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from '../types.js';
import type { M2MEvent, TelemetryEvent } from '../../events/types.js';
import { EXCLUDE_PARAM, METRICS_PARAM, metricFilter } from '../lib/metric-filter.js';
import { changeRole } from '../fleet.js';
import { discover, learnCadence, newReading, readChannels } from './channels.js';
import type { Reading } from './channels.js';
import { learnRelations, restartLogSpace, stepCompanions } from './fit.js';
import { judge } from './judge.js';
import { inRange, learnRange, residuals } from './residual.js';
import { V_N, V_PT, V_RL, V_T0, initState, reviveState, stateBound } from './state.js';
import type { MetricRelationState } from './state.js';

export interface MetricRelationParams extends Record<string, unknown> {
  metrics: string[];
  exclude: string[];
  max_metrics: number;
  min_samples: number;
  learning: number;
  window: number;
  min_r2: number;
  min_shift: number;
  min_run: number;
  min_duration: number;
  variability_factor: number;
  incident_gap: number;
  relearn_after: number;
}

export const metricRelation: DetectorSpec<MetricRelationParams> = {
  name: 'metric_relation',
  family: 'telemetry',
  summary:
    'Broken relations between the metrics of one device: each metric is fitted online on the device\'s other metrics (robust EW least squares, on raw values and on logarithms so products such as power = voltage × current × power factor are linear; cumulative counters enter as their rate), and a metric that its neighbours explain well but that persistently disagrees with them is reported: energy theft that scales the power reading, an offset on one transmitter, a current that no longer matches the power. Values can stay inside everything the metric has shown for that hour; what breaks is the relation. Metrics without a strong relation (R² below `min_r2`) are left to metric_baseline and level_shift; relations with lags calibrate their own wander.',
  params: {
    metrics: METRICS_PARAM,
    exclude: EXCLUDE_PARAM,
    max_metrics: { type: 'integer', description: 'Metrics related per device (the most regularly reported first); bounds state and cost (O(n²) per reading).', default: 8, minimum: 2, maximum: 16 },
    min_samples: { type: 'integer', description: 'Readings with every related metric before anything is judged (warm-up).', default: 100, minimum: 50 },
    learning: { type: 'duration', description: 'Event time before anything is judged (warm-up); should cover a full daily cycle so the fit sees the device\'s whole operating range.', default: '1d' },
    window: { type: 'integer', description: 'Effective memory of the relations, in readings (EW weight 1/window once warm).', default: 2000, minimum: 100 },
    min_r2: {
      type: 'number',
      description: 'Share of a metric\'s variance its fit on the other metrics must explain before the metric is judged; weaker relations are not evidence.',
      default: 0.98,
      minimum: 0.5,
      maximum: 0.9999,
    },
    min_shift: { type: 'number', description: 'Residual (in σ of the device\'s usual fit) a reading must show to count as off.', default: 3, minimum: 1 },
    min_run: { type: 'integer', description: 'Consecutive readings off in the same direction before a finding.', default: 4, minimum: 2 },
    min_duration: {
      type: 'duration',
      description: 'Those readings must also span this much event time: a relation that slips for a few fast readings at every start or stop (a motor speed that reads 0 while the flow runs down) is not a falsification.',
      default: '20m',
    },
    variability_factor: {
      type: 'number',
      description: 'The recent mean residual (EW over ~6 readings) must exceed this many times its own usual wander, and 1.5 times its usual daily peak, so relations that lag or slip every day (a temperature following production, a warm-up) need a proportionally larger break.',
      default: 4,
      minimum: 1,
    },
    incident_gap: { type: 'duration', description: 'Broken readings closer than this extend one finding.', default: '1h' },
    relearn_after: {
      type: 'duration',
      description: 'A break that lasts longer than this is taken as a changed relation (sensor replaced, recalibrated): the fit relearns quickly and says nothing for a few hours.',
      default: '12h',
    },
  },
  example:
    'meter-0191 (smart_meter) power_kw reads 0.42 while its usual relation to current_a, voltage and energy_kwh (rate) implies 0.31 (residual 24σ of this device\'s fit, 2% typical error), for 45m (4 readings); the readings disagree with each other, so one is falsified or faulty: compare with an independent measurement (feeder, neighbouring meter, site visit) before trusting it for billing or control.',
  mitre: ['T0832', 'T0856'],
  fleet: changeRole((f) => (typeof f.evidence.value === 'number' && typeof f.evidence.implied === 'number' ? (f.evidence.value > f.evidence.implied ? 'above' : 'below') : undefined)),
  create(params, id) {
    return new MetricRelationDetector(params, id);
  },
};

class MetricRelationDetector implements DetectorInstance<MetricRelationState> {
  readonly spec = metricRelation;
  readonly eventTypes = TELEMETRY_ONLY;
  readonly maxStateBytes: number;
  private readonly filter: ((m: string) => boolean) | null;
  /** Scratch of the reading being judged (channels.ts): never part of the state. */
  private readonly rd: Reading;
  /** The engine reads the result at once and keeps neither it nor the state reference in it. */
  private readonly res: StepResult<MetricRelationState> = { state: null as unknown as MetricRelationState, findings: NONE };

  constructor(
    private readonly p: MetricRelationParams,
    readonly id: string,
  ) {
    this.filter = metricFilter(p.metrics, p.exclude);
    this.rd = newReading(p.max_metrics);
    this.maxStateBytes = stateBound(p.max_metrics);
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): MetricRelationState {
    return initState();
  }

  revive(raw: unknown): MetricRelationState | undefined {
    return reviveState(raw);
  }

  step(s: MetricRelationState, ev: M2MEvent): StepResult<MetricRelationState> {
    const e = ev as TelemetryEvent;
    const res = this.res;
    res.state = s;
    if (s.ch === undefined) {
      discover(s, e, this.filter, this.p.max_metrics);
      res.findings = NONE;
      return res;
    }
    const f = this.observe(s, e);
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, this.p.incident_gap);
      if (s.ik !== undefined && s.inc[s.ik] === undefined) s.ik = undefined;
      break;
    }
    res.findings = f === null ? NONE : [f];
    return res;
  }

  /** One reading of a device whose channels are known: the steps of channels.ts, fit.ts, residual.ts and judge.ts, in order. */
  private observe(s: MetricRelationState, e: TelemetryEvent): FindingDraft | null {
    const p = this.p;
    const rd = this.rd;
    const ts = e.ts;
    const sv = s.v;
    const prevTs = sv[V_PT]!;
    const hasPrev = prevTs === prevTs;
    const gap = !hasPrev ? Infinity : ts - prevTs;
    if (!readChannels(s, e, rd, gap, hasPrev)) return null;
    learnCadence(sv, ts);
    if (rd.logRestart && s.mu !== undefined) restartLogSpace(s);
    if (!rd.counterOk) return null;
    if (sv[V_N] === 0) sv[V_T0] = ts;
    stepCompanions(s, rd.y, ts, gap, p.learning);
    const relearning = ts < sv[V_RL]!;
    const fits = s.f;
    const warm = sv[V_N]! >= p.min_samples && ts - sv[V_T0]! >= p.learning && !relearning;
    let judged = 0;
    let off = false;
    let out: FindingDraft | null = null;
    if (fits !== undefined) {
      judged = residuals(s, fits, rd, ts, p, relearning);
      off = rd.off;
      if (warm && rd.worst >= 0) out = judge(s, e, fits, rd, p, this.id, metricRelation.mitre, inRange(s, fits, rd.y[0]!));
      if (s.ik === undefined && !off) learnRange(fits, rd.y[0]!);
    }
    learnRelations(s, rd.y, ts, p.window, warm, judged, relearning, s.ik === undefined && !off);
    return out;
  }
}

const NONE: FindingDraft[] = [];
