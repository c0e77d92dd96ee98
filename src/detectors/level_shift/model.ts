/**
 * level_shift's statistics, one named step of a reading each: its arrival (counters, interval,
 * silence), the levels it occupies, the robust level and residual spread, the day-to-day spread
 * of hourly means, the level's wander, and the two-sided CUSUM with its gates. Each is a plain
 * function over a metric's flat array (state.ts); the detector calls them in order.
 */
import type { OpenIncident } from '../incident.js';
import { compact } from '../lib/compact.js';
import { intervalAfter, silenceGraceEnd } from '../lib/lifecycle.js';
import { regimeFold, regimeNoise } from '../lib/regimes.js';
import { ABS_TO_SIGMA, MAD_TO_SIGMA, ROBUST_INIT, mad, median } from '../lib/robust.js';
import { HOUR_MS } from '../lib/time.js';
import { learnBucket } from './profile.js';
import {
  F_DN,
  F_EC,
  F_EN,
  F_ES,
  F_GC,
  F_GN,
  F_HF,
  F_HH,
  F_HK,
  F_HN,
  F_HS,
  F_HV,
  F_IV,
  F_LT,
  F_NN,
  F_NP,
  F_PT,
  F_PV,
  F_RL,
  F_SE,
  F_SN,
  F_SP,
  F_SS,
  F_TE,
  F_TN,
  F_TP,
  F_UP,
  F_VS,
  F_XL,
  F_ZN,
  F_ZP,
  F_ZS,
} from './state.js';
import type { ShiftMetric } from './state.js';
import type { LevelShiftParams } from './detector.js';

/** Hourly means the day-to-day spread needs before it is trusted. */
const MIN_HOURS = 12;
/**
 * Weight of the recent mean residual and of the recent raw level (~10 readings). (metric_relation
 * has its own, 1/6: each detector's recent mean is tuned to what it smooths.)
 */
const RECENT = 0.1;
/**
 * Highest score (low) for a shift to a level the daily profile already holds at other hours.
 * (metric_baseline caps its own at 0.49: each detector's low is its own calibration.)
 */
export const CONTEXT_CAP = 0.45;
/** Occupied levels are sampled at most this often, in event time (see sampleLevels). */
const REGIME_TICK = 60_000;
/** Memory of the spread of hourly means, in hours: day-to-day variation needs many days. */
const HOUR_MEMORY = 14 * 24;

/**
 * The reading x at ts arrives: rises and falls are counted, the typical interval learned, and a
 * silence it ends (lib/lifecycle.ts) starts relearning and forgets the excursion in progress.
 * True when the metric is a cumulative counter (its level always grows): it has no level to
 * shift, and its rate is metric_baseline's business.
 */
export function arrive(f: number[], x: number, ts: number, p: LevelShiftParams): boolean {
  const pv = f[F_PV]!;
  if (pv === pv) {
    if (x > pv) f[F_UP] = f[F_UP]! + 1;
    else if (x < pv) f[F_DN] = f[F_DN]! + 1;
  }
  f[F_PV] = x;
  const pt = f[F_PT]!;
  if (pt !== pt || ts > pt) {
    if (pt === pt) {
      const dt = ts - pt;
      const iv = f[F_IV]!;
      // A silence (see silenceGraceEnd): the level after it is where the series is now, not a
      // shift the CUSUM watched build up, so the excursion in progress is forgotten.
      const until = silenceGraceEnd(ts, dt, iv, p.relearn);
      if (until >= 0) {
        const rl = f[F_RL]!;
        if (rl !== rl || rl < until) f[F_RL] = until;
        f[F_SP] = 0;
        f[F_SN] = 0;
        f[F_SS] = ts;
        f[F_SE] = until;
      }
      f[F_IV] = intervalAfter(iv, dt, f[F_GN]!, 1 / p.window);
    }
    f[F_PT] = ts;
  }
  const up0 = f[F_UP]!;
  return up0 >= 20 && f[F_DN]! <= up0 * 0.01 && up0 >= 0.8 * f[F_GN]!;
}

/**
 * The recent raw level (~10 readings): a shift is judged by where the level is now, which the
 * clipped residual mean understates for a jump between operating modes. And the levels occupied
 * (lib/regimes.ts), which learn from everything but a reported, alert-worthy shift (`open`), so
 * an offset does not become "known" by lasting. Occupancy is sampled at most once per
 * REGIME_TICK of event time, the time since the last sample as its dwell: a level held for less
 * than that is no operating mode, and a fast stream would otherwise pay for every reading.
 */
export function sampleLevels(m: ShiftMetric, x: number, ts: number, open: OpenIncident | undefined): void {
  const f = m.f;
  f[F_XL] = f[F_XL]! + RECENT * (x - f[F_XL]!);
  const lt0 = f[F_LT]!;
  const lt = lt0 === lt0 ? lt0 : ts;
  if (ts - lt >= REGIME_TICK || lt0 !== lt0) {
    if (open === undefined || open.peak <= CONTEXT_CAP) {
      m.r = regimeFold(m.r, x, ts - lt);
    }
    f[F_LT] = ts;
  }
}

/**
 * lib/robust.ts's robustUpdate on the robust statistic at f[o..o+2] (n, centre, spread), with the same
 * arithmetic: median/MAD of the first ROBUST_INIT readings (collected in m.w), then a
 * Huber-clipped EWMA. Ready once n ≥ ROBUST_INIT.
 */
export function robustStep(m: ShiftMetric, o: number, x: number, window: number, outlier: boolean): void {
  const f = m.f;
  const n = f[o]!;
  if (n < ROBUST_INIT) {
    let w = m.w;
    if (w === null) w = m.w = [];
    w.push(x);
    f[o] = n + 1;
    if (w.length >= ROBUST_INIT) {
      const c = median(w);
      f[o + 1] = compact(c);
      f[o + 2] = compact(MAD_TO_SIGMA * mad(w, c));
      m.w = null;
    }
    return;
  }
  const a = Math.max(1 / (n + 1), 1 / window);
  const sg = Math.max(f[o + 2]!, 0, 1e-12);
  const c = f[o + 1]!;
  const d = x - c;
  const clip = 3 * sg;
  const cd = d > clip ? clip : d < -clip ? -clip : d;
  if (outlier) f[o + 1] = compact(c + 0.25 * a * cd);
  else {
    f[o + 1] = compact(c + a * cd);
    f[o + 2] = compact((1 - a) * f[o + 2]! + a * ABS_TO_SIGMA * Math.abs(cd));
  }
  if (n < 1e9) f[o] = n + 1;
}

/**
 * Learning before the metric is judged (no profile for this hour yet, or the residual spread and
 * the wander still within their first day): the level, then once the profile is trusted
 * (`profiled`) the residual spread, the hour and the wander, and the profile bucket at slot `pi`.
 */
export function learnUnjudged(m: ShiftMetric, pi: number, x: number, ts: number, resid: number, profiled: boolean, win: number, window: number, relearning: boolean): void {
  const f = m.f;
  robustStep(m, F_GN, x, win, false);
  if (f[F_GN]! >= ROBUST_INIT && profiled) {
    if (f[F_TE]! !== f[F_TE]!) f[F_TE] = ts;
    robustStep(m, F_EN, resid, win, false);
    if (f[F_EN]! >= ROBUST_INIT) {
      learnHour(f, ts, resid - f[F_EC]!, relearning);
      learnWander(f, (resid - f[F_EC]!) / sigmaOf(f, m.r), win, false, 6);
    }
  }
  learnBucket(f, pi, x, window, false, relearning);
}

/**
 * The wander gate: how far (in σ) the smoothed residual must be to be a shift. A level that
 * wanders at the hour scale (its hourly means spread more than its readings do, so they set σ)
 * must also be left by more than variability_factor of those spreads: the ~10-reading smoothing
 * alone is shorter than the wander and understates it. (F_HV is set with every F_HK increment,
 * so F_HK ≥ MIN_HOURS means F_HV holds a learned spread.)
 */
export function wanderGate(f: readonly number[], variabilityFactor: number): number {
  const hourScale = f[F_HK]! >= MIN_HOURS && f[F_HV]! >= f[F_ES]! ? 1 : 0;
  return Math.max(f[F_VS]!, hourScale, 1e-9) * variabilityFactor;
}

/**
 * One step of the two-sided CUSUM on z (clipped at `clip`, allowance k), with the recent mean
 * residual of each side (EW, ~10 readings: the size of the shift now, not diluted by the noise
 * that started the excursion), its readings and its start.
 */
export function cusumStep(f: number[], z: number, clip: number, k: number, ts: number): void {
  const zc = z > clip ? clip : z < -clip ? -clip : z;
  if (f[F_SP] === 0) {
    f[F_NP] = 0;
    f[F_ZP] = 0;
    f[F_TP] = ts;
  }
  if (f[F_SN] === 0) {
    f[F_NN] = 0;
    f[F_ZN] = 0;
    f[F_TN] = ts;
  }
  const sp0 = Math.max(0, f[F_SP]! + zc - k);
  const sn0 = Math.max(0, f[F_SN]! - zc - k);
  let np = f[F_NP]!;
  let nn = f[F_NN]!;
  let zp = f[F_ZP]!;
  let zn = f[F_ZN]!;
  if (sp0 > 0) {
    np++;
    zp = np === 1 ? zc : zp + RECENT * (zc - zp);
  }
  if (sn0 > 0) {
    nn++;
    zn = nn === 1 ? -zc : zn + RECENT * (-zc - zn);
  }
  f[F_SP] = compact(sp0);
  f[F_SN] = compact(sn0);
  f[F_NP] = np;
  f[F_NN] = nn;
  f[F_ZP] = compact(zp);
  f[F_ZN] = compact(zn);
}

/**
 * Which way the CUSUM has passed every gate at ts: 1 up, -1 down, 0 neither. A shift needs the
 * decision threshold h, min_run readings and min_duration of event time, a recent mean residual
 * of min_shift σ, and a smoothed residual past the wander gate.
 */
export function shiftSide(f: readonly number[], p: LevelShiftParams, wander: number, ts: number): number {
  const zs = f[F_ZS]!;
  if (f[F_SP]! > p.h && f[F_NP]! >= p.min_run && f[F_ZP]! >= p.min_shift && zs >= wander && ts - f[F_TP]! >= p.min_duration) return 1;
  if (f[F_SN]! > p.h && f[F_NN]! >= p.min_run && f[F_ZN]! >= p.min_shift && -zs >= wander && ts - f[F_TN]! >= p.min_duration) return -1;
  return 0;
}

/**
 * Whether an excursion is building (its readings then teach the level at a quarter weight only).
 * One that has lasted longer than the incident gap ends: if it was reported (`reported`) it is
 * the new level now and is relearned; if it never passed the gates it was the level's own
 * wander, and the CUSUM restarts without relearning, or the baseline would be re-centred on a
 * passing excursion and the return from it would look like the next shift.
 */
export function excursionBuilding(f: number[], p: LevelShiftParams, ts: number, relearning: boolean, reported: boolean): boolean {
  const sp = f[F_SP]!;
  const sn = f[F_SN]!;
  const shifting = !relearning && (sp > p.h / 2 || sn > p.h / 2);
  if (!(shifting && ts - (sp > sn ? f[F_TP]! : f[F_TN]!) > p.incident_gap)) return shifting;
  if (reported) f[F_RL] = ts + p.relearn;
  f[F_SP] = 0;
  f[F_SN] = 0;
  return false;
}

/**
 * The spread the residuals are judged against. Readings of a level that wanders slowly (a
 * drifting transmitter, a process that settles differently each day) are autocorrelated over
 * hours, so their reading-to-reading spread understates how far the level moves on its own. The
 * day-to-day spread of hourly means measures that at the time scale a shift must last to be
 * reported; for white noise it is σ/√(readings per hour) ≤ σ and changes nothing.
 */
export function sigmaOf(f: number[], rg: number[]): number {
  const hv = f[F_HK]! >= MIN_HOURS ? f[F_HV]! : 0;
  // A residual spread learned mostly from idle readings (a count that is 0 most of the day)
  // collapses towards 0; half the series' own step size when it moves keeps "shifts" smaller
  // than one reading step from scoring as many σ.
  const step = 0.5 * regimeNoise(rg);
  return Math.max(f[F_ES]!, hv, step, Math.abs(f[F_GC]!) * 1e-3, 1e-9);
}

/**
 * Fold a centred residual into the current hour; when the hour ends, its mean (relative to the
 * hour-of-day profile, so across days) updates the spread of hourly means. Huber-clipped so a
 * shift that was not reported moves it slowly; hours that raised a finding or were relearning
 * are left out so a reported shift does not teach that shifts are normal.
 */
export function learnHour(f: number[], ts: number, r: number, skip: boolean): void {
  const h = Math.floor(ts / HOUR_MS);
  const hh = f[F_HH]!;
  if (hh !== h) {
    // hh is NaN before the first hour: every comparison with it is false.
    const n = f[F_HN]!;
    if (n > 0 && f[F_HF] === 0 && h > hh) {
      const mean = f[F_HS]! / n;
      const k = f[F_HK]!;
      const hv = f[F_HV]!;
      const a = Math.max(1 / (k + 1), 1 / HOUR_MEMORY);
      const lim = k === 0 ? Infinity : 3 * hv;
      const d = mean < 0 ? -mean : mean;
      const dc = d > lim ? lim : d;
      f[F_HV] = compact(Math.sqrt((1 - a) * hv * hv + a * dc * dc));
      if (k < 1e6) f[F_HK] = k + 1;
    }
    if (h < hh) return; // a late reading from an earlier hour: not part of this one
    f[F_HH] = h;
    f[F_HS] = 0;
    f[F_HN] = 0;
    f[F_HF] = 0;
  }
  if (skip) {
    f[F_HF] = 1;
    return;
  }
  f[F_HS] = compact(f[F_HS]! + r);
  f[F_HN] = f[F_HN]! + 1;
}

/**
 * The smoothed residual (EW over ~10 readings) and its usual size: white noise averages out
 * (spread ≈ 0.23σ), a level that wanders does not, and a shift must stand out from that wander.
 */
export function learnWander(f: number[], z: number, win: number, outlier: boolean, clip: number): void {
  const zc = z > clip ? clip : z < -clip ? -clip : z;
  const zs0 = f[F_ZS]!;
  const zs = zs0 + RECENT * (zc - zs0);
  f[F_ZS] = compact(zs);
  if (outlier) return;
  const a = Math.max(1 / (f[F_EN]! + 1), 1 / win);
  const vs = f[F_VS]!;
  const d = zs < 0 ? -zs : zs;
  const lim = vs > 0 ? 3 * vs : Infinity;
  f[F_VS] = compact((1 - a) * vs + a * ABS_TO_SIGMA * (d > lim ? lim : d));
}
