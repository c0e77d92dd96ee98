/**
 * metric_relation's fit: EW means and co-moments of the channels and their lagged companions in
 * both spaces, and from them, periodically, every channel's least-squares fit on all the others.
 */
import { compact } from '../lib/compact.js';
import { learnRate } from '../lib/lifecycle.js';
import { doubles } from '../flat.js';
import { BINS, F_B, F_K, F_M, F_R2, F_RUN, F_SP, F_V, F_W, SPACES, V_N, V_N1, V_RT, V_T0, newFit } from './state.js';
import type { MetricRelationState } from './state.js';

/** Readings between refits. */
const REFIT = 32;
/** Ridge on the correlation matrix's diagonal (constant channels stay invertible). */
const RIDGE = 1e-6;
/** Once judging, refits are at least this far apart in event time. */
const REFIT_MIN_MS = 15 * 60_000;
/**
 * Every channel also enters lagged (EW with a 15-minute time constant, whatever the cadence), so
 * relations with inertia (a temperature that follows production with a delay) are fitted rather
 * than broken at every start-up. A channel's own companion never explains it (that would be
 * autoregression, which absorbs a lasting offset).
 */
const COMPANION_MS = 15 * 60_000;

/** A channel reached 0 before the first fit: only the log space starts over (the raw-space fit is unaffected). */
export function restartLogSpace(s: MetricRelationState): void {
  const D = 2 * s.ch!.length;
  s.mu![1] = doubles(D, 0);
  s.cv![1] = doubles((D * (D + 1)) / 2, 0);
  s.v[V_N1] = 0;
  s.sm = undefined;
}

/**
 * Lagged companions, after a gap of `gap` ms since the previous reading: the value before this
 * reading enters the fit (y[d + i]), then moves on towards this one. Steps are Huber-limited (3σ
 * of the channel, once a full learning period of `learning` ms has shown its range): one absurd
 * reading (a counter jump, a second source's values) cannot poison the lagged value for hours.
 */
export function stepCompanions(s: MetricRelationState, y: Float64Array[], ts: number, gap: number, learning: number): void {
  const d = s.ch!.length;
  const sv = s.v;
  const sm = (s.sm ??= [copyOf(y[0]!, d), copyOf(y[1]!, d)]);
  const ca = gap > 0 && gap < Infinity ? 1 - Math.exp(-gap / COMPANION_MS) : 1;
  for (let sp = 0; sp < SPACES; sp++) {
    const ys = y[sp]!;
    const c = sm[sp]!;
    const sd = ts - sv[V_T0]! >= learning ? s.sd?.[sp] : undefined;
    for (let i = 0; i < d; i++) {
      const ci = c[i]!;
      ys[d + i] = ci;
      let step = ys[i]! - ci;
      const lim = sd !== undefined ? 3 * sd[i]! : Infinity;
      if (lim > 0) step = step > lim ? lim : step < -lim ? -lim : step;
      c[i] = ci + ca * step;
    }
  }
}

/**
 * After a reading (`n` accepted before it): the fit learns from readings that agree with it, never
 * from a break in progress (`quiet`: no open finding, nothing off). A device whose metrics, once
 * learned, have no strong relation at all (most vital signs, a line that never changes its
 * production level: `judged` 0) keeps watching at an eighth of the cost. Refit every REFIT
 * readings; once judging (`warm`), at most every REFIT_MIN_MS, and only every 8·REFIT readings on a
 * device with nothing strong enough to judge.
 */
export function learnRelations(s: MetricRelationState, y: Float64Array[], ts: number, window: number, warm: boolean, judged: number, relearning: boolean, quiet: boolean): void {
  const sv = s.v;
  const n = sv[V_N]!;
  const D = 2 * s.ch!.length;
  const idle = warm && judged === 0 && (n & 7) !== 0;
  if (!idle && (relearning || quiet)) learn(s, y, window, relearning);
  const n1 = (sv[V_N] = n + 1);
  if (n1 % REFIT === 0 || s.f === undefined) {
    const rt = sv[V_RT]!;
    const due = !warm || (n1 % (judged === 0 ? 8 * REFIT : REFIT) === 0 && ts - (rt === rt ? rt : 0) >= REFIT_MIN_MS);
    if (n1 >= Math.max(2 * REFIT, 8 * D) && (due || s.f === undefined)) {
      refit(s);
      sv[V_RT] = ts;
    }
  }
}

/** Fold the current reading into the EW means and co-moments of both spaces. */
function learn(s: MetricRelationState, y: Float64Array[], window: number, fast: boolean): void {
  const d = 2 * s.ch!.length;
  const sv = s.v;
  const n = sv[V_N]!;
  const n1 = sv[V_N1] === sv[V_N1] ? sv[V_N1]! : n;
  for (let sp = 0; sp < SPACES; sp++) {
    const a = learnRate(sp === 0 ? n : n1, 1 / window, fast);
    const b = 1 - a;
    const ys = y[sp]!;
    const mu = s.mu![sp]!;
    const cv = s.cv![sp]!;
    let t = 0;
    for (let i = 0; i < d; i++) {
      const di = ys[i]! - mu[i]!;
      for (let j = i; j < d; j++) {
        cv[t] = b * (cv[t]! + a * di * (ys[j]! - mu[j]!));
        t++;
      }
    }
    for (let i = 0; i < d; i++) mu[i] = mu[i]! + a * (ys[i]! - mu[i]!);
  }
  sv[V_N1] = n1 + 1;
}

/**
 * Every channel's fit on all the others (and their lagged companions, not its own), from the
 * precision matrix Θ of each space: conditioning on everything else and then integrating out
 * the channel's own companion leaves a 2×2 block of Θ to invert per channel.
 */
function refit(s: MetricRelationState): void {
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
