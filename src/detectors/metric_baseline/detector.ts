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
 */
import { closeStale, raise } from '../incident.js';
import type { IncidentBook } from '../incident.js';
import { scoreFromP } from '../score.js';
import { TELEMETRY_ONLY, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from '../types.js';
import type { M2MEvent, TelemetryEvent } from '../../events/types.js';
import { compact } from '../lib/compact.js';
import { fmt, fmtDuration } from '../lib/format.js';
import { EXCLUDE_PARAM, METRICS_PARAM, metricFilter } from '../lib/metric-filter.js';
import { inOperatingMode, intervalAfter, learnRate, restarted, silenceGraceEnd } from '../lib/lifecycle.js';
import { REGIME_FULL, regimeDistanceInto, regimeFold, regimeNew, regimeRevive } from '../lib/regimes.js';
import { ABS_TO_SIGMA, MAD_TO_SIGMA, madRange, medianRange } from '../lib/robust.js';
import { TAIL_T, tailNew, tailP, tailUpdate } from '../lib/tail.js';
import { DAY_MS, HOUR_BUCKET_MIN_N, hourOfDay, nearHour, weekPartHour } from '../lib/time.js';
import { NOT_PACKED, doubles, optionalPacked, orZero, packedDoubles } from '../flat.js';
import { changeRole } from '../fleet.js';

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
/** A bucket's spread is at least this fraction of the global spread (see header). */
const BUCKET_SPREAD_FLOOR = 0.33;
/** Memory of the tail model, in readings (long: tails need many readings to be seen). */
const TAIL_MEMORY = 20_000;
/** A run's evidence grows with √(length) up to this many readings (see scoreRun). */
const RUN_CAP = 16;
/** Readings after which a sustained excursion is absorbed as the new level. */
const ABSORB_RUN = 4 * RUN_CAP;
/** Scores below medium: what an unconfirmed excursion is capped at. */
const LOW_CAP = 0.49;
/** Spreads of the nearest occupied level by which the envelope of ordinary values is widened before a value is more than low. */
const ENVELOPE_WIDEN = 2;
/** Before a full cycle, a value within this fraction of the level beyond the envelope is not gross. */
const PRE_CYCLE_REL = 0.25;
/** Spreads from the nearest occupied level beyond which a value outside the envelope is novel. */
const REGIME_NOVEL = 4;

/**
 * One metric's scalars, a flat number[] (V8 keeps it as unboxed doubles, so the updates of every
 * reading allocate nothing); NaN means absent. During warm-up the buffered samples follow the
 * scalars at [NS, NS + INIT_N), and WN counts them; after warm-up the array is NS long.
 *
 * | index | field | meaning |
 * | --- | --- | --- |
 * | N  | n  | samples learned (in the space being scored: value, or rate for counters) |
 * | T0 | t0 | first sample time |
 * | C, S | c, s | centre and σ of the global baseline |
 * | Q  | q  | smallest non-zero step seen (sensor resolution); 0 = none yet |
 * | P, PT | p, pt | previous raw value (NaN: none) and its time (counter rates, resolution) |
 * | K  | k  | 1: counter mode, the baseline is on the rate per second |
 * | UP, DN | up, dn | rising / falling steps during warm-up (counter detection) |
 * | LO, HI | lo, hi | envelope of ordinary values seen so far |
 * | R, RP | r, rp | current run of tail readings: signed length (+ above, − below) and its weakest p |
 * | IV | iv | typical interval between readings (ms; see intervalAfter in lib/lifecycle.ts) |
 * | SL | sl | until when the metric relearns after a silence (see silenceGraceEnd) |
 * | WN | wn | samples in the warm-up buffer; NaN once warm |
 */
const N = 0;
const T0 = 1;
const C = 2;
const S = 3;
const Q = 4;
const P = 5;
const PT = 6;
const K = 7;
const UP = 8;
const DN = 9;
const LO = 10;
const HI = 11;
const R = 12;
const RP = 13;
const IV = 14;
const SL = 15;
const WN = 16;
/** Scalars per metric; the warm-up buffer follows them while it exists. */
const NS = 17;

/** One metric: its scalars and its arrays (null until first used; arrays are never swapped for other types). */
export interface MetricState {
  v: number[];
  /** Seasonal buckets, flat [centre, σ, n] × buckets. */
  sb: number[] | null;
  /** The series' own tail of the scored z (util.tailNew), and of the global z alone. */
  tl: number[] | null;
  tg: number[] | null;
  /** Levels occupied so far, with their dwell (lib/regimes.ts). */
  rg: number[] | null;
}

export interface MetricBaselineState {
  m: Record<string, MetricState>;
  nm: number;
  inc: IncidentBook;
  /** Last firmware seen. */
  fw: string | undefined;
  /**
   * Last seq, and when the device last restarted or changed firmware; NaN: not yet. Always
   * numbers, so V8 keeps them as double fields that are updated in place.
   */
  sq: number;
  rb: number;
}

function bucketCount(mode: MetricBaselineParams['seasonality']): number {
  return mode === 'none' ? 0 : mode === 'hour_of_day' ? 24 : 48;
}

function bucketOf(mode: MetricBaselineParams['seasonality'], ts: number): number {
  return mode === 'weekday_hour' ? weekPartHour(ts) : hourOfDay(ts);
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
  /** The engine reads the result at once and keeps neither it nor the state reference in it. */
  private readonly res: StepResult<MetricBaselineState> = { state: null as unknown as MetricBaselineState, findings: NO_FINDINGS };

  constructor(
    private readonly p: MetricBaselineParams,
    readonly id: string,
  ) {
    this.filter = metricFilter(p.metrics, p.exclude);
    this.nb = bucketCount(p.seasonality);
    this.alpha0 = 1 / p.window;
    // Per metric: ~64-char name and the object framing, the scalars and the warm-up buffer (≤ 22
    // chars a number), buckets of 3 numbers ≤ 14 chars each, two tails (7 numbers each), the
    // occupied levels, and an open incident; plus the device's firmware/seq/restart fields.
    const perMetric = 64 + 40 + (NS + INIT_N) * 22 + this.nb * 3 * 14 + 14 * 22 + REGIME_FULL * 22 + 140;
    this.maxStateBytes = 64 + 120 + p.max_metrics * perMetric;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): MetricBaselineState {
    return { m: {}, nm: 0, inc: {}, fw: undefined, sq: NaN, rb: NaN };
  }

  revive(raw: unknown): MetricBaselineState | undefined {
    const o = raw as Partial<Record<keyof MetricBaselineState, unknown>> | null;
    if (o === null || typeof o !== 'object' || typeof o.m !== 'object' || o.m === null || typeof o.nm !== 'number') return undefined;
    if (typeof o.inc !== 'object' || o.inc === null || (o.fw !== undefined && typeof o.fw !== 'string')) return undefined;
    const sq = o.sq === null ? NaN : o.sq;
    const rb = o.rb === null ? NaN : o.rb;
    if (typeof sq !== 'number' || typeof rb !== 'number') return undefined;
    const m: Record<string, MetricState> = {};
    const rm = o.m as Record<string, unknown>;
    for (const name in rm) {
      const ms = reviveMetric(rm[name], this.nb);
      if (ms === undefined) return undefined;
      m[name] = ms;
    }
    return { m, nm: o.nm, inc: o.inc as IncidentBook, fw: o.fw as string | undefined, sq, rb };
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
        ms = { v: newMetric(e.ts), sb: null, tl: null, tg: null, rg: null };
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

  private observe(state: MetricBaselineState, ms: MetricState, name: string, x: number, e: TelemetryEvent): FindingDraft | null {
    const ts = e.ts;
    let m = ms.v;
    const prev = m[P]!;
    const hasPrev = prev === prev;
    const prevTs = m[PT]!;
    // Out-of-order samples are scored but do not drive counter rates or resolution.
    const inOrder = !hasPrev || ts > prevTs;
    if (inOrder) {
      if (hasPrev) {
        const d = Math.abs(x - prev);
        if (d > 1e-9 * Math.abs(x) && (m[Q] === 0 || d < m[Q]!)) m[Q] = compact(d);
        const dt = ts - prevTs;
        const iv = m[IV]!;
        const until = silenceGraceEnd(ts, dt, iv, this.p.relearn);
        if (until >= 0) m[SL] = until;
        m[IV] = intervalAfter(iv, dt, m[N]!, this.alpha0);
      }
      m[P] = x;
      m[PT] = ts;
    }

    let v = x;
    if (m[K] === 1) {
      if (hasPrev && inOrder && x < prev && x > COUNTER_RESET * prev) {
        // A counter only falls when it resets or wraps (to near zero); this one moves both ways,
        // so it was a ramp seen during warm-up, not a counter: learn it again as a level.
        m = ms.v = withWarmBuffer(m);
        m[K] = 0;
        ms.sb = null;
        ms.tl = null;
        m[LO] = NaN;
        m[HI] = NaN;
        m[WN] = 0;
        m[N] = 0;
        m[T0] = ts;
        m[UP] = 0;
        m[DN] = 0;
        return null;
      }
      if (!hasPrev || !inOrder || x < prev) return null; // counter reset or first reading
      v = (x - prev) / ((ts - prevTs) / 1000);
    }

    if (m[WN] === m[WN]) {
      this.warm(ms, m, v, prev, hasPrev && inOrder);
      return null;
    }

    const p = this.p;
    const floorRel = Math.abs(m[C]!) * p.min_rel_deviation * 0.1;
    const floorQ = m[K] === 1 ? 0 : m[Q]!;
    const sg = Math.max(m[S]!, floorRel, floorQ, 1e-12);
    const rg = v - m[C]!;
    let z = rg / sg;
    let expC = m[C]!;
    let expS = sg;
    let bucket = -1;
    let usedBucket = false;

    // Buckets learn from the end of warm-up on, and are consulted once there is enough history.
    if (this.nb > 0 && ms.sb === null) ms.sb = zeros(this.nb * 3);
    const sb = ms.sb;
    if (sb !== null) bucket = bucketOf(p.seasonality, ts);
    const age = ts - m[T0]!;
    const perDay = m[N]! / Math.max(1, age / DAY_MS);
    if (sb !== null && age >= p.seasonal_after) {
      // A bucket is trusted once it holds about two days of its hour: readings from one hour of
      // one day are autocorrelated and understate the day-to-day spread.
      const minB = Math.max(HOUR_BUCKET_MIN_N, (1.5 * perDay) / 24);
      const bfloor = Math.max(sg * BUCKET_SPREAD_FLOOR, floorRel, floorQ, 1e-12);
      let best = Infinity;
      for (let d = -1; d <= 1; d++) {
        const b = d === 0 ? bucket : nearHour(bucket, d);
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

    const warm = m[N]! >= p.min_samples && age >= p.min_learning;
    // After a reboot or firmware change (device-wide), or a silence of this metric (see silenceGraceEnd).
    const sl = m[SL]!;
    const silent = ts < sl;
    const rb = state.rb;
    const relearning = silent || (ts - rb < p.relearn && ts >= rb);
    const dev = Math.abs(v - expC);
    const lo0 = m[LO]!;
    const hi0 = m[HI]!;
    const lo = lo0 === lo0 ? lo0 : v;
    const hi = hi0 === hi0 ? hi0 : v;
    const contextual = v <= hi && v >= lo;
    // Beyond the envelope, the distance from the nearest level the series occupies, in that
    // level's own spread: a multi-modal series' global and hourly spreads span its modes and
    // hide an offset from any one of them.
    const rgm = (ms.rg ??= regimeNew());
    // Every level occupied counts here, however briefly: a value near one the series has passed
    // through (the top of a fast ramp, a rare peak) is not novel.
    const hasNear = !contextual && regimeDistanceInto(rgm, v, 0, 0, NEAR);
    const zr = hasNear ? NEAR[0]! : 0;
    const nearC = NEAR[1]!;
    const azr = !hasNear ? 0 : zr < 0 ? -zr : zr;
    const devR = !hasNear ? 0 : Math.abs(v - nearC);
    const novel = azr > REGIME_NOVEL && azr > az && devR >= p.min_abs_deviation && devR >= Math.abs(nearC) * p.min_rel_deviation;
    const tail = (az > TAIL_T || novel) && dev >= p.min_abs_deviation && (novel || dev >= Math.abs(expC) * p.min_rel_deviation);
    const tl = (ms.tl ??= tailNew());
    // The global tail only differs from the scored one once buckets are in use: it starts as a
    // copy then, which keeps warm-up and seasonality-free metrics at one tail.
    if (usedBucket && ms.tg === null) ms.tg = tl.slice();
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
      if (usedBucket && tg !== null && contextual && (zg > TAIL_T || zg < -TAIL_T)) {
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
      const r0 = m[R]!;
      if (r0 === r0 && r0 * side > 0) {
        run = Math.abs(r0) + 1;
        const rp = m[RP]!;
        m[RP] = Math.max(rp === rp ? rp : pt, pt);
      } else {
        run = 1;
        m[RP] = pt;
      }
      m[R] = side * Math.min(run, 1e6);
      pr = runP(m[RP]!, run);
      score = scoreFromP(Math.min(1, pr * Math.max(1, perDay)));
    } else if (m[R] === m[R]) {
      m[R] = NaN;
      m[RP] = NaN;
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
    const spreadNear = !hasNear || azr === 0 ? 0 : devR / azr;
    const w = ENVELOPE_WIDEN * (spreadNear > floorQ ? spreadNear : floorQ);
    const ordinary = contextual || (v <= hi + w && v >= lo - w);
    if (score > LOW_CAP && (relearning || ordinary || pre || inOperatingMode(rgm, v))) score = LOW_CAP;

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
    if (tg !== null) tailUpdate(tg, zg, TAIL_MEMORY, calibrating || score < 0.5);
    if (!anomalous) {
      ms.rg = regimeFold(rgm, v, inOrder && hasPrev ? ts - prevTs : 0);
      if (v < lo || lo0 !== lo0) m[LO] = compact(v);
      if (v > hi || hi0 !== hi0) m[HI] = compact(v);
    }
    const a = learnRate(m[N]!, this.alpha0, relearning || absorbing);
    const clip = absorbing ? Infinity : CLIP * sg;
    const cr = rg > clip ? clip : rg < -clip ? -clip : rg;
    if (anomalous) {
      m[C] = compact(m[C]! + 0.25 * a * cr);
    } else {
      m[C] = compact(m[C]! + a * cr);
      // Absorbing moves the level unclipped; the jump itself says nothing about the noise.
      if (!absorbing) m[S] = compact((1 - a) * m[S]! + a * ABS_TO_SIGMA * Math.abs(cr));
    }
    m[N] = m[N]! + 1;
    if (sb !== null) {
      const i = bucket * 3;
      const nb = sb[i + 2]!;
      if (nb === 0) {
        sb[i] = compact(v);
        sb[i + 1] = 0;
        sb[i + 2] = 1;
      } else {
        const ab = learnRate(nb, this.alpha0, relearning || absorbing);
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
        score,
        observed: compact(v),
        expected: `${fmt(expC)} ± ${fmt(expS)}`,
        explanation: `${e.device_id} (${e.device_class}) reported ${what}, ${fmt(az)}σ ${dir} its usual ${fmt(expC)} ± ${fmt(expS)}${when}${novel ? ` and ${fmt(azr)} spreads outside every level it normally occupies` : ''}${sustained}; check the sensor and recent commands or changes on this device before trusting its readings.`,
        evidence: {
          metric: name,
          value: x,
          ...(counter ? { rate_per_s: compact(v), counter: true } : {}),
          z: compact(az),
          direction: dir,
          tail_p: compact(pr),
          run,
          baseline_center: compact(expC),
          baseline_sigma: compact(expS),
          global_center: m[C]!,
          global_sigma: compact(sg),
          seasonal_bucket: usedBucket ? bucket : null,
          samples: m[N]!,
          ...(novel ? { regime_distance: compact(zr) } : {}),
          ...(relearning ? (silent ? { relearning_until_ts: sl } : { relearning_since_ts: rb }) : {}),
        },
        mitre: metricBaseline.mitre,
      },
      this.p.incident_gap,
    );
  }

  private warm(ms: MetricState, m: number[], v: number, prev: number, inOrderWithPrev: boolean): void {
    if (inOrderWithPrev && m[K] !== 1) {
      if (v > prev) m[UP] = orZero(m[UP]!) + 1;
      else if (v < prev) m[DN] = orZero(m[DN]!) + 1;
    }
    const wn = m[WN]!;
    m[NS + wn] = v;
    m[WN] = wn + 1;
    m[N] = m[N]! + 1;
    if (wn + 1 < INIT_N) return;
    const up = orZero(m[UP]!);
    const dn = orZero(m[DN]!);
    m[UP] = NaN;
    m[DN] = NaN;
    if (this.p.detect_counters && m[K] !== 1 && dn === 0 && up >= 0.8 * (INIT_N - 1)) {
      // A cumulative counter: restart learning on its rate.
      m[K] = 1;
      m[WN] = 0;
      m[N] = 0;
      return;
    }
    const c = warmMedian(m);
    m[C] = compact(c);
    m[S] = compact(MAD_TO_SIGMA * warmMad(m, c));
    m[WN] = NaN;
    // The buffer is done with: the metric keeps its scalars only.
    ms.v = m.slice(0, NS);
  }
}

const NO_FINDINGS: FindingDraft[] = [];

/** Templates copied by slice(), which keeps their packed-double elements and exact length. */
const ZEROS: number[] = doubles(48 * 3, 0);
const WARM_TAIL: number[] = doubles(INIT_N, 0);


function zeros(n: number): number[] {
  return n <= ZEROS.length ? ZEROS.slice(0, n) : doubles(n, 0);
}

/** A new metric's scalars and an empty warm-up buffer. */
function newMetric(ts: number): number[] {
  const m = zeros(NS + INIT_N);
  m[T0] = ts;
  m[P] = NaN;
  m[PT] = ts;
  m[LO] = NaN;
  m[HI] = NaN;
  m[R] = NaN;
  m[RP] = NaN;
  m[IV] = NaN;
  m[SL] = NaN;
  return m;
}

/** The scalars with a warm-up buffer after them again. */
function withWarmBuffer(m: number[]): number[] {
  return m.length >= NS + INIT_N ? m : m.slice(0, NS).concat(WARM_TAIL);
}

/** util.median / util.mad of the INIT_N buffered samples after the scalars. */
function warmMedian(m: readonly number[]): number {
  return medianRange(m, NS, INIT_N);
}
function warmMad(m: readonly number[], center: number): number {
  return madRange(m, NS, INIT_N, center);
}

/** Out-parameter of regimeDistanceInto (lib/regimes.ts): [signed distance in spreads, centre] of the nearest level. */
const NEAR = [0, 0];


function reviveMetric(raw: unknown, nb: number): MetricState | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  const v = packedDoubles(o.v);
  if (v === undefined) return undefined;
  const wn = v[WN]!;
  if (v.length !== (wn === wn ? NS + INIT_N : NS)) return undefined;
  // Absent arrays are null in this layout.
  const sb = optionalPacked(o.sb, nb * 3);
  const tl = optionalPacked(o.tl, 7);
  const tg = optionalPacked(o.tg, 7);
  const rg0 = optionalPacked(o.rg);
  const rg = rg0 === null ? null : rg0 === undefined || rg0 === NOT_PACKED ? undefined : regimeRevive(rg0);
  if (sb === undefined || sb === NOT_PACKED || tl === undefined || tl === NOT_PACKED || tg === undefined || tg === NOT_PACKED || rg === undefined) return undefined;
  return { v, sb, tl, tg, rg };
}

/** Within the envelope widened by its own width, 6σ, or PRE_CYCLE_REL of the level (see observe). */
function withinMargin(v: number, lo: number, hi: number, sg: number): boolean {
  const margin = Math.max(hi - lo, 6 * sg, PRE_CYCLE_REL * Math.max(hi < 0 ? -hi : hi, lo < 0 ? -lo : lo));
  return v <= hi + margin && v >= lo - margin;
}
/** A tail that has learned nothing: tailP gives its prior (see util). Never written. */
const PRIOR_TAIL: readonly number[] = Object.freeze(tailNew());
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
