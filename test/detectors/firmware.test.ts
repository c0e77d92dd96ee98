import { describe, expect, it } from 'vitest';
import { firmwareChange } from '../../src/detectors/firmware.js';
import { DAY, HOUR, T0, make, reading, run } from './helpers.js';

describe('firmware_change', () => {
  it('upgrade is low, downgrade is high, late stale readings are not downgrades', () => {
    const evs = [
      reading(T0, { v: 1 }, { firmware: '4.2.1' }),
      reading(T0 + HOUR, { v: 1 }, { firmware: '4.10.0' }),
      reading(T0 + HOUR - 1000, { v: 1 }, { firmware: '4.2.1' }), // late, from before the upgrade
      reading(T0 + 2 * DAY, { v: 1 }, { firmware: '4.2.1' }),
    ];
    const r = run([make(firmwareChange)], evs);
    const byKey = Object.fromEntries(r.latest.map((f) => [f.key, f]));
    expect(Object.keys(byKey).sort()).toEqual(['change', 'downgrade']);
    expect(byKey.change!.severity).toBe('low');
    expect(byKey.downgrade!.severity).toBe('high');
    expect(byKey.downgrade!.explanation).toContain('4.10.0');
  });

  it('a reported downgrade, its re-flash and the next rollout are not also "flapping" at medium; real flapping is', () => {
    const evs = [
      reading(T0, { v: 1 }, { firmware: '2.9.0' }),
      reading(T0 + 2 * DAY, { v: 1 }, { firmware: '2.5.1' }), // downgrade (high)
      reading(T0 + 2 * DAY + 3 * HOUR, { v: 1 }, { firmware: '2.9.0' }), // re-flashed
      reading(T0 + 2 * DAY + 9 * HOUR, { v: 1 }, { firmware: '3.0.0' }), // the fleet rollout
    ];
    const r = run([make(firmwareChange)], evs);
    const byKey = Object.fromEntries(r.latest.map((f) => [f.key, f]));
    expect(byKey.downgrade!.severity).toBe('high');
    expect(byKey.flapping!.severity).toBe('low');
    // Upgrades back and forth with no downgrade on record: flapping stays medium.
    const flap = [
      reading(T0, { v: 1 }, { firmware: '1.0.0' }),
      reading(T0 + HOUR, { v: 1 }, { firmware: '1.1.0' }),
      reading(T0 + 2 * HOUR, { v: 1 }, { firmware: '1.2.0' }),
      reading(T0 + 3 * HOUR, { v: 1 }, { firmware: '1.3.0' }),
    ];
    expect(run([make(firmwareChange)], flap).latest.find((f) => f.key === 'flapping')!.severity).toBe('medium');
  });
});
