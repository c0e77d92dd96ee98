import { describe, expect, it } from 'vitest';
import { unusualHour } from '../../src/detectors/unusual_hour.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, conn, make, mqttDevice, rng, run } from './helpers.js';

describe('unusual_hour', () => {
  const officeDevice = (weeks: number) => {
    const r0 = rng(2);
    const evs: ConnectionEvent[] = [];
    for (let t = T0; t < T0 + weeks * 7 * DAY; t += 5 * MIN) {
      const dow = (Math.floor(t / DAY) + 4) % 7;
      // Working hours drift by up to an hour (DST, early shifts).
      const h = ((t / HOUR) % 24) + (r0() - 0.5);
      if (dow >= 1 && dow <= 5 && h >= 7 && h < 18) evs.push(conn('hmi-2', t, '10.20.0.5', 502, { device_class: 'hmi' }));
    }
    return evs;
  };

  it('is quiet on a weekday office rhythm with shifting edges, and fires on a 03:00 Sunday session', () => {
    const evs = officeDevice(3);
    expect(run([make(unusualHour)], evs).latest).toEqual([]);
    const sunday = T0 + 20 * DAY + 3 * HOUR; // T0 is a Monday
    for (let k = 0; k < 10; k++) evs.push(conn('hmi-2', sunday + k * MIN, '10.20.0.5', 22, { device_class: 'hmi' }));
    const r = run([make(unusualHour)], evs.sort((a, b) => a.ts - b.ts));
    expect(r.latest.length).toBe(1);
    assertWellFormed(r.latest[0]!);
    expect(r.latest[0]!.count).toBeGreaterThanOrEqual(8);
    expect(r.latest[0]!.score).toBeLessThanOrEqual(0.55);
  });

  it('never fires for an always-on device', () => {
    expect(run([make(unusualHour)], mqttDevice(10)).latest).toEqual([]);
  });
});
