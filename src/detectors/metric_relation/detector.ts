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
 */
import { closeStale, raiseThrottled } from '../incident.js';
import type { IncidentBook } from '../incident.js';
import { scoreFromZ } from '../score.js';
import { TELEMETRY_ONLY, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from '../types.js';
import type { M2MEvent, TelemetryEvent } from '../../events/types.js';
import { compact } from '../lib/compact.js';
import { fmt, fmtDuration } from '../lib/format.js';
import { EXCLUDE_PARAM, METRICS_PARAM, metricFilter } from '../lib/metric-filter.js';
import { learnRate } from '../lib/lifecycle.js';
import { ABS_TO_SIGMA } from '../lib/robust.js';
import { DAY_MS } from '../lib/time.js';
import { NOT_PACKED, doubles, optionalPacked, orZero, packedDoubles } from '../flat.js';
import { changeRole } from '../fleet.js';

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

/**
 * One judged (or candidate) channel: its fit and the statistics of its residual, a flat number[]
 * (unboxed doubles, so the updates of every reading allocate nothing); NaN means absent.
 *
 * | index | meaning |
 * | --- | --- |
 * | F_SP | space: 0 raw, 1 log where positive |
 * | F_R2 | share of the channel's variance its fit explains |
 * | F_K, F_C, F_S | residual: samples, robust centre and spread |
 * | F_M, F_V | recent mean z, its usual wander |
 * | F_RUN, F_TR | consecutive readings off in one direction (sign = direction), and since when |
 * | F_DD, F_DX, F_PK, F_ND | the day (event-time index) being watched, its largest recent mean z so far, the usual daily peak (EW over days) and how many days it has seen: the largest sustained disagreement this channel shows on an ordinary day |
 * | F_B … +3·BINS | residual [samples, centre, spread] per operating point: what the neighbours imply, below, around or above the channel's mean (±σ/2). Noise is rarely the same when a line idles and when it runs, and a lag shows in transitions only |
 * | F_W … +2·channels | weights over all channels and their companions (w[j] = 1) |
 */
type Fit = number[];
const F_SP = 0;
const F_R2 = 1;
const F_K = 2;
const F_C = 3;
const F_S = 4;
const F_M = 5;
const F_V = 6;
const F_RUN = 7;
const F_TR = 8;
const F_DD = 9;
const F_DX = 10;
const F_PK = 11;
const F_ND = 12;
const F_B = 13;
/** Operating points per channel. */
const BINS = 3;
const F_W = F_B + 3 * BINS;

/**
 * Device scalars in MetricRelationState.v, NaN: absent.
 *
 * | index | meaning |
 * | --- | --- |
 * | V_N, V_N1, V_T0 | accepted readings, readings learned in log space since it (re)started, first accepted time |
 * | V_DE | discovery: readings seen |
 * | V_PT, V_DT | time of the previous accepted reading, usual interval |
 * | V_RT | time of the last refit |
 * | V_CR | 1 when a counter went backwards at the previous reading |
 * | V_DQ | readings in a row whose interval disagreed with the usual one |
 * | V_JT | time of the last judged reading (a long pause restarts the runs) |
 * | V_SK | readings skipped in a row because a channel was missing |
 * | V_RL | fast relearning until this time (a relation that changed for good) |
 */
const V_N = 0;
const V_N1 = 1;
const V_T0 = 2;
const V_DE = 3;
const V_PT = 4;
const V_DT = 5;
const V_RT = 6;
const V_CR = 7;
const V_DQ = 8;
const V_JT = 9;
const V_SK = 10;
const V_RL = 11;
const V_LEN = 12;

export interface MetricRelationState {
  /** Device scalars (see V_N …). */
  v: number[];
  /** Discovery: metric names, and per name [count, min, rises, falls, last] at 5·i. */
  dn?: string[];
  dv?: number[];
  /** Channels (fixed after discovery), counter flags and the log floor per channel (0: raw). */
  ch?: string[];
  ct?: number[];
  lf?: number[];
  /** Previous raw value per channel (counters). */
  pv?: number[];
  /** Per space: each channel's lagged companion (EW over ~COMPANION readings). */
  sm?: number[][];
  /** Per space: EW means and packed upper-triangular co-moments of channels and companions. */
  mu?: number[][];
  cv?: number[][];
  /** Marginal σ per channel in each space, as of the last refit. */
  sd?: number[][];
  f?: Fit[];
  inc: IncidentBook;
  /** Key of the open incident, so one incident keeps one finding. */
  ik?: string;
}

const DISCOVERY = 32;
const PRESENCE = 0.9;
const REFIT = 32;
const RIDGE = 1e-6;
const REFIT_MIN_MS = 15 * 60_000;
/** Residual statistics: memory, readings before judging, Huber clip. */
const RES_WINDOW = 500;
const RES_WARM = 48;
const HUBER = 4;
/** Recent mean of the clipped z: weight, and the clip of one reading's contribution. */
const RECENT = 1 / 6;
const Z_CLIP = 20;
/** A break must exceed the usual daily peak of the recent mean by this factor. */
const PEAK_FACTOR = 1.5;
const PEAK_MEMORY_DAYS = 7;
/** Standard deviation of that mean for white residuals: its floor. */
const V_WHITE = Math.sqrt(RECENT / (2 - RECENT));
/** A reading off by more than this (σ) does not teach the fit. */
const LEARN_Z = 4;
/** After this many readings in a row without every channel, channels are discovered again. */
const MAX_SKIP = 200;
const SPACES = 2;
/**
 * Every channel also enters lagged (EW with a 15-minute time constant, whatever the cadence), so
 * relations with inertia (a temperature that follows production with a delay) are fitted rather
 * than broken at every start-up. A channel's own companion never explains it (that would be
 * autoregression, which absorbs a lasting offset).
 */
const COMPANION_MS = 15 * 60_000;

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
  /** Scratch (per event, overwritten before use; never part of the state). */
  private readonly y: Float64Array[];
  private readonly z: Float64Array;
  private readonly sc: Float64Array;
  /** The engine reads the result at once and keeps neither it nor the state reference in it. */
  private readonly res: StepResult<MetricRelationState> = { state: null as unknown as MetricRelationState, findings: NONE };

  constructor(
    private readonly p: MetricRelationParams,
    readonly id: string,
  ) {
    this.filter = metricFilter(p.metrics, p.exclude);
    const d = p.max_metrics;
    this.y = [new Float64Array(2 * d), new Float64Array(2 * d)];
    this.z = new Float64Array(d);
    this.sc = new Float64Array(d);
    // Discovery book (bounded at 4·d metrics) or channels: names, flags, means, co-moments, σ,
    // fits with their weights; an open incident. ~24 bytes per number.
    const tri = d * (2 * d + 1);
    const numbers = 3 * d + SPACES * (d + 2 * d + tri + 2 * d) + d * (2 * d + F_W) + V_LEN;
    this.maxStateBytes = 400 + 4 * d * (48 + 5 * 24) + numbers * 24 + d * 64 + 200;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): MetricRelationState {
    // Every field from the start (undefined ones are not written to JSON) and none deleted later:
    // one hidden class for all devices instead of dictionary-mode state objects.
    return { v: newScalars(), dn: undefined, dv: undefined, ch: undefined, ct: undefined, lf: undefined, pv: undefined, sm: undefined, mu: undefined, cv: undefined, sd: undefined, f: undefined, inc: {}, ik: undefined };
  }

  revive(raw: unknown): MetricRelationState | undefined {
    return reviveState(raw);
  }

  step(s: MetricRelationState, ev: M2MEvent): StepResult<MetricRelationState> {
    const e = ev as TelemetryEvent;
    const res = this.res;
    res.state = s;
    if (s.ch === undefined) {
      this.discover(s, e);
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

  /** Which metrics the device reliably sends, which are counters, which are always positive. */
  private discover(s: MetricRelationState, e: TelemetryEvent): void {
    // Names in a list (a few, scanned), their counts in one flat array: no object per metric.
    const first = s.dn === undefined;
    let dn = (s.dn ??= []);
    let dc = (s.dv ??= []);
    const sv = s.v;
    for (const name in e.metrics) {
      if (this.filter !== null && !this.filter(name)) continue;
      const x = e.metrics[name];
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      let r = dn.indexOf(name);
      if (r < 0) {
        if (dn.length >= 4 * this.p.max_metrics) continue;
        r = dn.length;
        dn.push(name);
        dc.push(0, x, 0, 0, x);
      }
      r *= 5;
      dc[r] = dc[r]! + 1;
      if (x < dc[r + 1]!) dc[r + 1] = x;
      if (x > dc[r + 4]!) dc[r + 2] = dc[r + 2]! + 1;
      else if (x < dc[r + 4]!) dc[r + 3] = dc[r + 3]! + 1;
      dc[r + 4] = x;
    }
    // Most devices send the same metrics every time: after the first reading, copies without
    // the spare capacity that arrays grown by push carry.
    if (first) {
      s.dn = dn = dn.slice();
      s.dv = dc = dc.slice();
    }
    const de = (sv[V_DE] = sv[V_DE]! + 1);
    if (de < DISCOVERY) return;
    const at = (k: string): number => 5 * dn.indexOf(k);
    const names = dn
      .filter((k) => dc[at(k)]! >= PRESENCE * de)
      .sort((a, b) => dc[at(b)]! - dc[at(a)]! || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, this.p.max_metrics)
      .sort();
    s.dn = undefined;
    s.dv = undefined;
    if (names.length < 2) {
      // Nothing to relate: look again later (a device whose metrics arrive in separate events).
      sv[V_DE] = -10 * DISCOVERY;
      return;
    }
    const d = names.length;
    s.ch = names;
    s.ct = doubles(d, 0);
    for (let i = 0; i < d; i++) {
      const r = at(names[i]!);
      s.ct[i] = dc[r + 3] === 0 && dc[r + 2]! >= 0.5 * (dc[r]! - 1) ? 1 : 0;
    }
    // Log space for channels that stayed positive; the floor keeps a later 0 or negative reading
    // finite (and far off), rather than undefined.
    s.lf = doubles(d, 0);
    for (let i = 0; i < d; i++) {
      const r = at(names[i]!);
      s.lf[i] = s.ct[i] === 1 ? 0 : dc[r + 1]! > 0 ? dc[r + 1]! / 4 : 0;
    }
    s.pv = doubles(d, 0);
    sv[V_SK] = 0;
    sv[V_PT] = NaN;
    sv[V_DT] = NaN;
    this.reset(s);
  }

  private observe(s: MetricRelationState, e: TelemetryEvent): FindingDraft | null {
    const ch = s.ch!;
    const d = ch.length;
    const ts = e.ts;
    const ct = s.ct!;
    const lf = s.lf!;
    const pv = s.pv!;
    const y0 = this.y[0]!;
    const y1 = this.y[1]!;
    const sv = s.v;
    // Read every channel; a reading that lacks one is skipped (the fit is over complete readings).
    const prevTs = sv[V_PT]!;
    const hasPrev = prevTs === prevTs;
    const gap = !hasPrev ? Infinity : ts - prevTs;
    let ok = true;
    let counterOk = true;
    let restart = false;
    let reset = false;
    for (let i = 0; i < d; i++) {
      const x = e.metrics[ch[i]!];
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        ok = false;
        break;
      }
      let v = x;
      if (ct[i] === 1) {
        // A counter enters as its rate per hour across one normal interval: across a gap it is
        // the mean of the readings missed, and a decrease is a reset (or a second source
        // interleaving its own values), after which the next increment is not trusted either.
        const last = pv[i]!;
        pv[i] = x;
        if (x < last) reset = true;
        const dt0 = sv[V_DT]!;
        if (!(gap > 0) || gap > 1.5 * (dt0 === dt0 ? dt0 : gap) || x < last || !hasPrev || sv[V_CR] === 1) counterOk = false;
        v = ((x - last) * 3_600_000) / (gap > 0 ? gap : 1);
      }
      y0[i] = v;
      let fl = lf[i]!;
      if (fl > 0 && s.f === undefined) {
        // Until the first fit, a channel that reaches 0 has no log space; afterwards such a
        // reading is clamped to the floor (far off), so a falsified reading cannot reset the fit.
        if (!(v > 0)) {
          lf[i] = fl = 0;
          restart = true;
        } else if (v < 4 * fl) lf[i] = fl = compact(v / 4);
      }
      y1[i] = fl > 0 ? Math.log(v > fl ? v : fl) : v;
    }
    if (!ok) {
      if ((sv[V_SK] = sv[V_SK]! + 1) >= MAX_SKIP) {
        // The device changed what it sends: start over.
        s.ch = undefined;
        sv[V_DE] = 0;
      }
      return null;
    }
    sv[V_SK] = 0;
    sv[V_CR] = reset ? 1 : 0;
    if (!hasPrev || ts > prevTs) {
      if (hasPrev) {
        // The usual interval learns from ordinary gaps only (not from missed readings, nor from
        // a burst of interleaved duplicates); a cadence that changes for good is adopted after
        // 16 readings in a row that disagree with it.
        const g = ts - prevTs;
        const dt = sv[V_DT]!;
        if (dt !== dt) sv[V_DT] = g;
        else if (g >= 0.5 * dt && g <= 2 * dt) {
          sv[V_DT] = compact(dt + 0.05 * (g - dt));
          sv[V_DQ] = NaN;
        } else {
          const dq = sv[V_DQ]!;
          if ((sv[V_DQ] = (dq === dq ? dq : 0) + 1) >= 16) {
            sv[V_DT] = g;
            sv[V_DQ] = NaN;
          }
        }
      }
      sv[V_PT] = ts;
    }
    if (restart && s.mu !== undefined) {
      // Only the log space starts over (the raw-space fit is unaffected).
      const D = 2 * d;
      s.mu[1] = doubles(D, 0);
      s.cv![1] = doubles((D * (D + 1)) / 2, 0);
      sv[V_N1] = 0;
      s.sm = undefined;
    }
    if (!counterOk) return null;
    if (sv[V_N] === 0) sv[V_T0] = ts;
    // Lagged companions: the value before this reading enters the fit (then it moves on).
    const sm = (s.sm ??= [copyOf(y0, d), copyOf(y1, d)]);
    const ca = gap > 0 && gap < Infinity ? 1 - Math.exp(-gap / COMPANION_MS) : 1;
    for (let sp = 0; sp < SPACES; sp++) {
      const y = this.y[sp]!;
      const c = sm[sp]!;
      // Huber-limited steps (3σ of the channel, once a full learning period has shown its
      // range): one absurd reading (a counter jump, a second source's values) cannot poison
      // the lagged value for hours.
      const sd = ts - sv[V_T0]! >= this.p.learning ? s.sd?.[sp] : undefined;
      for (let i = 0; i < d; i++) {
        const ci = c[i]!;
        y[d + i] = ci;
        let step = y[i]! - ci;
        const lim = sd !== undefined ? 3 * sd[i]! : Infinity;
        if (lim > 0) step = step > lim ? lim : step < -lim ? -lim : step;
        c[i] = ci + ca * step;
      }
    }
    const D = 2 * d;

    const p = this.p;
    const relearning = ts < sv[V_RL]!;
    const fits = s.f;
    const n = sv[V_N]!;
    const warm = n >= p.min_samples && ts - sv[V_T0]! >= p.learning && !relearning;
    // Residuals of the fitted channels.
    let worst = -1;
    let worstZ = 0;
    let off = false;
    let out: FindingDraft | null = null;
    let judged = 0;
    if (fits !== undefined) {
      if (ts - sv[V_JT]! > p.incident_gap) {
        // Nothing judged for a while (a pause, or readings that could not be used): a run of
        // broken readings before it says nothing about now.
        for (let j = 0; j < fits.length; j++) {
          const g = fits[j]!;
          g[F_RUN] = 0;
          g[F_M] = 0;
        }
      }
      sv[V_JT] = ts;
      const z = this.z;
      const mu0 = s.mu![0]!;
      const mu1 = s.mu![1]!;
      for (let j = 0; j < d; j++) {
        const f = fits[j]!;
        if (f[F_R2]! < p.min_r2) continue;
        judged++;
        const sp = f[F_SP]!;
        const y = sp === 0 ? y0 : y1;
        const mu = sp === 0 ? mu0 : mu1;
        let r = 0;
        for (let k = 0; k < D; k++) r += f[F_W + k]! * (y[k]! - mu[k]!);
        // The operating point: what the neighbours imply, relative to the channel's own spread.
        const sdj = s.sd![sp]![j]!;
        const u = sdj > 0 ? (y[j]! - mu[j]! - r) / sdj : 0;
        const bi = F_B + (u < -0.5 ? 0 : u < 0.5 ? 1 : 2) * 3;
        // An operating point not seen often enough yet is judged with the widest spread known.
        const bw = f[bi]! >= RES_WARM;
        const c = bw ? f[bi + 1]! : f[F_C]!;
        const sc = bw ? f[bi + 2]! : widest(f);
        const zj = sc > 0 ? (r - c) / sc : 0;
        z[j] = zj;
        this.sc[j] = sc;
        const frozen = s.ik !== undefined && !relearning;
        this.learnResidual(f, r, zj, ts, frozen);
        learnBin(f, bi, r, zj, frozen);
        if (f[F_K]! < RES_WARM) continue;
        const az = zj < 0 ? -zj : zj;
        if (az > LEARN_Z) off = true;
        if (az > worstZ) {
          worstZ = az;
          worst = j;
        }
      }
      if (warm && worst >= 0) out = this.judge(s, e, fits);
    }
    // The fit learns from readings that agree with it, never from a break in progress. A device
    // whose metrics, once learned, have no strong relation at all (most vital signs, a line
    // that never changes its production level) keeps watching at an eighth of the cost.
    const idle = warm && judged === 0 && (n & 7) !== 0;
    if (!idle && (relearning || (s.ik === undefined && !off))) this.learn(s, relearning);
    const n1 = (sv[V_N] = n + 1);
    // Refit every REFIT readings; once judging, at most every 15 minutes (a fast stream need not
    // refit every few minutes), and only every 8·REFIT readings on a device with nothing strong
    // enough to judge.
    if (n1 % REFIT === 0 || s.f === undefined) {
      const rt = sv[V_RT]!;
      const due = !warm || (n1 % (judged === 0 ? 8 * REFIT : REFIT) === 0 && ts - (rt === rt ? rt : 0) >= REFIT_MIN_MS);
      if (n1 >= Math.max(2 * REFIT, 8 * D) && (due || s.f === undefined)) {
        this.refit(s);
        sv[V_RT] = ts;
      }
    }
    return out;
  }

  /** Forget what was learned about the relations (the channels stay). */
  private reset(s: MetricRelationState): void {
    const D = 2 * s.ch!.length;
    const tri = (D * (D + 1)) / 2;
    s.mu = [doubles(D, 0), doubles(D, 0)];
    s.cv = [doubles(tri, 0), doubles(tri, 0)];
    s.v[V_N] = 0;
    s.v[V_N1] = NaN;
    s.sm = undefined;
    s.f = undefined;
    s.sd = undefined;
  }

  /** Residual centre and spread (Huber-clipped EW) and the usual wander of the recent mean. */
  private learnResidual(f: Fit, r: number, z: number, ts: number, frozen: boolean): void {
    // Recent mean of z (clipped), and the run of readings off in one direction.
    const zc = z > Z_CLIP ? Z_CLIP : z < -Z_CLIP ? -Z_CLIP : z;
    const m = (f[F_M] = compact(f[F_M]! + RECENT * (zc - f[F_M]!)));
    // The daily peak of |m| folds into the usual peak when the day ends, limited to three times
    // the usual one, so a break teaches little about what is ordinary, while the excursions
    // every normal day shows (start-ups, warm-ups) are learned even if they were reported.
    const day = Math.floor(ts / DAY_MS);
    const k = f[F_K]!;
    if (k >= RES_WARM) {
      const dd = f[F_DD]!;
      if (dd !== dd) {
        f[F_DD] = day;
        f[F_DX] = 0;
      } else if (day > dd) {
        let dx = orZero(f[F_DX]!);
        if (day === dd + 1) {
          const nd = orZero(f[F_ND]!);
          const a = Math.max(1 / (nd + 1), 1 / PEAK_MEMORY_DAYS);
          const pk = f[F_PK]!;
          if (pk === pk && dx > 3 * pk) dx = 3 * pk;
          f[F_PK] = compact(pk !== pk ? dx : pk + a * (dx - pk));
          f[F_ND] = nd + 1;
        }
        f[F_DD] = day;
        f[F_DX] = 0;
      }
      if (day === f[F_DD]) {
        const am = m < 0 ? -m : m;
        if (am > f[F_DX]!) f[F_DX] = compact(am);
      }
    }
    const thr = this.p.min_shift;
    const run0 = f[F_RUN]!;
    let run: number;
    if (z >= thr) run = run0 > 0 ? run0 + 1 : 1;
    else if (z <= -thr) run = run0 < 0 ? run0 - 1 : -1;
    else run = 0;
    f[F_RUN] = run;
    if (run !== 0 && (run0 === 0 || run0 > 0 !== run > 0)) f[F_TR] = ts;
    const az = z < 0 ? -z : z;
    if (k === 0) {
      f[F_C] = r;
      f[F_S] = 0;
      f[F_K] = 1;
      return;
    }
    if (frozen && k >= RES_WARM) return;
    const a = Math.max(1 / (k + 1), 1 / RES_WINDOW);
    const c = f[F_C]!;
    const sc = f[F_S]!;
    const dev = r - c;
    const ad = dev < 0 ? -dev : dev;
    const lim = sc > 0 && k >= 8 ? HUBER * sc : Infinity;
    const dc = dev > lim ? lim : dev < -lim ? -lim : dev;
    // A reading off by more than LEARN_Z does not move the centre (slow drift does).
    if (!(k >= RES_WARM && az > LEARN_Z)) f[F_C] = compact(c + 0.5 * a * dc);
    f[F_S] = compact((1 - a) * sc + a * ABS_TO_SIGMA * (ad > lim ? lim : ad));
    // The wander of the recent mean: learned from readings that are not off, Huber-clipped.
    if (k >= 8 && az <= LEARN_Z) {
      const am = m < 0 ? -m : m;
      const fv = f[F_V]!;
      const lv = fv > 0 ? 3 * fv : Infinity;
      const mc = am > lv ? lv : am;
      f[F_V] = compact(Math.sqrt((1 - a) * fv * fv + a * mc * mc));
    }
    if (k < 1e9) f[F_K] = k + 1;
  }

  /** Raise or extend a finding when a fitted channel is persistently off. */
  private judge(s: MetricRelationState, e: TelemetryEvent, fits: Fit[]): FindingDraft | null {
    const p = this.p;
    const ch = s.ch!;
    const d = ch.length;
    let best = -1;
    let bestEff = 0;
    let bestZ = 0;
    // While a finding is open only its own channel extends it: the neighbours of a falsified
    // channel disagree too, and for a while after it ends (through their lagged companions).
    const only = s.ik !== undefined ? ch.indexOf(s.ik) : -1;
    for (let j = 0; j < d; j++) {
      const f = fits[j]!;
      if (f[F_R2]! < p.min_r2 || f[F_K]! < RES_WARM || (only >= 0 && j !== only)) continue;
      const fr = f[F_RUN]!;
      const run = fr < 0 ? -fr : fr;
      if (run < p.min_run || e.ts - f[F_TR]! < p.min_duration) continue;
      const m = f[F_M]!;
      const am = m < 0 ? -m : m;
      if (am < p.min_shift || (m > 0) !== (fr > 0)) continue;
      const pk = f[F_PK]!;
      if (pk !== pk) continue;
      const eff = Math.min(am / Math.max(f[F_V]!, V_WHITE) / p.variability_factor, am / (PEAK_FACTOR * Math.max(pk, V_WHITE)));
      if (eff > bestEff) {
        bestEff = eff;
        best = j;
      }
    }
    if (best < 0 || bestEff < 1) return null;
    if (only < 0) {
      // The falsified channel has the largest standardised residual of all (its neighbours'
      // fits see it only through their weight on it), so that one is named, whichever channel's
      // persistence made the finding.
      for (let j = 0; j < d; j++) {
        const f = fits[j]!;
        if (f[F_R2]! < p.min_r2 || f[F_K]! < RES_WARM || f[F_RUN] === 0) continue;
        const az = Math.abs(this.z[j]!);
        if (az > bestZ) {
          bestZ = az;
          best = j;
        }
      }
    }
    const f = fits[best]!;
    const z = this.z[best]!;
    const fsp = f[F_SP]!;
    const y = fsp === 0 ? this.y[0]! : this.y[1]!;
    const mu = s.mu![fsp]!;
    // What the neighbours imply for this channel, in its own unit.
    const yj = y[best]!;
    const sc = this.sc[best]!;
    const impliedY = yj - z * sc;
    const log = fsp === 1 && s.lf![best]! > 0;
    const observed = log ? Math.exp(yj) : yj;
    const implied = log ? Math.exp(impliedY) : impliedY;
    const typical = log ? Math.abs(Math.expm1(sc)) * 100 : null;
    const name = ch[best]!;
    const label = (i: number): string => (s.ct![i] === 1 ? `${ch[i]} (rate per hour)` : ch[i]!);
    // The neighbours that carry the fit: largest |weight × σ|.
    const sd = s.sd![fsp]!;
    const drivers: Array<[number, number]> = [];
    for (let k = 0; k < d; k++) if (k !== best) drivers.push([k, Math.abs(f[F_W + k]! * sd[k]!) + Math.abs(f[F_W + k + d]! * sd[k + d]!)]);
    drivers.sort((a, b) => b[1] - a[1]);
    const top = drivers.filter((x) => x[1] > 0.05 * (drivers[0]?.[1] ?? 0)).slice(0, 3).map((x) => label(x[0]));
    const run = f[F_RUN]! < 0 ? -f[F_RUN]! : f[F_RUN]!;
    const since = f[F_TR]! > 0 && f[F_TR]! <= e.ts ? f[F_TR]! : e.ts;
    const dir = z > 0 ? 'above' : 'below';
    // Score: the sustained excess over the gate, in units of the recent mean's own wander.
    const score = scoreFromZ(3 * bestEff);
    const key = s.ik ?? name;
    const spread = typical !== null ? `${fmt(typical)}% typical error` : `typical error ${fmt(sc)}`;
    const fnd = raiseThrottled(
      s.inc,
      {
        detector: this.id,
        key,
        device_id: e.device_id,
        device_class: e.device_class,
        ts: e.ts,
        score,
        observed: compact(observed),
        expected: `${fmt(implied)} (from ${top.join(', ')})`,
        explanation: `${e.device_id} (${e.device_class}) ${label(best)} reads ${fmt(observed)} while its usual relation to ${joinNames(top)} implies ${fmt(implied)} (residual ${fmt(Math.abs(z))}σ ${dir} this device's fit, ${spread}), for ${fmtDuration(e.ts - since)} (${run} readings); the readings disagree with each other, so one is falsified or faulty: compare with an independent measurement before trusting it for billing or control.`,
        evidence: {
          metric: name,
          value: compact(observed),
          implied: compact(implied),
          residual_sigma: compact(z),
          recent_mean_sigma: compact(f[F_M]!),
          wander_sigma: compact(f[F_V]!),
          daily_peak_sigma: compact(orZero(f[F_PK]!)),
          peak_days: orZero(f[F_ND]!),
          sustained_excess: compact(bestEff),
          readings: run,
          since_ts: since,
          related_to: top,
          r2: compact(f[F_R2]!),
          space: fsp === 1 ? 'log' : 'linear',
          weights: Object.fromEntries(ch.map((c, k) => [c, compact(f[F_W + k]!)])),
          means: Object.fromEntries(ch.map((c, k) => [c, compact(mu[k]!)])),
        },
        mitre: metricRelation.mitre,
      },
      p.incident_gap,
    );
    s.ik = key;
    const inc = s.inc[key]!;
    if (e.ts - inc.first_ts > p.relearn_after) {
      // Broken for longer than any falsification we would still call one: the relation changed.
      s.v[V_RL] = e.ts + 6 * 3_600_000;
      for (const g of fits) {
        g[F_RUN] = 0;
        g[F_M] = 0;
      }
    }
    return fnd;
  }

  /** Fold the current reading into the EW means and co-moments of both spaces. */
  private learn(s: MetricRelationState, fast: boolean): void {
    const d = 2 * s.ch!.length;
    const sv = s.v;
    const n = sv[V_N]!;
    const n1 = sv[V_N1] === sv[V_N1] ? sv[V_N1]! : n;
    for (let sp = 0; sp < SPACES; sp++) {
      const a = learnRate(sp === 0 ? n : n1, 1 / this.p.window, fast);
      const b = 1 - a;
      const y = this.y[sp]!;
      const mu = s.mu![sp]!;
      const cv = s.cv![sp]!;
      let t = 0;
      for (let i = 0; i < d; i++) {
        const di = y[i]! - mu[i]!;
        for (let j = i; j < d; j++) {
          cv[t] = b * (cv[t]! + a * di * (y[j]! - mu[j]!));
          t++;
        }
      }
      for (let i = 0; i < d; i++) mu[i] = mu[i]! + a * (y[i]! - mu[i]!);
    }
    sv[V_N1] = n1 + 1;
  }

  /**
   * Every channel's fit on all the others (and their lagged companions, not its own), from the
   * precision matrix Θ of each space: conditioning on everything else and then integrating out
   * the channel's own companion leaves a 2×2 block of Θ to invert per channel.
   */
  private refit(s: MetricRelationState): void {
    const d = s.ch!.length;
    const D = 2 * d;
    let fits = s.f;
    if (fits === undefined) {
      fits = [];
      for (let j = 0; j < d; j++) fits.push(newFit(D));
    }
    // σ per space (compacted into the state), and every channel's weights followed by its R² in
    // scratch rows of D + 1 (per space, per channel): a refit allocates nothing once warm.
    const sds = s.sd ?? [doubles(D, 0), doubles(D, 0)];
    const W = D + 1;
    const rows = scratch(0, SPACES * d * W);
    const sd = scratch(1, D);
    const n2 = 2 * D;
    for (let sp = 0; sp < SPACES; sp++) {
      const cv = s.cv![sp]!;
      const out = sds[sp]!;
      for (let i = 0; i < D; i++) {
        sd[i] = Math.sqrt(Math.max(cv[triIndex(D, i, i)]!, 0));
        out[i] = compact(sd[i]!);
      }
      // Correlation matrix with a small ridge (constant channels get a unit diagonal), with the
      // identity beside it for the inversion.
      const m = scratch(2, D * n2);
      for (let i = 0; i < D; i++) {
        const o = i * n2;
        for (let j = 0; j < D; j++) {
          if (sd[i]! <= 0 || sd[j]! <= 0) m[o + j] = i === j ? 1 : 0;
          else m[o + j] = cv[triIndex(D, Math.min(i, j), Math.max(i, j))]! / (sd[i]! * sd[j]!);
          m[o + D + j] = i === j ? 1 : 0;
        }
        m[o + i] = m[o + i]! + RIDGE;
      }
      // Θ[i][k] is at m[i * n2 + D + k].
      const ok = invertInPlace(m, D);
      for (let j = 0; j < d; j++) {
        const base = (sp * d + j) * W;
        for (let k = 0; k < W; k++) rows[base + k] = 0;
        let r2 = 0;
        if (ok && sd[j]! > 0) {
          const c = j + d;
          const tj = j * n2 + D;
          const tc = c * n2 + D;
          const a00 = m[tj + j]!;
          const a01 = m[tj + c]!;
          const a11 = m[tc + c]!;
          const det = a00 * a11 - a01 * a01;
          if (det > 0) {
            const m00 = a11 / det;
            const m01 = -a01 / det;
            r2 = 1 - m00;
            rows[base + j] = 1;
            for (let k = 0; k < D; k++) {
              if (k === j || k === c || !(sd[k]! > 0)) continue;
              rows[base + k] = (m00 * m[tj + k]! + m01 * m[tc + k]!) * (sd[j]! / sd[k]!);
            }
          }
        }
        rows[base + D] = r2;
      }
    }
    for (let j = 0; j < d; j++) {
      const r0 = rows[j * W + D]!;
      const r1 = rows[(d + j) * W + D]!;
      const f = fits[j]!;
      // Change space only when the other explains clearly more (a fifth less unexplained
      // variance): each change restarts the residual statistics.
      const cur = f[F_K]! > 0 ? f[F_SP]! : r1 > r0 ? 1 : 0;
      const other = 1 - cur;
      const uc = 1 - (cur === 1 ? r1 : r0);
      const uo = 1 - (other === 1 ? r1 : r0);
      const sp = uo < 0.8 * uc ? other : cur;
      const r2 = compact(sp === 1 ? r1 : r0);
      if (f[F_SP] !== sp && f[F_K]! > 0) {
        // A different space: its residual has another unit; learn the residual statistics anew.
        f[F_K] = 0;
        f[F_M] = 0;
        f[F_V] = 0;
        f[F_RUN] = 0;
        for (let i = F_B; i < F_B + 3 * BINS; i++) f[i] = 0;
      }
      f[F_SP] = sp;
      const base = (sp * d + j) * W;
      for (let k = 0; k < D; k++) f[F_W + k] = compact(rows[base + k]!);
      f[F_R2] = r2;
    }
    s.f = fits;
    s.sd = sds;
  }
}

/** The largest residual spread of the channel: overall, or at any learned operating point. */
function widest(f: Fit): number {
  let w = f[F_S]!;
  for (let i = F_B; i < F_B + 3 * BINS; i += 3) if (f[i]! >= RES_WARM && f[i + 2]! > w) w = f[i + 2]!;
  return w;
}

/** Residual centre and spread at one operating point: [samples, centre, spread] at b[i..i+2] (b: a Fit). */
function learnBin(b: number[], i: number, r: number, z: number, frozen: boolean): void {
  const k = b[i]!;
  if (k === 0) {
    b[i] = 1;
    b[i + 1] = r;
    b[i + 2] = 0;
    return;
  }
  const az = z < 0 ? -z : z;
  if ((frozen || az > LEARN_Z) && k >= RES_WARM) return;
  const a = Math.max(1 / (k + 1), 1 / RES_WINDOW);
  const sc = b[i + 2]!;
  const dev = r - b[i + 1]!;
  const ad = dev < 0 ? -dev : dev;
  const lim = sc > 0 && k >= 8 ? HUBER * sc : Infinity;
  b[i + 1] = compact(b[i + 1]! + 0.5 * a * (dev > lim ? lim : dev < -lim ? -lim : dev));
  b[i + 2] = compact((1 - a) * sc + a * ABS_TO_SIGMA * (ad > lim ? lim : ad));
  if (k < 1e9) b[i] = k + 1;
}

function joinNames(xs: string[]): string {
  if (xs.length <= 1) return xs[0] ?? 'the other metrics';
  return `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}

/** Index of (i, j), i ≤ j, in a packed upper triangle of a d×d matrix. */
function triIndex(d: number, i: number, j: number): number {
  return i * d - (i * (i - 1)) / 2 + (j - i);
}

/**
 * Gauss-Jordan inverse with partial pivoting of the n×n matrix in the left half of m (rows of 2n,
 * the identity in the right half), which then holds the inverse; false when singular.
 */
function invertInPlace(m: Float64Array, n: number): boolean {
  const n2 = 2 * n;
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n2 + c]!) > Math.abs(m[piv * n2 + c]!)) piv = r;
    if (Math.abs(m[piv * n2 + c]!) < 1e-12) return false;
    const pc = c * n2;
    if (piv !== c) {
      const pp = piv * n2;
      for (let k = 0; k < n2; k++) {
        const t = m[pp + k]!;
        m[pp + k] = m[pc + k]!;
        m[pc + k] = t;
      }
    }
    const inv = 1 / m[pc + c]!;
    for (let k = 0; k < n2; k++) m[pc + k] = m[pc + k]! * inv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const ro = r * n2;
      const f = m[ro + c]!;
      if (f === 0) continue;
      for (let k = 0; k < n2; k++) m[ro + k] = m[ro + k]! - f * m[pc + k]!;
    }
  }
  return true;
}

/** Refit scratch (rows, σ, the matrix being inverted), grown on demand; never part of the state. */
const scratches: Float64Array[] = [new Float64Array(64), new Float64Array(32), new Float64Array(512)];
function scratch(i: number, n: number): Float64Array {
  if (scratches[i]!.length < n) scratches[i] = new Float64Array(n);
  return scratches[i]!;
}



function copyOf(y: Float64Array, n: number): number[] {
  const a = doubles(n, 0);
  for (let i = 0; i < n; i++) a[i] = y[i]!;
  return a;
}

/** A new device's scalars; copied by slice(), which keeps packed doubles and the exact length. */
const SCALARS: number[] = (() => {
  const v = doubles(V_LEN, NaN);
  v[V_N] = 0;
  v[V_T0] = 0;
  v[V_DE] = 0;
  v[V_CR] = 0;
  v[V_SK] = 0;
  return v;
})();
function newScalars(): number[] {
  return SCALARS.slice();
}

function newFit(D: number): Fit {
  const f = doubles(F_W + D, 0);
  f[F_DD] = NaN;
  f[F_DX] = NaN;
  f[F_PK] = NaN;
  f[F_ND] = NaN;
  return f;
}


/** Absent fields are undefined in this layout (never written to JSON): a null is not ours. */
type Bad = typeof NOT_PACKED;

function optPacked(a: unknown): number[] | undefined | Bad {
  const p = optionalPacked(a);
  return p === null ? NOT_PACKED : p;
}

function optPackedList(a: unknown): number[][] | undefined | Bad {
  if (a === undefined) return undefined;
  if (!Array.isArray(a)) return NOT_PACKED;
  const out: number[][] = [];
  for (const x of a) {
    const p = packedDoubles(x);
    if (p === undefined) return NOT_PACKED;
    out.push(p);
  }
  return out;
}

function optNames(a: unknown): string[] | undefined | Bad {
  if (a === undefined) return undefined;
  return Array.isArray(a) && a.every((x) => typeof x === 'string') ? (a as string[]) : NOT_PACKED;
}

/** The live state from a checkpoint (JSON): NaN back from null, numeric arrays as packed doubles. */
function reviveState(raw: unknown): MetricRelationState | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  const v = packedDoubles(o.v);
  if (v === undefined || v.length !== V_LEN) return undefined;
  if (typeof o.inc !== 'object' || o.inc === null || (o.ik !== undefined && typeof o.ik !== 'string')) return undefined;
  const dn = optNames(o.dn);
  const dv = optPacked(o.dv);
  const ch = optNames(o.ch);
  const ct = optPacked(o.ct);
  const lf = optPacked(o.lf);
  const pv = optPacked(o.pv);
  const sm = optPackedList(o.sm);
  const mu = optPackedList(o.mu);
  const cv = optPackedList(o.cv);
  const sd = optPackedList(o.sd);
  const f = optPackedList(o.f);
  if (dn === NOT_PACKED || dv === NOT_PACKED || ch === NOT_PACKED || ct === NOT_PACKED || lf === NOT_PACKED || pv === NOT_PACKED || sm === NOT_PACKED || mu === NOT_PACKED || cv === NOT_PACKED || sd === NOT_PACKED || f === NOT_PACKED) return undefined;
  return { v, dn, dv, ch, ct, lf, pv, sm, mu, cv, sd, f, inc: o.inc as IncidentBook, ik: o.ik as string | undefined };
}

const NONE: FindingDraft[] = [];
