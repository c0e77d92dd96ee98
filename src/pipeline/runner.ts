/**
 * The runner: source → decode → detect → sinks for one pipeline, on a Kafka consumer group.
 *
 * Per assigned partition it keeps one detection engine and one alert router, restored from the
 * partition's slice of the state changelog (partition-state.ts). Each fetched batch is decoded
 * and scored (detection-host.ts), turned into findings, alert rows, dead letters and alert
 * documents (batch-outputs.ts), and its findings are queued for ClickHouse. When that becomes
 * durable is the commit policy's (commit-policy.ts): outputs are *published* promptly in small
 * transactions that record "outputs of source offsets below X are committed", and a
 * *checkpoint* commits the changed device states, the marker and the group offset in one
 * transaction. So a crash anywhere resumes from a consistent (state, offset) pair; replayed
 * events rewrite the same finding rows (deterministic ids, collapsed by ClickHouse) and re-raise
 * the same outputs, of which those below X are suppressed: each dead letter and alert is
 * committed once. This file wires those parts to the consumer: locks, rebalances, seeks, stop.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import type { PipelineConfig } from '../config/types.js';
import { startDetection, defaultDetectWorkers } from './detection-host.js';
import { holdPolicy } from '../alerts/hold.js';
import type { AdhocWindow } from '../alerts/maintenance.js';
import type { OcsfDetectionFinding } from '../alerts/ocsf.js';
import { createAlertOutputs } from './alert-outputs.js';
import { outboxMessage, outboxTopic } from '../alerts/outbox.js';
import { sleep } from '../lib/retry.js';
import { createFleetForward } from './fleet-forward.js';
import { batchOutputs } from './batch-outputs.js';
import { createCommitPolicy, type CommitOptions } from './commit-policy.js';
import { consumerConfig } from './consumer-config.js';
import { startLagPoller } from './lag-poller.js';
import { createRestorer, partitionKey as key, type PartitionState } from './partition-state.js';
import { followAssignments } from './rebalance.js';
import { setUpPipeline } from './setup.js';
import { createTurns } from './turns.js';
import { emit } from '../obs/events.js';
import { registerPipelineProbe, unregisterPipelineProbe } from '../obs/metrics.js';
import { logger } from '../obs/log.js';
import { report } from '../server/health.js';

export interface RunnerDeps {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  productVersion: string;
}

export interface RunnerOptions extends CommitOptions {
  /** Ad hoc maintenance windows known to this instance (the maintenance topic's book). */
  maintenance?: () => Iterable<AdhocWindow>;
  /** Observe alerts as they are routed (the demo's summary, tests). May repeat after a crash replay. */
  onAlert?: (alert: OcsfDetectionFinding) => void;
  partitionsConsumedConcurrently?: number;
  /**
   * Worker threads that decode, detect and encode state, partitions spread over them (0: all in
   * the consumer's thread). Default: one per core, at most 4 (detection-host.ts).
   */
  detectWorkers?: number;
  /** Consumer group session timeout (consumer-config.ts). */
  sessionTimeoutMs?: number;
}

export interface PipelineHandle {
  name: string;
  /** Next offset to process, per "topic:partition", for partitions this instance owns. */
  positions(): Map<string, bigint>;
  /** Counts since start (a replay after a restore counts again). */
  stats(): { events: number; deadLetters: number; duplicates: number; findings: number; alerts: number };
  /** Stop fetching, flush, checkpoint, commit and leave the group. */
  stop(): Promise<void>;
}

export async function startPipeline(cfg: PipelineConfig, deps: RunnerDeps, opts: RunnerOptions = {}): Promise<PipelineHandle> {
  const log = logger().child({ pipeline: cfg.name });
  const component = `pipeline:${cfg.name}`;
  report(component, 'starting');
  const src = cfg.source.kafka;
  // Per-detector min_severity and maintenance windows (scheduled, and ad hoc from the service's book).
  const hold = holdPolicy(cfg, opts.maintenance);
  const routerOpts = { minSeverity: cfg.alerts.min_severity, suppressMs: cfg.alerts.suppress_ms, hold, ...(cfg.alerts.auto_close_ms !== undefined ? { autoCloseMs: cfg.alerts.auto_close_ms } : {}) };
  const alertOutputs = createAlertOutputs(cfg, deps.productVersion);
  const detection = startDetection(cfg, opts.detectWorkers ?? defaultDetectWorkers());
  // With the fleet view, change-role findings, attack marks and facts go to the fleet stage.
  const fwd = cfg.fleet.enabled ? createFleetForward(cfg) : undefined;
  await setUpPipeline(cfg, deps.kafka, deps.clickhouse, fwd, component, log);

  const partitions = new Map<string, PartitionState>();
  /** events: decoded and accepted (duplicates included, as in the events metric); duplicates: of those, dropped as exact repeats. */
  const counts = { events: 0, deadLetters: 0, duplicates: 0, findings: 0, alerts: 0 };
  let stopping = false;
  const isStopping = (): boolean => stopping;
  const restore = createRestorer({ kafka: deps.kafka, pipeline: cfg.name, group: src.group, component, log, detection, fwd, stopping: isStopping });
  const policy = createCommitPolicy({ cfg, component, log, clickhouse: deps.clickhouse, detection, fwd, routerOpts, outbox: outboxTopic(cfg), partitions, stopping: isStopping }, opts);
  const { writer, checkpoint, drop } = policy;

  const turns = createTurns();
  const { exclusive } = turns;

  const consumer: Consumer = deps.kafka.consumer(consumerConfig(src.group, opts.sessionTimeoutMs));
  const gate = followAssignments({ kafka: deps.kafka, log, consumer, partitions, restore, policy, stopping: isStopping });

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    if (stopping) return;
    const k = key(payload.batch.topic, payload.batch.partition);
    const p = exclusive(k, () => processBatch(payload)).catch(async (e: unknown) => {
      // kafkajs stops a consumer for good on an error it does not know as retriable. Any
      // failure here is handled like a failed checkpoint instead: drop the partition's state
      // and leave its offset unresolved, so the batch is fetched again and redone after a restore.
      const ps = partitions.get(k);
      emit.pipelineFailed(cfg.name, e);
      report(component, 'degraded', `batch failed: ${String(e)}`);
      if (ps) await drop(ps, 'batch failed');
      await sleep(1_000);
    });
    turns.track(p);
    await p;
  }

  async function processBatch(payload: EachBatchPayload): Promise<void> {
    const t0 = process.hrtime.bigint();
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const ps = await gate.stateFor(payload);
    if (!ps) return;
    // Offsets below `next` are already reflected in the (restored) state.
    const msgs = batch.messages.filter((m) => BigInt(m.offset) >= ps!.next);
    if (!msgs.length || !isRunning() || isStale() || stopping) return;
    const out = await detection.process(ps.engine, msgs.map((m) => m.value));
    const evicted = (out.stats.capEvicted ?? 0) - (ps.stats.capEvicted ?? 0);
    if (evicted > 0) emit.devicesEvictedByCap(cfg.name, evicted);
    ps.stats = out.stats;
    const dead = msgs.length - out.decoded;
    if (ps.fleet) fwd!.collect(ps.fleet, out, msgs.map((m) => m.offset), (i) => BigInt(msgs[i]!.offset) < ps!.published);
    const where = { topic: batch.topic, partition: batch.partition };
    const res = batchOutputs({ pipeline: cfg.name, ...where, msgs, outcome: out, router: ps.router, routerOpts, alertOutputs, publishedBelow: ps.published, ...(fwd ? { leaves: (f) => fwd.leaves(f) } : {}) });
    for (const m of res.deadLetters) ps.dlq.push(m);
    for (const r of res.rejected) emit.eventDeadLettered(cfg.name, r.error, { ...where, offset: r.offset });
    for (const f of res.findings) emit.findingRaised(f);
    for (const doc of res.alerts) {
      ps.alerts.push(outboxMessage(doc, cfg.name));
      emit.alertEmitted(cfg.name, doc.severity.toLowerCase());
      opts.onAlert?.(doc);
    }
    for (let i = 0; i < res.folded; i++) emit.alertSuppressed(cfg.name);
    for (const why of res.withheld) emit.alertWithheld(cfg.name, why);
    const lastOffset = msgs[msgs.length - 1]!.offset;
    ps.next = BigInt(lastOffset) + 1n;
    if (res.stored.length) ps.ticket = writer.add(res.stored);
    if (!(await policy.backpressure(ps, res.stored.length > 0, heartbeat))) return;
    resolveOffset(lastOffset);
    ps.processed += out.decoded;
    ps.deadLettered += dead;
    ps.sinceCheckpoint += out.decoded + dead;
    counts.events += out.decoded;
    counts.deadLetters += dead;
    counts.duplicates += out.duplicates;
    counts.findings += res.findings.length;
    counts.alerts += res.alerts.length;
    emit.eventsProcessed(cfg.name, out.decoded, dead);
    emit.duplicatesSuppressed(cfg.name, out.duplicates);
    if (!(await policy.afterBatch(ps, heartbeat))) return;
    ps.lastBatch = Date.now();
    await heartbeat().catch(() => undefined);
    emit.batchProcessed(cfg.name, Number(process.hrtime.bigint() - t0) / 1e9);
  }

  consumer.on(consumer.events.CRASH, (e) => {
    report(component, e.payload.restart ? 'degraded' : 'down', `consumer crashed: ${String(e.payload.error)}`);
    // kafkajs rejoins by itself after a retriable crash (a coordinator still loading after a
    // broker restart): that is a degraded moment, reported, not a failed pipeline.
    if (e.payload.restart) log.warn({ err: String(e.payload.error) }, 'consumer crashed; kafkajs restarts it');
    else emit.pipelineFailed(cfg.name, e.payload.error);
  });
  consumer.on(consumer.events.CONNECT, () => log.debug('consumer connected'));

  registerPipelineProbe(cfg.name, {
    partitions: () =>
      [...partitions.values()].map((ps) => ({
        topic: ps.topic,
        partition: ps.partition,
        lag: ps.high >= 0n && ps.next >= 0n ? Number(ps.high - ps.next) : undefined,
        checkpointAgeS: (Date.now() - ps.lastCheckpoint) / 1000,
        uncheckpointed: ps.sinceCheckpoint,
      })),
    devices: () => [...partitions.values()].reduce((n, p) => n + p.stats.devices, 0),
    findingsPending: () => writer.backlog(),
    workerHeaps: () => detection.heaps(),
  });
  const poller = startLagPoller(deps.kafka, src.topics, (topic, p) => partitions.get(key(topic, p)), log);
  const stopFlush = policy.startIdleFlush(turns);

  await consumer.connect();
  for (const topic of src.topics) await consumer.subscribe({ topic, fromBeginning: src.start === 'earliest' });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    // At least one batch in flight per worker, so that every worker has work.
    partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? Math.max(2, detection.workers),
    eachBatch,
  });
  report(component, 'ok');
  log.info({ topics: src.topics, group: src.group }, 'pipeline running');

  return {
    name: cfg.name,
    positions: () => new Map([...partitions].map(([k, p]) => [k, p.next])),
    stats: () => ({ ...counts }),
    async stop() {
      // Stop taking new batches, let the ones in flight finish, checkpoint and commit while we
      // still own the partitions, then leave the group.
      stopping = true;
      stopFlush();
      try {
        consumer.pause(src.topics.map((topic) => ({ topic })));
      } catch {
        // A consumer that crashed for good (kafkajs would not restart it) has nothing to pause.
      }
      await turns.settled();
      // As many side by side as checkpoint slots: one partition's encoding overlaps another's
      // broker round trips, and the memory of taken states stays bounded as in operation.
      const queue = [...partitions];
      await Promise.all(
        Array.from({ length: Math.min(queue.length, policy.checkpointSlots) }, async () => {
          for (let next = queue.shift(); next; next = queue.shift()) {
            const [k, ps] = next;
            await exclusive(k, () => checkpoint(ps));
          }
        }),
      );
      if (!(await writer.close())) log.warn('findings not written at shutdown; the next start redoes them from the last checkpoint');
      const polled = poller.stop();
      await consumer.stop().catch((e: unknown) => log.warn({ err: String(e) }, 'consumer stop failed'));
      await consumer.disconnect().catch((e: unknown) => log.warn({ err: String(e) }, 'consumer disconnect failed'));
      for (const ps of [...partitions.values()]) await drop(ps, 'stopped');
      await polled;
      await detection.close();
      unregisterPipelineProbe(cfg.name);
      report(component, 'stopped');
    },
  };
}
