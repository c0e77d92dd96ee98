/**
 * Delivery from the durable outbox. Alerts are first produced to the outbox topic (before the
 * source offsets that raised them are committed); each non-Kafka route then consumes that topic
 * in its own consumer group and commits only after a successful send. A channel that is down is
 * retried with backoff for as long as it stays down, reported as degraded, and its backlog shows
 * as consumer lag (m2m_outbox_depth), so nothing is skipped and nothing is lost.
 */
import type { Kafka } from 'kafkajs';
import type { AlertRouteConfig, PipelineConfig } from '../config/types.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import type { OcsfDetectionFinding } from './ocsf.js';
import { channelFor } from './channels/send.js';
import { retry } from '../pipeline/retry.js';
import { emit } from '../obs/events.js';
import { metrics } from '../obs/metrics.js';
import { report } from '../server/health.js';
import { outboxTopic } from '../pipeline/runner.js';

const SEVERITY_BY_ID = ['info', 'info', 'low', 'medium', 'high', 'critical'] as const;

export interface DeliveryHandle {
  stop(): Promise<void>;
}

export async function startDelivery(kafka: Kafka, cfg: PipelineConfig, r: AlertRouteConfig): Promise<DeliveryHandle | null> {
  const send = channelFor(r);
  if (!send) return null;
  const component = `route:${cfg.name}/${r.name}`;
  const topic = outboxTopic(cfg);
  const consumer = kafka.consumer({ groupId: `${cfg.source.kafka.group}.alerts.${r.name}`, sessionTimeout: 60_000 });
  let stopping = false;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
      for (const m of batch.messages) {
        if (!isRunning() || stopping) break;
        const pipeline = m.headers?.['x-m2m-pipeline']?.toString();
        if (pipeline === cfg.name && m.value) {
          const alert = JSON.parse(m.value.toString('utf8')) as OcsfDetectionFinding;
          const sev = SEVERITY_BY_ID[alert.severity_id] ?? 'info';
          if (!r.min_severity || SEVERITY_RANK[sev] >= SEVERITY_RANK[r.min_severity]) {
            await retry(() => send(alert), {
              initialMs: 1_000,
              maxMs: 60_000,
              onError: async (e, n) => {
                emit.alertDeliveryFailed(r.name, e, n);
                report(component, 'degraded', `delivery failing: ${String(e)}`);
                await heartbeat().catch(() => undefined);
                return !stopping;
              },
            });
            emit.alertDelivered(r.name);
            report(component, 'ok');
          }
        }
        resolveOffset(m.offset);
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(m.offset) + 1n).toString() }]);
      }
      metrics.outboxDepth.set({ route: r.name }, Math.max(0, Number(BigInt(batch.highWatermark) - 1n - BigInt(batch.lastOffset()))));
      await heartbeat();
    },
  });
  report(component, 'ok');
  return {
    async stop() {
      stopping = true;
      await consumer.stop();
      await consumer.disconnect();
      report(component, 'stopped');
    },
  };
}
