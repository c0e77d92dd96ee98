import { describe, expect, it } from 'vitest';
import { exfiltration } from '../../src/detectors/exfiltration.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, HOUR, T0, assertWellFormed, conn, make, meter, rng, run, sortTs } from './helpers.js';

describe('exfiltration', () => {
  it('is quiet on a daily volume cycle and fires on a large upload', () => {
    const r0 = rng(7);
    const evs: ConnectionEvent[] = [];
    for (let t = T0; t < T0 + 5 * DAY; t += 30_000) {
      const hour = (t / HOUR) % 24;
      const day = 1 + 0.7 * Math.sin((2 * Math.PI * (hour - 6)) / 24);
      evs.push(conn('cam-12', t, '10.0.0.9', 443, { device_class: 'camera', bytes_out: Math.round(150_000 * day * (0.5 + r0())) }));
    }
    expect(run([make(exfiltration)], evs).latest).toEqual([]);
    const at = T0 + 4 * DAY + 2 * HOUR;
    for (let k = 0; k < 20; k++) evs.push(conn('cam-12', at + k * 60_000, '203.0.113.50', 443, { device_class: 'camera', bytes_out: 100 * 1024 * 1024 }));
    const r = run([make(exfiltration)], evs.sort((a, b) => a.ts - b.ts));
    expect(r.latest.length).toBe(1);
    const f = r.latest[0]!;
    assertWellFormed(f);
    expect(f.score).toBeGreaterThanOrEqual(0.5);
    expect((f.evidence.top_destinations as Array<{ ip: string }>)[0]!.ip).toBe('203.0.113.50');
  });
});

describe('exfiltration floor', () => {
  it('catches a few MB to a drop site from a device that sends kilobytes', () => {
    const evs = meter(5);
    const at = T0 + 4 * DAY + 12 * HOUR;
    for (let i = 0; i < 9; i++) evs.push(conn('meter-1', at + i * 100_000, '118.33.95.190', 443, { device_class: 'smart_meter', src_ip: '10.10.4.17', tls: true, bytes_out: 330_000 }));
    const r = run([make(exfiltration)], sortTs(evs));
    expect(r.latest.length).toBe(1);
    assertWellFormed(r.latest[0]!);
  });
});
