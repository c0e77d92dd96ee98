/**
 * What the bench's parent and its measurement workers say to each other over the fork IPC
 * channel: the parent sends a spec, the worker reports readiness, progress and its result.
 */
import type { PipelineConfig } from '../src/config/types.js';
import type { ThreadHeap } from '../src/obs/metrics.js';
import type { GenOptions } from '../src/sim/bench-fleet.js';

/** Runner settings a bench run may set for experiments; unset ones are the runner's defaults. */
export interface RunnerSettings {
  checkpointEveryMs?: number;
  eventsPerStateRecord?: number;
  concurrency?: number;
  detectWorkers?: number;
  checkpointSlots?: number;
}

export type WorkerSpec =
  | { role: 'ceiling'; brokers: string[]; topic: string; group: string; concurrency: number; brokerPid?: number }
  | ({ role: 'pipeline'; brokers: string[]; cfg: PipelineConfig; dataDir: string; probePrefix?: string; hold?: boolean; brokerPid?: number } & RunnerSettings)
  | { role: 'detect'; cfg: PipelineConfig; gen: GenOptions; mature: GenOptions; breakdownEvents: number };

export type ToParent =
  | { kind: 'ready' }
  | { kind: 'loaded' }
  | { kind: 'progress'; processed: number; first: number | null; last: number | null }
  | { kind: 'alert'; device: string; t: number }
  | { kind: 'log'; line: string }
  | { kind: 'done'; result: Record<string, unknown> }
  | { kind: 'error'; error: string };

export type ToWorker = { kind: 'spec'; spec: WorkerSpec } | { kind: 'go' } | { kind: 'stop' };

/** A worker's message to the parent (nothing when not forked). */
export function send(m: ToParent): void {
  process.send?.(m);
}

/** Resolves when the parent says stop or goes away. */
export function waitForStop(): Promise<void> {
  return new Promise((resolve) => {
    process.on('message', (m: ToWorker) => {
      if (m.kind === 'stop') resolve();
    });
    process.on('disconnect', () => resolve());
  });
}

export interface MemoryAtPeak {
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
