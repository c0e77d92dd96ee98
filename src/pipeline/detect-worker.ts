/**
 * A detection worker thread (see detection-host.ts): the partitions' engines it was handed, and
 * nothing else. Requests are answered in the order they arrive; a checkpoint's devices are
 * encoded in slices between them (see encode). A failure is returned to the runner, which drops
 * and restores that partition as it would after a failed batch.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { PipelineConfig } from '../config/types.js';
import { ownThreadId } from '../obs/proc.js';
import { createDetection, encodeTaken, type TakenState } from './detection.js';
import { ENCODE_SLICE, nextTurn, packValues, unpackValues, type PackedDelta, type WorkerReply, type WorkerRequest } from './detection-host.js';

const port = parentPort!;
const detection = createDetection((workerData as { cfg: PipelineConfig }).cfg);

// This thread's heap, told every second (/metrics; the bench's memory breakdown): the detector
// state lives here, and process-wide RSS alone cannot say how much. With it the OS thread id,
// which is how the bench tells this thread's CPU time from the process's other threads.
const tid = ownThreadId();
const heapReport = (): void => {
  const h = getHeapStatistics();
  reply({ id: 0, ok: true, result: { heap: { used: h.used_heap_size, total: h.total_heap_size, external: h.external_memory, ...(tid !== undefined ? { tid } : {}) } } });
};
heapReport();
setInterval(heapReport, 1_000).unref();

/**
 * A partition's checkpoint: its point is answered at once, then the devices are encoded in
 * slices while this worker answers other requests in between, the same partition's batches
 * included (see TakenState), and sent back as the second answer.
 */
async function encode(body: number, t: TakenState): Promise<void> {
  try {
    const d = await encodeTaken(t, ENCODE_SLICE, nextTurn);
    const { data, ends } = packValues(d.values);
    const result: PackedDelta = { ids: d.ids, data, ends, clock: d.clock, stats: d.stats };
    reply({ id: body, ok: true, result }, [data.buffer as ArrayBuffer, ends.buffer as ArrayBuffer]);
  } catch (e) {
    failed(body, e);
  }
}

port.on('message', (m: WorkerRequest) => {
  if (m.op === 'drop') {
    detection.drop(m.key);
    return;
  }
  if (m.op === 'close') {
    port.close();
    return;
  }
  try {
    if (m.op === 'open') reply({ id: m.id, ok: true, result: detection.open(m.key, m.snapshot) });
    else if (m.op === 'process') {
      reply({ id: m.id, ok: true, result: detection.process(m.key, unpackValues(m.data, m.ends)) });
    } else {
      const t = detection.take(m.key);
      reply({ id: m.id, ok: true, result: { clock: t.clock, stats: t.stats } });
      void encode(m.body, t);
    }
  } catch (e) {
    failed(m.id, e);
  }
});

function reply(r: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(r, transfer);
}

function failed(id: number, e: unknown): void {
  reply({ id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
