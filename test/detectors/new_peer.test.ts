import { describe, expect, it } from 'vitest';
import { newPeer } from '../../src/detectors/new_peer.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, conn, make, maxStateSize, plcTraffic, rng, run } from './helpers.js';

describe('new_peer', () => {
  it('is quiet on a steady device and during learning, and fires high on a new internet peer on a new port', () => {
    const evs = plcTraffic(3);
    // During learning: a new peer is learned silently.
    evs.splice(100, 0, conn('plc-07', evs[99]!.ts + 1, '10.20.0.3', 502));
    expect(run([make(newPeer)], evs).latest).toEqual([]);
    const at = T0 + 2 * DAY + 5 * HOUR;
    const i = evs.findIndex((e) => e.ts > at);
    evs.splice(i, 0, conn('plc-07', at, '203.0.113.9', 4444));
    const r = run([make(newPeer)], evs);
    expect(r.latest.length).toBe(1);
    const f = r.latest[0]!;
    assertWellFormed(f);
    expect(f.key).toBe('203.0.113.9:4444');
    expect(f.score).toBeGreaterThanOrEqual(0.7);
    expect(f.evidence.external).toBe(true);
  });

  it('scores a new internal host on a familiar port lower than a new internet port', () => {
    const evs = plcTraffic(2);
    evs.push(conn('plc-07', T0 + 2 * DAY + MIN, '10.20.0.4', 502));
    evs.push(conn('plc-07', T0 + 2 * DAY + 2 * MIN, '198.51.100.7', 8080));
    const r = run([make(newPeer, { min_score: 0 })], evs);
    const internal = r.latest.find((f) => f.key === '10.20.0.4:502')!;
    const ext = r.latest.find((f) => f.key === '198.51.100.7:8080')!;
    expect(internal.score).toBeLessThan(ext.score);
    expect(internal.score).toBeLessThan(0.5);
  });

  it('repeat contact with the new peer extends one finding', () => {
    const evs = plcTraffic(2);
    for (let k = 0; k < 5; k++) evs.push(conn('plc-07', T0 + 2 * DAY + k * MIN, '203.0.113.9', 4444));
    const r = run([make(newPeer)], evs);
    expect(r.latest.length).toBe(1);
    // Updates are throttled (raiseThrottled): versions at counts 1, 2 and 4, the fifth contact a
    // minute later only counted; one six minutes after it is stored with the exact count.
    expect(r.findings.map((f) => f.count)).toEqual([1, 2, 4]);
    evs.push(conn('plc-07', T0 + 2 * DAY + 10 * MIN, '203.0.113.9', 4444));
    const r2 = run([make(newPeer)], evs);
    expect(r2.latest.length).toBe(1);
    expect(r2.latest[0]!.count).toBe(6);
  });

  it('stays quiet on a gateway whose cloud endpoint rotates IPs', () => {
    const r0 = rng(4);
    const evs: ConnectionEvent[] = [];
    for (let t = T0; t < T0 + 5 * DAY; t += 60_000) {
      // A new address in 52.x every ~2 hours (DNS load balancing), same port.
      const ip = `52.1.${Math.floor((t - T0) / (2 * HOUR)) % 250}.${10 + Math.floor(r0() * 3)}`;
      evs.push(conn('gw-1', t, ip, 8883, { device_class: 'gateway' }));
    }
    const r = run([make(newPeer)], evs);
    expect(r.latest.filter((f) => f.score >= 0.5)).toEqual([]);
  });

  it('is deterministic and bounded with thousands of distinct peers', () => {
    // A PLC's usual polling, thousands of random peers while it learns, then one new internet peer.
    const evs = plcTraffic(3, 'noisy');
    const r0 = rng(8);
    for (let i = 0; i < 20_000; i++) {
      evs.push(conn('noisy', T0 + i * 3600, `10.${Math.floor(r0() * 255)}.${Math.floor(r0() * 255)}.${Math.floor(r0() * 255)}`, 1 + Math.floor(r0() * 65535)));
    }
    evs.push(conn('noisy', T0 + 2 * DAY + 5 * HOUR, '203.0.113.9', 4444));
    evs.sort((x, y) => x.ts - y.ts);
    const det = make(newPeer);
    const a = run([det], evs);
    const b = run([make(newPeer)], evs);
    expect(a.findings.length, 'determinism is shown on findings, not on silence').toBeGreaterThan(0);
    expect(JSON.stringify(a.findings)).toBe(JSON.stringify(b.findings));
    expect(maxStateSize(a, 'new_peer')).toBeLessThanOrEqual(det.maxStateBytes!);
  });
});
