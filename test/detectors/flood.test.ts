import { describe, expect, it } from 'vitest';
import { flood } from '../../src/detectors/flood.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, conn, make, maxStateSize, meter, rng, run, scan, sortTs } from './helpers.js';

describe('flood', () => {
  it('is quiet on normal traffic, a firmware download and a backlog flush after an outage', () => {
    const evs = meter(4);
    // Firmware image: large bytes_in from the usual backend.
    for (let i = 0; i < 40; i++) evs.push(conn('meter-1', T0 + 2 * DAY + 5 * HOUR + i * 3000, '10.1.0.11', 443, { device_class: 'smart_meter', src_ip: '10.10.4.17', tls: true, bytes_out: 2000, bytes_in: 1_000_000 }));
    // Outage 06:00–09:00 on day 3, then 40 buffered readings forwarded within a minute.
    const o0 = T0 + 3 * DAY + 6 * HOUR;
    const kept = evs.filter((e) => e.ts < o0 || e.ts > o0 + 3 * HOUR);
    for (let i = 0; i < 40; i++) kept.push(conn('meter-1', o0 + 3 * HOUR + 1000 + i * 1200, '10.1.0.10', 8883, { device_class: 'smart_meter', src_ip: '10.10.4.17', tls: true, bytes_out: 420 }));
    const rk = run([make(flood)], sortTs(kept));
    if (rk.latest.length) console.error(new Date(rk.latest[0]!.first_ts).toISOString(), new Date(o0).toISOString(), rk.latest[0]!.explanation);
    expect(rk.latest).toEqual([]);
  });

  it('fires within a minute on a TCP flood to one host, and on a UDP volume flood', () => {
    const at = T0 + 3 * DAY + 1234;
    const tcp = meter(4);
    for (let i = 0; i < 600; i++) tcp.push(conn('meter-1', at + i * 500, '198.51.100.7', 80, { device_class: 'smart_meter', src_ip: '10.10.4.17', bytes_out: 120 }));
    const r = run([make(flood)], sortTs(tcp));
    expect(r.latest.length).toBe(1);
    const f = r.latest[0]!;
    assertWellFormed(f);
    expect(f.first_ts - at).toBeLessThan(MIN);
    expect(f.evidence.by).toBe('connections');

    const udp = meter(4);
    for (let i = 0; i < 60; i++) udp.push(conn('meter-1', at + i * 10_000, '198.51.100.8', 53, { device_class: 'smart_meter', src_ip: '10.10.4.17', protocol: 'udp', bytes_out: 600_000 }));
    const u = run([make(flood)], sortTs(udp));
    expect(u.latest.length).toBe(1);
    expect(u.latest[0]!.evidence.by).toBe('bytes');
  });

  it('adapts to a device that legitimately talks fast to one host', () => {
    const r0 = rng(3);
    const evs: ConnectionEvent[] = [];
    for (let t = T0; t < T0 + 3 * DAY; t += 1000 + Math.round(r0() * 800)) evs.push(conn('gw-1', t, '10.20.0.5', 502, { bytes_out: 80 }));
    expect(run([make(flood)], evs).latest).toEqual([]);
  });

  it('is deterministic and bounded under a scan', () => {
    const evs = meter(2);
    evs.push(...scan('meter-1', T0 + DAY + 2 * HOUR, 5000));
    // A scan is not a flood; a TCP flood to one host afterwards is.
    const at = T0 + DAY + 8 * HOUR;
    for (let i = 0; i < 600; i++) evs.push(conn('meter-1', at + i * 500, '198.51.100.7', 80, { device_class: 'smart_meter', src_ip: '10.10.4.17', bytes_out: 120 }));
    const det = make(flood);
    const a = run([det], sortTs(evs));
    expect(a.latest.length).toBe(1);
    expect(a.latest[0]!.first_ts).toBeGreaterThanOrEqual(at);
    expect(run([make(flood)], sortTs(evs.slice())).findings).toEqual(a.findings);
    expect(maxStateSize(a, 'flood')).toBeLessThanOrEqual(det.maxStateBytes!);
  });
});
