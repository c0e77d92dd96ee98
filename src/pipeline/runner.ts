/**
 * The runner: source → decode → detect → sinks for one pipeline, on a Kafka consumer group.
 *
 * Per assigned partition it keeps one detection engine and one alert router, restored from the
 * partition's checkpoint. Each fetched batch is decoded and scored; its findings are written to
 * ClickHouse and its dead letters and alerts produced to Kafka before the batch counts as
 * processed. Offsets are committed only together with a state checkpoint that reflects them, so
 * a crash anywhere replays from a consistent (state, offset) pair and, finding ids being
 * deterministic, rewrites the same rows, which ClickHouse collapses.
 */
import type { Consumer, EachBatchPayload, Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import type { PipelineConfig } from '../config/types.js';
import type { Finding } from '../detectors/types.js';
import { decodeEvent } from '../events/decode.js';
import { createEngine, type Engine } from './engine.js';
import { buildDetectors } from './build.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import { emptyRouterState, pruneRouter, route, type RouterState } from '../alerts/router.js';
import { toOcsf, type OcsfDetectionFinding } from '../alerts/ocsf.js';
import { deadLetterMessage } from '../kafka/dead-letter.js';
import { ensureTopics } from '../kafka/topics.js';
import { insertFindings } from '../storage/findings.js';
import { migrate } from '../storage/migrations.js';
import { readCheckpoint, writeCheckpoint } from '../state/checkpoints.js';
import { retry } from './retry.js';
import { emit } from '../obs/events.js';
import { metrics } from '../obs/metrics.js';
import { logger } from '../obs/log.js';
import { report } from '../server/health.js';

export interface RunnerDeps {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  producer: Producer;
  productVersion: string;
}

export interface RunnerOptions {
  /** Wall-clock interval between state checkpoints (and so offset commits). */
  checkpointEveryMs?: number;
  /** Observe alerts as they are put in the outbox (the demo's summary, tests). */
  onAlert?: (alert: OcsfDetectionFinding) => void;
  partitionsConsumedConcurrently?: number;
}

export interface PipelineHandle {
  name: string;
  /** Next offset to process, per "topic:partition", for partitions this instance owns. */
  positions(): Map<string, bigint>;
  /** Counts since start. */
  stats(): { events: number; deadLetters: number; findings: number; alerts: number };
  /** Flush, checkpoint, commit and leave the group. */
  stop(): Promise<void>;
}

interface PartitionState {
  topic: string;
  partition: number;
  engine: Engine;
  router: RouterState;
  next: bigint;
  lastCheckpoint: number;
  dirty: boolean;
}

export function outboxTopic(cfg: PipelineConfig): string {
  const k = cfg.alerts.routes.find((r) => r.type === 'kafka');
  return k ? String(k.options.topic) : 'm2m.alerts';
}

export async function startPipeline(cfg: PipelineConfig, deps: RunnerDeps, opts: RunnerOptions = {}): Promise<PipelineHandle> {
  const log = logger().child({ pipeline: cfg.name });
  const component = `pipeline:${cfg.name}`;
  report(component, 'starting');
  const src = cfg.source.kafka;
  const { database, table, ttl_days } = cfg.findings.clickhouse;
  const checkpointEvery = opts.checkpointEveryMs ?? 5_000;
  const outbox = outboxTopic(cfg);
  const routerOpts = { minSeverity: cfg.alerts.min_severity, suppressMs: cfg.alerts.suppress_ms };

  await retry(() => migrate(deps.clickhouse, { database, table, ttlDays: ttl_days }), {
    onError: (e, n) => {
      report(component, 'degraded', `ClickHouse migrations failing: ${String(e)}`);
      log.warn({ attempt: n, err: String(e) }, 'migrations failed; retrying');
      return n < 30;
    },
  });
  await ensureTopics(deps.kafka, [
    ...src.topics.map((topic) => ({ topic })),
    { topic: src.dead_letter_topic, config: { 'retention.ms': String(30 * 86_400_000) } },
    { topic: outbox },
  ]);

  const partitions = new Map<string, PartitionState>();
  const counts = { events: 0, deadLetters: 0, findings: 0, alerts: 0 };
  let stopping = false;

  const consumer: Consumer = deps.kafka.consumer({
    groupId: src.group,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: 1_048_576,
    allowAutoTopicCreation: false,
  });

  async function restore(topic: string, partition: number): Promise<PartitionState> {
    const engine = createEngine({
      pipeline: cfg.name,
      detectors: buildDetectors(cfg),
      allowedLatenessMs: cfg.allowed_lateness_ms,
      idleEvictionMs: cfg.entities.idle_eviction_ms,
    });
    const cp = await retry(() => readCheckpoint(deps.clickhouse, database, { pipeline: cfg.name, topic, partition }), {
      onError: () => !stopping,
    });
    const ps: PartitionState = { topic, partition, engine, router: emptyRouterState(), next: -1n, lastCheckpoint: Date.now(), dirty: false };
    if (cp) {
      engine.restore(cp.engine);
      ps.router = cp.router;
      ps.next = cp.next_offset;
      log.info({ topic, partition, next_offset: cp.next_offset.toString(), devices: engine.deviceCount() }, 'state restored from checkpoint');
    }
    return ps;
  }

  async function flushWrites(findings: Finding[], messages: Message[], dlq: Message[], heartbeat: () => Promise<void>): Promise<void> {
    if (findings.length) {
      const t0 = Date.now();
      const rows = await retry(() => insertFindings(deps.clickhouse, database, table, findings), {
        initialMs: 500,
        onError: async (e, n) => {
          emit.writeFailed(cfg.name, e, n);
          report(component, 'degraded', `ClickHouse write failing: ${String(e)}`);
          await heartbeat().catch(() => undefined);
          return !stopping || n < 5;
        },
      });
      emit.batchWritten(cfg.name, rows, Date.now() - t0);
    }
    const topicMessages: TopicMessages[] = [];
    if (dlq.length) topicMessages.push({ topic: src.dead_letter_topic, messages: dlq });
    if (messages.length) topicMessages.push({ topic: outbox, messages });
    if (topicMessages.length) {
      await retry(() => deps.producer.sendBatch({ topicMessages, acks: -1 }), {
        initialMs: 500,
        onError: async (e, n) => {
          report(component, 'degraded', `Kafka produce failing: ${String(e)}`);
          log.warn({ attempt: n, err: String(e) }, 'produce failed; retrying');
          await heartbeat().catch(() => undefined);
          return !stopping || n < 5;
        },
      });
    }
    report(component, 'ok');
  }

  async function checkpoint(ps: PartitionState): Promise<void> {
    if (!ps.dirty || ps.next < 0n) return;
    pruneRouter(ps.router, ps.engine.watermark(), routerOpts);
    const bytes = await retry(
      () => writeCheckpoint(deps.clickhouse, database, { pipeline: cfg.name, topic: ps.topic, partition: ps.partition }, {
        next_offset: ps.next,
        engine: ps.engine.snapshot(),
        router: ps.router,
      }),
      { initialMs: 500, onError: (e, n) => { emit.writeFailed(cfg.name, e, n); return !stopping || n < 5; } },
    );
    emit.checkpointWritten(cfg.name, ps.topic, ps.partition, ps.engine.deviceCount(), bytes);
    const offsets = [{ topic: ps.topic, partition: ps.partition, offset: ps.next.toString() }];
    await consumer.commitOffsets(offsets);
    emit.offsetsCommitted(cfg.name, offsets);
    ps.lastCheckpoint = Date.now();
    ps.dirty = false;
    metrics.devices.set({ pipeline: cfg.name }, [...partitions.values()].reduce((n, p) => n + p.engine.deviceCount(), 0));
  }

  const inFlight = new Set<Promise<void>>();
  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    if (stopping) return;
    const p = processBatch(payload);
    inFlight.add(p);
    try {
      await p;
    } finally {
      inFlight.delete(p);
    }
  }

  async function processBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const t0 = process.hrtime.bigint();
    const key = `${batch.topic}:${batch.partition}`;
    let ps = partitions.get(key);
    if (!ps) {
      ps = await restore(batch.topic, batch.partition);
      partitions.set(key, ps);
      const first = BigInt(batch.firstOffset() ?? '0');
      if (ps.next >= 0n && first > ps.next) {
        // Committed offsets ran ahead of the state (should not happen: we commit only after a
        // checkpoint). Go back so no event escapes the detectors.
        log.warn({ topic: batch.topic, partition: batch.partition, from: first.toString(), to: ps.next.toString() }, 'seeking back to checkpoint');
        consumer.seek({ topic: batch.topic, partition: batch.partition, offset: ps.next.toString() });
        return;
      }
    }
    const findings: Finding[] = [];
    const alerts: Message[] = [];
    const dlq: Message[] = [];
    let decoded = 0;
    let lastOffset: string | undefined;
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || stopping) break;
      const off = BigInt(m.offset);
      if (off < ps.next) continue; // already reflected in the restored state
      const r = decodeEvent(m.value ?? Buffer.alloc(0), cfg.mapping ? { mapping: cfg.mapping } : {});
      if (r.ok) {
        decoded++;
        for (const f of ps.engine.process(r.event)) {
          findings.push(f);
          emit.findingRaised(f);
          const d = route(ps.router, f, routerOpts);
          if (d) {
            const doc = toOcsf(d.finding, { alert_id: d.alert_id, suppressed_before: d.suppressed_before, product_version: deps.productVersion });
            alerts.push({ key: f.device_id, value: JSON.stringify(doc), headers: { 'x-m2m-alert-id': d.alert_id, 'x-m2m-pipeline': cfg.name } });
            emit.alertEmitted(cfg.name, f.severity);
            opts.onAlert?.(doc);
          } else if (SEVERITY_RANK[f.severity] >= SEVERITY_RANK[cfg.alerts.min_severity]) {
            emit.alertSuppressed(cfg.name);
          }
        }
      } else {
        dlq.push(deadLetterMessage(m.key, m.value, r.error, { pipeline: cfg.name, topic: batch.topic, partition: batch.partition, offset: m.offset }));
        emit.eventDeadLettered(cfg.name, r.error, { topic: batch.topic, partition: batch.partition, offset: m.offset });
      }
      ps.next = off + 1n;
      lastOffset = m.offset;
    }
    if (lastOffset === undefined) return;
    await flushWrites(findings, alerts, dlq, heartbeat);
    resolveOffset(lastOffset);
    ps.dirty = true;
    counts.events += decoded;
    counts.deadLetters += dlq.length;
    counts.findings += findings.length;
    counts.alerts += alerts.length;
    emit.eventDecoded(cfg.name, 'any', decoded);
    const high = BigInt(batch.highWatermark);
    metrics.lag.set({ pipeline: cfg.name, topic: batch.topic, partition: String(batch.partition) }, Number(high - ps.next));
    if (Date.now() - ps.lastCheckpoint >= checkpointEvery || ps.next >= high) await checkpoint(ps);
    await heartbeat();
    metrics.batchSeconds.observe({ pipeline: cfg.name }, Number(process.hrtime.bigint() - t0) / 1e9);
  }

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const assigned = new Set<string>();
    for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) for (const p of parts) assigned.add(`${topic}:${p}`);
    // State of partitions we lost is dropped; their new owner restores from the last checkpoint.
    for (const k of [...partitions.keys()]) if (!assigned.has(k)) partitions.delete(k);
    log.info({ assigned: [...assigned] }, 'partitions assigned');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    report(component, e.payload.restart ? 'degraded' : 'down', `consumer crashed: ${String(e.payload.error)}`);
    emit.pipelineFailed(cfg.name, e.payload.error);
  });

  await consumer.connect();
  for (const topic of src.topics) await consumer.subscribe({ topic, fromBeginning: src.start === 'earliest' });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 2,
    eachBatch,
  });
  report(component, 'ok');
  log.info({ topics: src.topics, group: src.group }, 'pipeline running');

  return {
    name: cfg.name,
    positions: () => new Map([...partitions].map(([k, p]) => [k, p.next])),
    stats: () => ({ ...counts }),
    async stop() {
      // Finish the batches in flight, then checkpoint and commit while we still own the
      // partitions, then leave the group.
      stopping = true;
      await Promise.allSettled([...inFlight]);
      for (const ps of partitions.values()) await checkpoint(ps).catch((e) => log.error({ err: String(e) }, 'final checkpoint failed'));
      await consumer.stop();
      await consumer.disconnect();
      report(component, 'stopped');
    },
  };
}
