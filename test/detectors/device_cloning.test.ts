import { describe, expect, it } from 'vitest';
import { deviceCloning } from '../../src/detectors/device_cloning.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, MIN, T0, assertWellFormed, conn, make, run } from './helpers.js';

describe('device_cloning', () => {
  it('ignores an address change, fires on two live sources alternating', () => {
    const evs: ConnectionEvent[] = [];
    let t = T0;
    for (; t < T0 + 2 * DAY; t += MIN) evs.push(conn('m-42', t, '10.0.0.1', 1883, { src_ip: t < T0 + 1.5 * DAY ? '10.1.4.17' : '10.1.4.99' }));
    expect(run([make(deviceCloning)], evs).latest).toEqual([]);
    for (let k = 0; k < 20; k++) evs.push(conn('m-42', (t += 20_000), '10.0.0.1', 1883, { src_ip: k % 2 ? '10.9.0.250' : '10.1.4.99' }));
    const r = run([make(deviceCloning)], evs);
    expect(r.latest.length).toBe(1);
    assertWellFormed(r.latest[0]!);
    expect(r.latest[0]!.evidence.addresses).toEqual(['10.1.4.99', '10.9.0.250']);
  });

  it('a device multi-homed during learning only fires for a new address', () => {
    const evs: ConnectionEvent[] = [];
    let t = T0;
    for (let k = 0; t < T0 + 2 * DAY; k++) evs.push(conn('gw', (t += 30_000), '10.0.0.1', 443, { src_ip: k % 2 ? '10.0.0.2' : '192.168.1.2' }));
    expect(run([make(deviceCloning)], evs).latest).toEqual([]);
    for (let k = 0; k < 20; k++) evs.push(conn('gw', (t += 10_000), '10.0.0.1', 443, { src_ip: k % 2 ? '10.66.0.9' : '10.0.0.2' }));
    expect(run([make(deviceCloning)], evs).latest.length).toBe(1);
  });
});
