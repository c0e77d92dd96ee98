import { compact } from './compact.js';
import { ABS_TO_SIGMA } from './robust.js';

/**
 * The levels a series has occupied over its history, with how long it dwelt at each: a handful
 * of centroids (online clustering with merging, so state is fixed). Operating modes (engine
 * on/off, store open/closed, line running/stopped, a full tank) are levels a series returns to
 * for real time, again and again; an anomaly is a level it has not occupied. Change detectors
 * consult this so that a return to a known level is not reported as a shift, whatever the hour,
 * while a level outside every known one (by several of its spreads) still is.
 *
 * Layout (plain numbers, so it lives in JSON state): [noise, previous value, index of the last
 * matched centroid, moves seen (capped at NOISE_MEAN_N), then (centre, spread, dwell ms, visits)
 * × up to REGIME_K]. Visits (arrivals from a distinct level) are kept as evidence of how the
 * level was occupied. `noise` is the reading-to-reading spread (Huber-clipped so level jumps
 * barely move it): it floors every centroid's spread, because a level held with no noise at all
 * (0 rpm) still differs from a level one sensor step away only by resolution.
 */
const REGIME_K = 8;
/** A value within this many spreads of a centroid belongs to it. */
const REGIME_MATCH = 3;
/** Learning-rate floor of a centroid, so a level that drifts slowly is followed. */
const REGIME_ALPHA = 0.005;
/** One reading stands for at most this much dwell (gaps and outages are not dwell). */
const REGIME_MAX_DT = 3_600_000;
const REGIME_HDR = 4;
const RS = 4;
/** Length of a regime array with every level slot taken. */
export const REGIME_FULL = REGIME_HDR + RS * REGIME_K;
/**
 * The noise is the plain mean of the first NOISE_MEAN_N moves, then an EWMA with NOISE_ALPHA;
 * the Huber clip applies from the NOISE_CLIP_AFTER-th move, once the mean is worth clipping at.
 */
const NOISE_MEAN_N = 100;
const NOISE_ALPHA = 0.01;
const NOISE_CLIP_AFTER = 5;

/** The reading-to-reading spread of the series when it moves (0 until it has moved). */
export function regimeNoise(r: readonly number[]): number {
  return r[0]!;
}

export function regimeNew(): number[] {
  return [0, 0, 0, 0];
}

/**
 * A checkpointed regime array in the current layout, or undefined when it is not one. Arrays of
 * the previous layout (three header numbers, no move count) are migrated: their noise estimate
 * is kept and counted as fully learned.
 */
export function regimeRevive(r: number[]): number[] | undefined {
  if (r.length >= REGIME_HDR && (r.length - REGIME_HDR) % RS === 0 && r.length <= REGIME_FULL) return r;
  if (r.length < 3 || (r.length - 3) % RS !== 0 || r.length > REGIME_FULL - 1) return undefined;
  const out = r.slice();
  out.splice(3, 0, NOISE_MEAN_N);
  if (out[2]! >= 3) out[2] = out[2]! + 1;
  return out;
}

function regimeFloor(r: readonly number[], x: number): number {
  const ax = x < 0 ? -x : x;
  return Math.max(r[0]!, ax * 1e-4, 1e-9);
}

/** Fold one reading in, `dt` ms after the previous one. */
export function regimeUpdate(r: number[], x: number, dt: number): void {
  // No centroid yet means no previous reading (NaN would not survive a JSON checkpoint).
  const prev = r[1]!;
  const d = r.length > REGIME_HDR ? (x > prev ? x - prev : prev - x) : 0;
  // Only readings that moved: a series that holds still for long stretches (0 rpm, a closed
  // store's 0 transactions) would otherwise report no noise at all, and a quantised series would
  // split into one zero-width level per step. Mean |Δ| of white noise is 1.128σ, so the estimate
  // (mean |Δ| / 1.595) is ~0.71σ; clipped at 3× so level changes barely count.
  // An EWMA started at 0 and clipped at 3× itself grows by at most 2% a reading: it took
  // hundreds of readings to reach the series' noise, and until then every reading was a level
  // of its own. The plain mean of the first moves has no such start-up bias.
  if (d > 0) {
    const nz = r[0]!;
    const k = r[3]! + 1;
    const lim = k > NOISE_CLIP_AFTER ? 3 * 1.595 * nz : d;
    r[0] = nz + (k < NOISE_MEAN_N ? 1 / k : NOISE_ALPHA) * ((d > lim ? lim : d) / 1.595 - nz);
    if (k <= NOISE_MEAN_N) r[3] = k;
  }
  r[1] = x;
  const w = dt > REGIME_MAX_DT ? REGIME_MAX_DT : dt > 0 ? dt : 0;
  const fl = regimeFloor(r, x);
  // A series mostly stays in the level it was in: try that one first, scan only when it left.
  let best = r[2]!;
  let bd = Infinity;
  if (best >= REGIME_HDR && best < r.length) {
    const c = r[best]!;
    const sp = r[best + 1]!;
    bd = (x > c ? x - c : c - x) / (sp > fl ? sp : fl);
  }
  if (!(bd <= REGIME_MATCH)) {
    for (let i = REGIME_HDR; i < r.length; i += RS) {
      const s = Math.max(r[i + 1]!, fl);
      const d = (x > r[i]! ? x - r[i]! : r[i]! - x) / s;
      if (d < bd) {
        bd = d;
        best = i;
      }
    }
  }
  if (best >= REGIME_HDR && bd <= REGIME_MATCH) {
    // A visit is an arrival from a distinct level: noise bouncing between two neighbouring
    // centroids (a level drifting through) is one stay, not many returns.
    const from = r[2]!;
    if (from !== best && from >= REGIME_HDR && from < r.length) {
      const gap = Math.abs(r[from]! - r[best]!) / Math.max(r[from + 1]!, r[best + 1]!, fl);
      if (gap > 2 * REGIME_MATCH) r[best + 3] = r[best + 3]! + 1;
    }
    r[2] = best;
    const wt = r[best + 2]!;
    let a = w > 0 ? w / (wt + w) : 0;
    if (a < REGIME_ALPHA) a = REGIME_ALPHA;
    const d = x - r[best]!;
    // Not compacted on this hot path: full doubles stay within the documented state bound.
    r[best] = r[best]! + a * d;
    r[best + 1] = (1 - a) * r[best + 1]! + a * ABS_TO_SIGMA * (d < 0 ? -d : d);
    r[best + 2] = wt + w;
    return;
  }
  let at = r.length;
  // A full array stays full: the merge frees its last slot in place, so it never reallocates.
  if (at >= REGIME_HDR + RS * REGIME_K) {
    regimeMerge(r, fl);
    at -= RS;
  }
  r[2] = at;
  r[at] = compact(x);
  r[at + 1] = 0;
  r[at + 2] = compact(w);
  r[at + 3] = 1;
}

/**
 * regimeUpdate for a regime array kept in state: returns the array to keep, an exact-size copy
 * when the reading opened a level. Push leaves ~16 spare slots and most series hold one or two
 * levels; a copy per growth (at most REGIME_K in a series' life) keeps them out of the heap.
 */
export function regimeFold(r: number[], x: number, dt: number): number[] {
  const len = r.length;
  regimeUpdate(r, x, dt);
  return r.length !== len ? r.slice() : r;
}

/**
 * Make room: the least occupied level (a transient, a one-off) is folded into its nearest
 * neighbour, which then covers both. Well-occupied levels stay distinct, and this is O(K). The
 * levels after it move down one slot, leaving the last slot for the caller to fill (the length
 * is unchanged).
 */
function regimeMerge(r: number[], fl: number): void {
  let bi = REGIME_HDR;
  for (let i = REGIME_HDR + RS; i < r.length; i += RS) if (r[i + 2]! < r[bi + 2]!) bi = i;
  let bj = -1;
  let bd = Infinity;
  for (let j = REGIME_HDR; j < r.length; j += RS) {
    if (j === bi) continue;
    const d = Math.abs(r[bi]! - r[j]!) / (Math.max(r[bi + 1]!, fl) + Math.max(r[j + 1]!, fl));
    if (d < bd) {
      bd = d;
      bj = j;
    }
  }
  const wi = r[bi + 2]!;
  const wj = r[bj + 2]!;
  const w = wi + wj;
  const fi = w > 0 ? wi / w : 0.5;
  const fj = 1 - fi;
  const c = fi * r[bi]! + fj * r[bj]!;
  const di = r[bi]! - c;
  const dj = r[bj]! - c;
  const v = fi * (r[bi + 1]! ** 2 + di * di) + fj * (r[bj + 1]! ** 2 + dj * dj);
  r[bj] = compact(c);
  r[bj + 1] = compact(Math.sqrt(v));
  r[bj + 2] = compact(w);
  // Folding transients in is not returning: visits do not add up.
  r[bj + 3] = Math.max(r[bi + 3]!, r[bj + 3]!);
  // As splice(bi, RS) but without allocating the removed slice.
  const n = r.length - RS;
  for (let k = bi; k < n; k++) r[k] = r[k + RS]!;
  r[2] = -1;
}

/**
 * Whether x lies in a level the series has frequently occupied: within REGIME_MATCH spreads of a
 * centroid holding at least `minDwell` ms and `minShare` of all dwell. A level occupied for a
 * moment (a transient passed through, a drift on its way) does not count.
 */
export function regimeKnown(r: readonly number[], x: number, minDwell: number, minShare: number): boolean {
  let total = 0;
  for (let i = REGIME_HDR + 2; i < r.length; i += RS) total += r[i]!;
  const fl = regimeFloor(r, x);
  for (let i = REGIME_HDR; i < r.length; i += RS) {
    const w = r[i + 2]!;
    if (w < minDwell || w < minShare * total) continue;
    const s = Math.max(r[i + 1]!, fl);
    if ((x > r[i]! ? x - r[i]! : r[i]! - x) <= REGIME_MATCH * s) return true;
  }
  return false;
}

/**
 * Signed distance of x from the nearest frequently occupied level, in that level's own spreads
 * (floored at the series' step noise), and that level's centre. In a series with several
 * operating modes this is the yardstick the global spread is not: a value 8σ above the running
 * level is novel even when the modes lie 100σ apart. Null when no level is known yet.
 */
export function regimeDistance(r: readonly number[], x: number, minDwell: number, minShare: number): { z: number; c: number } | null {
  return regimeDistanceInto(r, x, minDwell, minShare, DIST) ? { z: DIST[0]!, c: DIST[1]! } : null;
}

const DIST = [0, 0];

/**
 * regimeDistance for the per-reading path, without allocating: writes z to out[0] and the level's
 * centre to out[1] and returns true, or returns false (out untouched) when no level is known yet.
 */
export function regimeDistanceInto(r: readonly number[], x: number, minDwell: number, minShare: number, out: number[]): boolean {
  let total = 0;
  for (let i = REGIME_HDR + 2; i < r.length; i += RS) total += r[i]!;
  const fl = regimeFloor(r, x);
  let best = -1;
  let bz = Infinity;
  for (let i = REGIME_HDR; i < r.length; i += RS) {
    const w = r[i + 2]!;
    if (w < minDwell || w < minShare * total) continue;
    const d = (x - r[i]!) / Math.max(r[i + 1]!, fl);
    if (Math.abs(d) < Math.abs(bz)) {
      bz = d;
      best = i;
    }
  }
  if (best < 0) return false;
  out[0] = bz;
  out[1] = r[best]!;
  return true;
}
