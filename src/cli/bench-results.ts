/**
 * The bench's results file: the series it keeps for the plot (progress over the measured span,
 * the latency distribution), how it is laid out as text, and where its plot goes. Pure, so the
 * shapes the plot reads are tested without running a benchmark.
 */
import type { ProgressPoint } from './bench-plot.js';

/**
 * The measured span of a (wall ms, events) trace as [seconds since `first`, events]: from the
 * poll that still saw nothing (0 events) to the one at which the counter last moved (`total`,
 * which the trace, sampled more sparsely than the polls, may not hold).
 */
export function progressOver(trace: ReadonlyArray<readonly [number, number]>, first: number | null, last: number | null, total: number): ProgressPoint[] {
  if (first === null || last === null || !(last > first)) return [];
  const out: ProgressPoint[] = [[0, 0]];
  for (const [t, n] of trace) if (t > first && t < last) out.push([Math.round(t - first) / 1000, n]);
  out.push([Math.round(last - first) / 1000, total]);
  return out;
}

/**
 * The 1st, 2nd, … 100th percentile of ascending samples (nearest rank). Ranks are computed in
 * integers: (i + 1) / 100 × n in floating point lands one rank high for some i (0.07 × 100).
 */
export function percentiles(sorted: readonly number[]): number[] {
  const n = sorted.length;
  if (!n) return [];
  return Array.from({ length: 100 }, (_v, i) => sorted[Math.max(0, Math.ceil(((i + 1) * n) / 100) - 1)]!);
}

/**
 * results.json text: indented, but a list of numbers (a series point, a CDF) on one line. The
 * lists are swapped for tokens while JSON.stringify indents, so text inside strings (an error
 * message quoting "[0, 1]") is never touched.
 */
export function resultsJson(results: Record<string, unknown>): string {
  const lists: string[] = [];
  const token = (i: number) => `\u0000nums${i}\u0000`;
  const text = JSON.stringify(
    results,
    (_k, v: unknown) => {
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        lists.push(JSON.stringify(v));
        return token(lists.length - 1);
      }
      return v;
    },
    2,
  );
  // A token is a JSON string ("\u0000nums3\u0000" as JSON.stringify escapes it): swap it whole.
  return text.replace(/"\\u0000nums(\d+)\\u0000"/g, (_m, i: string) => lists[Number(i)]!) + '\n';
}

/** bench/results.json → bench/results.svg. */
export const svgBeside = (jsonFile: string): string => jsonFile.replace(/\.json$/i, '') + '.svg';
