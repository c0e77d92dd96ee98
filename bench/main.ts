/**
 * `npm run bench`: throughput, latency, memory and scale-out of the real pipeline against the raw
 * kafkajs ceiling measured in the same run (issue 7; docs/performance.md explains the figures).
 *
 * It measures the built service: `npm run bench` builds dist/, then this tool (build.mjs) against
 * it, and runs it with plain node. Every measured phase runs in its own child process
 * (worker.ts), so each gets a fresh heap, its own embedded ClickHouse and an RSS that is its own;
 * this parent only generates and produces events, orchestrates, and collects figures over IPC.
 * From the sources (`npx tsx bench/main.ts …`) it runs the same, on src/ through tsx.
 */
import { Command } from 'commander';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pino } from 'pino';
import type { PipelineConfig } from '../src/config/types.js';
import { createKafka } from '../src/kafka/client.js';
import { setLogger } from '../src/obs/log.js';
import { pressureTotals } from '../src/obs/proc.js';
import { reportError, UsageError } from '../src/cli/exit.js';
import { brokerVersion, ensureLocalBroker, localBrokerPid, stopLocalBroker } from '../src/cli/local-broker.js';
import { GEN_VERSION, type GenOptions } from '../src/sim/bench-fleet.js';
import { latencyPhase } from './latency.js';
import { live, sleep, startWorker, waitUntil } from './orchestrate.js';
import { root } from './paths.js';
import { benchSvg } from './plot.js';
import type { RunnerSettings, ToWorker } from './protocol.js';
import { cpuLine, machine, PHASES, renderTable, type Phase } from './report.js';
import { resultsJson, svgBeside, targets } from './results.js';
import { benchPipeline, deleteTopics, preload, recreateTopic, topicEvents } from './topics.js';

interface BenchOptions {
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

function loadedPipeline(path: string): Promise<PipelineConfig> {
  return import('../src/config/load.js').then(async ({ loadPipelineFile }) => {
    const r = await loadPipelineFile(path);
    if (!r.pipeline) throw new Error(`pipeline ${path} does not load: ${r.errors.map((e) => `${e.line}:${e.column} ${e.path} ${e.message}`).join('; ')}`);
    return r.pipeline;
  });
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

const program = new Command('bench')
  .description('Benchmark the built pipeline (dist/) against the raw kafkajs ceiling on the local broker and embedded ClickHouse; writes bench/results.json and a plot of it, bench/results.svg')
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
  npm run bench -- --quick --only ceiling,pipeline --profile bench/profiles
  npx tsx bench/main.ts --plot bench/results.json     # redraw bench/results.svg`,
    )
  .action(async (o: BenchOptions) => {
      if (o.plot !== undefined) return plotOnly(o.plot);
      await bench(o);
    });


// The CLI's exit convention (src/cli/exit.ts): 2 for a usage error, 3 when it could not run.
await program.parseAsync(process.argv).catch((e: unknown) => {
  process.exitCode = reportError(e);
});
