import { describe, expect, it } from 'vitest';
import { benchSvg, niceMax, rateSeries } from '../../bench/plot.js';
import { percentiles, progressOver, resultsJson, targets, type ProgressPoint } from '../../bench/results.js';

/** A results object shaped as `npm run bench` writes it, with round figures. */
function fullResults(): Record<string, unknown> {
  const r: Record<string, unknown> = {
    machine: { cpu: 'Test <CPU> & co', cores: 2, memoryGiB: 16, node: 'v20.0.0', kafka: '4.4.0', commit: 'abc1234', date: '2026-11-26T08:00:00.000Z' },
    config: { events: 1_000_000, devices: 100_000, partitions: 8 },
    detect: {
      fleet: { detectEventsPerSec: 125_000 },
      mature: { detectEventsPerSec: 100_000 },
      breakdown: [
        { detector: '(engine only)', usPerEvent: 1 },
        { detector: 'cheap_one', usPerEvent: 1.05 },
        { detector: 'big_one', usPerEvent: 3.5 },
        { detector: 'mid_one', usPerEvent: 2 },
        { detector: 'free_one', usPerEvent: 0.9 },
        { detector: '(pipeline detectors)', usPerEvent: 9 },
      ],
    },
    ceiling: {
      eventsPerSec: 200_000,
      cpu: { usPerEvent: { main: 4, workers: 0, helpers: 1, clickhouse: 0, total: 5, broker: 0.5 } },
      progress: [
        [0, 0],
        [1, 200_000],
        [2, 400_000],
        [5, 1_000_000],
      ],
    },
    pipeline: {
      eventsPerSec: 100_000,
      devices: 100_000,
      peakRssBytes: 1536 * 2 ** 20,
      memoryAtPeak: { heapTotal: 100 * 2 ** 20, workers: [{ total: 400 * 2 ** 20, used: 300 * 2 ** 20 }], rssAnon: 1300 * 2 ** 20, rssFile: 236 * 2 ** 20 },
      ratioToCeiling: 0.5,
      cpu: { usPerEvent: { main: 3, workers: 10, helpers: 4, clickhouse: 0.2, total: 17.2, broker: 1 } },
      progress: [
        [0, 0],
        [1, 100_000],
        [2, 250_000],
        [10, 1_000_000],
      ],
    },
    latency: {
      offeredEventsPerSec: 50_000,
      durable: { p50Ms: 100, p90Ms: 300, p99Ms: 700, maxMs: 900, cdfMs: Array.from({ length: 100 }, (_v, i) => 10 * (i + 1)) },
      detected: { p50Ms: 40, p90Ms: 100, p99Ms: 300, maxMs: 400 },
    },
  };
  r.targets = targets(r);
  return r;
}

/** Text of every <text> element, in document order. */
const texts = (svg: string): string[] => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

describe('bench plot', () => {
  it('turns cumulative progress into rates over whole steps, keeping the last partial one', () => {
    const pts: ProgressPoint[] = [
      [0, 0],
      [0.25, 100],
      [0.5, 200],
      [1, 400],
      [1.5, 500],
      [1.7, 600],
    ];
    expect(rateSeries(pts)).toEqual([
      [1, 400],
      [1.7, expect.closeTo(200 / 0.7, 6)],
    ]);
    // Half-second steps: the 0.2 s left after 1.5 s is under half a step, so it extends that step.
    expect(rateSeries(pts, 0.5)).toEqual([
      [0.5, 400],
      [1, 400],
      [1.7, expect.closeTo(200 / 0.7, 6)],
    ]);
    expect(rateSeries([[0, 0]])).toEqual([]);
    // A last batch 10 ms after a step boundary extends that step instead of drawing a spike.
    expect(
      rateSeries([
        [0, 0],
        [1, 1000],
        [2, 2000],
        [2.01, 2500],
      ]),
    ).toEqual([
      [1, 1000],
      [2.01, expect.closeTo(1500 / 1.01, 6)],
    ]);
  });

  it('rounds axis maxima up to a readable value', () => {
    expect(niceMax(7.28)).toBe(8);
    expect(niceMax(12.2)).toBe(15);
    expect(niceMax(1000)).toBe(1000);
    expect(niceMax(1001)).toBe(1500);
    expect(niceMax(0)).toBe(1);
  });

  it('keeps the measured span of a progress trace, relative to its start', () => {
    const trace: Array<[number, number]> = [
      [1000, 0],
      [1250, 0],
      [1500, 50],
      [1750, 90],
      [2000, 100],
      [2250, 120],
    ];
    // first: the last poll that saw nothing (1250); last: when the counter last moved (2300,
    // between two trace samples), at 130 events.
    expect(progressOver(trace, 1250, 2300, 130)).toEqual([
      [0, 0],
      [0.25, 50],
      [0.5, 90],
      [0.75, 100],
      [1, 120],
      [1.05, 130],
    ]);
    expect(progressOver(trace, null, null, 0)).toEqual([]);
  });

  it('writes number lists on one line and stays the same JSON', () => {
    const error = 'offsets [12, 13] of partitions [ 0 ] were not committed';
    const r = { a: [1, 2.5, -3e-7], b: { c: [[0, 1], [2, 3]], s: ['x', 'y'] }, n: 4, empty: [], error, '[1, 2]': true };
    const text = resultsJson(r);
    expect(JSON.parse(text)).toEqual(r);
    expect(text).toContain('"a": [1,2.5,-3e-7]');
    expect(text).toContain('[0,1]');
    // Text inside strings, keys included, is left exactly as it was.
    expect(text).toContain(JSON.stringify(error));
    expect(text).toContain('"[1, 2]": true');
    // Lists of strings are left as JSON.stringify indents them.
    expect(text).toMatch(/"s": \[\n\s+"x",\n\s+"y"\n\s+\]/);
  });

  it('takes percentiles by nearest rank, without floating-point rank errors', () => {
    const xs = Array.from({ length: 100 }, (_v, i) => i + 1);
    // With 100 samples the k-th percentile is the k-th sample; 0.07 × 100 in floating point is 7.000000000000001.
    expect(percentiles(xs)).toEqual(xs);
    const few = [10, 20, 30];
    const p = percentiles(few);
    expect(p).toHaveLength(100);
    expect([p[0], p[32], p[33], p[65], p[66], p[99]]).toEqual([10, 10, 20, 20, 30, 30]);
    expect(percentiles([])).toEqual([]);
  });

  it('draws every panel with its target, the CPU budget and the detectors by cost', () => {
    const svg = benchSvg(fullResults());
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    expect(svg.match(/<g /g)?.length).toBe(svg.match(/<\/g>/g)?.length);
    expect(svg).toContain('Test &lt;CPU&gt; &amp; co');
    const t = texts(svg);
    // Targets: pipeline at 50% of the ceiling, detectors at 125k/s and 1.5 GiB are not met; p99 700 ms is.
    expect(t).toContain('target: ≥ 70% of the ceiling — ✗ not met');
    expect(t).toContain('target: ≥ 300k events/s (3.33 µs per event) — ✗ not met');
    expect(t).toContain('target: ≤ 1 GiB with 100k devices — ✗ not met');
    expect(t).toContain('target: p99 ≤ 1 s (durable) — ✓ met');
    // 2 cores over 70% of 200k events/s.
    expect(t).toContain('14.29 µs: all 2 cores at 70% of the ceiling');
    expect(t).toContain('18.20 µs'); // the pipeline's threads and the broker
    // Detectors less the engine, most expensive first; the ones within noise folded into one row.
    const order = ['big_one', 'mid_one'].map((d) => t.indexOf(d));
    expect(order[0]).toBeGreaterThan(-1);
    expect(order[0]).toBeLessThan(order[1]!);
    expect(t).toContain('2 more, each &lt; 0.1');
    expect(t).toContain('cheap_one, free_one');
    expect(t).toContain('peak 1536 MiB');
    // The fixture's parts sum to its peak, so there is no disagreement to report.
    expect(svg).not.toContain('The parts sum to');
  });

  it('says when the memory parts do not add up to the peak, and why', () => {
    const r = fullResults();
    const m = (r.pipeline as Record<string, Record<string, unknown>>).memoryAtPeak!;
    // Heaps held beyond the anonymous RSS sampled with them: not all of a held heap is resident.
    m.workers = [{ total: 1300 * 2 ** 20, used: 300 * 2 ** 20 }];
    const t = texts(benchSvg(r));
    expect(t.find((x) => x.startsWith('The parts sum to'))).toMatch(/^The parts sum to 1636 MiB, not the peak: the heaps held exceed the RSS sampled with them by 100 MiB \(held is not all resident\)\.$/);
  });

  it('draws bars to scale', () => {
    const svg = benchSvg(fullResults());
    const width = (title: string): number => {
      const m = svg.match(new RegExp(`<rect[^>]*width="([\\d.]+)"[^>]*><title>${title}`));
      if (!m) throw new Error(`no bar titled ${title}`);
      return Number(m[1]);
    };
    // Detection workers (10 µs) against the main thread (3 µs) of the same row and axis.
    expect(width('full pipeline · detection workers') / width('full pipeline · main thread')).toBeCloseTo(10 / 3, 1);
    expect(width('big_one') / width('mid_one')).toBeCloseTo(2.5, 1);
  });

  it('says what is missing instead of drawing nothing or failing', () => {
    const svg = benchSvg({});
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    const t = texts(svg);
    expect(t).toContain('No ceiling or pipeline phase in this results file.');
    expect(t).toContain('No latency phase in this results file.');
    expect(t).toContain('No pipeline memory figures in this results file.');
    // A failed phase says so, with the first line of its error.
    const r = fullResults();
    r.latency = { error: 'broker went away\n    at Something (file.js:1)' };
    expect(texts(benchSvg(r))).toContain('The latency phase failed: broker went away');
  });

  it('falls back to average bars and quantile points for results without series', () => {
    const r = fullResults();
    delete (r.ceiling as Record<string, unknown>).progress;
    delete (r.pipeline as Record<string, unknown>).progress;
    delete ((r.latency as Record<string, unknown>).durable as Record<string, unknown>).cdfMs;
    // Verdicts come from the figures, not from the file's own list (older files' lack ids).
    delete r.targets;
    const svg = benchSvg(r);
    expect(texts(svg).filter((x) => x.startsWith('target: '))).toEqual([
      'target: ≥ 70% of the ceiling — ✗ not met',
      'target: ≥ 300k events/s (3.33 µs per event) — ✗ not met',
      'target: ≤ 1 GiB with 100k devices — ✗ not met',
      'target: p99 ≤ 1 s (durable) — ✓ met',
    ]);
    expect(texts(svg)).toContain('70% of the ceiling');
    expect(svg).toMatch(/<title>ceiling · events\/s: 200\.0k events\/s<\/title>/);
    // Durable and detected curves from p50/p90/p99/max: four points each.
    const paths = [...svg.matchAll(/<path d="([^"]+)"[^>]*><title>(durable|detected)/g)];
    expect(paths).toHaveLength(2);
    for (const p of paths) expect(p[1]!.split('L')).toHaveLength(4);
  });
});
