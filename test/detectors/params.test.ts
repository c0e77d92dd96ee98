import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, withDefaults } from '../../src/detectors/params.js';
import { detectorSpec } from '../../src/detectors/registry.js';

describe('params', () => {
  it('parses durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration(250)).toBe(250);
    for (const bad of ['', '5', 'm5', '5 m', '-5m', '5x', '5m junk', null, {}]) {
      if (bad === '5') continue; // bare numbers are milliseconds
      expect(parseDuration(bad), String(bad)).toBeUndefined();
    }
    expect(parseDuration('5')).toBe(5);
    expect(formatDuration(5_400_000)).toBe('90m');
  });

  it('withDefaults applies defaults, converts durations and rejects unknown keys', () => {
    const spec = detectorSpec('fanout')!;
    const p = withDefaults(spec, { window: '1m' });
    expect(p.window).toBe(60_000);
    expect(p.min_distinct_dst).toBe(40);
    expect(p.incident_gap).toBe(30 * 60_000);
    expect(() => withDefaults(spec, { windw: '1m' } as never)).toThrow(/unknown param/);
    expect(() => withDefaults(spec, { window: 'soon' })).toThrow(/duration/);
  });
});
