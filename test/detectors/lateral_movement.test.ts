import { describe, expect, it } from 'vitest';
import { internalSegment, lateralMovement } from '../../src/detectors/lateral_movement.js';
import { DAY, HOUR, T0, assertWellFormed, conn, make, maxStateSize, meter, run, sortTs } from './helpers.js';

describe('lateral_movement', () => {
  it('is quiet on a steady device and on a CGNAT address change', () => {
    const evs = meter(4);
    expect(run([make(lateralMovement)], evs).latest).toEqual([]);
    const moved = evs.map((e) => (e.ts > T0 + 2 * DAY ? { ...e, src_ip: '10.10.9.201' } : e));
    expect(run([make(lateralMovement)], moved).latest).toEqual([]);
  });

  it('keeps a backend moved to a new internal segment low', () => {
    const evs = meter(4).map((e) => (e.ts > T0 + 3 * DAY && e.dst_port === 8883 ? { ...e, dst_ip: '10.2.7.10' } : e));
    const r = run([make(lateralMovement)], evs);
    for (const f of r.latest) expect(f.severity).toBe('low');
  });

  it('fires medium on one admin port off-segment and high on a sweep with failed logins', () => {
    const base = meter(4);
    const at = T0 + 3 * DAY;
    const one = sortTs([...base, conn('meter-1', at, '10.0.12.40', 445, { device_class: 'smart_meter', src_ip: '10.10.4.17', app_protocol: 'smb', tls: false, auth: 'ok' })]);
    const r1 = run([make(lateralMovement)], one);
    expect(r1.latest.length).toBe(1);
    assertWellFormed(r1.latest[0]!);
    expect(r1.latest[0]!.severity).toBe('medium');

    const sweep = base.slice();
    const targets: Array<[string, number]> = [['10.0.3.7', 445], ['10.0.9.20', 3389], ['10.20.4.11', 502], ['10.0.21.5', 22], ['10.30.2.8', 22]];
    for (let i = 0; i < 30; i++) {
      const [ip, port] = targets[i % targets.length]!;
      sweep.push(conn('meter-1', at + i * 40_000, ip, port, { device_class: 'smart_meter', src_ip: '10.10.4.17', tls: false, auth: i % 3 === 0 ? 'failed' : 'ok' }));
    }
    const r2 = run([make(lateralMovement)], sortTs(sweep));
    expect(r2.latest.length).toBe(1);
    const f = r2.latest[0]!;
    assertWellFormed(f);
    expect(f.score).toBeGreaterThanOrEqual(0.85);
    expect(f.first_ts).toBe(at);
    expect(f.count).toBeGreaterThanOrEqual(16);
  });

  it('classifies internal segments', () => {
    expect(internalSegment('10.20.3.4')).toBe('10.20.3');
    expect(internalSegment('100.72.1.9')).toBe('100.72.1');
    expect(internalSegment('172.15.0.1')).toBeUndefined();
    expect(internalSegment('8.8.8.8')).toBeUndefined();
    expect(internalSegment('169.254.1.1')).toBeUndefined();
    expect(internalSegment('fd00:1:2:3::9')).toBe('fd00:1:2:3');
    expect(internalSegment('2001:db8::1')).toBeUndefined();
  });

  it('is deterministic and bounded under an internal sweep of thousands of hosts', () => {
    const evs = meter(2);
    for (let i = 0; i < 5000; i++) evs.push(conn('meter-1', T0 + DAY + 3 * HOUR + i * 200, `10.${i % 200}.${(i * 7) % 256}.${1 + (i % 250)}`, [22, 445, 80][i % 3]!, { device_class: 'smart_meter', src_ip: '10.10.4.17', auth: i % 5 ? 'ok' : 'failed' }));
    const det = make(lateralMovement);
    const a = run([det], sortTs(evs));
    const b = run([make(lateralMovement)], sortTs(evs.slice()));
    expect(a.findings.length, 'determinism is shown on findings, not on silence').toBeGreaterThan(0);
    expect(a.findings).toEqual(b.findings);
    expect(maxStateSize(a, 'lateral_movement')).toBeLessThanOrEqual(det.maxStateBytes!);
  });
});
