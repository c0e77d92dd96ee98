/**
 * The parent's side of the workers: start one for a spec, follow its progress, wait for it.
 * Every worker started is in `live`, so a failed phase never leaves one running.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { benchModule } from './paths.js';
import type { ToParent, ToWorker, WorkerSpec } from './protocol.js';

export interface Worker {
  child: ChildProcess;
  loaded: Promise<void>;
  progress: { processed: number; first: number | null; last: number | null };
  ready: Promise<void>;
  done: Promise<Record<string, unknown>>;
  onAlert?: (device: string, t: number) => void;
  stop(): void;
}

export const live = new Set<ChildProcess>();

export function startWorker(spec: WorkerSpec, opts: { profileDir?: string; exposeGc?: boolean; label: string }): Worker {
  const execArgv: string[] = [];
  if (opts.exposeGc) execArgv.push('--expose-gc');
  // V8 and Node flags for the phase processes, for experiments (--trace-gc, heap sizing): Node
  // refuses most V8 flags in NODE_OPTIONS.
  execArgv.push(...(process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean));
  // One directory per process; node names each thread's profile (detection workers included).
  if (opts.profileDir) execArgv.push('--cpu-prof', '--cpu-prof-dir', join(opts.profileDir, opts.label));
  // From the build (npm run bench) the worker is plain node on the built service; from sources
  // (tsx, tests) it needs the TypeScript loader.
  const worker = benchModule('worker');
  if (worker.fromSource) execArgv.push('--import', 'tsx');
  const child = fork(worker.file, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `cond` holds, failing if `progress()` stops moving for `stallMs`. */
export async function waitUntil(cond: () => boolean, progress: () => number, what: string | (() => string), stallMs = 120_000, failed?: Promise<unknown>): Promise<void> {
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

export function quantile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}
