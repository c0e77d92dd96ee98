/**
 * metric_relation's residuals: each judged channel's reading minus what its neighbours imply,
 * standardised by a robust centre and spread learned per operating point, with the recent mean
 * of that z, its usual wander and daily peak, and the run of readings off in one direction.
 */
import { compact } from '../lib/compact.js';
import { ABS_TO_SIGMA } from '../lib/robust.js';
import { DAY_MS } from '../lib/time.js';
import { orZero } from '../flat.js';
import { BINS, F_B, F_C, F_DD, F_DL, F_DX, F_K, F_LR, F_M, F_ND, F_PK, F_R2, F_RUN, F_S, F_SP, F_TR, F_UH, F_UL, F_V, F_W, V_JT } from './state.js';
import type { Fit, MetricRelationState } from './state.js';
import type { Reading } from './channels.js';
import type { MetricRelationParams } from './detector.js';

/** Residual statistics: memory, readings before judging, Huber clip. */
const RES_WINDOW = 500;
export const RES_WARM = 48;
const HUBER = 4;
/**
 * Recent mean of the clipped z: weight, and the clip of one reading's contribution. (level_shift
 * has its own, 0.1: each detector's recent mean is tuned to what it smooths.)
 */
const RECENT = 1 / 6;
const Z_CLIP = 20;
/** Standard deviation of that mean for white residuals: its floor. */
export const V_WHITE = Math.sqrt(RECENT / (2 - RECENT));
const PEAK_MEMORY_DAYS = 7;
/** A reading off by more than this (σ) does not teach the fit. */
const LEARN_Z = 4;

/**
 * The residual of every channel whose fit explains it to min_r2 (rd.z, rd.sc), learned into its
 * statistics unless a finding is open (and not relearning). Returns how many channels were
 * judged; rd.off says one was off by more than LEARN_Z, rd.worst which was the most off (-1:
 * none warm yet). A pause longer than the incident gap restarts the runs: a run of broken
 * readings before it says nothing about now.
 */
export function residuals(s: MetricRelationState, fits: Fit[], rd: Reading, ts: number, p: MetricRelationParams, relearning: boolean): number {
  const sv = s.v;
  const d = s.ch!.length;
  const D = 2 * d;
  if (ts - sv[V_JT]! > p.incident_gap) {
    for (let j = 0; j < fits.length; j++) {
      const g = fits[j]!;
      g[F_RUN] = 0;
      g[F_M] = 0;
    }
  }
  sv[V_JT] = ts;
  const z = rd.z;
  const y0 = rd.y[0]!;
  const y1 = rd.y[1]!;
  const mu0 = s.mu![0]!;
  const mu1 = s.mu![1]!;
  let worst = -1;
  let worstZ = 0;
  let off = false;
  let judged = 0;
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
    rd.sc[j] = sc;
    const frozen = s.ik !== undefined && !relearning;
    learnResidual(f, r, zj, ts, frozen, p.min_shift);
    learnBin(f, bi, r, zj, frozen);
    if (f[F_K]! < RES_WARM) continue;
    const az = zj < 0 ? -zj : zj;
    if (az > LEARN_Z) off = true;
    if (az > worstZ) {
      worstZ = az;
      worst = j;
    }
  }
  rd.off = off;
  rd.worst = worst;
  return judged;
}

/**
 * A break is opened only while every channel reads within the range the relations were seen to
 * hold over, widened by this many of its marginal σ: a linear fit learned on one infusion rate
 * or at half speed says little about the next rate or full speed (pressure rises with the square
 * of speed), and there a disagreement is the fit extrapolating, not a falsified reading. A
 * falsified reading that leaves the range is far outside what the metric has shown, which the
 * univariate detectors (metric_baseline, range_limits) report.
 */
const RANGE_MARGIN = 0.5;

/** Whether every channel reads within the range the relations were seen to hold over; unknown ranges count as within. */
export function inRange(s: MetricRelationState, fits: Fit[], y0: Float64Array): boolean {
  const sd = s.sd?.[0];
  for (let j = 0; j < fits.length; j++) {
    const f = fits[j]!;
    const m = RANGE_MARGIN * (sd?.[j] ?? 0);
    if (y0[j]! < f[F_UL]! - m || y0[j]! > f[F_UH]! + m) return false;
  }
  return true;
}

/** Widen each channel's range to its raw value in a reading that agreed with every fit. */
export function learnRange(fits: Fit[], y0: Float64Array): void {
  for (let j = 0; j < fits.length; j++) {
    const f = fits[j]!;
    const v = y0[j]!;
    if (!(v >= f[F_UL]!)) f[F_UL] = compact(v);
    if (!(v <= f[F_UH]!)) f[F_UH] = compact(v);
  }
}

/** Residual centre and spread (Huber-clipped EW) and the usual wander of the recent mean. */
function learnResidual(f: Fit, r: number, z: number, ts: number, frozen: boolean, minShift: number): void {
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
        let dl = orZero(f[F_DL]!);
        const lr = f[F_LR]!;
        if (lr === lr && dl > 3 * lr) dl = 3 * lr;
        f[F_LR] = compact(lr !== lr ? dl : lr + a * (dl - lr));
        f[F_ND] = nd + 1;
      }
      f[F_DD] = day;
      f[F_DX] = 0;
      f[F_DL] = 0;
    }
    if (day === f[F_DD]) {
      const am = m < 0 ? -m : m;
      if (am > f[F_DX]!) f[F_DX] = compact(am);
    }
  }
  const thr = minShift;
  const run0 = f[F_RUN]!;
  let run: number;
  if (z >= thr) run = run0 > 0 ? run0 + 1 : 1;
  else if (z <= -thr) run = run0 < 0 ? run0 - 1 : -1;
  else run = 0;
  f[F_RUN] = run;
  if (run !== 0 && (run0 === 0 || run0 > 0 !== run > 0)) f[F_TR] = ts;
  if (run !== 0 && k >= RES_WARM && day === f[F_DD]) {
    const dur = ts - f[F_TR]!;
    if (!(dur <= f[F_DL]!)) f[F_DL] = dur;
  }
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
