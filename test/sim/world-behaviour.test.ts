import { describe, expect, it } from 'vitest';
import { createWorld } from '../../src/sim/worlds/fleet.js';
import { localTime } from '../../src/sim/time.js';
import { worldZone } from '../../src/sim/worlds/zones.js';
import { GATEWAY, generate, habits, spec } from './world-helpers.js';

const BERLIN = worldZone('Europe/Berlin');
const localHour = (ms: number): number => localTime(BERLIN, ms).hour;

describe('world habits', () => {
  it('a terminal powered down at closing time is silent until it boots, then checks in and restarts its counter', () => {
    const off = generate(spec({ classes: [habits('pos_terminal', { closed: 'off', seq_reset_on_wake: true })] }));
    const awake = generate(spec({ classes: [habits('pos_terminal', { closed: 'awake', seq_reset_on_wake: true })] }));
    // Every store is closed between midnight and 5 am local.
    const night = (w: typeof off): number => w.wire.filter((x) => localHour(x.ms) < 5).length;
    expect(night(awake)).toBeGreaterThan(100);
    expect(night(off)).toBe(0);
    // Day two: the first reading after the night has seq 0, and the TMS check-in follows the boot.
    const day2 = Date.parse('2026-04-07T00:00:00Z');
    const byDev = new Map<string, typeof off.wire>();
    for (const x of off.wire) if (x.ms > day2) byDev.set(x.ev.device_id, [...(byDev.get(x.ev.device_id) ?? []), x]);
    expect(byDev.size).toBeGreaterThan(5);
    for (const evs of byDev.values()) {
      evs.sort((a, b) => a.ms - b.ms);
      const firstTelemetry = evs.find((x) => x.ev.type === 'telemetry')!;
      expect(firstTelemetry.ev.seq).toBe(0);
      const tms = evs.find((x) => x.ev.dst_ip === '203.0.113.60');
      expect(tms).toBeDefined();
      expect(tms!.ms - evs[0]!.ms).toBeLessThan(10_000);
    }
  });

  it('a telematics unit that sleeps with the ignition off sends nothing parked; one with a heartbeat does', () => {
    const parkedReadings = (parked: string): number =>
      generate(spec({ classes: [habits('vehicle', { parked, wake_h: 4, seq_reset_on_wake: false })] })).wire.filter((x) => x.ev.type === 'telemetry' && (x.ev.metrics as Record<string, number>).speed_kmh === undefined).length;
    expect(parkedReadings('hourly')).toBeGreaterThan(300);
    expect(parkedReadings('silent')).toBe(0);
    const wake = parkedReadings('wake');
    expect(wake).toBeGreaterThan(0);
    expect(wake).toBeLessThan(parkedReadings('hourly') / 2);
  });

  it('duplicates are byte-identical copies of a telemetry line, delivered after it', () => {
    const base = spec({ devices: 8, classes: [habits('edge_gateway', GATEWAY)] });
    const once = generate(base);
    const twice = generate({ ...base, classes: [habits('edge_gateway', GATEWAY, { duplicates: 0.03 })] });
    expect(new Set(twice.lines)).toEqual(new Set(once.lines));
    const seen = new Map<string, number>();
    let dups = 0;
    for (const [i, l] of twice.lines.entries()) {
      const first = seen.get(l);
      if (first === undefined) seen.set(l, i);
      else {
        dups++;
        expect(i).toBeGreaterThan(first);
        expect(JSON.parse(l).type).toBe('telemetry');
      }
    }
    expect(dups).toBe(twice.lines.length - once.lines.length);
    expect(dups).toBe(twice.labels.delivery.duplicates);
    expect(dups / once.wire.filter((x) => x.ev.type === 'telemetry').length).toBeGreaterThan(0.015);
  });

  it('readings taken during a connectivity gap arrive when it ends, in order, with their original timestamps', () => {
    const w = generate(spec({ devices: 8, classes: [habits('edge_gateway', GATEWAY, { gaps_per_week: 10, gap_min: [60, 120] })] }));
    const gaps = w.labels.benign.filter((b) => b.kind === 'store_and_forward');
    expect(gaps.length).toBeGreaterThan(5);
    for (const g of gaps) {
      const [dev] = g.devices!;
      const s = Date.parse(g.start);
      const e = Date.parse(g.end);
      const inside = w.wire.filter((x) => x.ev.device_id === dev && x.ms >= s && x.ms < e);
      expect(inside.length).toBeGreaterThan(50);
      // Sessions cannot happen without a link; readings are buffered.
      expect(inside.every((x) => x.ev.type === 'telemetry')).toBe(true);
      // They arrive after every session the other devices made up to the end of the gap (less
      // their network latency; sessions are never buffered)...
      const lastBefore = w.wire.reduce((m, x) => (x.ev.device_id !== dev && x.ev.type === 'connection' && x.ms < e - 5_000 ? Math.max(m, x.pos) : m), -1);
      expect(lastBefore).toBeGreaterThan(0);
      expect(inside[0]!.pos).toBeGreaterThan(lastBefore);
      // ...as one burst in the order they were taken.
      for (let i = 1; i < inside.length; i++) expect(inside[i]!.ms).toBeGreaterThan(inside[i - 1]!.ms);
      expect(inside[inside.length - 1]!.pos - inside[0]!.pos).toBeLessThan(inside.length * 40);
      // The backlog goes up in one session right after the link returns.
      expect(w.wire.some((x) => x.ev.device_id === dev && x.ev.type === 'connection' && x.ms > e && x.ms < e + 70_000 && (x.ev.bytes_out as number) > 2_000)).toBe(true);
    }
    expect(w.labels.delivery.late).toBeGreaterThan(0);
  });

  it('a skewed clock shifts every timestamp of its device and its labels by the same offset', () => {
    const base = spec({ days: 2, devices: 10, warmup_h: 8, kinds: ['c2_beaconing', 'mirai_scan', 'stuck_sensor'], incidents_per_kind: 2, classes: [habits('edge_gateway', GATEWAY)] });
    const plain = generate(base);
    const skewed = generate({ ...base, delivery: { ...base.delivery, skew_share: 1, skew_hour_share: 0.4 } });
    const skews = skewed.labels.benign.find((b) => b.kind === 'clock_skew')!.detail.skew_ms as Record<string, number>;
    expect(Object.keys(skews).length).toBe(10);
    expect(Object.values(skews).some((v) => Math.abs(v) === 3_600_000)).toBe(true);
    expect(Object.values(skews).some((v) => Math.abs(v) < 3_600_000 && Math.abs(v) >= 60_000)).toBe(true);
    const norm = (w: typeof plain, shift: (dev: string) => number): string[] =>
      w.wire.map((x) => JSON.stringify({ ...x.ev, ts: new Date(x.ms - shift(x.ev.device_id)).toISOString() })).sort();
    expect(norm(skewed, (d) => skews[d]!)).toEqual(norm(plain, () => 0));
    expect(norm(skewed, () => 0)).not.toEqual(norm(plain, () => 0));
    expect(skewed.labels.incidents.length).toBeGreaterThanOrEqual(5);
    for (const inc of skewed.labels.incidents) {
      const ref = plain.labels.incidents.find((x) => x.id === inc.id)!;
      const d = skews[inc.device_id]!;
      expect(Date.parse(inc.start) - Date.parse(ref.start)).toBe(d);
      expect(Date.parse(inc.end) - Date.parse(ref.end)).toBe(d);
      expect(inc.detail.clock_skew_ms).toBe(d);
    }
  });

  it('an endpoint migration moves every device of the class to the new addresses, MQTT to 443, other protocols on their port', () => {
    const w = generate(spec({ devices: 10, days: 1, classes: [habits('edge_gateway', { ...GATEWAY, endpoint_ips: 3 }, { share: 0.5 }), habits('plc', { stopped: 'polled' }, { share: 0.5, site_size: [2, 3] })], changes: [{ kind: 'endpoint_migration', cls: 'edge_gateway', at: 0.4, spread_h: 2, new_port: 443 }, { kind: 'endpoint_migration', cls: 'plc', at: 0.6, spread_h: 0.5, new_port: 443 }] }));
    for (const cls of ['edge_gateway', 'plc']) {
      const m = w.labels.benign.find((b) => b.kind === 'endpoint_migration' && b.detail.device_class === cls)!;
      const from = m.detail.from as string[];
      const to = m.detail.to as string[];
      expect(from.length).toBeGreaterThanOrEqual(cls === 'plc' ? 1 : 3);
      const before = Date.parse(m.start);
      const after = Date.parse(m.end);
      const conns = w.wire.filter((x) => x.ev.type === 'connection' && m.devices!.includes(x.ev.device_id));
      const addr = (x: (typeof conns)[number]): string => `${x.ev.dst_ip}:${x.ev.dst_port}`;
      expect(conns.filter((x) => x.ms < before && to.includes(addr(x)))).toHaveLength(0);
      expect(conns.filter((x) => x.ms > after && from.includes(addr(x)))).toHaveLength(0);
      expect(conns.filter((x) => x.ms > after && to.includes(addr(x))).length).toBeGreaterThan(20);
      for (const [i, f] of from.entries()) {
        const port = Number(f.split(':')[1]);
        expect(Number(to[i]!.split(':')[1])).toBe(port === 8883 ? 443 : port);
      }
    }
  });

  it('is deterministic and independent of the chunk size', () => {
    const s = spec({ devices: 12, kinds: ['implant_beacon', 'worm_spread', 'brute_force'], incidents_per_kind: 2, classes: [habits('edge_gateway', GATEWAY, { duplicates: 0.01, gaps_per_week: 3 }), habits('battery_sensor', { kind: 'environment', sample_min: 15, wake_h: 3, secure: true, server: 'private' })], delivery: { latency_ms: [50, 500], skew_share: 0.2, skew_min: [1, 5], skew_hour_share: 0.3, dup_delay_s: [2, 30] } });
    const collect = (chunk: number): string[] => {
      const out: string[] = [];
      for (const c of createWorld(s).lines(chunk)) out.push(...c.lines);
      return out;
    };
    const a = collect(3_600_000);
    expect(collect(3_600_000)).toEqual(a);
    expect(collect(17 * 60_000)).toEqual(a);
    expect(a.length).toBeGreaterThan(5_000);
  });
});
