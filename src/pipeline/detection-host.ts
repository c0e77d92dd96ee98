/**
 * Where a runner's detection runs: in its own thread, or in worker threads. One Node thread
 * doing kafkajs' fetches, decoding, detection, state encoding and the Kafka transactions left the
 * second core of a two-core machine a third idle; engines are per partition and share nothing,
 * so partitions are spread over workers that decode, detect and encode state beside the main
 * thread, which keeps Kafka, ClickHouse and alert routing. Messages cross as one transferred
 * buffer per batch (values concatenated), and a checkpoint's encoded device records come back
 * the same way.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PipelineConfig } from '../config/types.js';
import type { ThreadHeap } from '../obs/metrics.js';
import type { EngineSnapshot } from './engine.js';
import { createDetection, encodeTaken, type BatchOutcome, type EngineStats, type StateDelta } from './detection.js';

export interface DetectionHost {
  /** Worker threads used (0: detection runs in the caller's thread). */
  readonly workers: number;
  /** Create the partition's engine, restored from a checkpoint's snapshot if there is one. */
  open(key: string, snapshot: EngineSnapshot | null): Promise<EngineStats>;
  /** Decode and score one batch of message values, in order. */
  process(key: string, values: (Buffer | null)[]): Promise<BatchOutcome>;
  /**
   * Take a checkpoint of the devices changed since the last one. Resolves once its point is
   * fixed (the batches processed before this call, none after), with the clock and stats of that
   * point; `delta` resolves once the devices are encoded as changelog values. The partition's
   * next batches may be processed meanwhile: they do not change what is written.
   */
  takeState(key: string): Promise<CheckpointTaken>;
  /** Forget the partition's engine. */
  drop(key: string): void;
  close(): Promise<void>;
  /** The live worker threads (diagnostics, and tests that kill one). */
  threads(): Worker[];
  /** Each live worker's V8 heap as it last reported it (about every second); empty without workers. */
  heaps(): ThreadHeap[];
}

export interface CheckpointTaken {
  clock: StateDelta['clock'];
  stats: EngineStats;
  /** The encoded devices (rejects if the partition is dropped or its worker dies first). */
  delta: Promise<StateDelta>;
}

/** Devices encoded between two looks at the queue while a checkpoint is encoded. */
export const ENCODE_SLICE = 500;
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Default number of detection workers: one per core, at most 4. The main thread mostly waits on
 * Kafka and ClickHouse, so it does not need a core of its own (bench, two cores: one worker
 * 42k events/s, two 51k, none 36k).
 */
export function defaultDetectWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

export function startDetection(cfg: PipelineConfig, workers = defaultDetectWorkers()): DetectionHost {
  return workers > 0 ? workerHost(cfg, workers) : localHost(cfg);
}

function localHost(cfg: PipelineConfig): DetectionHost {
  const d = createDetection(cfg);
  const run = async <T>(fn: () => T): Promise<T> => fn();
  return {
    workers: 0,
    open: (key, snapshot) => run(() => d.open(key, snapshot)),
    process: (key, values) => run(() => d.process(key, values)),
    takeState: (key) =>
      run(() => {
        const t = d.take(key);
        const delta = encodeTaken(t, ENCODE_SLICE, nextTurn);
        delta.catch(() => undefined); // the runner may drop the partition before it awaits this
        return { clock: t.clock, stats: t.stats, delta };
      }),
    drop: (key) => d.drop(key),
    close: async () => undefined,
    threads: () => [],
    heaps: () => [],
  };
}

// ── the worker transport ──

/** Main → worker. */
export type WorkerRequest =
  | { id: number; op: 'open'; key: string; snapshot: EngineSnapshot | null }
  | { id: number; op: 'process'; key: string; data: Uint8Array; ends: Int32Array }
  /** Answered twice: `id` once the point is taken (TakeHead), `body` once encoded (PackedDelta). */
  | { id: number; op: 'take'; key: string; body: number }
  | { id: 0; op: 'drop'; key: string }
  | { id: 0; op: 'close' };

/** Worker → main. A state delta's values come as one buffer: `ends[i]` is where value i ends, -1 for a tombstone. */
export type WorkerReply =
  | { id: number; ok: true; result: EngineStats | BatchOutcome | TakeHead | PackedDelta }
  /** Unasked, about every second. */
  | { id: 0; ok: true; result: { heap: ThreadHeap } }
  | { id: number; ok: false; error: string };

export type TakeHead = Omit<CheckpointTaken, 'delta'>;

export interface PackedDelta {
  ids: string[];
  data: Uint8Array;
  ends: Int32Array;
  clock: StateDelta['clock'];
  stats: EngineStats;
}

/** Values end to end in one buffer (null as -1), so they cross to the other thread as one transfer. */
export function packValues(values: readonly (Uint8Array | null)[]): { data: Uint8Array; ends: Int32Array } {
  let total = 0;
  for (const v of values) if (v) total += v.length;
  const data = new Uint8Array(new ArrayBuffer(total));
  const ends = new Int32Array(values.length);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v) {
      data.set(v, at);
      at += v.length;
      ends[i] = at;
    } else ends[i] = -1;
  }
  return { data, ends };
}

/** All values of a packValues() pair, in one pass. */
export function unpackValues(data: Uint8Array, ends: Int32Array): (Buffer | null)[] {
  const out: (Buffer | null)[] = new Array(ends.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i]!;
    if (end < 0) out[i] = null;
    else {
      out[i] = Buffer.from(data.buffer, data.byteOffset + start, end - start);
      start = end;
    }
  }
  return out;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  keys: Set<string>;
  alive: boolean;
  heap: ThreadHeap | undefined;
}

function spawn(cfg: PipelineConfig): Worker {
  const here = import.meta.url;
  // Run from TypeScript sources (tests, tsx), the worker loads its module through tsx as well.
  if (here.endsWith('.ts')) {
    const entry = new URL('./detect-worker.ts', here).href;
    const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(code, { eval: true, workerData: { cfg } });
  }
  return new Worker(new URL('./detect-worker.js', here), { workerData: { cfg } });
}

function workerHost(cfg: PipelineConfig, n: number): DetectionHost {
  const slots: (Slot | undefined)[] = new Array(n).fill(undefined);
  const owner = new Map<string, Slot>();
  let nextId = 1;
  let closed = false;

  function start(i: number): Slot {
    const slot: Slot = { worker: spawn(cfg), pending: new Map(), keys: new Set(), alive: true, heap: undefined };
    const fail = (err: Error): void => {
      if (!slot.alive) return;
      slot.alive = false;
      // Its engines are gone: their partitions' next call fails and the runner restores them.
      for (const k of slot.keys) if (owner.get(k) === slot) owner.delete(k);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      if (slots[i] === slot) slots[i] = undefined;
    };
    slot.worker.on('message', (m: WorkerReply) => {
      if (m.id === 0) {
        if (m.ok) slot.heap = (m.result as { heap: ThreadHeap }).heap;
        return;
      }
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error));
    });
    slot.worker.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
    slot.worker.on('exit', (code) => fail(new Error(`detection worker exited (code ${code})`)));
    // Kafka's sockets keep the process alive while there is work; an idle worker must not.
    slot.worker.unref();
    slots[i] = slot;
    return slot;
  }

  function call<T>(slot: Slot, req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<T> {
    if (!slot.alive) return Promise.reject(new Error('detection worker is gone'));
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(req.id, { resolve: resolve as (v: unknown) => void, reject });
      slot.worker.postMessage(req, transfer);
    });
  }

  function ownerOf(key: string): Slot {
    const s = owner.get(key);
    if (!s) throw new Error(`no detection state for partition ${key} (worker restarted?)`);
    return s;
  }

  return {
    workers: n,
    async open(key, snapshot) {
      if (closed) throw new Error('detection host is closed');
      const old = owner.get(key);
      if (old) {
        old.keys.delete(key);
        owner.delete(key);
        if (old.alive) old.worker.postMessage({ id: 0, op: 'drop', key } satisfies WorkerRequest);
      }
      // The live worker with the fewest partitions (a gone one is started again).
      let best = -1;
      for (let i = 0; i < n; i++) {
        const s = slots[i];
        if (s === undefined) {
          best = i;
          break;
        }
        if (best < 0 || s.keys.size < slots[best]!.keys.size) best = i;
      }
      const slot = slots[best] ?? start(best);
      slot.keys.add(key);
      owner.set(key, slot);
      return call<EngineStats>(slot, { id: nextId++, op: 'open', key, snapshot });
    },
    async process(key, values) {
      const slot = ownerOf(key);
      const { data, ends } = packValues(values);
      return call<BatchOutcome>(slot, { id: nextId++, op: 'process', key, data, ends }, [data.buffer as ArrayBuffer, ends.buffer as ArrayBuffer]);
    },
    async takeState(key) {
      const slot = ownerOf(key);
      const id = nextId++;
      const body = nextId++;
      // Both answers are awaited from the start, so a rejection nobody waits for yet is handled.
      const packed = new Promise<PackedDelta>((resolve, reject) => slot.pending.set(body, { resolve: resolve as (v: unknown) => void, reject }));
      const delta = packed.then((p) => ({ ids: p.ids, values: unpackValues(p.data, p.ends), clock: p.clock, stats: p.stats }));
      delta.catch(() => undefined);
      const head = await call<TakeHead>(slot, { id, op: 'take', key, body }).catch((e: unknown) => {
        slot.pending.delete(body);
        throw e;
      });
      return { ...head, delta };
    },
    drop(key) {
      const slot = owner.get(key);
      if (!slot) return;
      owner.delete(key);
      slot.keys.delete(key);
      if (slot.alive) slot.worker.postMessage({ id: 0, op: 'drop', key } satisfies WorkerRequest);
    },
    threads: () => slots.filter((s): s is Slot => s !== undefined && s.alive).map((s) => s.worker),
    heaps: () => slots.flatMap((s) => (s !== undefined && s.alive && s.heap !== undefined ? [s.heap] : [])),
    async close() {
      closed = true;
      const live = slots.filter((s): s is Slot => s !== undefined);
      slots.fill(undefined);
      owner.clear();
      // A worker asked to close ends its event loop and exits by itself (writing a --cpu-prof
      // profile, for one); one that does not within a second is terminated.
      await Promise.all(
        live.map(async (s) => {
          if (!s.alive) return;
          const exited = new Promise<void>((resolve) => s.worker.once('exit', () => resolve()));
          s.worker.postMessage({ id: 0, op: 'close' } satisfies WorkerRequest);
          const timer = setTimeout(() => void s.worker.terminate(), 1_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}
