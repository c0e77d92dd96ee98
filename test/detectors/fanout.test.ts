import { describe, expect, it } from 'vitest';
import { fanout } from '../../src/detectors/fanout.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, HOUR, T0, assertWellFormed, conn, make, maxStateSize, plcTraffic, rng, run } from './helpers.js';

describe('fanout', () => {
  it('is quiet on normal traffic and fires once on a horizontal scan', () => {
    const evs = plcTraffic(1);
    const quiet = run([make(fanout)], evs);
    expect(quiet.latest).toEqual([]);
    const at = T0 + 20 * HOUR;
    const scan: ConnectionEvent[] = [];
    for (let k = 0; k < 200; k++) scan.push(conn('plc-07', at + k * 300, `10.20.${Math.floor(k / 250)}.${k % 250}`, 502));
    const all = [...evs, ...scan].sort((a, b) => a.ts - b.ts);
    const r = run([make(fanout)], all);
    const h = r.latest.filter((f) => f.key === 'horizontal');
    expect(h.length).toBe(1);
    assertWellFormed(h[0]!);
    expect(h[0]!.count).toBeGreaterThan(100);
    expect(h[0]!.score).toBeGreaterThanOrEqual(0.5);
    expect(r.latest.filter((f) => f.key === 'vertical')).toEqual([]);
  });

  it('fires on a vertical port scan of one host', () => {
    const evs = plcTraffic(1);
    const at = T0 + 20 * HOUR;
    for (let k = 0; k < 100; k++) evs.push(conn('plc-07', at + k * 100, '10.20.0.1', 1 + k));
    const r = run([make(fanout)], evs.sort((a, b) => a.ts - b.ts));
    const v = r.latest.filter((f) => f.key === 'vertical');
    expect(v.length).toBe(1);
    expect(v[0]!.mitre).toContain('T1046');
  });

  it("adapts to a gateway's normal fan-out", () => {
    const r0 = rng(2);
    const evs: ConnectionEvent[] = [];
    // 45 distinct sensors per 5 minutes is this gateway's normal.
    for (let t = T0; t < T0 + DAY; t += 5000) evs.push(conn('gw', t, `10.30.0.${Math.floor(r0() * 45)}`, 1883, { device_class: 'gateway' }));
    const r = run([make(fanout)], evs);
    // Warm-up may flag the first windows against the fixed minimum; afterwards it is quiet.
    expect(r.latest.filter((f) => f.last_ts > T0 + 2 * HOUR)).toEqual([]);
  });

  it('state stays bounded under a huge scan', () => {
    const evs: ConnectionEvent[] = [];
    for (let k = 0; k < 50_000; k++) evs.push(conn('x', T0 + k * 10, `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, k % 65535));
    const det = make(fanout);
    const r = run([det], evs);
    expect(maxStateSize(r, 'fanout')).toBeLessThanOrEqual(det.maxStateBytes!);
    expect(r.latest.length).toBe(2);
  });
});
