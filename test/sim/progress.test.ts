import { describe, expect, it } from 'vitest';
import { createProgress, formatCount, formatClock, renderBar } from '../../src/cli/progress.js';

describe('progress bar', () => {
  it('formats durations, counts and the bar', () => {
    expect(formatClock(65_000)).toBe('01:05');
    expect(formatClock(3_725_000)).toBe('1:02:05');
    expect(formatClock(Number.NaN)).toBe('--:--');
    expect(formatCount(1234)).toBe('1234');
    expect(formatCount(12_345)).toBe('12.3k');
    expect(formatCount(6_330_000)).toBe('6.33M');
    const line = renderBar('sim', 0.5, 1000, 250, 4000, 'events', 10);
    expect(line).toBe('sim █████░░░░░  50.0% 1000 events 250/s ETA 00:04');
  });

  it('draws only on a terminal unless forced, and always summarises', () => {
    const chunks: string[] = [];
    const stream = { isTTY: false, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream;
    let t = 0;
    const bar = createProgress({ label: 'x', stream, now: () => t });
    bar.update(0.5, 10);
    expect(chunks).toEqual([]);
    t = 2000;
    bar.done();
    expect(chunks).toEqual(['x: 10 events in 00:02 (5 events/s)\n']);
    const forced: string[] = [];
    const b2 = createProgress({ label: 'y', stream: { isTTY: false, write: (s: string) => (forced.push(s), true) } as unknown as NodeJS.WriteStream, force: true, now: () => t });
    t = 3000;
    b2.update(0.25, 5);
    expect(forced[0]).toMatch(/^\ry .* 25\.0% 5 events/);
  });
});
