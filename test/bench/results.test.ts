import { describe, expect, it } from 'vitest';
import { targets } from '../../bench/results.js';

/** A results object as the bench writes it, with only the figures the targets read. */
const results = (o: { ratio?: number; detect?: number; rss?: number; devices?: number; p99?: number }) => ({
  ...(o.detect !== undefined ? { detect: { fleet: { detectEventsPerSec: o.detect } } } : {}),
  pipeline: { ratioToCeiling: o.ratio, peakRssBytes: o.rss, devices: o.devices },
  ...(o.p99 !== undefined ? { latency: { durable: { p99Ms: o.p99 } } } : {}),
});
const target = (r: ReturnType<typeof targets>, about: string) => r.find((t) => t.target.includes(about));

describe('bench targets', () => {
  it('judges each figure against its target', () => {
    const t = targets(results({ ratio: 0.71, detect: 250_000, rss: 2 ** 30, devices: 100_000, p99: 1001 }));
    expect(target(t, '70%')).toMatchObject({ value: 0.71, met: true });
    expect(target(t, '300k')).toMatchObject({ value: 250_000, met: false });
    expect(target(t, '1 GiB')).toMatchObject({ value: 2 ** 30, met: true });
    expect(target(t, 'p99')).toMatchObject({ value: 1001, met: false });
  });

  it('does not judge the memory target on a run with fewer than 100k devices (a --quick run)', () => {
    expect(target(targets(results({ rss: 700 * 2 ** 20, devices: 20_000 })), '1 GiB')).toMatchObject({ value: null, met: null });
    expect(target(targets(results({ rss: 1741 * 2 ** 20, devices: 100_000 })), '1 GiB')).toMatchObject({ value: 1741 * 2 ** 20, met: false });
  });

  it('leaves a phase that did not run unjudged', () => {
    const t = targets({});
    expect(t.map((x) => x.id)).toEqual(['pipeline', 'detectors', 'memory', 'latency']);
    for (const x of t) expect(x).toMatchObject({ value: null, met: null });
  });
});
