/**
 * The bench's fleet: a deterministic, stateless generator of plain event-contract JSON, fast
 * enough to preload millions of events (bench/, bench/golden.ts, bench/detect-ab.mjs, tests).
 * Unlike the simulator's worlds (fleet.ts) it models no sites, habits or incidents: it is load
 * with a few known findings, not ground truth. It lives in src so the built tree carries it for
 * tools that run against dist/.
 */

/** Bumped whenever the generator changes, so a preloaded topic is never reused across versions. */
export const GEN_VERSION = 1;
/** Event time of the first generated event. */
export const T0 = Date.UTC(2026, 2, 2, 0, 0, 0);

/** Stateless hash → [0,1): any event can be generated alone, so chunking never changes output. */
function rnd(seed: number, a: number, k: number): number {
  let h = Math.imul(a ^ seed, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

/** Device index mod 10 → class: 60% telemetry reporters, 40% connection reporters. */
const CLASS_OF = ['smart_meter', 'smart_meter', 'smart_meter', 'smart_meter', 'env_sensor', 'env_sensor', 'plc', 'plc', 'gateway', 'ip_camera'] as const;
const PREFIX: Record<string, string> = { smart_meter: 'meter', env_sensor: 'sensor', plc: 'plc', gateway: 'gw', ip_camera: 'cam' };

export interface GenOptions {
  events: number;
  devices: number;
  seed: number;
  /** Per-device reporting interval (event time). */
  intervalMs: number;
}

/**
 * A fleet in the plain event contracts, as raw JSON strings in event-time order: smart meters
 * (voltage, current, an energy counter), environment sensors, PLCs (Modbus to 3 peers),
 * gateways (MQTT/TLS to cloud peers) and cameras (RTSP). One PLC in 500 port-scans every fourth
 * round (30 connections to distinct ports: fanout findings and alerts), one event in ~5,000 is
 * malformed (the dead-letter path), one meter in 1,000 upgrades its firmware half-way.
 */
export class FleetGen {
  private slot = 0;
  private emitted = 0;
  private burst: string[] = [];
  private readonly ids: string[];

  constructor(readonly o: GenOptions) {
    this.ids = new Array<string>(o.devices);
    for (let d = 0; d < o.devices; d++) this.ids[d] = `${PREFIX[CLASS_OF[d % 10]!]}-${String(d).padStart(6, '0')}`;
  }

  id(d: number): string {
    return this.ids[d % this.o.devices]!;
  }

  /** Up to `max` further events; empty when all `events` were produced. */
  take(max: number): string[] {
    const out: string[] = [];
    const n = this.o.devices;
    while (out.length < max && this.emitted < this.o.events) {
      if (this.burst.length) {
        out.push(this.burst.shift()!);
        this.emitted++;
        continue;
      }
      const s = this.slot++;
      const d = s % n;
      const round = Math.floor(s / n);
      const ts = T0 + round * this.o.intervalMs + Math.floor((d * this.o.intervalMs) / n);
      if (s % 4999 === 1000) {
        out.push(`{"type":"telemetry","device_id":"${this.ids[d]}","ts":"${new Date(ts).toISOString()}","metrics":{"voltage":"n/a"}}`);
      } else {
        out.push(this.event(s, d, round, ts));
        if (d % 500 === 17 && round % 4 === 2) {
          for (let k = 0; k < 30; k++) this.burst.push(this.connection(s, d, ts + (k + 1) * 200, `10.20.${(d >> 8) & 255}.${d & 255}`, 1000 + k * 7, 'tcp', null, false));
        }
      }
      this.emitted++;
    }
    return out;
  }

  /** One ordinary event of device d at event time ts (also used for the latency phase). */
  event(s: number, d: number, round: number, ts: number): string {
    const seed = this.o.seed;
    const cls = CLASS_OF[d % 10]!;
    const id = this.ids[d]!;
    const iso = new Date(ts).toISOString();
    const hour = ((ts / 3_600_000) % 24) / 24;
    const season = Math.sin(2 * Math.PI * hour);
    if (cls === 'smart_meter') {
      const fw = d % 1000 === 3 && round >= 10 ? '4.3.0' : '4.2.1';
      const v = r1(230 + 2 * season + (rnd(seed, s, 0) - 0.5) * 3);
      const c = r2(2 + (d % 7) + 1.5 * season + rnd(seed, s, 1));
      const e = r2((d % 1000) + round * 0.05 * (1 + (d % 3)));
      const t = r1(25 + (d % 11) + 3 * season + rnd(seed, s, 2));
      return `{"type":"telemetry","device_id":"${id}","device_class":"smart_meter","ts":"${iso}","metrics":{"voltage":${v},"current":${c},"energy_kwh":${e},"temperature_c":${t}},"firmware":"${fw}","seq":${round}}`;
    }
    if (cls === 'env_sensor') {
      const t = r1(18 + (d % 9) + 4 * season + rnd(seed, s, 0));
      const h = r1(45 + (d % 13) - 8 * season + 2 * rnd(seed, s, 1));
      const b = r2(3.6 - round * 0.0005 + 0.02 * rnd(seed, s, 2));
      return `{"type":"telemetry","device_id":"${id}","device_class":"env_sensor","ts":"${iso}","metrics":{"temperature_c":${t},"humidity_pct":${h},"battery_v":${b}},"firmware":"1.8.0","seq":${round}}`;
    }
    const src = `10.${cls === 'plc' ? 20 : cls === 'gateway' ? 40 : 30}.${(d >> 8) & 255}.${d & 255}`;
    if (cls === 'plc') return this.connection(s, d, ts, src, 502, 'tcp', 'modbus', false, `10.20.0.${1 + (round % 3)}`);
    if (cls === 'gateway') return this.connection(s, d, ts, src, 8883, 'tcp', 'mqtt', true, `52.28.${(d * 7 + round) % 8}.${10 + (d % 5)}`);
    return this.connection(s, d, ts, src, 554, 'tcp', 'rtsp', false, '10.30.0.5');
  }

  connection(s: number, d: number, ts: number, src: string, port: number, proto: string, app: string | null, tls: boolean, dst = '10.20.0.1', id = this.ids[d]!): string {
    const seed = this.o.seed;
    const cls = CLASS_OF[d % 10]!;
    const out = 200 + Math.floor(400 * rnd(seed, s, 3)) * (cls === 'ip_camera' ? 500 : 1);
    const inn = 100 + Math.floor(200 * rnd(seed, s, 4));
    const auth = rnd(seed, s, 5) < 0.002 ? 'failed' : 'ok';
    return `{"type":"connection","device_id":"${id}","device_class":"${cls}","ts":"${new Date(ts).toISOString()}","src_ip":"${src}","dst_ip":"${dst}","dst_port":${port},"protocol":"${proto}"${app ? `,"app_protocol":"${app}"` : ''},"bytes_out":${out},"bytes_in":${inn},"duration_ms":${20 + (s % 50)},"tls":${tls},"auth":"${auth}"}`;
  }
}
