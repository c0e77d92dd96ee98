/**
 * Synthetic signals with known answers, and a harness that drives detectors through the real
 * engine (so tick, state handling and finding ids are what production does).
 */
import { createEngine } from '../../src/pipeline/engine.js';
import type { Finding, DetectorSpec, DetectorInstance } from '../../src/detectors/types.js';
import type { ConnectionEvent, M2MEvent, TelemetryEvent } from '../../src/events/types.js';
import { instantiate } from '../../src/detectors/params.js';

export const T0 = Date.UTC(2026, 2, 2, 0, 0, 0); // a Monday
export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** Deterministic PRNG (mulberry32) so every run sees the same noise. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal via Box-Muller. */
export function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/**
 * Realistic-ish noise: Gaussian with occasional heavier deviations (a 2% mixture at 2.5σ),
 * because real sensors are heavy-tailed and a detector tuned on pure Gaussians over-fires.
 */
export function noise(r: () => number): number {
  return r() < 0.02 ? 2.5 * gauss(r) : gauss(r);
}

/** Findings an analyst is alerted to: medium or worse (score ≥ 0.5). */
export function alertWorthy<F extends { score: number }>(fs: F[]): F[] {
  return fs.filter((f) => f.score >= 0.5);
}

export interface SeasonalOpts {
  device?: string;
  cls?: string;
  start?: number;
  days: number;
  stepMs: number;
  seed?: number;
  /** metric name → [level, daily amplitude, noise σ] */
  metrics?: Record<string, [number, number, number]>;
  /** Weekend level factor (factories run less at weekends). */
  weekendFactor?: number;
  jitterMs?: number;
  seq?: boolean;
  firmware?: string;
  /** Heavy-tailed noise (see noise()) instead of clean Gaussian. */
  heavy?: boolean;
}

export function seasonalTelemetry(o: SeasonalOpts): TelemetryEvent[] {
  const r = rng(o.seed ?? 1);
  const metrics = o.metrics ?? { temperature_c: [30, 6, 0.4], voltage: [230, 2, 0.5], current: [4, 2, 0.3] };
  const out: TelemetryEvent[] = [];
  const start = o.start ?? T0;
  const n = Math.floor((o.days * DAY) / o.stepMs);
  for (let i = 0; i < n; i++) {
    const base = start + i * o.stepMs;
    const ts = base + (o.jitterMs ? Math.round((r() - 0.5) * o.jitterMs) : 0);
    const hour = ((ts - Date.UTC(1970, 0, 1)) / HOUR) % 24;
    const dow = (Math.floor(ts / DAY) + 4) % 7;
    const weekend = dow === 0 || dow === 6;
    const m: Record<string, number> = {};
    for (const [name, [level, amp, sd]] of Object.entries(metrics)) {
      const f = weekend && o.weekendFactor !== undefined ? o.weekendFactor : 1;
      m[name] = Math.round((level + f * amp * Math.sin((2 * Math.PI * (hour - 6)) / 24) + sd * (o.heavy ? noise(r) : gauss(r))) * 100) / 100;
    }
    const ev: TelemetryEvent = { type: 'telemetry', device_id: o.device ?? 'dev-1', device_class: o.cls ?? 'sensor', ts, metrics: m };
    if (o.seq) ev.seq = i;
    if (o.firmware) ev.firmware = o.firmware;
    out.push(ev);
  }
  return out;
}

export function conn(device: string, ts: number, dst_ip: string, dst_port: number, extra: Partial<ConnectionEvent> = {}): ConnectionEvent {
  return {
    type: 'connection',
    device_id: device,
    device_class: extra.device_class ?? 'plc',
    ts,
    src_ip: extra.src_ip ?? '10.20.0.7',
    dst_ip,
    dst_port,
    protocol: 'tcp',
    ...extra,
  };
}

export function byTs(events: M2MEvent[]): M2MEvent[] {
  return events.slice().sort((a, b) => a.ts - b.ts);
}

export interface RunResult {
  findings: Finding[];
  /** Newest version of each finding (what ClickHouse keeps). */
  latest: Finding[];
  engine: ReturnType<typeof createEngine>;
}

export function run(dets: DetectorInstance[], events: M2MEvent[], opts: { lateness?: number; tickEveryMs?: number; endTs?: number } = {}): RunResult {
  const engine = createEngine({
    pipeline: 'test',
    detectors: dets,
    allowedLatenessMs: opts.lateness ?? 0,
    idleEvictionMs: 30 * DAY,
    tickEveryMs: opts.tickEveryMs ?? MIN,
  });
  const findings: Finding[] = [];
  for (const ev of events) for (const f of engine.process(ev)) findings.push(f);
  if (opts.endTs !== undefined) for (const f of engine.advanceTo(opts.endTs)) findings.push(f);
  const byId = new Map<string, Finding>();
  for (const f of findings) {
    const cur = byId.get(f.finding_id);
    if (!cur || f.version >= cur.version) byId.set(f.finding_id, f);
  }
  return { findings, latest: [...byId.values()], engine };
}

export function make<P extends Record<string, unknown>>(spec: DetectorSpec<P>, params: Partial<Record<keyof P, unknown>> = {}): DetectorInstance {
  return instantiate(spec, params);
}

/** Largest JSON size of any one device's state for detector `id`. */
export function maxStateSize(result: RunResult, id: string): number {
  const snap = result.engine.snapshot();
  let max = 0;
  for (const d of Object.values(snap.devices)) {
    const s = d.d[id];
    if (s !== undefined) max = Math.max(max, JSON.stringify(s).length);
  }
  return max;
}

/** Checks every finding has what an analyst needs. */
export function assertWellFormed(f: Finding): void {
  const problems: string[] = [];
  if (!(f.score >= 0 && f.score <= 1)) problems.push(`score ${f.score}`);
  if (!f.explanation || f.explanation.length < 30) problems.push('explanation');
  if (!f.explanation.includes(f.device_id)) problems.push('explanation lacks device');
  if (f.expected === undefined || f.expected === '') problems.push('expected');
  if (f.observed === undefined || f.observed === '') problems.push('observed');
  if (!Array.isArray(f.mitre) || f.mitre.length === 0) problems.push('mitre');
  if (f.first_ts > f.last_ts) problems.push('first_ts > last_ts');
  if (problems.length) throw new Error(`malformed finding ${f.detector}/${f.key}: ${problems.join(', ')}`);
}

/** Sorts connection events by time in place (and returns them). */
export const sortTs = (evs: ConnectionEvent[]): ConnectionEvent[] => evs.sort((a, b) => a.ts - b.ts);

/** A PLC polling its three usual peers every ~20 s for `days`. */
export function plcTraffic(days: number, device = 'plc-07', seed = 1): ConnectionEvent[] {
  const r = rng(seed);
  const peers: Array<[string, number]> = [
    ['10.20.0.1', 502],
    ['10.20.0.2', 502],
    ['10.20.0.10', 123],
  ];
  const out: ConnectionEvent[] = [];
  for (let t = T0; t < T0 + days * DAY; t += 20_000 + Math.floor(r() * 2000)) {
    const [ip, port] = peers[Math.floor(r() * peers.length)]!;
    out.push(conn(device, t, ip, port, { bytes_out: 300, bytes_in: 120 }));
  }
  return out;
}

/** A device that publishes to its broker every 60 s (a beacon by design) for `days`. */
export function mqttDevice(days: number, device = 'cam-12', seed = 1): ConnectionEvent[] {
  const r = rng(seed);
  const out: ConnectionEvent[] = [];
  for (let t = T0; t < T0 + days * DAY; t += 60_000 + Math.round((r() - 0.5) * 4000)) {
    out.push(conn(device, t, '10.0.0.5', 8883, { device_class: 'camera', bytes_out: 2000 + Math.round(r() * 400), tls: true, auth: 'ok' }));
  }
  return out;
}

/**
 * A smart meter's ordinary life: MQTT/TLS to its head end every 15 min, an hourly SNTP sync and
 * DNS lookup (no tls field: UDP), a nightly profile upload over HTTPS.
 */
export function meter(days: number, device = 'meter-1', seed = 1, start = T0): ConnectionEvent[] {
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
export function scan(device: string, at: number, n: number, seed = 9): ConnectionEvent[] {
  const r = rng(seed);
  const out: ConnectionEvent[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `${20 + Math.floor(r() * 180)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`;
    out.push(conn(device, at + i * 250, ip, 23, { device_class: 'smart_meter', src_ip: '10.10.4.17', bytes_out: 60, bytes_in: 0 }));
  }
  return out;
}

/**
 * Weeks of random peers, ports, sources, volumes and logins in weekday office hours (so there is
 * a rhythm to break), then one night of what the connection detectors are for: a beacon to a new
 * peer, a burst of failed logins, large uploads, all at 03:00 on a Sunday.
 */
export function connectionChurn(): ConnectionEvent[] {
  const r0 = rng(13);
  const evs: ConnectionEvent[] = [];
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
  const night = Math.ceil((evs[evs.length - 1]!.ts - T0) / (7 * DAY)) * 7 * DAY + T0 + 6 * DAY + 3 * HOUR;
  for (let k = 0; k < 60; k++) evs.push(conn('d', night + k * 5 * MIN + Math.floor(r0() * 3000), '198.51.100.9', 4444, { src_ip: '10.1.0.1', bytes_out: 300 }));
  for (let k = 0; k < 300; k++) evs.push(conn('d', night + 10 * MIN + k * 400, '10.2.0.7', 22, { src_ip: '10.1.0.1', auth: 'failed' }));
  for (let k = 0; k < 20; k++) evs.push(conn('d', night + 30 * MIN + k * 20_000, '203.0.113.66', 443, { src_ip: '10.1.0.1', bytes_out: 50_000_000 }));
  evs.sort((x, y) => x.ts - y.ts);
  return evs;
}

/** A telemetry reading of dev-1, a sensor, unless `extra` says otherwise. */
export const reading = (ts: number, metrics: Record<string, number>, extra: Partial<TelemetryEvent> = {}): TelemetryEvent => ({
  type: 'telemetry',
  device_id: extra.device_id ?? 'dev-1',
  device_class: 'sensor',
  ts,
  metrics,
  ...extra,
});

/**
 * Thousands of readings with churning metric names, random seq numbers and firmware, and a
 * steady metric that gets stuck for a while (what flatline is for); beside them, every five
 * minutes for five days, a flow that shifts by 4σ on the fifth (what level_shift is for). Run it
 * with `endTs: TELEMETRY_CHURN_END` so silences are judged too.
 */
export function telemetryChurn(): TelemetryEvent[] {
  const r0 = rng(11);
  const evs: TelemetryEvent[] = [];
  for (let i = 0; i < 8000; i++) {
    const m: Record<string, number> = {};
    for (let k = 0; k < 6; k++) m[`metric_with_a_long_name_${(i * 5 + k * 17) % 300}`] = Math.round(r0() * 20);
    m.level_cm = i >= 4000 && i < 4400 ? 143.2 : 140 + 0.5 * gauss(r0);
    evs.push(reading(T0 + i * 30_000 + Math.floor(r0() * 20_000), m, { seq: Math.floor(r0() * 1e6), firmware: `1.${Math.floor(r0() * 30)}.${i % 7}` }));
  }
  const flow = seasonalTelemetry({ days: 5, stepMs: 5 * MIN, metrics: { flow: [120, 0, 2] } });
  for (const e of flow) if (e.ts >= T0 + 4 * DAY) e.metrics.flow! += 8;
  evs.push(...flow);
  evs.sort((x, y) => x.ts - y.ts);
  return evs;
}

export const TELEMETRY_CHURN_END = T0 + 10 * DAY;
