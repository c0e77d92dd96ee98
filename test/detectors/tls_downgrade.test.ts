import { describe, expect, it } from 'vitest';
import { tlsDowngrade } from '../../src/detectors/tls_downgrade.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, conn, make, maxStateSize, meter, rng, run, sortTs } from './helpers.js';

describe('tls_downgrade', () => {
  it('is quiet on a device with TLS and plaintext-by-design services, fires when its TLS port goes plaintext', () => {
    const evs = meter(4);
    expect(run([make(tlsDowngrade)], evs).latest).toEqual([]);
    const at = T0 + 3 * DAY;
    const bad = evs.map((e) => (e.ts >= at && e.ts < at + 3 * HOUR && e.dst_port === 8883 ? { ...e, tls: false } : e));
    const r = run([make(tlsDowngrade)], bad);
    expect(r.latest.length).toBe(1);
    const f = r.latest[0]!;
    assertWellFormed(f);
    expect(f.evidence.matched_by).toBe('port');
    expect(f.score).toBeGreaterThanOrEqual(0.6);
    expect(f.count).toBeGreaterThan(5);
    expect(f.first_ts).toBeGreaterThanOrEqual(at);
  });

  it('catches a move to the cleartext port of the same protocol', () => {
    const evs = meter(4);
    const at = T0 + 3 * DAY;
    const bad = evs.map((e) => (e.ts >= at && e.dst_port === 8883 ? { ...e, dst_port: 1883, tls: false } : e));
    const r = run([make(tlsDowngrade)], bad);
    expect(r.latest.length).toBe(1);
    expect(r.latest[0]!.evidence.matched_by).toBe('app');
    expect(r.latest[0]!.severity).not.toBe('low');
  });

  it('says nothing during learning, on events without tls, or on a service that is sometimes plaintext', () => {
    const evs = meter(3);
    // Plaintext from the start (learning) and a mixed service: HTTP and HTTPS to one host.
    const r0 = rng(4);
    for (let t = T0; t < T0 + 3 * DAY; t += 20 * MIN) evs.push(conn('meter-1', t + 1000, '10.1.0.20', 8080, { device_class: 'smart_meter', src_ip: '10.10.4.17', app_protocol: 'http', tls: r0() < 0.7 }));
    const noTls = evs.map((e) => (e.dst_port === 8883 && e.ts > T0 + 2 * DAY ? (({ tls: _t, ...rest }) => rest)(e) : e)) as ConnectionEvent[];
    expect(run([make(tlsDowngrade)], sortTs(noTls)).latest).toEqual([]);
    const early = meter(3).map((e) => (e.ts < T0 + 6 * HOUR && e.dst_port === 8883 ? { ...e, tls: false } : e));
    expect(run([make(tlsDowngrade)], early).latest).toEqual([]);
  });

  it('a plaintext OCSP-style check to the TLS backend host is low at most', () => {
    const evs = meter(4);
    evs.push(conn('meter-1', T0 + 3 * DAY, '10.1.0.10', 80, { device_class: 'smart_meter', src_ip: '10.10.4.17', app_protocol: 'http', tls: false }));
    const r = run([make(tlsDowngrade)], sortTs(evs));
    for (const f of r.latest) expect(f.score).toBeLessThan(0.5);
  });

  it('is deterministic and bounded', () => {
    const evs = meter(3);
    const r0 = rng(2);
    for (let i = 0; i < 3000; i++) evs.push(conn('meter-1', T0 + 2 * DAY + i * 1000, `10.${Math.floor(r0() * 255)}.${Math.floor(r0() * 255)}.${Math.floor(r0() * 255)}`, 1000 + i, { device_class: 'smart_meter', app_protocol: `p${i}`, tls: r0() < 0.5 }));
    // After the sweep, its MQTT port goes plaintext: the finding must survive the churn.
    for (const e of evs) if (e.ts >= T0 + 2 * DAY + 2 * HOUR && e.dst_port === 8883) e.tls = false;
    const det = make(tlsDowngrade);
    const a = run([det], sortTs(evs));
    const b = run([make(tlsDowngrade)], sortTs(evs.slice()));
    expect(a.findings.length, 'determinism is shown on findings, not on silence').toBeGreaterThan(0);
    expect(a.findings).toEqual(b.findings);
    expect(maxStateSize(a, 'tls_downgrade')).toBeLessThanOrEqual(det.maxStateBytes!);
  });
});
