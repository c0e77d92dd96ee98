/** The ceiling the pipeline is measured against: raw kafkajs consumption doing only decodeEvent. */
import type { EachBatchPayload } from 'kafkajs';
import { decodeEvent } from '../../src/events/decode.js';
import { createKafka } from '../../src/kafka/client.js';
import { consumerConfig } from '../../src/pipeline/consumer-config.js';
import { send, waitForStop, type WorkerSpec } from '../protocol.js';
import { cpuSampler, progressReporter, rssSampler } from '../samplers.js';

/** Raw kafkajs consumption with the runner's consumer settings, doing nothing but decode. */
export async function ceilingWorker(spec: Extract<WorkerSpec, { role: 'ceiling' }>): Promise<Record<string, unknown>> {
  const rss = rssSampler();
  const kafka = createKafka({ brokers: spec.brokers, clientId: 'm2m-bench-ceiling' });
  // The pipeline's own consumer settings, so the ceiling fetches as the runner does.
  const consumer = kafka.consumer(consumerConfig(spec.group));
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
