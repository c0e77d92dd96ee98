/**
 * The bench's results file: the targets it is judged against, the series it keeps for the plot
 * (progress over the measured span, the latency distribution), how it is laid out as text, and
 * where its plot goes. Pure, so the table, the plot and the tests judge a file the same way.
 */

/** [seconds since the measured span started, events handled by then]. */
export type ProgressPoint = [number, number];

export interface Target {
  /** Stable name, for the plot; `target` is the sentence people read. */
  id: 'pipeline' | 'detectors' | 'memory' | 'latency';
  target: string;
  value: number | null;
  /** null: not judged (the phase did not run, failed, or cannot say, as a --quick run on memory). */
  met: boolean | null;
}

/** Issue #7's four targets, judged from a results object's figures. */
export function targets(r: Record<string, unknown>): Target[] {
  const g = (path: string): number | null => {
    let cur: unknown = r;
    for (const k of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
    return typeof cur === 'number' ? cur : null;
  };
  const t = (id: Target['id'], target: string, value: number | null, ok: (v: number) => boolean): Target => ({ id, target, value, met: value === null ? null : ok(value) });
  return [
    t('pipeline', 'full pipeline ≥ 70% of the raw kafkajs ceiling', g('pipeline.ratioToCeiling'), (v) => v >= 0.7),
    t('detectors', 'in-process detectors ≥ 300k events/s on one core', g('detect.fleet.detectEventsPerSec'), (v) => v >= 300_000),
    // Judged only on a run with at least 100k devices: a --quick run's 20k say nothing about it.
    t('memory', 'peak RSS ≤ 1 GiB with 100k active devices (pipeline)', (g('pipeline.devices') ?? 0) >= 100_000 ? g('pipeline.peakRssBytes') : null, (v) => v <= 2 ** 30),
    t('latency', 'p99 event-to-finding latency ≤ 1 s at half max (durable)', g('latency.durable.p99Ms'), (v) => v <= 1000),
  ];
}

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
