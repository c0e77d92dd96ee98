import { describe, expect, it } from 'vitest';
import { authFailures } from '../../src/detectors/auth_failures.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, conn, make, run } from './helpers.js';

describe('auth_failures', () => {
  it('fires on a burst, then higher on a success after it; quiet on sporadic failures', () => {
    const evs: ConnectionEvent[] = [];
    for (let t = T0; t < T0 + DAY; t += 30 * MIN) evs.push(conn('hmi-2', t, '10.20.0.5', 22, { auth: 'failed' }));
    expect(run([make(authFailures)], evs).latest).toEqual([]);
    const at = T0 + DAY + HOUR;
    for (let k = 0; k < 48; k++) evs.push(conn('hmi-2', at + k * 10_000, '10.20.0.5', 22, { auth: 'failed' }));
    evs.push(conn('hmi-2', at + 48 * 10_000, '10.20.0.5', 22, { auth: 'ok' }));
    const r = run([make(authFailures)], evs);
    const burst = r.latest.find((f) => f.key === 'burst')!;
    const win = r.latest.find((f) => f.key === 'success_after_failures')!;
    assertWellFormed(burst);
    assertWellFormed(win);
    // Versions are throttled (see raiseThrottled): the stored count may lag, never exceed.
    expect(burst.count).toBeGreaterThanOrEqual(16);
    expect(burst.count).toBeLessThanOrEqual(29);
    expect(win.score).toBeGreaterThan(burst.score - 0.2);
    expect(win.severity).toBe('high');
  });
});

describe('auth_failures success', () => {
  it('a routine login to the own backend after guessing at a neighbour is not a successful brute force', () => {
    const evs: ConnectionEvent[] = [];
    const at = T0 + DAY;
    for (let k = 0; k < 30; k++) evs.push(conn('veh-1', at + k * 3000, '100.116.2.9', 23, { auth: 'failed' }));
    evs.push(conn('veh-1', at + 31 * 3000, '203.0.113.10', 8883, { auth: 'ok', tls: true }));
    const r = run([make(authFailures)], evs);
    expect(r.latest.map((f) => f.key)).toEqual(['burst']);
  });
});
