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
 *   kept (util.regimeUpdate). A reading in a level the series frequently occupies (an operating
 *   mode it returns to) stays low however unusual for the hour or the current baseline; a level
 *   outside every known one by several of its spreads keeps its score.
 */
import { closeStale, raise } from './incident.js';
import type { IncidentBook } from './incident.js';
import { scoreFromP } from './score.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { M2MEvent, TelemetryEvent } from '../events/types.js';
import { DAY_MS, EXCLUDE_PARAM, METRICS_PARAM, REGIME_K, TAIL_T, compact, fmt, fmtDuration, hourOfDay, isWeekend, mad, median, metricFilter, nextInterval, regimeDistance, regimeKnown, regimeNew, regimeUpdate, silenceGraceEnd, tailNew, tailP, tailUpdate } from './util.js';

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
/** Memory of the tail model, in readings (long: tails need many readings to be seen). */
const TAIL_MEMORY = 20_000;
/** A run's evidence grows with √(length) up to this many readings (see scoreRun). */
const RUN_CAP = 16;
/** Readings after which a sustained excursion is absorbed as the new level. */
const ABSORB_RUN = 4 * RUN_CAP;
/** Learning rate floor while relearning after a reboot or firmware change. */
const RELEARN_ALPHA = 0.05;
/** Scores below medium: what an unconfirmed excursion is capped at. */
const LOW_CAP = 0.49;
/** Spreads of the nearest occupied level by which the envelope of ordinary values is widened before a value is more than low. */
const ENVELOPE_WIDEN = 2;
/** Before a full cycle, a value within this fraction of the level beyond the envelope is not gross. */
const PRE_CYCLE_REL = 0.25;
/** A level counts as known once the series has dwelt there this long and this share of its life. */
const REGIME_MIN_DWELL = 3 * 3_600_000;
const REGIME_MIN_SHARE = 0.05;
/** Spreads from the nearest occupied level beyond which a value outside the envelope is novel. */
const REGIME_NOVEL = 4;

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
  /** The series' own tail of the scored z (util.tailNew), and of the global z alone. */
  tl?: number[];
  tg?: number[];
  /** Envelope of ordinary values seen so far. */
  lo?: number;
  hi?: number;
  /** Current run of tail readings: signed length (+ above, − below) and its weakest p. */
  r?: number;
  rp?: number;
  /** Levels occupied so far, with their dwell (util.regimeNew). */
  rg?: number[];
  /** Typical interval between readings (ms; see nextInterval in util.ts). */
  iv?: number;
  /** Until when the metric relearns after coming back from a silence (see silenceGraceEnd). */
  sl?: number;
}

export interface MetricBaselineState {
  m: Record<string, MetricState>;
  nm: number;
  inc: IncidentBook;
  /** Last firmware and seq seen, and when the device last restarted or changed firmware. */
  fw?: string;
  sq?: number;
  rb?: number;
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
    // Per metric: ~64-char name, ~14 scalar fields of ≤ 14 chars, buckets of 3 numbers ≤ 12
    // chars each, the warm-up buffer, two tails (7 numbers each), envelope and run (4 fields), the
    // occupied levels, and an open incident; plus the object framing and the device's firmware/seq/restart fields.
    const perMetric = 64 + 14 * 18 + this.nb * 3 * 14 + INIT_N * 22 + 14 * 22 + 4 * 24 + (3 + 4 * REGIME_K) * 22 + 140;
    this.maxStateBytes = 64 + 120 + p.max_metrics * perMetric;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): MetricBaselineState {
    return { m: {}, nm: 0, inc: {}, fw: undefined, sq: undefined, rb: undefined };
  }

  step(state: MetricBaselineState, ev: M2MEvent): StepResult<MetricBaselineState> {
    const e = ev as TelemetryEvent;
    let findings: FindingDraft[] | null = null;
    const metrics = e.metrics;
    // A reboot or a new firmware legitimately changes how a device reads (fleet rollouts change
    // levels everywhere at once); relearn quickly rather than report every metric as anomalous.
    if (e.firmware !== undefined) {
      if (state.fw !== undefined && state.fw !== e.firmware) state.rb = e.ts;
      state.fw = e.firmware;
    }
    if (e.seq !== undefined) {
      if (state.sq !== undefined && e.seq < state.sq && e.seq <= SEQ_RESTART && state.sq > 10 * SEQ_RESTART) state.rb = e.ts;
      state.sq = e.seq;
    }
    for (const name in metrics) {
      if (this.filter !== null && !this.filter(name)) continue;
      const x = metrics[name];
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      let ms = state.m[name];
      if (ms === undefined) {
        if (state.nm >= this.p.max_metrics) continue;
        // Every field from the start (undefined ones are not written to JSON): one hidden class
        // for all metrics, instead of one per order in which optional fields first appear.
        ms = { n: 0, t0: e.ts, c: 0, s: 0, q: 0, p: null, pt: e.ts, w: [], k: undefined, up: 0, dn: 0, sb: undefined, tl: undefined, tg: undefined, lo: undefined, hi: undefined, r: undefined, rp: undefined, rg: undefined, iv: undefined, sl: undefined };
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
        const dt = ts - prevTs;
        const iv = ms.iv;
        if (iv === undefined) ms.iv = dt;
        else {
          const until = silenceGraceEnd(ts, dt, iv, this.p.relearn);
          if (until >= 0) ms.sl = until;
          const a = Math.max(1 / (ms.n + 1), this.alpha0);
          ms.iv = nextInterval(iv, dt, a);
        }
      }
      ms.p = x;
      ms.pt = ts;
    }

    let v = x;
    if (ms.k === 1) {
      if (prev !== null && inOrder && x < prev && x > COUNTER_RESET * prev) {
        // A counter only falls when it resets or wraps (to near zero); this one moves both ways,
        // so it was a ramp seen during warm-up, not a counter: learn it again as a level.
        ms.k = undefined;
        ms.sb = undefined;
        ms.tl = undefined;
        ms.lo = undefined;
        ms.hi = undefined;
        ms.w = [];
        ms.n = 0;
        ms.t0 = ts;
        ms.up = 0;
        ms.dn = 0;
        return null;
      }
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
    let z = rg / sg;
    let expC = ms.c;
    let expS = sg;
    let bucket = -1;
    let usedBucket = false;

    // Buckets learn from the end of warm-up on, and are consulted once there is enough history.
    if (this.nb > 0 && ms.sb === undefined) ms.sb = new Array<number>(this.nb * 3).fill(0);
    const sb = ms.sb;
    if (sb !== undefined) bucket = bucketOf(p.seasonality, ts);
    const age = ts - ms.t0;
    const perDay = ms.n / Math.max(1, age / DAY_MS);
    if (sb !== undefined && age >= p.seasonal_after) {
      // A bucket is trusted once it holds about two days of its hour: readings from one hour of
      // one day are autocorrelated and understate the day-to-day spread.
      const minB = Math.max(MIN_BUCKET_N, (1.5 * perDay) / 24);
      const bfloor = Math.max(sg * BUCKET_SPREAD_FLOOR, floorRel, floorQ, 1e-12);
      let best = Infinity;
      for (let d = -1; d <= 1; d++) {
        const b = d === 0 ? bucket : neighbour(bucket, d);
        if (sb[b * 3 + 2]! < minB) continue;
        const s = Math.max(sb[b * 3 + 1]!, bfloor);
        const zb = (v - sb[b * 3]!) / s;
        if (Math.abs(zb) < Math.abs(best)) {
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
    const az = Math.abs(z);

    const warm = ms.n >= p.min_samples && age >= p.min_learning;
    // After a reboot or firmware change (device-wide), or a silence of this metric (see silenceGraceEnd).
    const silent = ms.sl !== undefined && ts < ms.sl;
    const relearning = silent || (state.rb !== undefined && ts - state.rb < p.relearn && ts >= state.rb);
    const dev = Math.abs(v - expC);
    const lo = ms.lo ?? v;
    const hi = ms.hi ?? v;
    const contextual = v <= hi && v >= lo;
    // Beyond the envelope, the distance from the nearest level the series occupies, in that
    // level's own spread: a multi-modal series' global and hourly spreads span its modes and
    // hide an offset from any one of them.
    const rgm = (ms.rg ??= regimeNew());
    // Every level occupied counts here, however briefly: a value near one the series has passed
    // through (the top of a fast ramp, a rare peak) is not novel.
    const near = contextual ? null : regimeDistance(rgm, v, 0, 0);
    const zr = near === null ? 0 : near.z;
    const azr = zr < 0 ? -zr : zr;
    const devR = near === null ? 0 : Math.abs(v - near.c);
    const novel = azr > REGIME_NOVEL && azr > az && devR >= p.min_abs_deviation && devR >= Math.abs(near!.c) * p.min_rel_deviation;
    const tail = (az > TAIL_T || novel) && dev >= p.min_abs_deviation && (novel || dev >= Math.abs(expC) * p.min_rel_deviation);
    const tl = (ms.tl ??= tailNew());
    // The global tail only differs from the scored one once buckets are in use: it starts as a
    // copy then, which keeps warm-up and seasonality-free metrics at one tail.
    if (usedBucket && ms.tg === undefined) ms.tg = tl.slice();
    const tg = ms.tg;
    const zg = rg / sg;

    // Score: the tail probability under this metric's own tail, for the run the reading belongs
    // to, times the readings per day (a once-a-day surprise is not an incident).
    let score = 0;
    let pr = 1;
    let run = 0;
    if (tail) {
      const side = novel ? (zr > 0 ? 1 : -1) : z > 0 ? 1 : -1;
      let pt = az > TAIL_T && z * side > 0 ? tailP(tl, z) : 1;
      // A value the series routinely jumps to (a second mode, learned by the global tail) can sit
      // at an hour whose bucket has never seen it, where the bucket's narrow spread makes it look
      // far rarer than it is: inside the envelope it is no more surprising than the global tail
      // says. Values in the global bulk have no global tail opinion and keep the hour's verdict
      // (low at most, below); values outside the envelope keep it in full.
      if (usedBucket && tg !== undefined && contextual && (zg > TAIL_T || zg < -TAIL_T)) {
        const pg = tailP(tg, zg);
        if (pg > pt) pt = pg;
      }
      // The fitted tail of a multi-modal series is heavy (its second mode sits in it), so far
      // beyond every value the series has shown it would still call a reading routine. Beyond
      // the envelope, the distance past its edge in noise σ is scored under the untrained
      // (light) prior tail instead, when that is more surprising.
      if (!contextual) {
        const ze = (v > hi ? v - hi : lo - v) / sg;
        const pe = tailP(PRIOR_TAIL, TAIL_T + ze);
        if (pe < pt) pt = pe;
        if (novel) {
          const pn = tailP(PRIOR_TAIL, side * (TAIL_T + azr - REGIME_NOVEL));
          if (pn < pt) pt = pn;
        }
      }
      const r0 = ms.r ?? 0;
      if (r0 * side > 0) {
        run = Math.abs(r0) + 1;
        ms.rp = Math.max(ms.rp ?? pt, pt);
      } else {
        run = 1;
        ms.rp = pt;
      }
      ms.r = side * Math.min(run, 1e6);
      pr = runP(ms.rp, run);
      score = scoreFromP(Math.min(1, pr * Math.max(1, perDay)));
    } else if (ms.r !== undefined) {
      ms.r = undefined;
      ms.rp = undefined;
    }
    // Any finding-worthy reading stays out of what is learned, or a sustained offset would teach
    // the baseline and its tail that it is routine before it had built up its evidence.
    const alarming = score >= 0.3;

    // Until a full cycle is learned the series has not shown its operating modes yet (a line that
    // starts production on the first morning, a vehicle's first refuel): everything is learned and
    // nothing is more than low. After that, a reading whose own hour bucket has not learned yet
    // (the first weekend) may be more than low only far outside the envelope seen so far; a
    // fraction of the level bounds what a not-yet-seen mode may plausibly be.
    const pre = score > LOW_CAP && (age < p.full_cycle || (this.nb !== 0 && !usedBucket && withinMargin(v, lo, hi, sg)));
    // A value inside the envelope of the series' ordinary values is unusual only for the hour
    // (a plant idling on a weekday, an engine cold at an odd time): weaker evidence than a value
    // the series never shows, and level_shift judges it when it lasts. Such readings stay low.
    // A level the series has frequently occupied for real time (an operating mode it returns to)
    // is not novel, however far it is from the hour's baseline or the envelope's last update.
    // The envelope is the range of a few days: the next day's extreme of ordinary life (tonight's
    // memory reset a little lower than any before, a store's busiest five minutes yet) lands just
    // past it about once per new day. Within ENVELOPE_WIDEN spreads of it a reading is
    // a first-time extreme of the known range, not a new behaviour: low.
    // The spread is that of the level the reading is nearest to (its own noise around that level),
    // not the global spread, which for a multi-modal series spans its modes; at least the sensor's
    // resolution, so a count one or two above its busiest so far is not a new behaviour.
    const spreadNear = near === null || azr === 0 ? 0 : devR / azr;
    const w = ENVELOPE_WIDEN * (spreadNear > floorQ ? spreadNear : floorQ);
    const ordinary = contextual || (v <= hi + w && v >= lo - w);
    if (score > LOW_CAP && (relearning || ordinary || pre || regimeKnown(rgm, v, REGIME_MIN_DWELL, REGIME_MIN_SHARE))) score = LOW_CAP;

    // Learn. Alert-worthy readings nudge the centre only and stay out of the tail; before a full
    // cycle is known everything is learned, since what is routine is not known yet.
    // A run that has lasted long after being reported is a new level (a refill, a recalibration),
    // not a string of fresh anomalies: absorb it quickly so the incident can close.
    const absorbing = run >= ABSORB_RUN;
    const calibrating = age < p.full_cycle || relearning || absorbing;
    const anomalous = alarming && !calibrating;
    // The tail keeps learning from everything short of alert-worthy, or a routine second mode
    // seen on day one would fade from it and start alerting days later.
    tailUpdate(tl, z, TAIL_MEMORY, calibrating || score < 0.5);
    if (tg !== undefined) tailUpdate(tg, zg, TAIL_MEMORY, calibrating || score < 0.5);
    if (!anomalous) {
      regimeUpdate(rgm, v, inOrder && prev !== null ? ts - prevTs : 0);
      if (v < lo || ms.lo === undefined) ms.lo = compact(v);
      if (v > hi || ms.hi === undefined) ms.hi = compact(v);
    }
    let a = Math.max(1 / (ms.n + 1), this.alpha0);
    if ((relearning || absorbing) && a < RELEARN_ALPHA) a = RELEARN_ALPHA;
    const clip = absorbing ? Infinity : CLIP * sg;
    const cr = rg > clip ? clip : rg < -clip ? -clip : rg;
    if (anomalous) {
      ms.c = compact(ms.c + 0.25 * a * cr);
    } else {
      ms.c = compact(ms.c + a * cr);
      // Absorbing moves the level unclipped; the jump itself says nothing about the noise.
      if (!absorbing) ms.s = compact((1 - a) * ms.s + a * ABS_TO_SIGMA * Math.abs(cr));
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
        let ab = Math.max(1 / (nb + 1), this.alpha0);
        if ((relearning || absorbing) && ab < RELEARN_ALPHA) ab = RELEARN_ALPHA;
        const bs = Math.max(sb[i + 1]!, sg * BUCKET_SPREAD_FLOOR, floorRel, floorQ, 1e-12);
        const r = v - sb[i]!;
        const bc = absorbing ? Infinity : CLIP * bs;
        const c2 = r > bc ? bc : r < -bc ? -bc : r;
        if (anomalous) sb[i] = compact(sb[i]! + 0.25 * ab * c2);
        else {
          sb[i] = compact(sb[i]! + ab * c2);
          if (!absorbing) sb[i + 1] = compact((1 - ab) * sb[i + 1]! + ab * ABS_TO_SIGMA * Math.abs(c2));
        }
        if (nb < 1e6) sb[i + 2] = nb + 1;
      }
    }

    if (!warm || (az < p.threshold_z && !(novel && azr >= p.threshold_z)) || score < 0.3) return null;

    const dir = (novel ? zr > 0 : v > expC) ? 'above' : 'below';
    const what = ms.k === 1 ? `${name} rising at ${fmt(v)}/s` : `${name}=${fmt(v)}`;
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
        score,
        observed: compact(v),
        expected: `${fmt(expC)} ± ${fmt(expS)}`,
        explanation: `${e.device_id} (${e.device_class}) reported ${what}, ${fmt(az)}σ ${dir} its usual ${fmt(expC)} ± ${fmt(expS)}${when}${novel ? ` and ${fmt(azr)} spreads outside every level it normally occupies` : ''}${sustained}; check the sensor and recent commands or changes on this device before trusting its readings.`,
        evidence: {
          metric: name,
          value: x,
          ...(ms.k === 1 ? { rate_per_s: compact(v), counter: true } : {}),
          z: compact(az),
          direction: dir,
          tail_p: compact(pr),
          run,
          baseline_center: compact(expC),
          baseline_sigma: compact(expS),
          global_center: ms.c,
          global_sigma: compact(sg),
          seasonal_bucket: usedBucket ? bucket : null,
          samples: ms.n,
          ...(novel ? { regime_distance: compact(zr) } : {}),
          ...(relearning ? (silent ? { relearning_until_ts: ms.sl } : { relearning_since_ts: state.rb }) : {}),
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
    ms.up = undefined;
    ms.dn = undefined;
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
    ms.w = undefined;
  }
}

const NO_FINDINGS: FindingDraft[] = [];

/** Within the envelope widened by its own width, 6σ, or PRE_CYCLE_REL of the level (see observe). */
function withinMargin(v: number, lo: number, hi: number, sg: number): boolean {
  const margin = Math.max(hi - lo, 6 * sg, PRE_CYCLE_REL * Math.max(hi < 0 ? -hi : hi, lo < 0 ? -lo : lo));
  return v <= hi + margin && v >= lo - margin;
}
/** A tail that has learned nothing: tailP gives its prior (see util). Never written. */
const PRIOR_TAIL: readonly number[] = Object.freeze(tailNew());
/** A seq that falls back to at most this (from well above) is a restart, not reordering. */
const SEQ_RESTART = 5;
/** A counter reset or wrap falls below this fraction of the previous value. */
const COUNTER_RESET = 0.1;

/**
 * Evidence of a run of r tail readings on one side whose weakest has tail probability pw.
 * Independent readings would give pw^r; real telemetry is autocorrelated, so the exponent grows
 * only as √r (capped): persistence strengthens evidence without pretending every reading is new.
 */
function runP(pw: number, r: number): number {
  if (r <= 1) return pw;
  return Math.pow(pw, Math.sqrt(r < RUN_CAP ? r : RUN_CAP));
}
