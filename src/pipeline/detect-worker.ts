/**
 * A detection worker thread (see detection-host.ts): the partitions' engines it was handed, and
 * nothing else. Requests are answered in the order they arrive, except that a checkpoint being
 * encoded lets other partitions' requests pass (see take); a failure is returned to the runner,
 * which drops and restores that partition as it would after a failed batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PipelineConfig } from '../config/types.js';
import { createDetection } from './detection.js';
import { packValues, unpackValues, type PackedDelta, type WorkerReply, type WorkerRequest } from './detection-host.js';

const port = parentPort!;
const detection = createDetection((workerData as { cfg: PipelineConfig }).cfg);

/** Devices encoded between two looks at the message queue while a checkpoint is taken. */
const SLICE = 500;
const yieldToQueue = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A partition's checkpoint, encoded in slices: the partition itself is held by the runner until
 * the reply, so its engine cannot change meanwhile, and the batches of the worker's other
 * partitions are answered in between instead of waiting behind ~25 µs per device.
 */
async function take(id: number, key: string): Promise<void> {
  try {
    const t = detection.take(key);
    const values: (Buffer | null)[] = new Array(t.ids.length);
    for (let i = 0; i < t.ids.length; i++) {
      if (i > 0 && i % SLICE === 0) await yieldToQueue();
      values[i] = t.encode(i);
    }
    const { data, ends } = packValues(values);
    const result: PackedDelta = { ids: t.ids, data, ends, clock: t.clock, stats: t.stats };
    reply({ id, ok: true, result }, [data.buffer as ArrayBuffer, ends.buffer as ArrayBuffer]);
  } catch (e) {
    failed(id, e);
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
    } else void take(m.id, m.key);
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
