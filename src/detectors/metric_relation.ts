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
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { scoreFromZ } from './score.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { M2MEvent, TelemetryEvent } from '../events/types.js';
import { EXCLUDE_PARAM, METRICS_PARAM, compact, fmt, fmtDuration, metricFilter } from './util.js';

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

/** One judged (or candidate) channel: its fit and the statistics of its residual. */
interface Fit {
  /** Space (0 raw, 1 log where positive) and weights over all channels (w[j] = 1). */
  sp: number;
  w: number[];
  /** Share of the channel's variance its fit explains. */
  r2: number;
  /** Residual: samples, robust centre and spread, recent mean z, its usual wander. */
  k: number;
  c: number;
  s: number;
  m: number;
  v: number;
  /** Consecutive readings off in one direction (sign = direction), and since when. */
  run: number;
  tr: number;
  /**
   * Residual [samples, centre, spread] per operating point: what the neighbours imply, below,
   * around or above the channel's mean (±σ/2). Noise is rarely the same when a line idles and
   * when it runs, and a lag shows in transitions only.
   */
  b: number[];
  /**
   * The day (event-time index) being watched, its largest |recent mean z| so far, the usual
   * daily peak (EW over days) and how many days it has seen: the largest sustained disagreement
   * this channel shows on an ordinary day.
   */
  dd?: number;
  dx?: number;
  pk?: number;
  nd?: number;
}

export interface MetricRelationState {
  /** Accepted readings, first accepted time, readings learned in log space since it (re)started. */
  n: number;
  n1?: number;
  t0: number;
  /** Discovery: readings seen and per metric [count, min, rises, falls, last]. */
  de: number;
  dc?: Record<string, number[]>;
  /** Channels (fixed after discovery), counter flags and the log floor per channel (0: raw). */
  ch?: string[];
  ct?: number[];
  lf?: number[];
  /** Previous raw value per channel (counters), time of the previous accepted reading, usual interval. */
  pv?: number[];
  pt?: number;
  dt?: number;
  /** Time of the last refit. */
  rt?: number;
  /** Set when a counter went backwards at the previous reading. */
  cr?: 1;
  /** Readings in a row whose interval disagreed with the usual one. */
  dq?: number;
  /** Time of the last judged reading (a long pause restarts the runs). */
  jt?: number;
  /** Per space: each channel's lagged companion (EW over ~COMPANION readings). */
  sm?: number[][];
  /** Per space: EW means and packed upper-triangular co-moments of channels and companions. */
  mu?: number[][];
  cv?: number[][];
  /** Marginal σ per channel in each space, as of the last refit. */
  sd?: number[][];
  f?: Fit[];
  /** Readings skipped in a row because a channel was missing. */
  sk: number;
  /** Fast relearning until this time (a relation that changed for good). */
  rl?: number;
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
const DAY_MS = 86_400_000;
const PEAK_MEMORY_DAYS = 7;
/** Standard deviation of that mean for white residuals: its floor. */
const V_WHITE = Math.sqrt(RECENT / (2 - RECENT));
/** A reading off by more than this (σ) does not teach the fit. */
const LEARN_Z = 4;
const RELEARN_ALPHA = 0.05;
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
const BINS = 3;

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
  create(params, id) {
    return new MetricRelationDetector(params, id);
  },
};

class MetricRelationDetector implements DetectorInstance<MetricRelationState> {
  readonly spec = metricRelation;
  readonly maxStateBytes: number;
  private readonly filter: ((m: string) => boolean) | null;
  /** Scratch (per event, overwritten before use; never part of the state). */
  private readonly y: Float64Array[];
  private readonly z: Float64Array;
  private readonly sc: Float64Array;

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
    const numbers = 3 * d + SPACES * (d + 2 * d + tri + 2 * d) + d * (2 * d + 12 + 3 * BINS) + 12;
    this.maxStateBytes = 400 + 4 * d * (48 + 5 * 24) + numbers * 24 + d * 64 + 200;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): MetricRelationState {
    // Every field from the start (undefined ones are not written to JSON) and none deleted later:
    // one hidden class for all devices instead of dictionary-mode state objects.
    return {
      n: 0, n1: undefined, t0: 0, de: 0, dc: undefined, ch: undefined, ct: undefined, lf: undefined, pv: undefined, pt: undefined, dt: undefined, rt: undefined,
      cr: undefined, dq: undefined, jt: undefined, sm: undefined, mu: undefined, cv: undefined, sd: undefined, f: undefined, sk: 0, rl: undefined, inc: {}, ik: undefined,
    };
  }

  step(s: MetricRelationState, ev: M2MEvent): StepResult<MetricRelationState> {
    const e = ev as TelemetryEvent;
    if (s.ch === undefined) {
      this.discover(s, e);
      return { state: s, findings: NONE };
    }
    const f = this.observe(s, e);
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, this.p.incident_gap);
      if (s.ik !== undefined && s.inc[s.ik] === undefined) s.ik = undefined;
      break;
    }
    return { state: s, findings: f === null ? NONE : [f] };
  }

  /** Which metrics the device reliably sends, which are counters, which are always positive. */
  private discover(s: MetricRelationState, e: TelemetryEvent): void {
    const dc = (s.dc ??= {});
    let size = 0;
    for (const _ in dc) size++;
    for (const name in e.metrics) {
      if (this.filter !== null && !this.filter(name)) continue;
      const x = e.metrics[name];
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      let r = dc[name];
      if (r === undefined) {
        if (size >= 4 * this.p.max_metrics) continue;
        r = dc[name] = [0, x, 0, 0, x];
        size++;
      }
      r[0]! += 1;
      if (x < r[1]!) r[1] = x;
      if (x > r[4]!) r[2]! += 1;
      else if (x < r[4]!) r[3]! += 1;
      r[4] = x;
    }
    if (++s.de < DISCOVERY) return;
    const names = Object.keys(dc)
      .filter((k) => dc[k]![0]! >= PRESENCE * s.de)
      .sort((a, b) => dc[b]![0]! - dc[a]![0]! || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, this.p.max_metrics)
      .sort();
    s.dc = undefined;
    if (names.length < 2) {
      // Nothing to relate: look again later (a device whose metrics arrive in separate events).
      s.de = -10 * DISCOVERY;
      return;
    }
    const d = names.length;
    s.ch = names;
    s.ct = names.map((k) => {
      const r = dc[k]!;
      return r[3] === 0 && r[2]! >= 0.5 * (r[0]! - 1) ? 1 : 0;
    });
    // Log space for channels that stayed positive; the floor keeps a later 0 or negative reading
    // finite (and far off), rather than undefined.
    s.lf = names.map((k, i) => (s.ct![i] === 1 ? 0 : dc[k]![1]! > 0 ? dc[k]![1]! / 4 : 0));
    s.pv = new Array<number>(d).fill(0);
    s.sk = 0;
    s.pt = undefined;
    s.dt = undefined;
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
    // Read every channel; a reading that lacks one is skipped (the fit is over complete readings).
    const prevTs = s.pt;
    const gap = prevTs === undefined ? Infinity : ts - prevTs;
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
        if (!(gap > 0) || gap > 1.5 * (s.dt ?? gap) || x < last || prevTs === undefined || s.cr === 1) counterOk = false;
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
      if (++s.sk >= MAX_SKIP) {
        // The device changed what it sends: start over.
        s.ch = undefined;
        s.de = 0;
      }
      return null;
    }
    s.sk = 0;
    if (reset) s.cr = 1;
    else s.cr = undefined;
    if (prevTs === undefined || ts > prevTs) {
      if (prevTs !== undefined) {
        // The usual interval learns from ordinary gaps only (not from missed readings, nor from
        // a burst of interleaved duplicates); a cadence that changes for good is adopted after
        // 16 readings in a row that disagree with it.
        const g = ts - prevTs;
        const dt = s.dt;
        if (dt === undefined) s.dt = g;
        else if (g >= 0.5 * dt && g <= 2 * dt) {
          s.dt = compact(dt + 0.05 * (g - dt));
          s.dq = undefined;
        } else if ((s.dq = (s.dq ?? 0) + 1) >= 16) {
          s.dt = g;
          s.dq = undefined;
        }
      }
      s.pt = ts;
    }
    if (restart && s.mu !== undefined) {
      // Only the log space starts over (the raw-space fit is unaffected).
      const D = 2 * d;
      s.mu[1] = new Array<number>(D).fill(0);
      s.cv![1] = new Array<number>((D * (D + 1)) / 2).fill(0);
      s.n1 = 0;
      s.sm = undefined;
    }
    if (!counterOk) return null;
    if (s.n === 0) s.t0 = ts;
    // Lagged companions: the value before this reading enters the fit (then it moves on).
    const sm = (s.sm ??= [Array.from(y0.subarray(0, d)), Array.from(y1.subarray(0, d))]);
    const ca = gap > 0 && gap < Infinity ? 1 - Math.exp(-gap / COMPANION_MS) : 1;
    for (let sp = 0; sp < SPACES; sp++) {
      const y = this.y[sp]!;
      const c = sm[sp]!;
      // Huber-limited steps (3σ of the channel, once a full learning period has shown its
      // range): one absurd reading (a counter jump, a second source's values) cannot poison
      // the lagged value for hours.
      const sd = ts - s.t0 >= this.p.learning ? s.sd?.[sp] : undefined;
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
    const relearning = s.rl !== undefined && ts < s.rl;
    const fits = s.f;
    const warm = s.n >= p.min_samples && ts - s.t0 >= p.learning && !relearning;
    // Residuals of the fitted channels.
    let worst = -1;
    let worstZ = 0;
    let off = false;
    let out: FindingDraft | null = null;
    let judged = 0;
    if (fits !== undefined) {
      if (s.jt !== undefined && ts - s.jt > p.incident_gap) {
        // Nothing judged for a while (a pause, or readings that could not be used): a run of
        // broken readings before it says nothing about now.
        for (const g of fits) {
          g.run = 0;
          g.m = 0;
        }
      }
      s.jt = ts;
      const z = this.z;
      const mu0 = s.mu![0]!;
      const mu1 = s.mu![1]!;
      for (let j = 0; j < d; j++) {
        const f = fits[j]!;
        if (f.r2 < p.min_r2) continue;
        judged++;
        const y = f.sp === 0 ? y0 : y1;
        const mu = f.sp === 0 ? mu0 : mu1;
        const w = f.w;
        let r = 0;
        for (let k = 0; k < D; k++) r += w[k]! * (y[k]! - mu[k]!);
        // The operating point: what the neighbours imply, relative to the channel's own spread.
        const sdj = s.sd![f.sp]![j]!;
        const u = sdj > 0 ? (y[j]! - mu[j]! - r) / sdj : 0;
        const bi = (u < -0.5 ? 0 : u < 0.5 ? 1 : 2) * 3;
        // An operating point not seen often enough yet is judged with the widest spread known.
        const bw = f.b[bi]! >= RES_WARM;
        const c = bw ? f.b[bi + 1]! : f.c;
        const sc = bw ? f.b[bi + 2]! : widest(f);
        const zj = sc > 0 ? (r - c) / sc : 0;
        z[j] = zj;
        this.sc[j] = sc;
        const frozen = s.ik !== undefined && !relearning;
        this.learnResidual(f, r, zj, ts, frozen);
        learnBin(f.b, bi, r, zj, frozen);
        if (f.k < RES_WARM) continue;
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
    const idle = warm && judged === 0 && (s.n & 7) !== 0;
    if (!idle && (relearning || (s.ik === undefined && !off))) this.learn(s, relearning);
    s.n++;
    // Refit every REFIT readings; once judging, at most every 15 minutes (a fast stream need not
    // refit every few minutes), and only every 8·REFIT readings on a device with nothing strong
    // enough to judge.
    if (s.n % REFIT === 0 || s.f === undefined) {
      const due = !warm || (s.n % (judged === 0 ? 8 * REFIT : REFIT) === 0 && ts - (s.rt ?? 0) >= REFIT_MIN_MS);
      if (s.n >= Math.max(2 * REFIT, 8 * D) && (due || s.f === undefined)) {
        this.refit(s);
        s.rt = ts;
      }
    }
    return out;
  }

  /** Forget what was learned about the relations (the channels stay). */
  private reset(s: MetricRelationState): void {
    const D = 2 * s.ch!.length;
    const tri = (D * (D + 1)) / 2;
    s.mu = [new Array<number>(D).fill(0), new Array<number>(D).fill(0)];
    s.cv = [new Array<number>(tri).fill(0), new Array<number>(tri).fill(0)];
    s.n = 0;
    s.n1 = undefined;
    s.sm = undefined;
    s.f = undefined;
    s.sd = undefined;
  }

  /** Residual centre and spread (Huber-clipped EW) and the usual wander of the recent mean. */
  private learnResidual(f: Fit, r: number, z: number, ts: number, frozen: boolean): void {
    // Recent mean of z (clipped), and the run of readings off in one direction.
    const zc = z > Z_CLIP ? Z_CLIP : z < -Z_CLIP ? -Z_CLIP : z;
    f.m = compact(f.m + RECENT * (zc - f.m));
    // The daily peak of |m| folds into the usual peak when the day ends, limited to three times
    // the usual one, so a break teaches little about what is ordinary, while the excursions
    // every normal day shows (start-ups, warm-ups) are learned even if they were reported.
    const day = Math.floor(ts / DAY_MS);
    if (f.k >= RES_WARM) {
      if (f.dd === undefined) {
        f.dd = day;
        f.dx = 0;
      } else if (day > f.dd) {
        let dx = f.dx ?? 0;
        if (day === f.dd + 1) {
          const nd = f.nd ?? 0;
          const a = Math.max(1 / (nd + 1), 1 / PEAK_MEMORY_DAYS);
          if (f.pk !== undefined && dx > 3 * f.pk) dx = 3 * f.pk;
          f.pk = compact(f.pk === undefined ? dx : f.pk + a * (dx - f.pk));
          f.nd = nd + 1;
        }
        f.dd = day;
        f.dx = 0;
      }
      if (day === f.dd) {
        const am = f.m < 0 ? -f.m : f.m;
        if (am > f.dx!) f.dx = compact(am);
      }
    }
    const thr = this.p.min_shift;
    const run0 = f.run;
    if (z >= thr) f.run = f.run > 0 ? f.run + 1 : 1;
    else if (z <= -thr) f.run = f.run < 0 ? f.run - 1 : -1;
    else f.run = 0;
    if (f.run !== 0 && (run0 === 0 || run0 > 0 !== f.run > 0)) f.tr = ts;
    const az = z < 0 ? -z : z;
    if (f.k === 0) {
      f.c = r;
      f.s = 0;
      f.k = 1;
      return;
    }
    if (frozen && f.k >= RES_WARM) return;
    const a = Math.max(1 / (f.k + 1), 1 / RES_WINDOW);
    const dev = r - f.c;
    const ad = dev < 0 ? -dev : dev;
    const lim = f.s > 0 && f.k >= 8 ? HUBER * f.s : Infinity;
    const dc = dev > lim ? lim : dev < -lim ? -lim : dev;
    // A reading off by more than LEARN_Z does not move the centre (slow drift does).
    if (!(f.k >= RES_WARM && az > LEARN_Z)) f.c = compact(f.c + 0.5 * a * dc);
    f.s = compact((1 - a) * f.s + a * 1.2533 * (ad > lim ? lim : ad));
    // The wander of the recent mean: learned from readings that are not off, Huber-clipped.
    if (f.k >= 8 && az <= LEARN_Z) {
      const am = f.m < 0 ? -f.m : f.m;
      const lv = f.v > 0 ? 3 * f.v : Infinity;
      const mc = am > lv ? lv : am;
      f.v = compact(Math.sqrt((1 - a) * f.v * f.v + a * mc * mc));
    }
    if (f.k < 1e9) f.k++;
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
      if (f.r2 < p.min_r2 || f.k < RES_WARM || (only >= 0 && j !== only)) continue;
      const run = f.run < 0 ? -f.run : f.run;
      if (run < p.min_run || e.ts - f.tr < p.min_duration) continue;
      const am = f.m < 0 ? -f.m : f.m;
      if (am < p.min_shift || (f.m > 0) !== (f.run > 0)) continue;
      if (f.pk === undefined) continue;
      const eff = Math.min(am / Math.max(f.v, V_WHITE) / p.variability_factor, am / (PEAK_FACTOR * Math.max(f.pk, V_WHITE)));
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
        if (f.r2 < p.min_r2 || f.k < RES_WARM || f.run === 0) continue;
        const az = Math.abs(this.z[j]!);
        if (az > bestZ) {
          bestZ = az;
          best = j;
        }
      }
    }
    const f = fits[best]!;
    const z = this.z[best]!;
    const y = f.sp === 0 ? this.y[0]! : this.y[1]!;
    const mu = s.mu![f.sp]!;
    // What the neighbours imply for this channel, in its own unit.
    const yj = y[best]!;
    const sc = this.sc[best]!;
    const impliedY = yj - z * sc;
    const log = f.sp === 1 && s.lf![best]! > 0;
    const observed = log ? Math.exp(yj) : yj;
    const implied = log ? Math.exp(impliedY) : impliedY;
    const typical = log ? Math.abs(Math.expm1(sc)) * 100 : null;
    const name = ch[best]!;
    const label = (i: number): string => (s.ct![i] === 1 ? `${ch[i]} (rate per hour)` : ch[i]!);
    // The neighbours that carry the fit: largest |weight × σ|.
    const sd = s.sd![f.sp]!;
    const drivers: Array<[number, number]> = [];
    for (let k = 0; k < d; k++) if (k !== best) drivers.push([k, Math.abs(f.w[k]! * sd[k]!) + Math.abs(f.w[k + d]! * sd[k + d]!)]);
    drivers.sort((a, b) => b[1] - a[1]);
    const top = drivers.filter((x) => x[1] > 0.05 * (drivers[0]?.[1] ?? 0)).slice(0, 3).map((x) => label(x[0]));
    const run = f.run < 0 ? -f.run : f.run;
    const since = f.tr > 0 && f.tr <= e.ts ? f.tr : e.ts;
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
          recent_mean_sigma: compact(f.m),
          wander_sigma: compact(f.v),
          daily_peak_sigma: compact(f.pk ?? 0),
          peak_days: f.nd ?? 0,
          sustained_excess: compact(bestEff),
          readings: run,
          since_ts: since,
          related_to: top,
          r2: compact(f.r2),
          space: f.sp === 1 ? 'log' : 'linear',
          weights: Object.fromEntries(ch.map((c, k) => [c, compact(f.w[k]!)])),
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
      s.rl = e.ts + 6 * 3_600_000;
      for (const g of fits) {
        g.run = 0;
        g.m = 0;
      }
    }
    return fnd;
  }

  /** Fold the current reading into the EW means and co-moments of both spaces. */
  private learn(s: MetricRelationState, fast: boolean): void {
    const d = 2 * s.ch!.length;
    const n1 = s.n1 ?? s.n;
    for (let sp = 0; sp < SPACES; sp++) {
      let a = Math.max(1 / ((sp === 0 ? s.n : n1) + 1), 1 / this.p.window);
      if (fast && a < RELEARN_ALPHA) a = RELEARN_ALPHA;
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
    s.n1 = n1 + 1;
  }

  /**
   * Every channel's fit on all the others (and their lagged companions, not its own), from the
   * precision matrix Θ of each space: conditioning on everything else and then integrating out
   * the channel's own companion leaves a 2×2 block of Θ to invert per channel.
   */
  private refit(s: MetricRelationState): void {
    const d = s.ch!.length;
    const D = 2 * d;
    const fits: Fit[] =
      s.f ?? Array.from({ length: d }, () => ({ sp: 0, w: new Array<number>(D).fill(0), r2: 0, k: 0, c: 0, s: 0, m: 0, v: 0, run: 0, tr: 0, b: new Array<number>(3 * BINS).fill(0) }));
    const sds: number[][] = [];
    const rows: number[][][] = [];
    for (let sp = 0; sp < SPACES; sp++) {
      const cv = s.cv![sp]!;
      const sd = new Array<number>(D);
      for (let i = 0; i < D; i++) sd[i] = Math.sqrt(Math.max(cv[triIndex(D, i, i)]!, 0));
      sds.push(sd.map(compact));
      // Correlation matrix with a small ridge (constant channels get a unit diagonal).
      const a: number[][] = [];
      for (let i = 0; i < D; i++) {
        const row = new Array<number>(D);
        for (let j = 0; j < D; j++) {
          if (sd[i]! <= 0 || sd[j]! <= 0) row[j] = i === j ? 1 : 0;
          else row[j] = cv[triIndex(D, Math.min(i, j), Math.max(i, j))]! / (sd[i]! * sd[j]!);
        }
        row[i] = row[i]! + RIDGE;
        a.push(row);
      }
      const th = invert(a);
      const spRows: number[][] = [];
      for (let j = 0; j < d; j++) {
        const w = new Array<number>(D).fill(0);
        let r2 = 0;
        if (th !== null && sd[j]! > 0) {
          const c = j + d;
          const a00 = th[j]![j]!;
          const a01 = th[j]![c]!;
          const a11 = th[c]![c]!;
          const det = a00 * a11 - a01 * a01;
          if (det > 0) {
            const m00 = a11 / det;
            const m01 = -a01 / det;
            r2 = 1 - m00;
            w[j] = 1;
            for (let k = 0; k < D; k++) {
              if (k === j || k === c || !(sd[k]! > 0)) continue;
              w[k] = (m00 * th[j]![k]! + m01 * th[c]![k]!) * (sd[j]! / sd[k]!);
            }
          }
        }
        w.push(r2);
        spRows.push(w);
      }
      rows.push(spRows);
    }
    for (let j = 0; j < d; j++) {
      const r0 = rows[0]![j]![D]!;
      const r1 = rows[1]![j]![D]!;
      const f = fits[j]!;
      // Change space only when the other explains clearly more (a fifth less unexplained
      // variance): each change restarts the residual statistics.
      const cur = f.k > 0 ? f.sp : r1 > r0 ? 1 : 0;
      const other = 1 - cur;
      const uc = 1 - (cur === 1 ? r1 : r0);
      const uo = 1 - (other === 1 ? r1 : r0);
      const sp = uo < 0.8 * uc ? other : cur;
      const w = rows[sp]![j]!.slice(0, D).map(compact);
      const r2 = compact(sp === 1 ? r1 : r0);
      if (f.sp !== sp && f.k > 0) {
        // A different space: its residual has another unit; learn the residual statistics anew.
        f.k = 0;
        f.m = 0;
        f.v = 0;
        f.run = 0;
        f.b.fill(0);
      }
      f.sp = sp;
      f.w = w;
      f.r2 = r2;
    }
    s.f = fits;
    s.sd = sds;
  }
}

/** The largest residual spread of the channel: overall, or at any learned operating point. */
function widest(f: Fit): number {
  let w = f.s;
  for (let i = 0; i < 3 * BINS; i += 3) if (f.b[i]! >= RES_WARM && f.b[i + 2]! > w) w = f.b[i + 2]!;
  return w;
}

/** Residual centre and spread at one operating point: [samples, centre, spread] at b[i..i+2]. */
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
  b[i + 2] = compact((1 - a) * sc + a * 1.2533 * (ad > lim ? lim : ad));
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

/** Gauss-Jordan inverse with partial pivoting; null when singular. */
function invert(a: number[][]): number[][] | null {
  const n = a.length;
  const m = a.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[piv]![c]!)) piv = r;
    if (Math.abs(m[piv]![c]!) < 1e-12) return null;
    if (piv !== c) [m[piv], m[c]] = [m[c]!, m[piv]!];
    const pr = m[c]!;
    const inv = 1 / pr[c]!;
    for (let k = 0; k < 2 * n; k++) pr[k] = pr[k]! * inv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const row = m[r]!;
      const f = row[c]!;
      if (f === 0) continue;
      for (let k = 0; k < 2 * n; k++) row[k] = row[k]! - f * pr[k]!;
    }
  }
  return m.map((r) => r.slice(n));
}

const NONE: FindingDraft[] = [];
