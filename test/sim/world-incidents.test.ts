import { describe, expect, it } from 'vitest';
import { GATEWAY, generate, habits, spec, type Wire } from './world-helpers.js';

const CAMERA = { bitrate_mbps: 2, flow_export_s: 300, cloud_every_s: 0, scene: 'indoor' };

describe('world incidents', () => {
  it('an implant beacon is there from the first hour to the end: one device, one rare server, jittered intervals', () => {
    const s = spec({ devices: 14, kinds: ['implant_beacon'], incidents_per_kind: 3, classes: [habits('edge_gateway', GATEWAY, { share: 0.5 }), habits('ip_camera', CAMERA, { share: 0.5 })] });
    const w = generate(s);
    const implants = w.labels.incidents.filter((i) => i.kind === 'implant_beacon');
    expect(implants).toHaveLength(3);
    const start = Date.parse(s.start);
    const end = start + s.days * 86_400_000;
    for (const inc of implants) {
      const server = inc.detail.server as string;
      const [lo, hi] = inc.detail.interval_s as [number, number];
      expect(lo).toBeGreaterThanOrEqual(30);
      expect(hi).toBeGreaterThan(lo);
      const beats = w.wire.filter((x) => x.ev.dst_ip === server).sort((a, b) => a.ms - b.ms);
      // Rare: nobody else in the fleet talks to it.
      expect(new Set(beats.map((x) => x.ev.device_id))).toEqual(new Set([inc.device_id]));
      expect(beats.every((x) => x.ev.dst_port === inc.detail.port)).toBe(true);
      expect(beats[0]!.ms - start).toBeLessThanOrEqual(lo * 1000);
      expect(end - beats[beats.length - 1]!.ms).toBeLessThanOrEqual(hi * 1000);
      expect(Date.parse(inc.start)).toBe(beats[0]!.ms);
      const gaps = beats.slice(1).map((x, i) => (x.ms - beats[i]!.ms) / 1000);
      const inside = gaps.filter((g) => g >= lo - 1 && g <= hi + 1).length;
      expect(inside / gaps.length).toBeGreaterThan(0.97);
      // Jittered, not a metronome: the intervals spread over most of the range.
      expect(Math.max(...gaps) - Math.min(...gaps)).toBeGreaterThan(0.6 * (hi - lo));
    }
  });

  it('a worm reaches devices of one class one after another; each downloads from the same rare host, scans and checks in', () => {
    const s = spec({ devices: 30, warmup_h: 6, kinds: ['worm_spread'], incidents_per_kind: 6, classes: [habits('edge_gateway', GATEWAY, { share: 0.3 }), habits('ip_camera', CAMERA, { share: 0.7 })] });
    const w = generate(s);
    const worms = w.labels.incidents.filter((i) => i.kind === 'worm_spread');
    expect(worms.length).toBeGreaterThanOrEqual(5);
    const host = worms[0]!.detail.host as string;
    expect(new Set(worms.map((i) => i.detail.host))).toEqual(new Set([host]));
    expect(new Set(worms.map((i) => i.device_class)).size).toBe(1);
    const starts = worms.map((i) => Date.parse(i.start)).sort((a, b) => a - b);
    expect(new Set(starts).size).toBe(starts.length);
    expect(starts[starts.length - 1]! - starts[0]!).toBeGreaterThan(10 * 60_000);
    const infected = new Set(worms.map((i) => i.device_id));
    const toHost = w.wire.filter((x) => x.ev.dst_ip === host);
    expect(new Set(toHost.map((x) => x.ev.device_id))).toEqual(infected);
    for (const inc of worms) {
      const mine = (x: Wire): boolean => x.ev.device_id === inc.device_id && x.ms >= Date.parse(inc.start) && x.ms <= Date.parse(inc.end);
      const download = toHost.filter(mine).sort((a, b) => a.ms - b.ms)[0]!;
      expect(download.ms).toBe(Date.parse(inc.start));
      expect(download.ev.bytes_in as number).toBeGreaterThanOrEqual(50_000);
      expect(toHost.filter(mine).length).toBeGreaterThanOrEqual(2);
      const probes = w.wire.filter((x) => mine(x) && x.ev.dst_port === inc.detail.scan_port && x.ev.dst_ip !== host);
      expect(new Set(probes.map((x) => x.ev.dst_ip)).size).toBeGreaterThanOrEqual(10);
    }
  });

  it('labels only what reached the wire: incidents on devices that sleep through them are set aside', () => {
    const s = spec({
      devices: 40,
      warmup_h: 6,
      kinds: ['mirai_scan', 'c2_beaconing', 'exfiltration', 'brute_force', 'firmware_downgrade', 'stuck_sensor'],
      incidents_per_kind: 5,
      classes: [habits('pos_terminal', { closed: 'off', seq_reset_on_wake: true }, { share: 0.5 }), habits('vehicle', { parked: 'silent', wake_h: 6, seq_reset_on_wake: false }, { share: 0.5 })],
    });
    const w = generate(s);
    expect(w.labels.incidents.length).toBeGreaterThan(10);
    for (const inc of w.labels.incidents) {
      const a = Date.parse(inc.start);
      const b = Date.parse(inc.end);
      const seen = w.wire.filter((x) => x.ev.device_id === inc.device_id && x.ms >= a && x.ms <= b);
      expect(seen.length, `${inc.id} ${inc.kind}`).toBeGreaterThanOrEqual(3);
    }
    for (const inc of w.labels.unobservable ?? []) expect(inc.detail.events ?? inc.detail.altered_events).toBeLessThan(3);
  });
});
