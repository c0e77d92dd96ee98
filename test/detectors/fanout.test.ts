import { describe, expect, it } from 'vitest';
import { fanout } from '../../src/detectors/fanout.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, conn, make, maxStateSize, plcTraffic, rng, run } from './helpers.js';

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

/** A meter's day: its backend every 15 minutes, NTP hourly, DNS now and then. */
function meterTraffic(days: number): ConnectionEvent[] {
  const evs: ConnectionEvent[] = [];
  const r = rng(7);
  for (let t = T0; t < T0 + days * 24 * HOUR; t += 15 * MIN) {
    evs.push(conn('m-1', t, '203.0.113.10', 8883, { device_class: 'smart_meter' }));
    if (t % HOUR === 0) evs.push(conn('m-1', t + 5_000, '10.1.0.123', 123, { device_class: 'smart_meter' }));
    if (r() < 0.2) evs.push(conn('m-1', t + 9_000, `10.1.0.${53 + Math.floor(r() * 2)}`, 53, { device_class: 'smart_meter' }));
  }
  return evs;
}

/** A worm probing `perMin` random addresses a minute for `minutes`. */
function slowScan(at: number, perMin: number, minutes: number): ConnectionEvent[] {
  const r = rng(11);
  const evs: ConnectionEvent[] = [];
  const n = perMin * minutes;
  for (let k = 0; k < n; k++) {
    const ip = `${11 + Math.floor(r() * 200)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`;
    evs.push(conn('m-1', at + Math.round((k * 60_000) / perMin), ip, 37215, { device_class: 'smart_meter' }));
  }
  return evs;
}

describe('fanout over the slow window', () => {
  it('finds a scan too slow for the short window (6 hosts a minute) once, and names the slow window', () => {
    const base = meterTraffic(2);
    const at = T0 + 30 * HOUR;
    const all = [...base, ...slowScan(at, 6, 70)].sort((a, b) => a.ts - b.ts);
    // The short window alone (the slow one made unreachable) does not see it: under 40 per 5 minutes.
    const short = run([make(fanout, { slow_min_distinct_dst: 100_000, max_tracked: 8192 })], all);
    expect(short.latest).toEqual([]);
    const r = run([make(fanout)], all);
    expect(r.latest.length).toBe(1);
    const f = r.latest[0]!;
    expect(f.key).toBe('horizontal');
    expect(f.severity).not.toBe('info');
    expect(f.evidence.window_ms).toBe(HOUR);
    expect(f.first_ts).toBeGreaterThan(at);
    expect(f.first_ts).toBeLessThan(at + 70 * MIN);
  });

  it('stays quiet on the same device without the scan, and on a device that always reaches many hosts an hour', () => {
    expect(run([make(fanout)], meterTraffic(3)).latest).toEqual([]);
    // A gateway reaching ~150 distinct hosts an hour by design, learned as its normal.
    const r0 = rng(3);
    const evs: ConnectionEvent[] = [];
    for (let t = T0; t < T0 + 3 * 24 * HOUR; t += 20_000) evs.push(conn('gw', t, `10.40.${Math.floor(r0() * 3)}.${Math.floor(r0() * 60)}`, 1883, { device_class: 'gateway' }));
    const g = run([make(fanout)], evs);
    expect(g.latest.filter((f) => f.last_ts > T0 + 3 * HOUR)).toEqual([]);
  });

  it('reports a fast scan once and ends it with the scan: its destinations, still in the slow window, neither extend it nor raise a second finding', () => {
    const at = T0 + 30 * HOUR + 20 * MIN;
    // 600 hosts in 10 minutes (more than the 512 tracked: its own backend is pushed out), then
    // the device's ordinary traffic again.
    const all = [...meterTraffic(2), ...slowScan(at, 60, 10)].sort((a, b) => a.ts - b.ts);
    const r = run([make(fanout)], all);
    expect(r.latest.map((f) => f.key)).toEqual(['horizontal']);
    // The device's ordinary traffic afterwards does not keep the finding open (its backend, pushed
    // out of the tracked hosts, may extend it once, as any new host would).
    expect(r.latest[0]!.last_ts).toBeLessThanOrEqual(at + 25 * MIN);
  });

  it('keeps its state bounded under a long slow scan', () => {
    const det = make(fanout);
    const r = run([det], [...meterTraffic(1), ...slowScan(T0 + 10 * HOUR, 8, 600)].sort((a, b) => a.ts - b.ts));
    expect(maxStateSize(r, 'fanout')).toBeLessThanOrEqual(det.maxStateBytes!);
  });
});
