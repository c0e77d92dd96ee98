import { describe, expect, it } from 'vitest';
import { rangeLimits } from '../../src/detectors/range_limits.js';
import { T0, assertWellFormed, make, reading, run } from './helpers.js';

describe('range_limits', () => {
  it('fires on values outside limits with class overrides, from the first reading', () => {
    const det = make(rangeLimits, { limits: { voltage: { min: 0, max: 480 } }, class_limits: { smart_meter: { voltage: { min: 180, max: 260 } } } });
    const evs = [
      reading(T0, { voltage: 300 }), // fine for a generic sensor
      reading(T0 + 1, { voltage: 300 }, { device_id: 'm', device_class: 'smart_meter' }),
      reading(T0 + 2, { voltage: 900 }, { device_id: 'm', device_class: 'smart_meter' }),
      reading(T0 + 3, { voltage: -5 }),
    ];
    const r = run([det], evs);
    const m = r.latest.filter((f) => f.device_id === 'm');
    expect(m.length).toBe(1);
    expect(m[0]!.count).toBe(2);
    expect(m[0]!.score).toBe(0.8);
    expect(r.latest.filter((f) => f.device_id === 'dev-1').length).toBe(1);
    for (const f of r.latest) assertWellFormed(f);
  });
});
