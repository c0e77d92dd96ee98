import { describe, expect, it } from 'vitest';
import { policy } from '../../src/detectors/policy.js';
import type { ConnectionEvent, TelemetryEvent } from '../../src/events/types.js';
import { HOUR, MIN, T0, assertWellFormed, conn, make, maxStateSize, run } from './helpers.js';

describe('policy', () => {
  it('applies each rule with its fixed band and keeps repeats as one finding', () => {
    const det = make(policy, { allowed_cidrs: { plc: ['10.20.0.0/16'] }, min_firmware: { '*': '4.2.0' } });
    const evs: Array<ConnectionEvent | TelemetryEvent> = [];
    for (let k = 0; k < 10; k++) evs.push(conn('plc-07', T0 + k * MIN, '10.20.0.1', 8883, { tls: false, auth: 'ok' }));
    evs.push(conn('plc-07', T0 + HOUR, '203.0.113.9', 443, { tls: true, auth: 'ok' }));
    evs.push(conn('plc-07', T0 + HOUR + 1, '10.20.0.9', 23, { app_protocol: 'telnet' }));
    evs.push(conn('plc-07', T0 + HOUR + 2, '10.20.0.1', 502, { auth: 'none' }));
    evs.push(conn('plc-07', T0 + HOUR + 3, '10.20.0.10', 123, { auth: 'none' })); // NTP: exempt
    evs.push({ type: 'telemetry', device_id: 'plc-07', device_class: 'plc', ts: T0 + HOUR + 4, metrics: {}, firmware: '4.1.9' });
    evs.push({ type: 'telemetry', device_id: 'plc-08', device_class: 'plc', ts: T0 + HOUR + 5, metrics: {}, firmware: '4.10.0' });
    const r = run([det], evs);
    const by = Object.fromEntries(r.latest.map((f) => [f.key, f]));
    expect(Object.keys(by).sort()).toEqual(['cleartext_admin:23', 'firmware:4.1.9', 'plaintext:8883', 'segmentation:203.0.113.9', 'unauthenticated:502']);
    expect(by['plaintext:8883']!.count).toBeGreaterThanOrEqual(8);
    expect(by['segmentation:203.0.113.9']!.severity).toBe('high');
    for (const f of r.latest) assertWellFormed(f);
    // Throttled: ten repeats did not write ten versions.
    expect(r.findings.filter((f) => f.key === 'plaintext:8883').length).toBeLessThan(10);
  });

  it('stays bounded when a device breaches against thousands of destinations', () => {
    const det = make(policy, { allowed_cidrs: { '*': ['10.0.0.0/8'] } });
    const evs: ConnectionEvent[] = [];
    for (let k = 0; k < 5000; k++) evs.push(conn('x', T0 + k * 1000, `203.0.${(k >> 8) & 255}.${k & 255}`, 443, { tls: false, auth: 'none' }));
    const r = run([det], evs);
    expect(maxStateSize(r, 'policy')).toBeLessThanOrEqual(det.maxStateBytes!);
  });
});
