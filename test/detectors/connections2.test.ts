import { describe, expect, it } from 'vitest';
import { authFailures } from '../../src/detectors/auth_failures.js';
import { beaconScore, beaconing } from '../../src/detectors/beaconing.js';
import { deviceCloning } from '../../src/detectors/device_cloning.js';
import { exfiltration } from '../../src/detectors/exfiltration.js';
import { policy } from '../../src/detectors/policy.js';
import { unusualHour } from '../../src/detectors/unusual_hour.js';
import type { ConnectionEvent, TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, conn, make, maxStateSize, rng, run } from './helpers.js';

/** A device that publishes to its broker every 60 s (a beacon by design) for `days`. */
function mqttDevice(days: number, device = 'cam-12', seed = 1): ConnectionEvent[] {
  const r = rng(seed);
  const out: ConnectionEvent[] = [];
  for (let t = T0; t < T0 + days * DAY; t += 60_000 + Math.round((r() - 0.5) * 4000)) {
    out.push(conn(device, t, '10.0.0.5', 8883, { device_class: 'camera', bytes_out: 2000 + Math.round(r() * 400), tls: true, auth: 'ok' }));
  }
  return out;
}

describe('beaconing', () => {
  it('scores a jittery beacon with missed beats high and random traffic low', () => {
    const r = rng(3);
    const times: number[] = [];
    let t = 0;
    for (let i = 0; i < 24; i++) {
      t += 300_000 * (r() < 0.15 ? 2 : 1) + Math.round((r() - 0.5) * 15_000);
      times.push(t);
    }
    expect(beaconScore(times, null, 0.1)!.score).toBeGreaterThan(0.85);
    const rand: number[] = [];
    t = 0;
    for (let i = 0; i < 24; i++) rand.push((t += Math.round(-Math.log(r()) * 300_000)));
    expect(beaconScore(rand, null, 0.1)!.score).toBeLessThan(0.7);
  });

  it('leaves the device\'s own broker heartbeat low for the fleet view to weigh, but fires on a new C2 beacon', () => {
    const evs = mqttDevice(3);
    const own = run([make(beaconing)], evs).latest;
    // The heartbeat is an established channel: reported low, with what it is worth if rare.
    expect(own.length).toBe(1);
    expect(own[0]!.severity).toBe('low');
    expect(own[0]!.evidence.established).toBe(true);
    expect(own[0]!.evidence.rare_score).toBeGreaterThan(0.5);
    const r0 = rng(5);
    for (let t = T0 + 2 * DAY; t < T0 + 2 * DAY + 3 * HOUR; t += 300_000 + Math.round((r0() - 0.5) * 10_000)) {
      if (r0() < 0.1) continue; // missed beats
      evs.push(conn('cam-12', t, '198.51.100.23', 443, { device_class: 'camera', bytes_out: 512 }));
    }
    const r = run([make(beaconing)], evs.sort((a, b) => a.ts - b.ts));
    const fresh = r.latest.filter((f) => f.evidence.established === false);
    expect(fresh.length).toBe(1);
    assertWellFormed(fresh[0]!);
    expect(fresh[0]!.key).toBe('198.51.100.23:443');
    expect(fresh[0]!.severity).not.toBe('low');
  });

  it('does not fire on irregular contacts to a new peer', () => {
    const evs = mqttDevice(2);
    const r0 = rng(6);
    let t = T0 + DAY + 2 * HOUR;
    for (let i = 0; i < 40; i++) evs.push(conn('cam-12', (t += Math.round(-Math.log(r0()) * 600_000)), '198.51.100.24', 443, { device_class: 'camera', bytes_out: Math.round(r0() * 50_000) }));
    expect(run([make(beaconing)], evs.sort((a, b) => a.ts - b.ts)).latest.filter((f) => f.key === '198.51.100.24:443')).toEqual([]);
  });
});

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

describe('auth_failures', () => {
  it('fires on a burst, then higher on a success after it; quiet on sporadic failures', () => {
    const evs: ConnectionEvent[] = [];
    for (let t = T0; t < T0 + DAY; t += 30 * MIN) evs.push(conn('hmi-2', t, '10.20.0.5', 22, { auth: 'failed' }));
    expect(run([make(authFailures)], evs).latest).toEqual([]);
    const at = T0 + DAY + HOUR;
    for (let k = 0; k < 48; k++) evs.push(conn('hmi-2', at + k * 10_000, '10.20.0.5', 22, { auth: 'failed' }));
    evs.push(conn('hmi-2', at + 48 * 10_000, '10.20.0.5', 22, { auth: 'ok' }));
    const r = run([make(authFailures)], evs);
    const burst = r.latest.find((f) => f.key === 'burst')!;
    const win = r.latest.find((f) => f.key === 'success_after_failures')!;
    assertWellFormed(burst);
    assertWellFormed(win);
    // Versions are throttled (see raiseThrottled): the stored count may lag, never exceed.
    expect(burst.count).toBeGreaterThanOrEqual(16);
    expect(burst.count).toBeLessThanOrEqual(29);
    expect(win.score).toBeGreaterThan(burst.score - 0.2);
    expect(win.severity).toBe('high');
  });
});

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

describe('unusual_hour', () => {
  const officeDevice = (weeks: number) => {
    const r0 = rng(2);
    const evs: ConnectionEvent[] = [];
    for (let t = T0; t < T0 + weeks * 7 * DAY; t += 5 * MIN) {
      const dow = (Math.floor(t / DAY) + 4) % 7;
      // Working hours drift by up to an hour (DST, early shifts).
      const h = ((t / HOUR) % 24) + (r0() - 0.5);
      if (dow >= 1 && dow <= 5 && h >= 7 && h < 18) evs.push(conn('hmi-2', t, '10.20.0.5', 502, { device_class: 'hmi' }));
    }
    return evs;
  };

  it('is quiet on a weekday office rhythm with shifting edges, and fires on a 03:00 Sunday session', () => {
    const evs = officeDevice(3);
    expect(run([make(unusualHour)], evs).latest).toEqual([]);
    const sunday = T0 + 20 * DAY + 3 * HOUR; // T0 is a Monday
    for (let k = 0; k < 10; k++) evs.push(conn('hmi-2', sunday + k * MIN, '10.20.0.5', 22, { device_class: 'hmi' }));
    const r = run([make(unusualHour)], evs.sort((a, b) => a.ts - b.ts));
    expect(r.latest.length).toBe(1);
    assertWellFormed(r.latest[0]!);
    expect(r.latest[0]!.count).toBeGreaterThanOrEqual(8);
    expect(r.latest[0]!.score).toBeLessThanOrEqual(0.55);
  });

  it('never fires for an always-on device', () => {
    expect(run([make(unusualHour)], mqttDevice(10)).latest).toEqual([]);
  });
});

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

describe('connection detectors: determinism and bounded state', () => {
  it.each([
    ['beaconing', beaconing, { only_new_peers: false }],
    ['exfiltration', exfiltration, {}],
    ['auth_failures', authFailures, {}],
    ['device_cloning', deviceCloning, {}],
    ['unusual_hour', unusualHour, {}],
  ] as const)('%s', (id, spec, params) => {
    const r0 = rng(13);
    const evs: ConnectionEvent[] = [];
    // Random peers, ports, sources, volumes and logins in weekday office hours (so there is a
    // rhythm to break), for weeks...
    for (let i = 0, t = T0 + 8 * HOUR; i < 20_000; i++, t += 40_000) {
      if ((t - T0) % DAY >= 18 * HOUR) t += 14 * HOUR;
      if (new Date(t).getUTCDay() === 6) t += 2 * DAY;
      evs.push(
        conn('d', t, `10.${Math.floor(r0() * 4)}.0.${Math.floor(r0() * 200)}`, Math.floor(r0() * 30), {
          src_ip: `10.1.0.${Math.floor(r0() * 30)}`,
          bytes_out: Math.floor(r0() * 1e6),
          auth: r0() < 0.5 ? 'failed' : 'ok',
        }),
      );
    }
    // ...then one night of what each of these detectors is for: a beacon to a new peer, a burst
    // of failed logins, large uploads, all at 03:00 on a Sunday.
    const night = Math.ceil((evs[evs.length - 1]!.ts - T0) / (7 * DAY)) * 7 * DAY + T0 + 6 * DAY + 3 * HOUR;
    for (let k = 0; k < 60; k++) evs.push(conn('d', night + k * 5 * MIN + Math.floor(r0() * 3000), '198.51.100.9', 4444, { src_ip: '10.1.0.1', bytes_out: 300 }));
    for (let k = 0; k < 300; k++) evs.push(conn('d', night + 10 * MIN + k * 400, '10.2.0.7', 22, { src_ip: '10.1.0.1', auth: 'failed' }));
    for (let k = 0; k < 20; k++) evs.push(conn('d', night + 30 * MIN + k * 20_000, '203.0.113.66', 443, { src_ip: '10.1.0.1', bytes_out: 50_000_000 }));
    evs.sort((x, y) => x.ts - y.ts);
    const det = make(spec as never, params as never);
    const a = run([det], evs);
    const b = run([make(spec as never, params as never)], evs);
    expect(a.findings.length, 'determinism is shown on findings, not on silence').toBeGreaterThan(0);
    expect(JSON.stringify(a.findings)).toBe(JSON.stringify(b.findings));
    expect(maxStateSize(a, id)).toBeLessThanOrEqual(det.maxStateBytes!);
  });
});
