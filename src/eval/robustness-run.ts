/**
 * Running the worlds of a robustness check: generate a world (or keep one already generated
 * from the same spec), backtest the pipeline on it with the backtest's own code, score it, and
 * write the world's findings and metrics. Worlds run in child processes, a few at a time, since
 * each is a long single-threaded job; `jobs: 0` runs them in this process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPipelineFile, formatConfigError } from '../config/load.js';
import { BENCHMARK, drawWorld, worldSeed, type WorldSpec } from '../sim/worlds/spec.js';
import { writeWorld } from '../sim/worlds/write.js';
import { findingRecord, runBacktest } from './backtest.js';
import { parseLabels } from './labels.js';
import { summarizeWorld, type WorldResult } from './robustness.js';
import { scoreFindings, type ScoredFinding } from './score.js';

export interface PlanOptions {
  /** Drawn worlds besides the benchmark. */
  worlds: number;
  seed: number;
  eventsPerWorld: number;
  /** Cap on each drawn world's span in days (quick checks). */
  maxDays?: number;
  benchmark: boolean;
  /** World 0's size; the benchmark only at 1000 × 7. */
  benchmarkDevices?: number;
  benchmarkDays?: number;
  only?: number[];
}

export function planWorlds(o: PlanOptions): WorldSpec[] {
  const specs: WorldSpec[] = [];
  if (o.benchmark) {
    const devices = o.benchmarkDevices ?? BENCHMARK.devices;
    const days = o.benchmarkDays ?? BENCHMARK.days;
    const same = devices === BENCHMARK.devices && days === BENCHMARK.days;
    specs.push(same ? BENCHMARK : { ...BENCHMARK, devices, days, incidents_per_kind: Math.max(1, Math.min(30, Math.floor((devices * 0.33) / 11))), summary: `the plain simulator at ${devices} devices × ${days} days (not the benchmark's size)` });
  }
  for (let i = 1; i <= o.worlds; i++) specs.push(drawWorld(worldSeed(o.seed, i), i, { eventsPerWorld: o.eventsPerWorld, ...(o.maxDays ? { maxDays: o.maxDays } : {}) }));
  return o.only ? specs.filter((s) => o.only!.includes(s.index)) : specs;
}

/** Rough events of a world, to start the longest first. */
export function worldCost(s: WorldSpec): number {
  return s.kind === 'benchmark' ? s.devices * s.days * 900 : s.devices * s.days * 1000;
}

export interface WorldJob {
  spec: WorldSpec;
  dir: string;
  pipelineFile: string;
  reuse: boolean;
}

export type Phase = 'simulate' | 'backtest' | 'score' | 'done' | 'reused';

export interface ProgressMsg {
  index: number;
  phase: Phase;
  fraction: number;
  events: number;
}

export class WorldError extends Error {}

export async function runWorld(job: WorldJob, onProgress: (p: ProgressMsg) => void): Promise<WorldResult> {
  const { spec } = job;
  const dir = join(job.dir, `world-${spec.index}`);
  await mkdir(dir, { recursive: true });
  const files = { events: join(dir, 'events.ndjson.gz'), labels: join(dir, 'labels.json'), findings: join(dir, 'findings.ndjson'), metrics: join(dir, 'metrics.json') };
  const loaded = await loadPipelineFile(job.pipelineFile);
  if (!loaded.pipeline) throw new WorldError(loaded.errors.map(formatConfigError).join('\n'));
  const pipeline = loaded.pipeline;

  let simulate = 0;
  const t0 = performance.now();
  let fresh = true;
  if (job.reuse && existsSync(files.events) && existsSync(files.labels)) {
    const prev = JSON.parse(await readFile(files.labels, 'utf8')) as { world?: unknown };
    fresh = JSON.stringify(prev.world) !== JSON.stringify(spec);
  }
  if (fresh) {
    await writeWorld(spec, { out: files.events, labels: files.labels, gzipLevel: 1, onProgress: (f, n) => onProgress({ index: spec.index, phase: 'simulate', fraction: f, events: n }) });
    simulate = (performance.now() - t0) / 1000;
  } else onProgress({ index: spec.index, phase: 'reused', fraction: 1, events: 0 });

  const rawLabels = await readFile(files.labels, 'utf8');
  const labels = parseLabels(rawLabels, files.labels);
  const classOf = new Map<string, string>();
  for (const i of (JSON.parse(rawLabels) as { incidents: Array<{ device_id: string; device_class?: string }> }).incidents) classOf.set(i.device_id, i.device_class ?? '');

  const t1 = performance.now();
  const res = await runBacktest({ pipeline, inputs: [files.events], onProgress: (f, n) => onProgress({ index: spec.index, phase: 'backtest', fraction: f, events: n }) });
  const backtest = (performance.now() - t1) / 1000;
  onProgress({ index: spec.index, phase: 'score', fraction: 1, events: res.decoded });

  const scored: ScoredFinding[] = res.findings.map((f) => ({ finding_id: f.finding_id, device_id: f.device_id, detector: f.detector, first_ts: f.first_ts, severity: f.severity }));
  const common = { slackMs: 5 * 60_000, deviceDays: res.deviceDays, suppressMs: pipeline.alerts.suppress_ms };
  const alert = scoreFindings(labels.incidents, scored, { ...common, minSeverity: pipeline.alerts.min_severity });
  const all = scoreFindings(labels.incidents, scored, { ...common, minSeverity: 'info' });
  const result = summarizeWorld(
    { index: spec.index, seed: spec.seed, kind: spec.kind, summary: spec.summary, seconds: { simulate: Math.round(simulate), backtest: Math.round(backtest) }, files },
    { events: res.decoded, outOfOrder: res.outOfOrder, devices: res.devices, deviceDays: res.deviceDays, findings: res.findings },
    labels,
    alert,
    all,
    (id) => classOf.get(id) ?? res.findings.find((f) => f.device_id === id)?.device_class ?? '',
  );

  const ws = createWriteStream(files.findings);
  for (const f of res.findings) if (!ws.write(JSON.stringify(findingRecord(f)) + '\n')) await once(ws, 'drain');
  ws.end();
  await once(ws, 'close');
  const strip = (s: typeof alert): unknown => ({ ...s, false_findings: s.false_findings.length });
  await writeFile(files.metrics, JSON.stringify({ ...result, spec, rejected: res.rejected, alert_scores: strip(alert), all_scores: strip(all) }, null, 1) + '\n');
  onProgress({ index: spec.index, phase: 'done', fraction: 1, events: res.decoded });
  return result;
}

/** The worker's module: .ts when running from sources (tsx), .js when built. */
function workerFile(): string {
  const self = fileURLToPath(import.meta.url);
  return self.replace(/robustness-run\.(ts|js)$/, (_, ext: string) => `robustness-worker.${ext}`);
}

function spawnWorker(): ChildProcess {
  const file = workerFile();
  // From sources outside tsx (vitest, a plain node), the child needs the TypeScript loader itself.
  const needsLoader = file.endsWith('.ts') && !process.execArgv.some((a) => a.includes('tsx'));
  return fork(file, [], { execArgv: needsLoader ? [...process.execArgv, '--import', 'tsx'] : process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

type WorkerMsg = { type: 'progress'; progress: ProgressMsg } | { type: 'result'; result: WorldResult } | { type: 'error'; message: string };

/** Run the worlds, `jobs` at a time in child processes (0: here), longest first. */
export async function runWorlds(jobs: WorldJob[], parallel: number, onProgress: (p: ProgressMsg) => void): Promise<WorldResult[]> {
  const queue = [...jobs].sort((a, b) => worldCost(b.spec) - worldCost(a.spec) || a.spec.index - b.spec.index);
  const results: WorldResult[] = [];
  if (parallel <= 0) {
    for (const j of queue) results.push(await runWorld(j, onProgress));
    return results;
  }
  const live = new Set<ChildProcess>();
  const lane = async (): Promise<void> => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const child = spawnWorker();
      live.add(child);
      const current = job;
      const result = await new Promise<WorldResult>((resolve, reject) => {
        let settled = false;
        child.on('message', (m: WorkerMsg) => {
          if (m.type === 'progress') onProgress(m.progress);
          else if (m.type === 'result') {
            settled = true;
            resolve(m.result);
          } else {
            settled = true;
            reject(new WorldError(`world ${current.spec.index}: ${m.message}`));
          }
        });
        child.on('exit', (code) => {
          if (!settled) reject(new WorldError(`world ${current.spec.index}: worker exited with ${code}`));
        });
        child.send(current);
      });
      child.disconnect();
      live.delete(child);
      results.push(result);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, lane));
  } catch (e) {
    // One world failed: the others' workers are ours to stop.
    queue.length = 0;
    for (const c of live) c.kill();
    throw e;
  }
  return results;
}
