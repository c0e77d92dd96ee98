import { describe, expect, it } from 'vitest';
import { withDefaults } from '../../src/detectors/params.js';
import { detectorSpec } from '../../src/detectors/registry.js';

describe('params', () => {
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
