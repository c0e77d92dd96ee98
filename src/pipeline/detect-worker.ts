/**
 * A detection worker thread (see detection-host.ts): the partitions' engines it was handed, and
 * nothing else. Requests are answered in the order they arrive; a failure is returned to the
 * runner, which drops and restores that partition as it would after a failed batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PipelineConfig } from '../config/types.js';
import { createDetection } from './detection.js';
import { packValues, unpackValues, type PackedDelta, type WorkerReply, type WorkerRequest } from './detection-host.js';

const port = parentPort!;
const detection = createDetection((workerData as { cfg: PipelineConfig }).cfg);
const EMPTY = Buffer.alloc(0);

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
      const values = unpackValues(m.data, m.ends);
      reply({ id: m.id, ok: true, result: detection.process(m.key, values.length, (i) => values[i] ?? EMPTY) });
    } else {
      const d = detection.takeState(m.key);
      const { data, ends } = packValues(d.values);
      const result: PackedDelta = { ids: d.ids, data, ends, clock: d.clock, stats: d.stats };
      reply({ id: m.id, ok: true, result }, [data.buffer as ArrayBuffer, ends.buffer as ArrayBuffer]);
    }
  } catch (e) {
    reply({ id: m.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});

function reply(r: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(r, transfer);
}
