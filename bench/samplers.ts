/**
 * What a measurement worker samples while it runs: its peak RSS (and what the peak is made of),
 * CPU by thread (and the bundled broker's), and progress reported to the parent.
 */
import { detectionWorkerHeaps } from '../src/obs/metrics.js';
import { childrenOf, cpuOver, processCpu, rssKinds, threadCpuTimes, type CpuFigures, type CpuSample } from '../src/obs/proc.js';
import { send, type MemoryAtPeak } from './protocol.js';
import { progressOver } from './results.js';

/** Peak RSS of this process, sampled; the embedded ClickHouse (chdb) is in-process, so included. */
export function rssSampler(): { peak(): number; atPeak(): MemoryAtPeak; stop(): void } {
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

/**
 * This process's threads sampled every 250 ms with the events handled at that moment, and the
 * broker's CPU when its pid is known (the bundled broker: its bash wrapper and the JVM child).
 */
export function cpuSampler(count: () => number, brokerPid: number | undefined): { stop(): void; over(first: number | null, last: number | null): CpuFigures | null } {
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
export function progressReporter(count: () => number): { stop(): void; snapshot(): { processed: number; first: number | null; last: number | null; progress: Array<[number, number]> } } {
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
