/**
 * Delivery from the durable outbox. Alerts are first produced to the outbox topic (before the
 * source offsets that raised them are committed); each non-Kafka route then consumes that topic
 * in its own consumer group and commits only after a successful send. A channel that is down is
 * retried with backoff for as long as it stays down, reported as degraded, and its backlog shows
 * as consumer lag (m2m_outbox_depth), so nothing is skipped and nothing is lost.
 *
 * The outbox is written in the runner's publication transactions (PartitionStore.publish), and
 * kafkajs consumers read committed records only, so a route never delivers an alert whose
 * transaction was rolled back.
 * Delivery itself is at-least-once (a crash between send and commit resends); receivers dedupe
 * on the alert id (OCSF finding_info.uid + severity, also in the x-m2m-alert-id header).
 */
import type { Kafka } from 'kafkajs';
import type { AlertRouteConfig, PipelineConfig } from '../config/types.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import { severityOfId, type OcsfDetectionFinding } from './ocsf.js';
import { channelFor } from './channels/send.js';
import { createBudget, DEFAULT_MAX_PER_MINUTE } from './budget.js';
import { OUTBOX_HEADER, outboxPipeline, outboxTopic, readOutboxRecord } from './outbox.js';
import { retry, sleep } from '../lib/retry.js';
import { emit } from '../obs/events.js';
import { metrics } from '../obs/metrics.js';
import { report } from '../server/health.js';
import { deadLetterMessage } from '../kafka/dead-letter.js';


/** Whether this route takes this alert: its severity floor, and the detector's `routes:` list. */
export function wants(cfg: PipelineConfig, r: AlertRouteConfig, alert: OcsfDetectionFinding): boolean {
  const sev = severityOfId(alert.severity_id);
  if (r.min_severity && SEVERITY_RANK[sev] < SEVERITY_RANK[r.min_severity]) return false;
  const det = cfg.detectors.find((d) => d.id === alert.finding_info.analytic.name);
  return !det?.routes || det.routes.includes(r.name);
}

export interface DeliveryHandle {
  stop(): Promise<void>;
}

export interface DeliveryOptions {
  productVersion?: string;
}

export async function startDelivery(kafka: Kafka, cfg: PipelineConfig, r: AlertRouteConfig, dopts: DeliveryOptions = {}): Promise<DeliveryHandle | null> {
  const send = channelFor(r);
  if (!send) return null;
  const budget = createBudget({ pipeline: cfg.name, route: r.name, maxPerMinute: r.max_per_minute ?? DEFAULT_MAX_PER_MINUTE, productVersion: dopts.productVersion ?? '0' });
  // A record that is not an alert goes to the pipeline's dead-letter topic, not round and round.
  let dlq: ReturnType<Kafka['producer']> | undefined;
  const deadLetter = async (m: { key: Buffer | null; value: Buffer | null; offset: string }, partition: number, reason: string): Promise<void> => {
    if (!dlq) {
      dlq = kafka.producer();
      await dlq.connect();
    }
    const msg = deadLetterMessage(m.key, m.value, { code: 'bad_alert_record', message: reason }, { pipeline: cfg.name, topic, partition, offset: m.offset });
    await dlq.send({ topic: cfg.source.kafka.dead_letter_topic, messages: [{ ...msg, headers: { ...msg.headers, [OUTBOX_HEADER.route]: r.name } }], acks: -1 });
    emit.outboxRecordDeadLettered(cfg.name, r.name, reason);
  };
  const component = `route:${cfg.name}/${r.name}`;
  const topic = outboxTopic(cfg);
  let stopping = false;
  const deliver = async (alert: OcsfDetectionFinding, heartbeat: () => Promise<void>): Promise<void> => {
    await retry(() => send(alert), {
      initialMs: 1_000,
      maxMs: 60_000,
      onError: async (e, n) => {
        emit.alertDeliveryFailed(cfg.name, r.name, e, n);
        report(component, 'degraded', `delivery failing: ${String(e)}`);
        await heartbeat().catch(() => undefined);
        return !stopping;
      },
    });
    emit.alertDelivered(cfg.name, r.name);
    report(component, 'ok');
  };
  const consumer = kafka.consumer({ groupId: `${cfg.source.kafka.group}.alerts.${r.name}`, sessionTimeout: 60_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    // Only offsets resolved after a successful send are ever committed, so auto-commit is safe;
    // it is what moves the group past batches holding nothing but transaction markers.
    autoCommit: true,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
      let completed = true;
      for (const m of batch.messages) {
        if (!isRunning() || stopping) {
          completed = false;
          break;
        }
        const pipeline = outboxPipeline(m);
        if (pipeline === cfg.name) {
          const rec = readOutboxRecord<OcsfDetectionFinding>(m.value);
          if (!rec.ok) {
            await retry(() => deadLetter(m, batch.partition, rec.reason), { initialMs: 1_000, maxMs: 30_000, onError: async () => (await heartbeat().catch(() => undefined), !stopping) });
          } else if (wants(cfg, r, rec.alert)) {
            const digest = budget.flush(Date.now());
            if (digest) await deliver(digest, heartbeat);
            if (budget.admit(rec.alert, Date.now())) await deliver(rec.alert, heartbeat);
            else emit.alertFolded(cfg.name, r.name);
          }
        }
        resolveOffset(m.offset);
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(m.offset) + 1n).toString() }]);
      }
      if (completed && batch.messages.length) {
        // Past the trailing commit marker too, so a drained outbox reads as depth 0.
        resolveOffset(batch.lastOffset());
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() }]);
      }
      await heartbeat();
    },
  });
  report(component, 'ok');
  // Depth is the route group's lag on the outbox, polled from the broker rather than set from
  // inside the batch loop, which is exactly what stops running while a channel is down.
  const groupId = `${cfg.source.kafka.group}.alerts.${r.name}`;
  const poller = (async () => {
    const admin = kafka.admin();
    let connected = false;
    while (!stopping) {
      try {
        if (!connected) {
          await admin.connect();
          connected = true;
        }
        metrics.outboxDepth.set({ pipeline: cfg.name, route: r.name }, await outboxDepth(admin, groupId, topic));
      } catch {
        // The broker is away; the consumer reports that. Keep the last depth.
      }
      for (let i = 0; i < 10 && !stopping; i++) await sleep(200);
    }
    await admin.disconnect().catch(() => undefined);
  })();
  // A minute's digest goes out when the minute ends, even if no further alert arrives.
  const noBeat = async () => undefined;
  const digester = setInterval(() => {
    const d = budget.flush(Date.now());
    if (d) void deliver(d, noBeat).catch((e: unknown) => emit.alertDeliveryFailed(cfg.name, r.name, e, 0));
  }, 5_000);
  digester.unref();
  return {
    async stop() {
      clearInterval(digester);
      // The folded alerts of the minute in progress are reported before the route stops.
      const d = budget.flush(Date.now(), true);
      if (d) await send(d).then(() => emit.alertDelivered(cfg.name, r.name), (e: unknown) => emit.alertDeliveryFailed(cfg.name, r.name, e, 0));
      stopping = true;
      await consumer.stop();
      await consumer.disconnect();
      await dlq?.disconnect().catch(() => undefined);
      await poller;
      report(component, 'stopped');
    },
  };
}

/** Records in the outbox after the route group's committed offset, over all partitions. */
export async function outboxDepth(admin: ReturnType<Kafka['admin']>, groupId: string, topic: string): Promise<number> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const done = new Map<number, bigint>();
  for (const t of committed) for (const p of t.partitions) done.set(p.partition, BigInt(p.offset));
  let depth = 0n;
  for (const e of ends) {
    const c = done.get(e.partition) ?? -1n;
    // No commit yet: the route starts from the beginning (fromBeginning), so all of it waits.
    const from = c >= 0n ? c : BigInt(e.low);
    if (BigInt(e.high) > from) depth += BigInt(e.high) - from;
  }
  return Number(depth);
}
