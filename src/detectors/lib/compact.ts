/**
 * Round to ~6 significant digits so checkpointed state stays compact as JSON. On the hot path
 * (several calls per metric per event), so the decade is found by comparisons for ordinary
 * magnitudes instead of log10/pow. Kept as one function on purpose: a smaller compact (rare
 * magnitudes out of line, a table scan) made TurboFan spend level_shift.observe's inlining budget
 * on learnBucket instead of the tiny time helpers, and steady-state garbage went from ~37 to ~240
 * B/event (boxed ts arguments and compact results).
 */
export function compact(x: number): number {
  const a = x < 0 ? -x : x;
  let p: number;
  if (a >= 1) {
    if (a < 10) p = 1e5;
    else if (a < 100) p = 1e4;
    else if (a < 1000) p = 1e3;
    else if (a < 1e4) p = 100;
    else if (a < 1e5) p = 10;
    else if (a < 1e6) p = 1;
    else if (Number.isInteger(x) || !Number.isFinite(x)) return x;
    else p = Math.pow(10, 5 - Math.floor(Math.log10(a)));
  } else if (a >= 0.1) p = 1e6;
  else if (a >= 0.01) p = 1e7;
  else if (a >= 0.001) p = 1e8;
  else if (a === 0) return x;
  else {
    const e = 5 - Math.floor(Math.log10(a));
    // Below 1e-303 the scale 10^e overflows to Infinity (and x·∞/∞ is NaN): scale in two steps.
    if (e > 308) {
      const q = Math.pow(10, e - 300);
      return Math.round(x * 1e300 * q) / q / 1e300;
    }
    p = Math.pow(10, e);
  }
  return Math.round(x * p) / p;
}
