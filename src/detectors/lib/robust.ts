/** Robust statistics: median/MAD of small buffers, and a running robust centre/spread (RobustStat). */
import { compact } from './compact.js';

/** √(π/2): E|Z| of a standard normal is √(2/π), so a mean |deviation| times this is σ. */
export const ABS_TO_SIGMA = 1.2533;
/** The MAD of a normal sample times this is its σ. */
export const MAD_TO_SIGMA = 1.4826;

/** Scratch for median/mad: warm-up buffers are small, and sorting a copy per call was most of the young garbage. */
let scratch = new Float64Array(64);

/** Sort xs[start, start + n) into scratch (insertion sort: n is a warm-up buffer, a few dozen at most). */
function sortedIntoScratch(xs: readonly number[], start: number, n: number, center: number, absDev: boolean): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
  const s = scratch;
  for (let i = 0; i < n; i++) {
    let v = xs[start + i]!;
    if (absDev) v = Math.abs(v - center);
    let j = i - 1;
    while (j >= 0 && s[j]! > v) {
      s[j + 1] = s[j]!;
      j--;
    }
    s[j + 1] = v;
  }
  return s;
}

function middle(s: Float64Array, n: number): number {
  if (n === 0) return NaN;
  const mid = n >> 1;
  return n % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function median(xs: readonly number[]): number {
  return middle(sortedIntoScratch(xs, 0, xs.length, 0, false), xs.length);
}

/** Median absolute deviation around `center`. */
export function mad(xs: readonly number[], center: number): number {
  return middle(sortedIntoScratch(xs, 0, xs.length, center, true), xs.length);
}

/** median() of xs[start, start + n), for a buffer kept inside a flat state array. */
export function medianRange(xs: readonly number[], start: number, n: number): number {
  return middle(sortedIntoScratch(xs, start, n, 0, false), n);
}

/** mad() of xs[start, start + n). */
export function madRange(xs: readonly number[], start: number, n: number, center: number): number {
  return middle(sortedIntoScratch(xs, start, n, center, true), n);
}


/**
 * A robust running centre/spread for one stream of numbers: median/MAD of the first INIT
 * samples, then a Huber-clipped EWMA. Plain JSON so it can live in detector state.
 */
export interface RobustStat {
  n: number;
  c: number;
  s: number;
  w?: number[];
}

export const ROBUST_INIT = 16;

export function robustNew(): RobustStat {
  return { n: 0, c: 0, s: 0, w: [] };
}

export function robustReady(r: RobustStat): boolean {
  return r.w === undefined;
}

/**
 * Fold x in with weight max(1/n, 1/window). `outlier` readings move the centre at a quarter
 * weight and leave the spread alone, so an anomaly neither hides itself nor widens the baseline.
 * `floor` bounds σ from below when clipping (resolution, relative floor).
 */
export function robustUpdate(r: RobustStat, x: number, window: number, outlier = false, floor = 0): void {
  if (r.w !== undefined) {
    r.w.push(x);
    r.n++;
    if (r.w.length >= ROBUST_INIT) {
      const c = median(r.w);
      r.c = compact(c);
      r.s = compact(MAD_TO_SIGMA * mad(r.w, c));
      delete r.w;
    }
    return;
  }
  const a = Math.max(1 / (r.n + 1), 1 / window);
  const sg = Math.max(r.s, floor, 1e-12);
  const d = x - r.c;
  const clip = 3 * sg;
  const cd = d > clip ? clip : d < -clip ? -clip : d;
  if (outlier) r.c = compact(r.c + 0.25 * a * cd);
  else {
    r.c = compact(r.c + a * cd);
    r.s = compact((1 - a) * r.s + a * ABS_TO_SIGMA * Math.abs(cd));
  }
  if (r.n < 1e9) r.n++;
}
