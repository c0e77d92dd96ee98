/**
 * `m2m-sentinel bench`: throughput, latency, memory and scale-out of the real pipeline against
 * the raw kafkajs ceiling measured in the same run (issue 7; docs/performance.md explains the
 * figures and how to read them).
 *
 * Every measured phase runs in its own child process (this same command with --worker), so each
 * gets a fresh heap, its own embedded ClickHouse and an RSS that is its own; the parent only
 * generates and produces events, orchestrates, and collects figures over IPC.
 */
import { UsageError } from '../exit.js';
import { Option, type Command } from 'commander';
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os';
import { serialize } from 'node:v8';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import { pino } from 'pino';
import type { PipelineConfig } from '../../config/types.js';
import type { M2MEvent } from '../../events/types.js';
import { decodeEvent } from '../../events/decode.js';
import { createKafka } from '../../kafka/client.js';
import { setLogger } from '../../obs/log.js';
import { detectionWorkerHeaps, type ThreadHeap } from '../../obs/metrics.js';
import { childrenOf, cpuOver, pressureTotals, processCpu, rssKinds, threadCpuTimes, type CpuFigures, type CpuSample } from '../../obs/proc.js';
import { benchSvg } from '../bench-plot.js';
import { percentiles, progressOver, resultsJson, svgBeside, targets, type Target } from '../bench-results.js';
import { brokerVersion, ensureLocalBroker, localBrokerPid, stopLocalBroker } from '../local-broker.js';

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
const BIN = root('bin/m2m-sentinel.js');

/** Bumped whenever the generator changes, so a preloaded topic is never reused across versions. */
const GEN_VERSION = 1;
/** Event time of the first generated event. */
const T0 = Date.UTC(2026, 2, 2, 0, 0, 0);

// ───────────────────────────── deterministic fleet generator ─────────────────────────────

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

// ───────────────────────────── worker protocol ─────────────────────────────

/** Runner settings a bench run may set for experiments; unset ones are the runner's defaults. */
interface RunnerSettings {
  checkpointEveryMs?: number;
  eventsPerStateRecord?: number;
  concurrency?: number;
  detectWorkers?: number;
  checkpointSlots?: number;
}

type WorkerSpec =
  | { role: 'ceiling'; brokers: string[]; topic: string; group: string; concurrency: number; brokerPid?: number }
  | ({ role: 'pipeline'; brokers: string[]; cfg: PipelineConfig; dataDir: string; probePrefix?: string; hold?: boolean; brokerPid?: number } & RunnerSettings)
  | { role: 'detect'; cfg: PipelineConfig; gen: GenOptions; mature: GenOptions; breakdownEvents: number };

type ToParent =
  | { kind: 'ready' }
  | { kind: 'loaded' }
  | { kind: 'progress'; processed: number; first: number | null; last: number | null }
  | { kind: 'alert'; device: string; t: number }
  | { kind: 'log'; line: string }
  | { kind: 'done'; result: Record<string, unknown> }
  | { kind: 'error'; error: string };

type ToWorker = { kind: 'spec'; spec: WorkerSpec } | { kind: 'go' } | { kind: 'stop' };

function send(m: ToParent): void {
  process.send?.(m);
}

interface MemoryAtPeak {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Detection worker threads' heaps as they last reported them (≤ 1 s old). */
  workers: ThreadHeap[];
  /**
   * RSS by kind (Linux, /proc/self/status): anonymous memory (heaps, Buffers, malloc) and pages of
   * mapped files, mostly code; the embedded ClickHouse's library alone is ~200 MiB of the latter.
   * Undefined where /proc is not there.
   */
  rssAnon?: number;
  rssFile?: number;
}

/** Peak RSS of this process, sampled; the embedded ClickHouse (chdb) is in-process, so included. */
function rssSampler(): { peak(): number; atPeak(): MemoryAtPeak; stop(): void } {
  let peak = process.memoryUsage.rss();
  let at = process.memoryUsage();
  let workers = detectionWorkerHeaps();
  let kinds = rssKinds();
  const t = setInterval(() => {
    const r = process.memoryUsage.rss();
    if (r > peak) {
      peak = r;
      // What the peak is made of: V8 heaps (used, and reserved) of this thread and the detection
      // workers, and memory outside them (Buffers, the embedded ClickHouse).
      at = process.memoryUsage();
      workers = detectionWorkerHeaps();
      kinds = rssKinds();
    }
  }, 100);
  t.unref();
  return {
    peak: () => Math.max(peak, process.memoryUsage.rss()),
    atPeak: () => ({ heapUsed: at.heapUsed, heapTotal: at.heapTotal, external: at.external, arrayBuffers: at.arrayBuffers, workers, ...kinds }),
    stop: () => clearInterval(t),
  };
}

/** "22.47 µs/event (1.63 cores): main 3.77 · …", or undefined without figures. */
function cpuText(c: unknown): string | undefined {
  if (!c) return undefined;
  const { usPerEvent: u, cores } = c as CpuFigures;
  const parts = [
    `main ${u.main}`,
    ...(u.workers ? [`detection workers ${u.workers}`] : []),
    `Node helpers (GC, compiler, libuv pool) ${u.helpers}`,
    ...(u.clickhouse ? [`ClickHouse's threads ${u.clickhouse}`] : []),
    ...(u.broker !== null ? [`broker ${u.broker}`] : []),
  ];
  return `${u.total} µs/event (${cores} cores): ${parts.join(' · ')}`;
}

/** The CPU line under a phase's result line, or nothing. */
const cpuLine = (c: unknown): string => {
  const t = cpuText(c);
  return t === undefined ? '' : `\n  CPU ${t}`;
};

/**
 * This process's threads sampled every 250 ms with the events handled at that moment, and the
 * broker's CPU when its pid is known (the bundled broker: its bash wrapper and the JVM child).
 */
function cpuSampler(count: () => number, brokerPid: number | undefined): { stop(): void; over(first: number | null, last: number | null): CpuFigures | null } {
  const broker = brokerPid === undefined ? [] : [brokerPid, ...childrenOf(brokerPid)];
  const brokerCpu = (): number | undefined => {
    let sum = 0;
    for (const pid of broker) {
      const c = processCpu(pid);
      if (c === undefined) return undefined;
      sum += c;
    }
    return broker.length ? sum : undefined;
  };
  const workerTids = new Set<number>();
  const samples: CpuSample[] = [];
  const take = (): void => {
    const threads = threadCpuTimes();
    if (threads === undefined) return;
    for (const h of detectionWorkerHeaps()) if (h.tid !== undefined) workerTids.add(h.tid);
    samples.push({ t: Date.now(), n: count(), threads, broker: brokerCpu() });
  };
  take();
  const timer = setInterval(take, 250);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      take();
    },
    over: (first, last) => cpuOver(samples, first, last, process.pid, workerTids),
  };
}

/**
 * Report progress from a counter polled every 20 ms. `first` is the last poll that still saw
 * nothing (so the first batch's work is inside the measured span), `last` the poll at which the
 * counter last moved.
 */
function progressReporter(count: () => number): { stop(): void; snapshot(): { processed: number; first: number | null; last: number | null; progress: Array<[number, number]> } } {
  let processed = 0;
  let first: number | null = null;
  let last: number | null = null;
  let zeroAt = Date.now();
  let lastSent = 0;
  /** (wall ms, events) every 250 ms, for the throughput-over-time plot. */
  const trace: Array<[number, number]> = [];
  const t = setInterval(() => {
    const n = count();
    const now = Date.now();
    if (!trace.length || now - trace[trace.length - 1]![0] >= 250) trace.push([now, n]);
    if (n === 0) zeroAt = now;
    else {
      first ??= zeroAt;
      if (n !== processed) last = now;
    }
    const changed = n !== processed;
    processed = n;
    if (changed || now - lastSent > 500) {
      lastSent = now;
      send({ kind: 'progress', processed, first, last });
    }
  }, 20);
  return { stop: () => clearInterval(t), snapshot: () => ({ processed, first, last, progress: progressOver(trace, first, last, processed) }) };
}

function waitForStop(): Promise<void> {
  return new Promise((resolve) => {
    process.on('message', (m: ToWorker) => {
      if (m.kind === 'stop') resolve();
    });
    process.on('disconnect', () => resolve());
  });
}

/** State written by the runner's checkpoints, read off its own structured log events. */
const checkpointLog = { checkpoints: 0, records: 0, bytes: 0, ms: 0, maxMs: 0, devices: new Map<string, number>(), publishes: 0, publishMs: 0, publishMaxMs: 0 };

async function runWorker(): Promise<void> {
  // The generated fleet has malformed events on purpose; one warn line per dead letter would
  // bury the table. Debug calls are enabled only to see "state checkpointed" (devices, changed
  // devices, bytes): the hook returns before pino serialises anything below the shown level.
  const shown = pino.levels.values[process.env.LOG_LEVEL ?? 'error'] ?? 50;
  setLogger(
    pino(
      {
        level: 'debug',
        hooks: {
          logMethod(args, method, level) {
            if (args[1] === 'state checkpointed' && typeof args[0] === 'object' && args[0] !== null) {
              const c = args[0] as { topic?: string; partition?: number; devices?: number; delta?: number; bytes?: number; ms?: number };
              checkpointLog.ms += c.ms ?? 0;
              checkpointLog.maxMs = Math.max(checkpointLog.maxMs, c.ms ?? 0);
              checkpointLog.checkpoints++;
              checkpointLog.records += c.delta ?? 0;
              checkpointLog.bytes += c.bytes ?? 0;
              if (typeof c.devices === 'number') checkpointLog.devices.set(`${c.topic}:${c.partition}`, c.devices);
            } else if (args[1] === 'outputs published' && typeof args[0] === 'object' && args[0] !== null) {
              const ms = (args[0] as { ms?: number }).ms ?? 0;
              checkpointLog.publishes++;
              checkpointLog.publishMs += ms;
              checkpointLog.publishMaxMs = Math.max(checkpointLog.publishMaxMs, ms);
            }
            if (level >= shown) method.apply(this, args);
          },
        },
      },
      pino.destination(2),
    ),
  );
  const spec = await new Promise<WorkerSpec>((resolve) => {
    const on = (m: ToWorker) => {
      if (m.kind === 'spec') {
        process.off('message', on);
        resolve(m.spec);
      }
    };
    process.on('message', on);
  });
  let result: Record<string, unknown>;
  try {
    if (spec.role === 'ceiling') result = await ceilingWorker(spec);
    else if (spec.role === 'pipeline') result = await pipelineWorker(spec);
    else result = await detectWorker(spec);
  } catch (e) {
    send({ kind: 'error', error: (e as Error).stack ?? String(e) });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 200).unref();
    return;
  }
  process.send?.({ kind: 'done', result } satisfies ToParent, () => process.exit(0));
}

/** Raw kafkajs consumption with the runner's consumer settings, doing nothing but decode. */
async function ceilingWorker(spec: Extract<WorkerSpec, { role: 'ceiling' }>): Promise<Record<string, unknown>> {
  const rss = rssSampler();
  const kafka = createKafka({ brokers: spec.brokers, clientId: 'm2m-bench-ceiling' });
  // Keep these in step with startPipeline in src/pipeline/runner.ts.
  const consumer = kafka.consumer({
    groupId: spec.group,
    sessionTimeout: 30_000,
    rebalanceTimeout: 60_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: 1_048_576,
    maxBytes: 4 * 1_048_576,
    allowAutoTopicCreation: false,
  });
  let n = 0;
  let bad = 0;
  let batches = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: spec.topic, fromBeginning: true });
  const prog = progressReporter(() => n);
  const cpu = cpuSampler(() => n, spec.brokerPid);
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: spec.concurrency,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
      let last: string | undefined;
      let k = 0;
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break;
        const r = decodeEvent(m.value ?? Buffer.alloc(0));
        if (!r.ok) bad++;
        last = m.offset;
        k++;
      }
      if (last === undefined) return;
      resolveOffset(last);
      n += k;
      batches++;
      await heartbeat();
    },
  });
  send({ kind: 'ready' });
  await waitForStop();
  prog.stop();
  cpu.stop();
  const snap = prog.snapshot();
  await consumer.disconnect();
  rss.stop();
  return { ...snap, bad, batches, peakRss: rss.peak(), cpu: cpu.over(snap.first, snap.last) };
}

/** The real service (startService → startPipeline) on one pipeline, until told to stop. */
async function pipelineWorker(spec: Extract<WorkerSpec, { role: 'pipeline' }>): Promise<Record<string, unknown>> {
  const rss = rssSampler();
  const { startService } = await import('../../pipeline/service.js');
  const prefix = spec.probePrefix;
  if (spec.hold) {
    // Instances of one group start together, so neither owns every partition for the seconds
    // the other spends starting up.
    const go = new Promise<void>((resolve) => process.on('message', (m: ToWorker) => m.kind === 'go' && resolve()));
    send({ kind: 'loaded' });
    await go;
  }
  const svc = await startService([spec.cfg], {
    brokers: spec.brokers,
    clickhouse: { dataDir: spec.dataDir },
    deliver: false,
    ...(spec.checkpointEveryMs !== undefined ? { checkpointEveryMs: spec.checkpointEveryMs } : {}),
    ...(spec.concurrency !== undefined ? { partitionsConsumedConcurrently: spec.concurrency } : {}),
    ...(spec.detectWorkers !== undefined ? { detectWorkers: spec.detectWorkers } : {}),
    ...(spec.eventsPerStateRecord !== undefined ? { minEventsPerStateRecord: spec.eventsPerStateRecord } : {}),
    ...(spec.checkpointSlots !== undefined ? { maxConcurrentCheckpoints: spec.checkpointSlots } : {}),
    ...(prefix
      ? {
          onAlert: (a) => {
            const dev = a.device.uid;
            if (dev.startsWith(prefix)) send({ kind: 'alert', device: dev, t: Date.now() });
          },
        }
      : {}),
  });
  if (svc.failed.length || !svc.pipelines[0]) throw new Error(`pipeline failed to start: ${svc.failed.map((f) => f.error).join('; ')}`);
  const h = svc.pipelines[0];
  const handled = (): number => {
    const s = h.stats();
    return s.events + s.deadLetters;
  };
  const prog = progressReporter(handled);
  const cpu = cpuSampler(handled, spec.brokerPid);
  send({ kind: 'ready' });
  await waitForStop();
  prog.stop();
  cpu.stop();
  const snap = prog.snapshot();
  const stats = h.stats();
  await svc.stop(60_000);
  rss.stop();
  const devices = [...checkpointLog.devices.values()].reduce((a, b) => a + b, 0);
  const state = {
    checkpoints: checkpointLog.checkpoints,
    records: checkpointLog.records,
    bytes: checkpointLog.bytes,
    devices,
    checkpointMs: checkpointLog.ms,
    maxCheckpointMs: checkpointLog.maxMs,
    publishes: checkpointLog.publishes,
    publishMs: checkpointLog.publishMs,
    publishMaxMs: checkpointLog.publishMaxMs,
  };
  return { ...snap, stats, state, peakRss: rss.peak(), memoryAtPeak: rss.atPeak(), cpu: cpu.over(snap.first, snap.last) };
}

const hr = () => Number(process.hrtime.bigint()) / 1e9;

/** Decode-only and detector-only throughput on one core, without Kafka or ClickHouse. */
async function detectWorker(spec: Extract<WorkerSpec, { role: 'detect' }>): Promise<Record<string, unknown>> {
  const rss = rssSampler();
  const { createEngine } = await import('../../pipeline/engine.js');
  const { buildDetectors, engineOptions } = await import('../../pipeline/build.js');
  // The checkpoint format is the state owner's; the engine snapshot as JSON is what any of them stores.
  const stateJson = (e: { snapshot(): unknown }) => JSON.stringify(e.snapshot(), (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
  const { DETECTORS } = await import('../../detectors/registry.js');
  const { withDefaults } = await import('../../detectors/params.js');
  const gc = (globalThis as { gc?: () => void }).gc;
  const fullGc = () => {
    gc?.();
    gc?.();
  };
  const cfg = spec.cfg;
  const engineFor = (dets: ReturnType<typeof buildDetectors>) => createEngine(engineOptions(cfg, dets));

  /**
   * Serialising one device's state: JSON (the first checkpoint format, still read) against V8's
   * structured-clone serializer (what hands a restored snapshot to a worker), on the same states.
   * A function of its own so that no temporary of it (the snapshot holds the live states)
   * outlives it in the caller's frame.
   */
  function serializeCost(engine: ReturnType<typeof engineFor>) {
    const states = Object.values((engine.snapshot() as { devices: Record<string, unknown> }).devices);
    let t0 = hr();
    let jsonBytes = 0;
    for (const st of states) jsonBytes += Buffer.byteLength(JSON.stringify(st));
    const jsonS = hr() - t0;
    t0 = hr();
    let v8Bytes = 0;
    for (const st of states) v8Bytes += serialize(st).length;
    const v8S = hr() - t0;
    const perDev = (x: number) => Math.round((x / Math.max(states.length, 1)) * 1e6 * 100) / 100;
    return {
      jsonUsPerDevice: perDev(jsonS),
      jsonBytesPerDevice: Math.round(jsonBytes / Math.max(states.length, 1)),
      v8UsPerDevice: perDev(v8S),
      v8BytesPerDevice: Math.round(v8Bytes / Math.max(states.length, 1)),
    };
  }

  /** Generate in chunks (bounded memory), time decode and detect separately. */
  function run(g: GenOptions) {
    const gen = new FleetGen(g);
    let engine: ReturnType<typeof engineFor> | undefined = engineFor(buildDetectors(cfg));
    let decodeS = 0;
    let detectS = 0;
    let n = 0;
    let bytes = 0;
    let bad = 0;
    let findings = 0;
    for (;;) {
      const raws = gen.take(200_000);
      if (!raws.length) break;
      const bufs = raws.map((s) => Buffer.from(s));
      // The generator's garbage is not the detectors' cost: collect it outside the timed part.
      gc?.();
      const evs: M2MEvent[] = [];
      let t = hr();
      for (const b of bufs) {
        bytes += b.length;
        const r = decodeEvent(b);
        if (r.ok) evs.push(r.event);
        else bad++;
      }
      decodeS += hr() - t;
      t = hr();
      for (const ev of evs) findings += engine.process(ev).length;
      detectS += hr() - t;
      n += bufs.length;
    }
    const devices = engine.deviceCount();
    const stateBytes = Buffer.byteLength(stateJson(engine));
    const serializeFigures = serializeCost(engine);
    // The heap the engine holds: used heap with it minus without it, each after full collections
    // (twice: one can leave garbage half collected). A delta from before the run also counted
    // whatever the run's start had not yet freed, and read negative for 2,000 mature devices.
    fullGc();
    const withEngine = process.memoryUsage().heapUsed;
    engine = undefined;
    fullGc();
    const heldByEngine = withEngine - process.memoryUsage().heapUsed;
    return {
      result: {
        events: n,
        devices,
        bad,
        findings,
        avgEventBytes: Math.round(bytes / Math.max(n, 1)),
        decodeSeconds: decodeS,
        decodeEventsPerSec: Math.round(n / decodeS),
        detectSeconds: detectS,
        detectEventsPerSec: Math.round((n - bad) / detectS),
        decodeAndDetectEventsPerSec: Math.round(n / (decodeS + detectS)),
        stateBytesPerDevice: Math.round(stateBytes / Math.max(devices, 1)),
        heapBytesPerDevice: gc ? Math.round(heldByEngine / Math.max(devices, 1)) : null,
        eventTimeSpanHours: Math.round(((g.events / g.devices) * g.intervalMs) / 36e5 * 10) / 10,
        serialize: serializeFigures,
      },
    };
  }

  const fleet = run(spec.gen);
  const mature = run(spec.mature);
  const sample: M2MEvent[] = [];
  for (const raw of new FleetGen({ ...spec.gen, events: spec.breakdownEvents }).take(spec.breakdownEvents)) {
    const r = decodeEvent(raw);
    if (r.ok) sample.push(r.event);
  }

  // Per-detector cost on the first events of the fleet, each detector alone with its defaults,
  // against the engine with no detector at all (device map, time, ticks).
  const breakdown: Array<{ detector: string; eventsPerSec: number; usPerEvent: number; stateBytesPerDevice: number }> = [];
  const timeAlone = (name: string, make: () => ReturnType<typeof buildDetectors>) => {
    // Best of three fresh engines: the machine is shared, the minimum is the detector's cost.
    let s = Infinity;
    let engine = engineFor(make());
    for (let rep = 0; rep < 3; rep++) {
      engine = engineFor(make());
      gc?.();
      const t = hr();
      for (const ev of sample) engine.process(ev);
      s = Math.min(s, hr() - t);
    }
    const bytes = Buffer.byteLength(stateJson(engine));
    breakdown.push({ detector: name, eventsPerSec: Math.round(sample.length / s), usPerEvent: Math.round((s / sample.length) * 1e6 * 100) / 100, stateBytesPerDevice: Math.round(bytes / Math.max(engine.deviceCount(), 1)) });
  };
  timeAlone('(engine only)', () => []);
  for (const spec_ of DETECTORS) timeAlone(spec_.name, () => [spec_.create(withDefaults(spec_), spec_.name)]);
  timeAlone('(pipeline detectors)', () => buildDetectors(cfg));
  rss.stop();
  return { fleet: fleet.result, mature: mature.result, breakdown, breakdownEvents: sample.length, detectors: cfg.detectors.map((d) => d.id), peakRss: rss.peak() };
}

// ───────────────────────────── parent: orchestration ─────────────────────────────

interface Worker {
  child: ChildProcess;
  loaded: Promise<void>;
  progress: { processed: number; first: number | null; last: number | null };
  ready: Promise<void>;
  done: Promise<Record<string, unknown>>;
  onAlert?: (device: string, t: number) => void;
  stop(): void;
}

/** Every worker started, so a failed phase never leaves one running. */
const live = new Set<ChildProcess>();

function startWorker(spec: WorkerSpec, opts: { profileDir?: string; exposeGc?: boolean; label: string }): Worker {
  const execArgv: string[] = [];
  if (opts.exposeGc) execArgv.push('--expose-gc');
  // V8 and Node flags for the phase processes, for experiments (--trace-gc, heap sizing): Node
  // refuses most V8 flags in NODE_OPTIONS.
  execArgv.push(...(process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean));
  // One directory per process; node names each thread's profile (detection workers included).
  if (opts.profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', join(opts.profileDir, opts.label));
  const child = fork(BIN, ['bench', '--worker'], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  live.add(child);
  let readyRes!: () => void;
  let loadedRes!: () => void;
  const loaded = new Promise<void>((r) => (loadedRes = r));
  let doneRes!: (r: Record<string, unknown>) => void;
  let fail!: (e: Error) => void;
  const ready = new Promise<void>((r) => (readyRes = r));
  const done = new Promise<Record<string, unknown>>((res, rej) => {
    doneRes = res;
    fail = rej;
  });
  done.catch(() => undefined);
  const w: Worker = {
    child,
    loaded,
    progress: { processed: 0, first: null, last: null },
    ready,
    done,
    stop: () => {
      if (child.connected) child.send({ kind: 'stop' } satisfies ToWorker);
    },
  };
  let finished = false;
  child.on('message', (m: ToParent) => {
    if (m.kind === 'progress') w.progress = { processed: m.processed, first: m.first, last: m.last };
    else if (m.kind === 'ready') readyRes();
    else if (m.kind === 'loaded') loadedRes();
    else if (m.kind === 'alert') w.onAlert?.(m.device, m.t);
    else if (m.kind === 'log') process.stderr.write(`[${opts.label}] ${m.line}\n`);
    else if (m.kind === 'done') {
      finished = true;
      doneRes(m.result);
    } else if (m.kind === 'error') {
      finished = true;
      fail(new Error(`${opts.label} worker: ${m.error}`));
    }
  });
  child.on('exit', (code) => {
    live.delete(child);
    if (!finished) fail(new Error(`${opts.label} worker exited with code ${code} before reporting`));
  });
  child.send({ kind: 'spec', spec } satisfies ToWorker);
  return w;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `cond` holds, failing if `progress()` stops moving for `stallMs`. */
async function waitUntil(cond: () => boolean, progress: () => number, what: string | (() => string), stallMs = 120_000, failed?: Promise<unknown>): Promise<void> {
  let lastN = -1;
  let lastMove = Date.now();
  let err: unknown;
  failed?.catch((e) => (err = e));
  const t0 = Date.now();
  let lastSay = t0;
  while (!cond()) {
    if (err) throw err;
    const n = progress();
    if (Date.now() - lastSay >= 15_000) {
      lastSay = Date.now();
      process.stderr.write(`  … ${n.toLocaleString('en')} events after ${Math.round((lastSay - t0) / 1000)} s\n`);
    }
    if (n !== lastN) {
      lastN = n;
      lastMove = Date.now();
    } else if (Date.now() - lastMove > stallMs) throw new Error(`${typeof what === 'string' ? what : what()}: no progress for ${stallMs / 1000}s (at ${n})`);
    await sleep(20);
  }
}

function quantile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

interface BenchOptions {
  worker?: boolean;
  quick?: boolean;
  events?: string;
  devices?: string;
  seed: string;
  partitions: string;
  interval: string;
  pipeline: string;
  brokerPort: string;
  only?: string;
  rate?: string;
  duration?: string;
  out?: string;
  keepBroker?: boolean;
  keepData?: boolean;
  profile?: string;
  checkpointEvery?: string;
  concurrency?: string;
  detectWorkers?: string;
  eventsPerStateRecord?: string;
  checkpointSlots?: string;
  plot?: string;
}

const PHASES = ['detect', 'ceiling', 'pipeline', 'latency', 'scale'] as const;
type Phase = (typeof PHASES)[number];

export function register(program: Command): void {
  program
    .command('bench')
    .description('Benchmark the pipeline against the raw kafkajs ceiling on the local broker and embedded ClickHouse; writes bench/results.json and a plot of it, bench/results.svg')
    .option('--quick', 'development size: 200k events, 20k devices, short latency phase', false)
    .option('--events <n>', 'events to preload (default 2,000,000; --quick 200,000)')
    .option('--devices <n>', 'distinct devices (default 100,000; --quick 20,000)')
    .option('--seed <n>', 'generator seed', '7')
    .option('--partitions <n>', 'partitions of the preloaded topic', '8')
    .option('--interval <ms>', 'per-device reporting interval in event time', '60000')
    .option('--pipeline <file>', 'pipeline whose detectors and settings are measured', root('pipelines/default.yaml'))
    .option('--broker-port <port>', 'local broker port (started if nothing listens; ignored with KAFKA_BROKERS)', '9092')
    .option('--only <phases>', `comma-separated subset of ${PHASES.join(',')}`)
    .option('--rate <eps>', 'offered load of the latency phase (default: half the measured pipeline throughput)')
    .option('--duration <s>', 'length of the latency phase in seconds (default 75, which holds a full checkpoint cycle of every partition; --quick 12)')
    .option('--out <file>', 'results file (default bench/results.json; --quick bench/results-quick.json)')
    .option('--profile <dir>', 'write a V8 CPU profile of every worker into <dir> (node --cpu-prof)')
    .option('--checkpoint-every <ms>', "the runner's checkpoint interval (default: the runner's own)")
    .option('--concurrency <n>', "partitions the runner processes concurrently (default: the runner's own)")
    .option('--events-per-state-record <n>', "the runner's least events per changed device before a due checkpoint (default: the runner's own)")
    .option('--checkpoint-slots <n>', "the runner's checkpoints taken and not yet committed at a time (default: the runner's own, one per two detection workers)")
    .option('--detect-workers <n>', "the runner's detection worker threads, 0 for none (default: the runner's own, one per core, at most 4)")
    .option('--plot <results.json>', 'only draw an existing results file as an SVG beside it (bench/results.svg); runs nothing')
    .option('--keep-broker', 'leave a broker this run started running', false)
    .option('--keep-data', 'keep the embedded ClickHouse data directories', false)
    .addOption(new Option('--worker', 'internal: run as a measurement worker').hideHelp())
    .addHelpText(
      'after',
      `
Phases (all by default, in this order):
  detect    decode-only and detectors-only throughput on one core (no Kafka), state per device
  ceiling   raw kafkajs consumption of the preloaded topic doing only decodeEvent
  pipeline  the real runner (startService) on the same topic: throughput, peak RSS, state
            (both: CPU per event by thread and of the bundled broker, on Linux)
  latency   fixed offered load (half the pipeline's max): p50/p99 event-to-finding latency
  scale     two runner processes in one consumer group: combined throughput

The preloaded topic is named by generator version, events, devices, seed and partitions and is
reused when it already holds exactly that many events. See docs/performance.md.

Examples:
  npm run bench
  npm run bench -- --quick
  node bin/m2m-sentinel.js bench --quick --only ceiling,pipeline --profile bench/profiles
  node bin/m2m-sentinel.js bench --plot bench/results.json     # redraw bench/results.svg`,
    )
    .action(async (o: BenchOptions) => {
      if (o.worker) return runWorker();
      if (o.plot !== undefined) return plotOnly(o.plot);
      await bench(o);
    });
}

function loadedPipeline(path: string): Promise<PipelineConfig> {
  return import('../../config/load.js').then(async ({ loadPipelineFile }) => {
    const r = await loadPipelineFile(path);
    if (!r.pipeline) throw new Error(`pipeline ${path} does not load: ${r.errors.map((e) => `${e.line}:${e.column} ${e.path} ${e.message}`).join('; ')}`);
    return r.pipeline;
  });
}

/** The pipeline under test with bench topics, group and outbox; everything else as configured. */
function benchPipeline(base: PipelineConfig, topic: string, group: string, runId: string, tag: string): PipelineConfig {
  return {
    ...base,
    name: `bench_${tag}`,
    source: { kafka: { ...base.source.kafka, topics: [topic], group, start: 'earliest', dead_letter_topic: `bench.${runId}.${tag}.dlq` } },
    alerts: { ...base.alerts, routes: [{ type: 'kafka', name: 'kafka', options: { topic: `bench.${runId}.${tag}.alerts` } }] },
  };
}

async function topicEvents(kafka: Kafka, topic: string): Promise<{ partitions: number; events: number } | null> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return null;
    const offs = await admin.fetchTopicOffsets(topic);
    return { partitions: offs.length, events: offs.reduce((n, o) => n + Number(o.high) - Number(o.low), 0) };
  } finally {
    await admin.disconnect();
  }
}

async function recreateTopic(kafka: Kafka, topic: string, partitions: number, exists: boolean): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (exists) {
      await admin.deleteTopics({ topics: [topic] });
      await sleep(2_000);
    }
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }] });
  } finally {
    await admin.disconnect();
  }
}

async function deleteTopics(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

/** Produce the generated fleet as fast as the broker takes it, several batches in flight. */
async function preload(kafka: Kafka, topic: string, g: GenOptions, log: (s: string) => void): Promise<{ seconds: number; bytes: number }> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const gen = new FleetGen(g);
  const t0 = Date.now();
  let sent = 0;
  let bytes = 0;
  const inflight = new Set<Promise<unknown>>();
  let lastLog = 0;
  for (;;) {
    const raws = gen.take(5_000);
    if (!raws.length) break;
    const messages: Message[] = raws.map((value) => {
      bytes += value.length;
      // The key is the device id, as devices (and replay) send it, so partitioning is real.
      const i = value.indexOf('"device_id":"') + 13;
      return { key: value.slice(i, value.indexOf('"', i)), value };
    });
    const p = producer.send({ topic, messages, acks: 1 }).then(() => {
      sent += messages.length;
      inflight.delete(p);
    });
    inflight.add(p);
    if (inflight.size >= 4) await Promise.race(inflight);
    if (Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      log(`  preload ${sent.toLocaleString('en')} / ${g.events.toLocaleString('en')}`);
    }
  }
  await Promise.all(inflight);
  await producer.disconnect();
  return { seconds: (Date.now() - t0) / 1000, bytes };
}

function machine(kafkaVersion: string): Record<string, unknown> {
  const c = cpus();
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root('.'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = null;
  }
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    os: `${process.platform} ${release()}`,
    node: process.version,
    kafka: kafkaVersion,
    kafkajs: '2.2.4',
    clickhouse: 'embedded (chdb)',
    commit,
    date: new Date().toISOString(),
  };
}

async function bench(o: BenchOptions): Promise<void> {
  const out = (s: string) => process.stdout.write(s + '\n');
  const log = (s: string) => process.stderr.write(s + '\n');
  setLogger(pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2)));
  const quick = !!o.quick;
  const N = Number(o.events ?? (quick ? 200_000 : 2_000_000));
  const D = Number(o.devices ?? (quick ? 20_000 : 100_000));
  const seed = Number(o.seed);
  const partitions = Number(o.partitions);
  const intervalMs = Number(o.interval);
  if (!(N > 0 && D > 0 && partitions > 0 && intervalMs > 0)) throw new UsageError('--events, --devices, --partitions and --interval must be positive');
  const only = new Set<Phase>(o.only ? (o.only.split(',').map((s) => s.trim()) as Phase[]) : PHASES);
  for (const p of only) if (!PHASES.includes(p)) throw new UsageError(`unknown phase "${p}"; phases: ${PHASES.join(', ')}`);
  const outFile = resolve(o.out ?? root(quick ? 'bench/results-quick.json' : 'bench/results.json'));
  const profileDir = o.profile ? resolve(o.profile) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  const external = process.env.KAFKA_BROKERS;
  const port = Number(o.brokerPort);
  const brokers = external ? external.split(',').map((s) => s.trim()) : [`127.0.0.1:${port}`];
  let startedBroker = false;
  let kafkaVersion = 'external';
  if (!external) {
    kafkaVersion = brokerVersion();
    startedBroker = await ensureLocalBroker(port);
  }
  // The bundled broker shares this machine's cores: its CPU per event is part of the budget.
  const brokerPid = external ? undefined : localBrokerPid(port);
  const kafka = createKafka({ brokers, clientId: 'm2m-bench' });
  const base = await loadedPipeline(o.pipeline);
  const runId = new Date().toISOString().replace(/[-:T.Z]/g, '').slice(0, 14);
  const tmp = mkdtempSync(join(tmpdir(), 'm2m-bench-'));
  const results: Record<string, unknown> = {
    machine: machine(kafkaVersion),
    config: { quick, events: N, devices: D, seed, partitions, intervalMs, pipeline: o.pipeline.replace(root(''), ''), detectors: base.detectors.map((d) => d.id), brokers },
  };
  const gen: GenOptions = { events: N, devices: D, seed, intervalMs };
  // Runner settings under experiment, passed to every runner the bench starts.
  const runnerOpts: RunnerSettings = {
    ...(o.checkpointEvery !== undefined ? { checkpointEveryMs: Number(o.checkpointEvery) } : {}),
    ...(o.concurrency !== undefined ? { concurrency: Number(o.concurrency) } : {}),
    ...(o.detectWorkers !== undefined ? { detectWorkers: Number(o.detectWorkers) } : {}),
    ...(o.eventsPerStateRecord !== undefined ? { eventsPerStateRecord: Number(o.eventsPerStateRecord) } : {}),
    ...(o.checkpointSlots !== undefined ? { checkpointSlots: Number(o.checkpointSlots) } : {}),
  };
  Object.assign(results.config as Record<string, unknown>, runnerOpts);
  const topic = `bench.v${GEN_VERSION}.n${N}.d${D}.s${seed}.i${intervalMs}.p${partitions}`;
  const tStart = Date.now();
  out(`▶ m2m-sentinel bench${quick ? ' (quick)' : ''}: ${N.toLocaleString('en')} events, ${D.toLocaleString('en')} devices, ${partitions} partitions, Kafka ${kafkaVersion} at ${brokers.join(',')}`);
  out(`  detectors: ${base.detectors.map((d) => d.id).join(', ')}`);

  /** A failed phase is recorded and reported; the others still run. */
  const guard = async (name: string, f: () => Promise<void>): Promise<void> => {
    const p0 = pressureTotals();
    const t0 = Date.now();
    try {
      await f();
      const p1 = pressureTotals();
      const r = results[name];
      if (p0 && p1 && r && typeof r === 'object') {
        const us = (Date.now() - t0) * 1000;
        const stall = { cpuSomeShare: Math.round(((p1.cpu - p0.cpu) / us) * 100) / 100, ioSomeShare: Math.round(((p1.io - p0.io) / us) * 100) / 100 };
        (r as Record<string, unknown>).pressure = stall;
        out(`  machine: some task waited for a CPU ${Math.round(stall.cpuSomeShare * 100)}% of the phase, for I/O ${Math.round(stall.ioSomeShare * 100)}%`);
      }
    } catch (e) {
      for (const c of live) c.kill('SIGKILL');
      const msg = (e as Error).message ?? String(e);
      results[name] = { ...((results[name] as object | undefined) ?? {}), error: msg };
      out(`  ✗ ${name} failed: ${msg.split('\n')[0]}`);
    }
  };

  try {
    // ── preload ──
    if (only.has('ceiling') || only.has('pipeline') || only.has('scale')) {
      // A broker that just started may not have elected partition leaders yet.
      let have: Awaited<ReturnType<typeof topicEvents>> = null;
      for (let attempt = 1; ; attempt++) {
        try {
          have = await topicEvents(kafka, topic);
          break;
        } catch (e) {
          if (attempt >= 10 || !/leader|does not host/i.test(String(e))) throw e;
          await sleep(2_000);
        }
      }
      if (have && have.events === N && have.partitions === partitions) {
        out(`▶ preload: reusing ${topic} (${N.toLocaleString('en')} events)`);
        results.preload = { topic, reused: true };
      } else {
        out(`▶ preload: producing ${N.toLocaleString('en')} events into ${topic}`);
        await recreateTopic(kafka, topic, partitions, have !== null);
        const p = await preload(kafka, topic, gen, log);
        const check = await topicEvents(kafka, topic);
        if (check?.events !== N) throw new Error(`preload wrote ${check?.events} events, expected ${N}`);
        results.preload = { topic, reused: false, seconds: p.seconds, megabytes: Math.round(p.bytes / 1e5) / 10, eventsPerSec: Math.round(N / p.seconds) };
        out(`  ${Math.round(N / p.seconds).toLocaleString('en')} events/s, ${(p.bytes / 1e6).toFixed(0)} MB`);
      }
    }

    // ── (c) in-process: decode only, detectors only ──
    if (only.has('detect')) await guard('detect', async () => {
      out('▶ detect: decode and detectors in one process, no Kafka');
      const mature: GenOptions = quick ? { events: 300_000, devices: 1_000, seed, intervalMs: 900_000 } : { events: 600_000, devices: 2_000, seed, intervalMs: 900_000 };
      const w = startWorker({ role: 'detect', cfg: base, gen, mature, breakdownEvents: Math.min(N, quick ? 100_000 : 300_000) }, { label: 'detect', exposeGc: true, ...(profileDir ? { profileDir } : {}) });
      const r = await w.done;
      results.detect = r;
      const f = r.fleet as Record<string, number>;
      out(`  decode ${f.decodeEventsPerSec!.toLocaleString('en')} ev/s · detectors ${f.detectEventsPerSec!.toLocaleString('en')} ev/s · ${f.stateBytesPerDevice} B state/device`);
    });

    // ── (a) ceiling ──
    if (only.has('ceiling')) await guard('ceiling', async () => {
      out('▶ ceiling: raw kafkajs consumer + decodeEvent');
      const w = startWorker({ role: 'ceiling', brokers, topic, group: `bench.${runId}.ceiling`, concurrency: 2, ...(brokerPid !== undefined ? { brokerPid } : {}) }, { label: 'ceiling', ...(profileDir ? { profileDir } : {}) });
      await w.ready;
      await waitUntil(() => w.progress.processed >= N, () => w.progress.processed, 'ceiling', 120_000, w.done);
      w.stop();
      const r = await w.done;
      const secs = ((r.last as number) - (r.first as number)) / 1000;
      results.ceiling = { events: r.processed, seconds: secs, eventsPerSec: Math.round(N / secs), peakRssBytes: r.peakRss, batches: r.batches, cpu: r.cpu, progress: r.progress };
      out(`  ${Math.round(N / secs).toLocaleString('en')} events/s in ${secs.toFixed(1)} s${cpuLine(r.cpu)}`);
    });

    // ── (b) the full pipeline ──
    let pipelineEps: number | undefined;
    if (only.has('pipeline')) await guard('pipeline', async () => {
      out('▶ pipeline: the real runner (startService), embedded ClickHouse');
      const cfg = benchPipeline(base, topic, `bench.${runId}.pipe`, runId, 'pipe');
      const w = startWorker({ role: 'pipeline', brokers, cfg, dataDir: join(tmp, 'pipe'), ...(brokerPid !== undefined ? { brokerPid } : {}), ...runnerOpts }, { label: 'pipeline', ...(profileDir ? { profileDir } : {}) });
      await w.ready;
      await waitUntil(() => w.progress.processed >= N, () => w.progress.processed, 'pipeline', 120_000, w.done);
      w.stop();
      const r = await w.done;
      const secs = ((r.last as number) - (r.first as number)) / 1000;
      pipelineEps = Math.round(N / secs);
      const st = r.state as { checkpoints: number; records: number; bytes: number; devices: number; checkpointMs: number; maxCheckpointMs: number; publishes: number; publishMs: number; publishMaxMs: number };
      const stats = r.stats as Record<string, number>;
      results.pipeline = {
        events: r.processed,
        seconds: secs,
        eventsPerSec: pipelineEps,
        peakRssBytes: r.peakRss,
        memoryAtPeak: r.memoryAtPeak,
        devices: st.devices,
        checkpoints: st.checkpoints,
        checkpointDeviceRecords: st.records,
        checkpointBytes: st.bytes,
        // Each checkpoint writes the devices changed since the previous one.
        stateBytesPerDevice: st.records ? Math.round(st.bytes / st.records) : null,
        checkpointBytesPerEvent: Math.round((st.bytes / N) * 10) / 10,
        checkpointSeconds: Math.round(st.checkpointMs / 100) / 10,
        checkpointMaxMs: st.maxCheckpointMs,
        // Alert / dead-letter publications between checkpoints (small transactions).
        publishes: st.publishes,
        publishAvgMs: st.publishes ? Math.round(st.publishMs / st.publishes) : null,
        publishMaxMs: st.publishMaxMs,
        findings: stats.findings,
        alerts: stats.alerts,
        deadLetters: stats.deadLetters,
        cpu: r.cpu,
        progress: r.progress,
      };
      const c = results.ceiling as { eventsPerSec: number } | undefined;
      if (c) (results.pipeline as Record<string, unknown>).ratioToCeiling = Math.round((pipelineEps / c.eventsPerSec) * 1000) / 1000;
      out(`  ${pipelineEps.toLocaleString('en')} events/s in ${secs.toFixed(1)} s · peak RSS ${((r.peakRss as number) / 2 ** 20).toFixed(0)} MiB · ${stats.findings} findings, ${stats.alerts} alerts, ${stats.deadLetters} dead letters${cpuLine(r.cpu)}`);
    });

    // ── latency at a fixed offered load ──
    if (only.has('latency')) await guard('latency', async () => {
      const rate = Number(o.rate ?? (pipelineEps ? Math.round(pipelineEps / 2) : 5_000));
      // Long enough for every partition to checkpoint at least once (at most every 60 s): a
      // shorter window can miss the checkpoints, the largest stalls a live partition sees.
      const duration = Number(o.duration ?? (quick ? 12 : 75));
      out(`▶ latency: ${rate.toLocaleString('en')} events/s offered for ${duration} s, fanout probes`);
      results.latency = await latencyPhase(kafka, base, { brokers, runId, rate, duration, partitions, gen, dataDir: join(tmp, 'lat'), runner: runnerOpts, ...(profileDir ? { profileDir } : {}) }, log);
      const l = results.latency as Record<string, Record<string, number | null>>;
      out(`  durable p50 ${l.durable!.p50Ms} ms, p99 ${l.durable!.p99Ms} ms · detected p50 ${l.detected!.p50Ms} ms, p99 ${l.detected!.p99Ms} ms`);
    });

    // ── (d) scale-out ──
    if (only.has('scale')) await guard('scale', async () => {
      out('▶ scale: two runner processes in one consumer group');
      const group = `bench.${runId}.scale`;
      const cfg = benchPipeline(base, topic, group, runId, 'scale');
      const ws = [0, 1].map((i) => startWorker({ role: 'pipeline', brokers, cfg, dataDir: join(tmp, `scale${i}`), hold: true, ...runnerOpts }, { label: `scale${i}`, ...(profileDir ? { profileDir } : {}) }));
      await Promise.all(ws.map((w) => w.loaded));
      for (const w of ws) w.child.send({ kind: 'go' } satisfies ToWorker);
      await Promise.all(ws.map((w) => w.ready));
      const total = () => ws.reduce((n, w) => n + w.progress.processed, 0);
      // (time, total, both busy) every 20 ms, for the rate while both instances own partitions.
      const samples: Array<{ t: number; total: number; both: boolean }> = [];
      const sampler = setInterval(() => samples.push({ t: Date.now(), total: total(), both: ws.every((w) => w.progress.processed > 0) }), 20);
      try {
        await waitUntil(() => total() >= N, total, () => `scale (${ws.map((w) => w.progress.processed).join(' + ')})`, 120_000, Promise.race(ws.map((w) => w.done.then(() => new Promise(() => undefined)))));
      } finally {
        clearInterval(sampler);
      }
      for (const w of ws) w.stop();
      const rs = await Promise.all(ws.map((w) => w.done));
      const first = Math.min(...rs.map((r) => (r.first as number | null) ?? Infinity));
      const last = Math.max(...rs.map((r) => (r.last as number | null) ?? 0));
      const secs = (last - first) / 1000;
      // Steady state: from when both have processed something until the first one runs dry.
      const firstDry = Math.min(...rs.map((r) => (r.last as number | null) ?? Infinity));
      const a = samples.find((x) => x.both);
      const b = [...samples].reverse().find((x) => x.t <= firstDry);
      const steady = a && b && b.t - a.t > 500 ? Math.round(((b.total - a.total) / (b.t - a.t)) * 1000) : null;
      results.scale = {
        instances: 2,
        seconds: secs,
        eventsPerSec: Math.round(N / secs),
        steadyEventsPerSec: steady,
        // Events processed twice: partitions that moved in the rebalance restart from their last checkpoint.
        reprocessed: rs.reduce((n, r) => n + (r.processed as number), 0) - N,
        perInstance: rs.map((r) => ({
          events: r.processed,
          // Relative to the first event either instance processed.
          startS: r.first ? ((r.first as number) - first) / 1000 : null,
          endS: r.last ? ((r.last as number) - first) / 1000 : null,
          peakRssBytes: r.peakRss,
        })),
      };
      const p = results.pipeline as { eventsPerSec: number } | undefined;
      if (p) (results.scale as Record<string, unknown>).speedupOverOne = Math.round((N / secs / p.eventsPerSec) * 100) / 100;
      out(`  ${Math.round(N / secs).toLocaleString('en')} events/s combined in ${secs.toFixed(1)} s (${rs.map((r) => Number(r.processed).toLocaleString('en')).join(' + ')})`);
    });
  } finally {
    // Run topics, dead letters, outboxes and the runner's state changelogs (named after the group).
    await deleteTopics(kafka, `bench.${runId}.`).catch((e) => log(`could not delete run topics: ${String(e)}`));
    if (!o.keepData) rmSync(tmp, { recursive: true, force: true });
    if (startedBroker && !o.keepBroker) stopLocalBroker(port);
  }

  results.targets = targets(results);
  results.wallSeconds = Math.round((Date.now() - tStart) / 100) / 10;
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, resultsJson(results));
  const plotFile = svgBeside(outFile);
  writeFileSync(plotFile, benchSvg(results));
  out('');
  out(renderTable(results));
  out(`\nresults: ${outFile.replace(root(''), '')} (${results.wallSeconds} s) · plot: ${plotFile.replace(root(''), '')}`);
}

/** `bench --plot FILE`: draw an existing results file without running anything. */
function plotOnly(file: string): void {
  const path = resolve(file);
  let results: unknown;
  try {
    results = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    results = (e as Error).message;
  }
  if (!results || typeof results !== 'object' || Array.isArray(results)) {
    // A usage error like the other commands': exit 2, the reason, no stack.
    process.stderr.write(`bench --plot ${file}: not a bench results file (${typeof results === 'string' ? results : 'not a JSON object'})\n`);
    process.exitCode = 2;
    return;
  }
  const out = svgBeside(path);
  writeFileSync(out, benchSvg(results as Record<string, unknown>));
  process.stdout.write(`plot: ${out}\n`);
}

// ───────────────────────────── latency phase ─────────────────────────────

interface LatencyOpts {
  brokers: string[];
  runId: string;
  rate: number;
  duration: number;
  partitions: number;
  gen: GenOptions;
  dataDir: string;
  profileDir?: string;
  /** Runner settings under experiment (bench's runnerOpts). */
  runner: RunnerSettings;
}

/**
 * Background events to send now in the latency phase: what the offered rate asks for by
 * `elapsedMs`, less what was sent, at most `cap` per request (a generator that fell behind
 * catches up in capped requests rather than one that grows with the backlog).
 */
export function backgroundDue(elapsedMs: number, rate: number, sent: number, cap: number): number {
  const due = Math.floor((elapsedMs / 1000) * rate) - sent;
  return due <= 0 ? 0 : due < cap ? due : cap;
}

/**
 * Offered load at a fixed rate into a fresh topic while the real runner consumes it. Among the
 * background events, every 100 ms one fresh "probe" device sends a burst of connections to
 * distinct ports: the last one of the burst completes a vertical scan (fanout's fixed minimum
 * applies from a device's first event, so no warm-up is needed) and must raise an alert.
 *   detected = probe sent → the runner's onAlert hook (decoded, detected, routed; not yet durable)
 *   durable  = probe sent → the alert readable on the outbox topic, i.e. after the finding was
 *              inserted into ClickHouse and the alert produced with acks=all. This is the figure
 *              an analyst (or SIEM) sees and the one the ≤ 1 s target applies to.
 */
async function latencyPhase(kafka: Kafka, base: PipelineConfig, o: LatencyOpts, log: (s: string) => void): Promise<Record<string, unknown>> {
  const fan = base.detectors.find((d) => d.type === 'fanout');
  if (!fan) throw new Error('the latency probes need the fanout detector in the pipeline');
  const th = Number(fan.params.min_distinct_ports ?? 20);
  const floors: Record<string, number> = { info: 0, low: 0.3, medium: 0.5, high: 0.7, critical: 0.9 };
  const need = floors[base.alerts.min_severity] ?? 0.5;
  // fanout's score is 0.5 + 0.15·log2(count/threshold); ports needed for the alert band.
  const burst = Math.max(th, Math.ceil(th * 2 ** (Math.max(0, need - 0.5) / 0.15)));
  const topic = `bench.${o.runId}.lat`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: o.partitions, replicationFactor: -1 }] });
  await admin.disconnect();
  const cfg = benchPipeline(base, topic, `bench.${o.runId}.lat`, o.runId, 'lat');
  const outbox = String(cfg.alerts.routes[0]!.options.topic);
  const w = startWorker({ role: 'pipeline', brokers: o.brokers, cfg, dataDir: o.dataDir, probePrefix: 'probe-', ...o.runner }, { label: 'latency', ...(o.profileDir ? { profileDir: o.profileDir } : {}) });
  const sentAt = new Map<string, number>();
  const detectedAt = new Map<string, number>();
  const durableAt = new Map<string, number>();
  w.onAlert = (d, t) => {
    if (!detectedAt.has(d)) detectedAt.set(d, t);
  };
  await w.ready;

  // The outbox reader: what a SIEM connector would see.
  const reader: Consumer = kafka.consumer({ groupId: `bench.${o.runId}.lat-reader`, maxWaitTimeInMs: 50, allowAutoTopicCreation: true });
  await reader.connect();
  await reader.subscribe({ topic: outbox, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const t = Date.now();
      try {
        const doc = JSON.parse(message.value?.toString('utf8') ?? '{}') as { device?: { uid?: string } };
        const d = doc.device?.uid;
        if (d?.startsWith('probe-') && !durableAt.has(d)) durableAt.set(d, t);
      } catch {
        /* not ours */
      }
    },
  });

  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const gen = new FleetGen(o.gen);
  let slot = 0;
  const wall0 = Date.now();
  // Event time follows wall time from a point after the preloaded fleet, so ticks and windows
  // behave as in production.
  const evT0 = T0 + 86_400_000 * 30;
  const background = (n: number): Message[] => {
    const ms: Message[] = [];
    const ts = evT0 + (Date.now() - wall0);
    for (let i = 0; i < n; i++, slot++) {
      const d = slot % o.gen.devices;
      ms.push({ key: gen.id(d), value: gen.event(slot, d, Math.floor(slot / o.gen.devices), ts) });
    }
    return ms;
  };
  // Warm-up: the consumer has joined and owns the partitions before the clock starts.
  const warm = 2_000;
  await producer.send({ topic, messages: background(warm), acks: 1 });
  await waitUntil(() => w.progress.processed >= warm, () => w.progress.processed, 'latency warm-up', 60_000, w.done);

  // Background load and probes go out on separate producers (connections) and loops. A probe
  // sent in the same request as the background, or waiting while this process generated a large
  // backlog after a slow send, timed the load generator rather than the pipeline (one such run:
  // a 27 s send, probes 30 s "late"). Background requests are capped at 50 ms of the offered rate,
  // so generating them never holds up this process's event loop, which also timestamps the
  // alerts; when the generator cannot keep up, achievedEventsPerSec says so.
  const probeProducer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await probeProducer.connect();
  const maxPerSend = Math.max(100, Math.ceil(o.rate / 20));
  let sent = 0;
  let probeSent = 0;
  let probes = 0;
  const tStart = Date.now();
  const tEnd = tStart + o.duration * 1000;
  let maxSendMs = 0;
  let maxProbeSendMs = 0;
  const probeLoop = (async () => {
    let nextProbe = tStart;
    while (Date.now() < tEnd) {
      const now = Date.now();
      if (now < nextProbe) {
        await sleep(nextProbe - now);
        continue;
      }
      // After a slow send, probes resume at their pace instead of bunching up.
      nextProbe = Math.max(nextProbe + 100, now);
      const probe = `probe-${o.runId}-${String(probes++).padStart(5, '0')}`;
      const ts = evT0 + (now - wall0);
      const messages: Message[] = [];
      for (let k = 0; k < burst; k++) {
        messages.push({ key: probe, value: gen.connection(slot, 6, ts + k, `10.99.${(probes >> 8) & 255}.${probes & 255}`, 2000 + k, 'tcp', null, false, '10.20.0.1', probe) });
      }
      const t = Date.now();
      sentAt.set(probe, t);
      await probeProducer.send({ topic, messages, acks: 1 });
      maxProbeSendMs = Math.max(maxProbeSendMs, Date.now() - t);
      probeSent += messages.length;
    }
  })();
  const lags: number[] = [];
  let lastLagSample = 0;
  while (Date.now() < tEnd) {
    const now = Date.now();
    if (now - lastLagSample >= 100) {
      lastLagSample = now;
      lags.push(Math.max(0, warm + sent + probeSent - w.progress.processed));
    }
    const due = backgroundDue(now - tStart, o.rate, sent + probeSent, maxPerSend);
    if (due > 0) {
      const t = Date.now();
      await producer.send({ topic, messages: background(due), acks: 1 });
      maxSendMs = Math.max(maxSendMs, Date.now() - t);
      sent += due;
    }
    const wait = 10 - (Date.now() - now);
    if (wait > 0) await sleep(wait);
  }
  await probeLoop;
  const sendSecs = (Date.now() - tStart) / 1000;
  // Let the last probes through; a probe that never arrives is reported as missing.
  const drainUntil = Date.now() + 15_000;
  while (Date.now() < drainUntil && (durableAt.size < sentAt.size || detectedAt.size < sentAt.size)) await sleep(50);
  const behind = warm + sent + probeSent - w.progress.processed;
  lags.sort((a, b) => a - b);
  await producer.disconnect();
  await probeProducer.disconnect();
  await reader.disconnect();
  w.stop();
  const r = await w.done;
  const stat = (at: Map<string, number>) => {
    const xs: number[] = [];
    for (const [d, t0] of sentAt) {
      const t1 = at.get(d);
      if (t1 !== undefined) xs.push(t1 - t0);
    }
    xs.sort((a, b) => a - b);
    return {
      samples: xs.length,
      missing: sentAt.size - xs.length,
      p50Ms: quantile(xs, 0.5),
      p90Ms: quantile(xs, 0.9),
      p99Ms: quantile(xs, 0.99),
      maxMs: xs.length ? xs[xs.length - 1]! : null,
      // The distribution for the plot: the 1st, 2nd, … 100th percentile.
      cdfMs: percentiles(xs),
    };
  };
  if (behind > 0) log(`  latency: the pipeline was ${behind} events behind when the phase ended`);
  return {
    offeredEventsPerSec: o.rate,
    achievedEventsPerSec: Math.round((sent + probeSent) / sendSecs),
    seconds: Math.round(sendSecs * 10) / 10,
    probes: sentAt.size,
    probeBurst: burst,
    maxProduceMs: maxSendMs,
    maxProbeProduceMs: maxProbeSendMs,
    eventsBehindAfterDrain: Math.max(0, behind),
    // Produced but not yet processed, sampled every 100 ms while producing.
    lagEvents: { p50: quantile(lags, 0.5), p99: quantile(lags, 0.99), max: lags.length ? lags[lags.length - 1]! : null },
    checkpoints: (r.state as { checkpoints: number }).checkpoints,
    checkpointAvgMs: Math.round((r.state as { checkpointMs: number }).checkpointMs / Math.max(1, (r.state as { checkpoints: number }).checkpoints)),
    checkpointMaxMs: (r.state as { maxCheckpointMs: number }).maxCheckpointMs,
    checkpointsPerSec: Math.round(((r.state as { checkpoints: number }).checkpoints / sendSecs) * 10) / 10,
    publishes: (r.state as { publishes: number }).publishes,
    publishAvgMs: Math.round((r.state as { publishMs: number }).publishMs / Math.max(1, (r.state as { publishes: number }).publishes)),
    publishMaxMs: (r.state as { publishMaxMs: number }).publishMaxMs,
    detected: stat(detectedAt),
    durable: stat(durableAt),
    peakRssBytes: r.peakRss,
  };
}

// ───────────────────────────── report ─────────────────────────────

function renderTable(r: Record<string, unknown>): string {
  const fmt = (v: unknown, unit = ''): string => (typeof v === 'number' ? `${v.toLocaleString('en', { maximumFractionDigits: 3 })}${unit}` : v === null || v === undefined ? '—' : String(v));
  const mib = (v: unknown) => (typeof v === 'number' ? `${(v / 2 ** 20).toFixed(0)} MiB` : '—');
  const rows: Array<[string, string]> = [];
  const m = r.machine as Record<string, unknown>;
  rows.push(['machine', `${m.cpu} × ${m.cores}, ${m.memoryGiB} GiB, node ${m.node}, Kafka ${m.kafka}`]);
  for (const ph of PHASES) {
    const e = (r[ph] as { error?: string } | undefined)?.error;
    if (e) rows.push([`${ph} FAILED`, e.split('\n')[0]!]);
  }
  const ok = (x: unknown) => (x && !(x as { error?: string }).error ? x : undefined);
  const d = ok(r.detect) as Record<string, Record<string, unknown>> | undefined;
  if (d) {
    rows.push(['decode only (1 core)', fmt(d.fleet!.decodeEventsPerSec, ' ev/s')]);
    rows.push(['detectors only (1 core)', fmt(d.fleet!.detectEventsPerSec, ' ev/s')]);
    rows.push(['detectors, mature devices', `${fmt(d.mature!.detectEventsPerSec, ' ev/s')} (${fmt(d.mature!.eventTimeSpanHours)} h of history)`]);
    rows.push(['state / device (fleet · mature)', `${fmt(d.fleet!.stateBytesPerDevice, ' B')} · ${fmt(d.mature!.stateBytesPerDevice, ' B')}`]);
    rows.push(['heap / device (fleet · mature)', `${fmt(d.fleet!.heapBytesPerDevice, ' B')} · ${fmt(d.mature!.heapBytesPerDevice, ' B')}`]);
  }
  const c = ok(r.ceiling) as Record<string, unknown> | undefined;
  if (c) rows.push(['ceiling: kafkajs + decode', `${fmt(c.eventsPerSec, ' ev/s')} (peak RSS ${mib(c.peakRssBytes)})`]);
  const cpuRow = (label: string, f: unknown) => {
    const t = cpuText(f);
    if (t !== undefined) rows.push([label, t]);
  };
  cpuRow('  CPU per event', c?.cpu);
  const p = ok(r.pipeline) as Record<string, unknown> | undefined;
  if (p) {
    rows.push(['full pipeline', `${fmt(p.eventsPerSec, ' ev/s')}${p.ratioToCeiling !== undefined ? ` = ${fmt(Math.round((p.ratioToCeiling as number) * 100))}% of ceiling` : ''}`]);
    cpuRow('  CPU per event', p.cpu);
    rows.push(['pipeline peak RSS', `${mib(p.peakRssBytes)} with ${fmt(p.devices)} devices`]);
    const m = p.memoryAtPeak as MemoryAtPeak | undefined;
    if (m?.workers) {
      // Heaps as held from the system (used in brackets); the rest of RSS is outside V8 heaps.
      const held = m.heapTotal + m.workers.reduce((a, w) => a + w.total, 0);
      const heaps = [`main ${mib(m.heapTotal)} (${mib(m.heapUsed)})`, ...m.workers.map((w, i) => `worker ${i + 1} ${mib(w.total)} (${mib(w.used)})`)];
      rows.push(['  at the peak: heaps (used)', heaps.join(' · ')]);
      rows.push(['  outside the heaps', `${mib((p.peakRssBytes as number) - held)} (code, stacks, Buffers, the embedded ClickHouse)`]);
      const ext = [`main ${mib(m.external)}`, ...m.workers.flatMap((w, i) => (w.external !== undefined ? [`worker ${i + 1} ${mib(w.external)}`] : []))];
      rows.push(['  of it Buffers (external)', ext.join(' · ')]);
      if (m.rssAnon !== undefined && m.rssFile !== undefined) rows.push(['  anonymous · mapped files', `${mib(m.rssAnon)} · ${mib(m.rssFile)} (files: code, mostly the embedded ClickHouse's library)`]);
    }
    rows.push(['checkpointed state / device', fmt(p.stateBytesPerDevice, ' B')]);
    rows.push(['findings · alerts · dead letters', `${fmt(p.findings)} · ${fmt(p.alerts)} · ${fmt(p.deadLetters)}`]);
  }
  const l = ok(r.latency) as Record<string, unknown> | undefined;
  if (l) {
    const du = l.durable as Record<string, unknown>;
    const de = l.detected as Record<string, unknown>;
    rows.push(['latency offered load', `${fmt(l.offeredEventsPerSec, ' ev/s')} (achieved ${fmt(l.achievedEventsPerSec)}) · ${fmt(l.probes)} probes`]);
    rows.push(['event→finding durable p50 / p99', `${fmt(du.p50Ms, ' ms')} / ${fmt(du.p99Ms, ' ms')} (max ${fmt(du.maxMs, ' ms')}, missing ${fmt(du.missing)})`]);
    rows.push(['event→finding detected p50 / p99', `${fmt(de.p50Ms, ' ms')} / ${fmt(de.p99Ms, ' ms')}`]);
    const lag = l.lagEvents as Record<string, number | null>;
    rows.push(['  consumer lag p50 / max', `${fmt(lag.p50, ' events')} / ${fmt(lag.max, ' events')} · ${fmt(l.checkpointsPerSec)} checkpoints/s`]);
  }
  const s = ok(r.scale) as Record<string, unknown> | undefined;
  if (s) {
    rows.push(['scale-out: 2 instances', `${fmt(s.eventsPerSec, ' ev/s')}${s.speedupOverOne !== undefined ? ` (${fmt(s.speedupOverOne)}× one instance)` : ''}`]);
    rows.push(['  while both busy', `${fmt(s.steadyEventsPerSec, ' ev/s')} · ${fmt(s.reprocessed)} events redone after the rebalance`]);
  }
  const waits = PHASES.flatMap((ph) => {
    const x = (ok(r[ph]) as { pressure?: { cpuSomeShare: number; ioSomeShare: number } } | undefined)?.pressure;
    return x ? [`${ph} ${Math.round(x.cpuSomeShare * 100)}% · ${Math.round(x.ioSomeShare * 100)}%`] : [];
  });
  if (waits.length) rows.push(['waiting for CPU · for I/O', waits.join(', ')]);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`);
  lines.push('');
  lines.push('  targets');
  for (const t of r.targets as Target[]) {
    lines.push(`  ${t.met === null ? '  ·' : t.met ? '  ✓' : '  ✗'} ${t.target}: ${fmt(t.value)}`);
  }
  return lines.join('\n');
}
