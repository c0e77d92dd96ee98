/**
 * A small telemetry fleet in arrival order, for the engine's time tests: devices on a regular
 * rhythm, some of which go quiet for good, one with a spike; and what real transports do to it
 * (clocks off, duplicates, store-and-forward), each applied to the arrival order, which is what
 * Kafka hands the engine. Runs the default pipeline's detectors exactly as the service does.
 */
import { loadPipelineFile } from '../../src/config/load.js';
import type { PipelineConfig } from '../../src/config/types.js';
import type { Finding } from '../../src/detectors/types.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { buildDetectors, engineOptions } from '../../src/pipeline/build.js';
import { createEngine, type Engine, type EngineOptions } from '../../src/pipeline/engine.js';
import type { EventOutcome } from '../../src/pipeline/time.js';
import { Rng } from '../../src/sim/prng.js';

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const T0 = Date.UTC(2026, 2, 2);

/** One message as delivered: `at` is when it arrives (true time), `ev.ts` what the device wrote. */
export interface Delivery {
  at: number;
  ev: TelemetryEvent;
}

export interface FleetOptions {
  devices?: number;
  hours?: number;
  everyMs?: number;
  /** device id → true time it stops reporting for good. */
  stops?: Record<string, number>;
  /** device id → true time of a spike (three readings far off). */
  spikes?: Record<string, number>;
  seed?: number;
}

export const dev = (i: number) => `meter-${String(i).padStart(3, '0')}`;

/** Deliveries in arrival order (ties by device id), every message on time. */
export function fleet(o: FleetOptions = {}): Delivery[] {
  const n = o.devices ?? 50;
  const end = T0 + (o.hours ?? 36) * HOUR;
  const every = o.everyMs ?? 2 * MIN;
  const out: Delivery[] = [];
  for (let i = 0; i < n; i++) {
    const id = dev(i);
    const rng = Rng.derive(o.seed ?? 7, id);
    const stop = o.stops?.[id] ?? Number.POSITIVE_INFINITY;
    const spike = o.spikes?.[id];
    const level = rng.uniform(18, 24);
    let seq = 0;
    for (let t = T0 + rng.int(0, every - 1); t < end && t < stop; t += every + rng.int(-3_000, 3_000)) {
      const day = Math.sin((2 * Math.PI * (t - T0)) / (24 * HOUR));
      let temperature_c = Math.round((level + 2 * day + rng.normal(0, 0.2)) * 100) / 100;
      if (spike !== undefined && t >= spike && t < spike + 3 * every) temperature_c += 60;
      const voltage = Math.round(rng.normal(230, 0.8) * 10) / 10;
      out.push({ at: t, ev: { type: 'telemetry', device_id: id, device_class: 'smart_meter', ts: t, metrics: { temperature_c, voltage }, seq: seq++, firmware: '4.2.1' } });
    }
  }
  return order(out);
}

/** Arrival order, stable for equal times (by device id, then by the device's own order). */
export function order(ds: Delivery[]): Delivery[] {
  return ds
    .map((d, i) => ({ d, i }))
    .sort((a, b) => a.d.at - b.d.at || (a.d.ev.device_id < b.d.ev.device_id ? -1 : a.d.ev.device_id > b.d.ev.device_id ? 1 : a.i - b.i))
    .map((x) => x.d);
}

/** The same deliveries with one device's clock off by `offsetMs` (positive: ahead). */
export function skewClock(ds: Delivery[], id: string, offsetMs: number): Delivery[] {
  return ds.map((d) => (d.ev.device_id === id ? { at: d.at, ev: { ...d.ev, ts: d.ev.ts + offsetMs } } : d));
}

let cfgCache: PipelineConfig | undefined;
export async function defaultPipeline(): Promise<PipelineConfig> {
  if (cfgCache) return cfgCache;
  const r = await loadPipelineFile('pipelines/default.yaml');
  if (!r.pipeline) throw new Error(JSON.stringify(r.errors));
  return (cfgCache = r.pipeline);
}

export interface Run {
  /** Every finding version, in the order raised. */
  findings: Finding[];
  outcomes: EventOutcome[];
  engine: Engine;
}

/**
 * Feed deliveries through an engine with the pipeline's detectors, then advance to the end of
 * the input (stream time + lateness), as a backtest does. `wall`: the service's wall clock at
 * each delivery (none: a backtest).
 */
export function drive(cfg: PipelineConfig, ds: Delivery[], o: { wall?: (at: number) => number; engine?: Engine; restoreAt?: number; over?: Partial<EngineOptions> } = {}): Run {
  const mk = () => createEngine({ ...engineOptions(cfg, buildDetectors(cfg)), ...o.over });
  let engine = o.engine ?? mk();
  const findings: Finding[] = [];
  const outcomes: EventOutcome[] = [];
  for (let i = 0; i < ds.length; i++) {
    if (i === o.restoreAt) {
      const next = mk();
      next.restore(JSON.parse(JSON.stringify(engine.snapshot())));
      engine = next;
    }
    const d = ds[i]!;
    if (o.wall) engine.setWallClock(o.wall(d.at));
    findings.push(...engine.process(d.ev));
    outcomes.push(engine.lastOutcome());
  }
  findings.push(...engine.advanceTo(engine.clock().max_ts + cfg.allowed_lateness_ms));
  return { findings, outcomes, engine };
}

/** Findings as comparable text (a finding version per line). */
export const text = (fs: Finding[]) => fs.map((f) => JSON.stringify(f));
export const of = (fs: Finding[], id: string) => fs.filter((f) => f.device_id === id);
export const notOf = (fs: Finding[], ...ids: string[]) => fs.filter((f) => !ids.includes(f.device_id));
/**
 * What was found, without exact times (latest version of each finding as "device detector key
 * severity", sorted): for runs whose stream time may differ by an event or two, which moves the
 * watermark a tick lands on and so the time a silence is stamped with.
 */
export function summary(fs: Finding[]): string[] {
  const latest = new Map<string, Finding>();
  for (const f of fs) if ((latest.get(f.finding_id)?.version ?? -1) < f.version) latest.set(f.finding_id, f);
  return [...latest.values()].map((f) => `${f.device_id} ${f.detector} ${f.key} ${f.severity}`).sort();
}
export const silences = (fs: Finding[]) => fs.filter((f) => f.detector === 'reporting' && f.key === 'silence');
