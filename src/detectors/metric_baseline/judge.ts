/**
 * How metric_baseline judges a reading against its expectation (model.ts): where it stands (the
 * envelope of ordinary values, the nearest level the series has occupied, relearning), how rare
 * its run is under the series' own tail, and when that score stays low whatever it is.
 */
import { scoreFromP } from '../score.js';
import { inOperatingMode } from '../lib/lifecycle.js';
import { regimeDistanceInto, regimeNew } from '../lib/regimes.js';
import { TAIL_T, tailNew, tailP } from '../lib/tail.js';
import { HI, LO, N, R, RP, SL } from './state.js';
import type { MetricState } from './state.js';
import type { MetricBaselineParams } from './detector.js';
import type { Reading } from './model.js';

/** A run's evidence grows with √(length) up to this many readings (see runP). */
const RUN_CAP = 16;
/** Readings after which a sustained excursion is absorbed as the new level. */
export const ABSORB_RUN = 4 * RUN_CAP;
/**
 * Scores below medium: what an unconfirmed excursion is capped at. (level_shift caps its own at
 * 0.45: each detector's low is its own calibration, so the two are not one constant.)
 */
const LOW_CAP = 0.49;
/** Spreads of the nearest occupied level by which the envelope of ordinary values is widened before a value is more than low. */
const ENVELOPE_WIDEN = 2;
/** Before a full cycle, a value within this fraction of the level beyond the envelope is not gross. */
const PRE_CYCLE_REL = 0.25;
/** Spreads from the nearest occupied level beyond which a value outside the envelope is novel. */
const REGIME_NOVEL = 4;

/** Out-parameter of regimeDistanceInto (lib/regimes.ts): [signed distance in spreads, centre] of the nearest level. */
const NEAR = [0, 0];
/** A tail that has learned nothing: tailP gives its prior (lib/tail.ts). Never written. */
const PRIOR_TAIL: readonly number[] = Object.freeze(tailNew());

/**
 * Where v stands: whether the metric is warm or relearning (after the device's restart at `rb`,
 * or a silence of this metric: lib/lifecycle.ts), inside the envelope of ordinary values, how far
 * from the nearest level the series has occupied, and so whether it is a tail reading at all.
 */
export function place(rd: Reading, ms: MetricState, p: MetricBaselineParams, rb: number, v: number, ts: number): void {
  const m = ms.v;
  const az = Math.abs(rd.z);
  const expC = rd.expC;
  rd.az = az;
  rd.warm = m[N]! >= p.min_samples && rd.age >= p.min_learning;
  const silent = ts < m[SL]!;
  rd.silent = silent;
  rd.relearning = silent || (ts - rb < p.relearn && ts >= rb);
  const dev = Math.abs(v - expC);
  const lo0 = m[LO]!;
  const hi0 = m[HI]!;
  const lo = lo0 === lo0 ? lo0 : v;
  const hi = hi0 === hi0 ? hi0 : v;
  const contextual = v <= hi && v >= lo;
  rd.lo0 = lo0;
  rd.hi0 = hi0;
  rd.lo = lo;
  rd.hi = hi;
  rd.contextual = contextual;
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
  rd.hasNear = hasNear;
  rd.zr = zr;
  rd.azr = azr;
  rd.devR = devR;
  rd.novel = novel;
  rd.tail = (az > TAIL_T || novel) && dev >= p.min_abs_deviation && (novel || dev >= Math.abs(expC) * p.min_rel_deviation);
}

/**
 * Score: the tail probability under this metric's own tail, for the run the reading belongs to,
 * times the readings per day (a once-a-day surprise is not an incident).
 */
export function scoreReading(rd: Reading, ms: MetricState, v: number): void {
  const m = ms.v;
  const tl = (ms.tl ??= tailNew());
  // The global tail only differs from the scored one once buckets are in use: it starts as a
  // copy then, which keeps warm-up and seasonality-free metrics at one tail.
  if (rd.usedBucket && ms.tg === null) ms.tg = tl.slice();
  const tg = ms.tg;
  const sg = rd.sg;
  const zg = rd.resid / sg;
  rd.zg = zg;
  let score = 0;
  let pr = 1;
  let run = 0;
  if (rd.tail) {
    const z = rd.z;
    const az = rd.az;
    const zr = rd.zr;
    const side = rd.novel ? (zr > 0 ? 1 : -1) : z > 0 ? 1 : -1;
    let pt = az > TAIL_T && z * side > 0 ? tailP(tl, z) : 1;
    // A value the series routinely jumps to (a second mode, learned by the global tail) can sit
    // at an hour whose bucket has never seen it, where the bucket's narrow spread makes it look
    // far rarer than it is: inside the envelope it is no more surprising than the global tail
    // says. Values in the global bulk have no global tail opinion and keep the hour's verdict
    // (low at most, below); values outside the envelope keep it in full.
    if (rd.usedBucket && tg !== null && rd.contextual && (zg > TAIL_T || zg < -TAIL_T)) {
      const pg = tailP(tg, zg);
      if (pg > pt) pt = pg;
    }
    // The fitted tail of a multi-modal series is heavy (its second mode sits in it), so far
    // beyond every value the series has shown it would still call a reading routine. Beyond
    // the envelope, the distance past its edge in noise σ is scored under the untrained
    // (light) prior tail instead, when that is more surprising.
    if (!rd.contextual) {
      const ze = (v > rd.hi ? v - rd.hi : rd.lo - v) / sg;
      const pe = tailP(PRIOR_TAIL, TAIL_T + ze);
      if (pe < pt) pt = pe;
      if (rd.novel) {
        const pn = tailP(PRIOR_TAIL, side * (TAIL_T + rd.azr - REGIME_NOVEL));
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
    score = scoreFromP(Math.min(1, pr * Math.max(1, rd.perDay)));
  } else if (m[R] === m[R]) {
    m[R] = NaN;
    m[RP] = NaN;
  }
  rd.score = score;
  rd.pr = pr;
  rd.run = run;
  // Any finding-worthy reading stays out of what is learned, or a sustained offset would teach
  // the baseline and its tail that it is routine before it had built up its evidence.
  rd.alarming = score >= 0.3;
}

/**
 * Cap the score at low where the evidence is weak, with `nb` seasonal buckets.
 *
 * Until a full cycle is learned the series has not shown its operating modes yet (a line that
 * starts production on the first morning, a vehicle's first refuel): everything is learned and
 * nothing is more than low. After that, a reading whose own hour bucket has not learned yet
 * (the first weekend) may be more than low only far outside the envelope seen so far; a fraction
 * of the level bounds what a not-yet-seen mode may plausibly be.
 *
 * A value inside the envelope of the series' ordinary values is unusual only for the hour (a
 * plant idling on a weekday, an engine cold at an odd time): weaker evidence than a value the
 * series never shows, and level_shift judges it when it lasts. A level the series has frequently
 * occupied for real time (an operating mode it returns to) is not novel, however far it is from
 * the hour's baseline or the envelope's last update. The envelope is the range of a few days: the
 * next day's extreme of ordinary life (tonight's memory reset a little lower than any before, a
 * store's busiest five minutes yet) lands just past it about once per new day. Within
 * ENVELOPE_WIDEN spreads of it a reading is a first-time extreme of the known range, not a new
 * behaviour. The spread is that of the level the reading is nearest to (its own noise around that
 * level), not the global spread, which for a multi-modal series spans its modes; at least the
 * sensor's resolution, so a count one or two above its busiest so far is not a new behaviour.
 */
export function capLow(rd: Reading, ms: MetricState, p: MetricBaselineParams, nb: number, v: number): void {
  if (!(rd.score > LOW_CAP)) return;
  const lo = rd.lo;
  const hi = rd.hi;
  const pre = rd.age < p.full_cycle || (nb !== 0 && !rd.usedBucket && withinMargin(v, lo, hi, rd.sg));
  const azr = rd.azr;
  const spreadNear = !rd.hasNear || azr === 0 ? 0 : rd.devR / azr;
  const floorQ = rd.floorQ;
  const w = ENVELOPE_WIDEN * (spreadNear > floorQ ? spreadNear : floorQ);
  const ordinary = rd.contextual || (v <= hi + w && v >= lo - w);
  if (rd.relearning || ordinary || pre || inOperatingMode(ms.rg!, v)) rd.score = LOW_CAP;
}

/** Within the envelope widened by its own width, 6σ, or PRE_CYCLE_REL of the level (see capLow). */
function withinMargin(v: number, lo: number, hi: number, sg: number): boolean {
  const margin = Math.max(hi - lo, 6 * sg, PRE_CYCLE_REL * Math.max(hi < 0 ? -hi : hi, lo < 0 ? -lo : lo));
  return v <= hi + margin && v >= lo - margin;
}

/**
 * Evidence of a run of r tail readings on one side whose weakest has tail probability pw.
 * Independent readings would give pw^r; real telemetry is autocorrelated, so the exponent grows
 * only as √r (capped): persistence strengthens evidence without pretending every reading is new.
 */
function runP(pw: number, r: number): number {
  if (r <= 1) return pw;
  return Math.pow(pw, Math.sqrt(r < RUN_CAP ? r : RUN_CAP));
}
