import { describe, expect, it } from 'vitest';
import { authFailures } from '../../src/detectors/auth_failures.js';
import { beaconing } from '../../src/detectors/beaconing.js';
import { exfiltration } from '../../src/detectors/exfiltration.js';
import { flood } from '../../src/detectors/flood.js';
import { internalSegment, lateralMovement } from '../../src/detectors/lateral_movement.js';
import { newPeer } from '../../src/detectors/new_peer.js';
import { peerSetHas, peerSetNew, peerSetSize, peerSetTouch } from '../../src/detectors/peerset.js';
import { tlsDowngrade } from '../../src/detectors/tls_downgrade.js';
import type { ConnectionEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, conn, make, maxStateSize, rng, run } from './helpers.js';

const sortTs = (evs: ConnectionEvent[]) => evs.sort((a, b) => a.ts - b.ts);

/**
 * A smart meter's ordinary life: MQTT/TLS to its head end every 15 min, an hourly SNTP sync and
 * DNS lookup (no tls field: UDP), a nightly profile upload over HTTPS.
 */
function meter(days: number, device = 'meter-1', seed = 1, start = T0): ConnectionEvent[] {
  const r = rng(seed);
  const out: ConnectionEvent[] = [];
  const src = '10.10.4.17';
  for (let t = start; t < start + days * DAY; t += 15 * MIN + Math.round((r() - 0.5) * 20_000)) {
    out.push(conn(device, t, '10.1.0.10', 8883, { device_class: 'smart_meter', src_ip: src, app_protocol: 'mqtt', tls: true, auth: 'ok', bytes_out: 400 + Math.round(r() * 80), bytes_in: 100 }));
  }
  for (let t = start + 7 * MIN; t < start + days * DAY; t += HOUR) {
    out.push(conn(device, t, '10.1.0.123', 123, { device_class: 'smart_meter', src_ip: src, protocol: 'udp', app_protocol: 'ntp', bytes_out: 76, bytes_in: 76 }));
    out.push(conn(device, t + 500, '10.1.0.53', 53, { device_class: 'smart_meter', src_ip: src, protocol: 'udp', app_protocol: 'dns', bytes_out: 60, bytes_in: 120 }));
  }
  for (let d = 0; d < days; d++) {
    out.push(conn(device, start + d * DAY + 2 * HOUR + Math.round(r() * 600_000), '10.1.0.11', 443, { device_class: 'smart_meter', src_ip: src, app_protocol: 'https', tls: true, auth: 'ok', bytes_out: 180_000, bytes_in: 2000 }));
  }
  return sortTs(out);
}

/** A short Mirai-style scan: `n` random public addresses on 23, one probe each. */
function scan(device: string, at: number, n: number, seed = 9): ConnectionEvent[] {
  const r = rng(seed);
  const out: ConnectionEvent[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `${20 + Math.floor(r() * 180)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`;
    out.push(conn(device, at + i * 250, ip, 23, { device_class: 'smart_meter', src_ip: '10.10.4.17', bytes_out: 60, bytes_in: 0 }));
  }
  return out;
}

describe('peerset', () => {
  it('keeps established keys through a flood of one-off keys', () => {
    let s = peerSetNew();
    for (let i = 0; i < 5; i++) for (const k of ['broker', 'ntp', 'dns']) s = peerSetTouch(s, k, i, 16);
    for (let i = 0; i < 5000; i++) s = peerSetTouch(s, `scan-${i}`, 10 + i, 16);
    for (const k of ['broker', 'ntp', 'dns']) expect(peerSetHas(s, k)).toBe(true);
    expect(peerSetSize(s)).toBeLessThanOrEqual(16 + 8);
  });
});

describe('scan resistance of learned peers', () => {
  it('a scan does not make the device\'s own backends look new to beaconing or new_peer', () => {
    const evs = meter(5);
    evs.push(...scan('meter-1', T0 + 2 * DAY + 3 * HOUR, 2000));
    const r = run([make(beaconing), make(newPeer)], sortTs(evs));
    // new_peer reports scan targets (low, learned as one-offs) but never the head end, NTP or DNS.
    const keys = r.latest.filter((f) => f.evidence.established !== true).map((f) => f.key);
    for (const k of ['10.1.0.10:8883', '10.1.0.123:123', '10.1.0.53:53', '10.1.0.11:443']) expect(keys).not.toContain(k);
    // Beaconing only ever sees them as established channels (low, for the fleet view), never new.
    expect(r.latest.filter((f) => f.detector === 'beaconing' && f.evidence.established !== true)).toEqual([]);
  });
});

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
