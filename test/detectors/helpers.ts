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

/** A telemetry event of device dev-1 (class sensor) at ts; `extra` overrides any field. */
export function tel(ts: number, metrics: Record<string, number>, extra: Partial<TelemetryEvent> = {}): TelemetryEvent {
  return { type: 'telemetry', device_id: 'dev-1', device_class: 'sensor', ts, metrics, ...extra };
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
