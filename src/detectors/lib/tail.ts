/**
 * Peaks-over-threshold tail model of one series' own robust z-scores, after SPOT/DSPOT (Siffer
 * et al., KDD 2017): exceedances of |z| over a fixed threshold are modelled by a Generalised
 * Pareto distribution fitted to the series' own past peaks, so a z that is routine for this
 * metric (a bimodal battery, refuels, Poisson counts, load switching) is not scored as rare,
 * while a light-tailed metric keeps its sensitivity.
 *
 * State is seven numbers (exponentially forgotten sums, so memory is O(1) and the model follows
 * the present): [readings, upper exceedances, Σ excess, Σ excess², lower exceedances, Σ excess,
 * Σ excess²]. The GPD is fitted by the method of moments, shrunk towards a prior that is a bit
 * heavier than a Gaussian tail, so a series with few peaks is neither trusted blindly nor
 * considered infinitely quiet.
 */
export const TAIL_T = 3;
/** Prior exceedance rate per side and its weight in readings. */
const TAIL_PHI0 = 0.002;
const TAIL_N0 = 500;
/** Prior mean excess over TAIL_T (σ; a Gaussian's is ≈ 0.28) and its weight in peaks. */
const TAIL_M0 = 0.5;
const TAIL_K0 = 4;
/** Shape bounds: ξ < 0 (a bounded tail) is never trusted, since it would make values just past
 * the largest peak "impossible"; ξ is kept below 0.5 where the moments still exist. */
const TAIL_XI_MAX = 0.45;

export function tailNew(): number[] {
  return [0, 0, 0, 0, 0, 0, 0];
}

/** Fold one signed z in; `learnPeak` false counts the reading but not its excess (anomalies). */
export function tailUpdate(t: number[], z: number, memory: number, learnPeak = true): void {
  const lam = t[0]! + 1 >= memory ? 1 - 1 / memory : 1;
  if (lam < 1) for (let i = 0; i < 7; i++) t[i] = t[i]! * lam;
  t[0] = t[0]! + 1;
  const a = z < 0 ? -z : z;
  if (!learnPeak || a <= TAIL_T) return;
  const o = z > 0 ? 1 : 4;
  const y = a - TAIL_T;
  t[o] = t[o]! + 1;
  t[o + 1] = t[o + 1]! + y;
  t[o + 2] = t[o + 2]! + y * y;
}

/**
 * One-sided tail probability P(Z ≥ z) on the side of z's sign, under the series' own tail.
 * Below the threshold the model has no opinion and returns the exceedance rate bound 1.
 */
export function tailP(t: readonly number[], z: number): number {
  const a = z < 0 ? -z : z;
  if (!(a > TAIL_T)) return 1;
  const o = z > 0 ? 1 : 4;
  const k = t[o]!;
  const phi = (k + TAIL_PHI0 * TAIL_N0) / (t[0]! + TAIL_N0);
  const m = (t[o + 1]! + TAIL_K0 * TAIL_M0) / (k + TAIL_K0);
  const e2 = (t[o + 2]! + TAIL_K0 * 2 * TAIL_M0 * TAIL_M0) / (k + TAIL_K0);
  const v = e2 - m * m;
  let xi = v > 0 ? 0.5 * (1 - (m * m) / v) : 0;
  xi = xi < 0 ? 0 : xi > TAIL_XI_MAX ? TAIL_XI_MAX : xi;
  const sigma = m * (1 - xi);
  const y = a - TAIL_T;
  const sf = xi > 1e-6 ? Math.pow(1 + (xi * y) / sigma, -1 / xi) : Math.exp(-y / sigma);
  const p = phi * sf;
  return p > 1 ? 1 : p;
}
