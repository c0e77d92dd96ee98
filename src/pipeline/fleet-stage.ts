/**
 * The fleet stage: the fleet view (src/fleet) of one pipeline as a consumer group of its own
 * (`<group>.fleet`) on the fleet topic the device stage feeds (fleet-forward.ts). Each fleet
 * partition owns the classes hashed to it and runs one fleet view, fed through the sequencer
 * (fleet/sequencer.ts): inputs are applied in event-time order up to the fleet watermark (the
 * slowest active source's), so what it judges is a function of the topic alone, and the same
 * inputs judge as the backtest does.
 *
 * Exactly-once, without a state store: the fleet view and its alert router are pure functions of
 * the partition's records, so a partition's state is rebuilt by replaying it from the start of
 * retention up to the group's committed offset, emitting nothing (the topic's retention covers
 * fleet.memory plus the two weeks the view keeps judgements). Past that offset the outputs of a
 * batch — judged findings and fleet_change findings to ClickHouse through the findings writer,
 * the alert-worthy ones through the alert router to the outbox — are written, then the alerts
 * and the group offset commit in one Kafka transaction (one transactional producer per fleet
 * partition, fenced when a new owner opens it). A crash before the commit redoes the batch after
 * the replay: the same rows again (collapsed by ClickHouse), the alerts once.
 *
 * A source partition that is caught up (its group's committed offset at its end) and has sent
 * nothing for `fleetIdleMs` is declared idle by a frame this stage writes into the partition
 * itself, so a quiet source does not hold the fleet back, and a replay reads the same decision.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import type { PipelineConfig } from '../config/types.js';
import type { Finding } from '../detectors/types.js';
import { buildDetectors } from './build.js';
import { fleetFor } from '../fleet/options.js';
import { FLEET_DETECTOR, type Fleet } from '../fleet/fleet.js';
import { createSequencer, type Sequencer, type SourceAt } from '../fleet/sequencer.js';
import { decodeFrame, encodeFrame, sourceId } from '../fleet/frames.js';
import { emptyRouterState, route, routeTime, type RouterState } from '../alerts/router.js';
import type { OcsfDetectionFinding } from '../alerts/ocsf.js';
import { createAlertOutputs, writeStored, type Stored } from './alert-outputs.js';
import { outboxMessage, outboxTopic } from '../alerts/outbox.js';
import { createFindingsWriter } from './findings-writer.js';
import { pollWithAdmin } from './lag-poller.js';
import { whileHeartbeating } from './heartbeat.js';
import { fleetTopic } from './fleet-forward.js';
import { chunks } from '../state/changelog.js';
import { sleep } from '../lib/retry.js';
import { emit } from '../obs/events.js';
import { registerFleetProbe, unregisterFleetProbe } from '../obs/metrics.js';
import { logger } from '../obs/log.js';
import { report } from '../server/health.js';

export interface FleetStageOptions {
  /**
   * A source partition caught up and silent this long (wall time) is declared idle, so that the
   * fleet view does not wait for it (it adds up to this much to the alert latency of a quiet
   * fleet's held findings). Default 10000.
   */
  fleetIdleMs?: number;
  /** Observe alerts as they are routed (the demo's summary, tests). */
  onAlert?: (alert: OcsfDetectionFinding) => void;
  /** As the runner's (RunnerOptions.sessionTimeoutMs). */
  sessionTimeoutMs?: number;
}

export interface FleetStageDeps {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  productVersion: string;
}

export interface FleetStageHandle {
  name: string;
  /** Counts since start, replays not included. */
  stats(): { inputs: number; findings: number; alerts: number };
  /**
   * End of input (a bounded replay such as the demo): judge everything held, as the backtest does
   * at its end. Call once the device stage has published everything; resolves once the fleet
   * stage has consumed and committed it.
   */
  endOfInput(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface FleetPartition {
  partition: number;
  producer: Producer;
  fleet: Fleet;
  seq: Sequencer;
  router: RouterState;
  /** Offsets below this were handled by an earlier owner or run: replayed without output. */
  replayUntil: bigint;
  next: bigint;
  /** Whether the record being applied is past the replay, and what it emits. */
  emitting: boolean;
  stored: Stored[];
  alerts: Message[];
  /** Where the events of findings waiting for judgement are in the source (alert records name it). */
  atOf: Map<string, SourceAt>;
  /** Wall time this partition last heard from each source, and when it last declared one idle. */
  heard: Map<string, number>;
  declared: Map<string, number>;
  dropped: boolean;
  restore: { t0: number; records: number; items: number } | undefined;
}

const DEFAULT_IDLE_MS = 10_000;

export async function startFleetStage(cfg: PipelineConfig, deps: FleetStageDeps, opts: FleetStageOptions = {}): Promise<FleetStageHandle> {
  const log = logger().child({ pipeline: cfg.name, stage: 'fleet' });
  const component = `fleet:${cfg.name}`;
  report(component, 'starting');
  const src = cfg.source.kafka;
  const topic = fleetTopic(cfg);
  const group = topic;
  const outbox = outboxTopic(cfg);
  const idleMs = opts.fleetIdleMs ?? DEFAULT_IDLE_MS;
  const sessionTimeout = opts.sessionTimeoutMs ?? (Number(process.env.KAFKA_SESSION_TIMEOUT_MS) || 30_000);
  const { database, table } = cfg.findings.clickhouse;
  const routerOpts = { minSeverity: cfg.alerts.min_severity, suppressMs: cfg.alerts.suppress_ms, ...(cfg.alerts.auto_close_ms !== undefined ? { autoCloseMs: cfg.alerts.auto_close_ms } : {}) };
  const alertOutputs = createAlertOutputs(cfg, deps.productVersion);
  const detectors = buildDetectors(cfg);
  const roles = new Map(detectors.map((d) => [d.id, d.spec.fleet?.role]));
  const configured = new Set(src.topics);
  const isConfigured = (source: string): boolean => configured.has(source.slice(0, source.lastIndexOf(':')));
  const parts = new Map<number, FleetPartition>();
  const counts = { inputs: 0, findings: 0, alerts: 0 };
  let stopping = false;
  let assigned: Set<number> | undefined;

  const writer = createFindingsWriter<Stored>({
    write: (items) => writeStored(deps.clickhouse, database, table, items),
    onError: (e, n) => {
      emit.writeFailed(cfg.name, e, n);
      report(component, 'degraded', `ClickHouse write failing: ${String(e)}`);
    },
    onWritten: (rows, ms) => emit.batchWritten(cfg.name, rows, ms),
    giveUp: (n) => stopping && n >= 3,
  });

  const consumer: Consumer = deps.kafka.consumer({
    groupId: group,
    sessionTimeout,
    rebalanceTimeout: 60_000,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
    allowAutoTopicCreation: false,
  });
  /** Frames this stage writes itself (idle sources, end of input): plain records, ordered by the log like any other. */
  const notes = deps.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await notes.connect();

  function sinkOf(fp: FleetPartition) {
    const publish = (doc: OcsfDetectionFinding): void => {
      fp.alerts.push(outboxMessage(doc, cfg.name));
      emit.alertEmitted(cfg.name, doc.severity.toLowerCase());
      counts.alerts++;
      opts.onAlert?.(doc);
    };
    return {
      output(f: Finding, input: { finding?: Finding; at?: SourceAt } | undefined): void {
        // An attack finding comes back as its own input: the device stage wrote and routed it.
        if (input?.finding === f && roles.get(f.detector) === 'attack') return;
        const at = input?.finding?.finding_id === f.finding_id ? input.at : fp.atOf.get(f.finding_id);
        fp.atOf.delete(f.finding_id);
        // The router's state is rebuilt by the replay as well; only its outputs wait for the offset.
        const changes = route(fp.router, f, routerOpts, at);
        if (!fp.emitting) return;
        fp.stored.push(f);
        counts.findings++;
        if (f.detector === FLEET_DETECTOR) emit.findingRaised(f);
        // Counted per finding update, as m2m_findings_total counts the device's.
        emit.fleetJudged(cfg.name, f.detector === FLEET_DETECTOR ? FLEET_DETECTOR : ((f.evidence.fleet as { verdict?: string } | undefined)?.verdict ?? 'passed'));
        alertOutputs.handle(changes, fp.stored, publish);
      },
      step(t: number): void {
        const changes = routeTime(fp.router, t, routerOpts);
        if (fp.emitting && changes.length) alertOutputs.handle(changes, fp.stored, publish);
      },
    };
  }

  /** Take a fleet partition: fence its previous owner, then read where its outputs end. */
  async function open(partition: number): Promise<FleetPartition> {
    const producer = deps.kafka.producer({
      transactionalId: `${group}.out.${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
      retry: { retries: 6, initialRetryTime: 300, maxRetryTime: 5_000 },
    });
    await producer.connect();
    const admin = deps.kafka.admin();
    try {
      // InitProducerId (kafkajs runs it on the first transaction) fences the previous owner and
      // aborts its open transaction; only then is the committed offset final.
      await (await producer.transaction()).abort();
      await admin.connect();
      const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const committed = BigInt(t?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
      const low = BigInt((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition)?.low ?? '0');
      const fleet = fleetFor(cfg, detectors)!;
      const fp: FleetPartition = {
        partition,
        producer,
        fleet,
        seq: undefined as unknown as Sequencer,
        router: emptyRouterState(),
        replayUntil: committed,
        next: low,
        emitting: false,
        stored: [],
        alerts: [],
        atOf: new Map(),
        heard: new Map(),
        declared: new Map(),
        dropped: false,
        restore: committed > low ? { t0: Date.now(), records: 0, items: 0 } : undefined,
      };
      fp.seq = createSequencer(fleet, sinkOf(fp));
      return fp;
    } catch (e) {
      await producer.disconnect().catch(() => undefined);
      throw e;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async function drop(fp: FleetPartition, why: string): Promise<void> {
    if (fp.dropped) return;
    fp.dropped = true;
    if (parts.get(fp.partition) === fp) parts.delete(fp.partition);
    log.info({ partition: fp.partition, why }, 'fleet partition state dropped');
    await fp.producer.disconnect().catch(() => undefined);
  }

  function apply(fp: FleetPartition, value: Buffer | null, offset: string): void {
    const fr = decodeFrame(value);
    if (typeof fr === 'string') {
      if (fp.emitting) emit.fleetBadFrame(cfg.name, fp.partition, offset, fr);
      return;
    }
    if (fr.end) {
      fp.seq.end();
      return;
    }
    fp.heard.set(fr.src, Date.now());
    const findingItems = fr.items.reduce((n, it) => n + (it.finding ? 1 : 0), 0);
    for (const it of fr.items) if (it.finding && it.at && roles.get(it.finding.detector) === 'change') fp.atOf.set(it.finding.finding_id, it.at);
    // A source of a topic the pipeline no longer reads will not speak again: it holds nothing back.
    fp.seq.frame(fr.src, fr.w, fr.idle || !isConfigured(fr.src), fr.items, fr.expected.filter(isConfigured));
    if (fp.emitting) {
      counts.inputs += fr.items.length;
      emit.fleetInputs(cfg.name, fr.items.length - findingItems, findingItems);
    } else if (fp.restore) fp.restore.items += fr.items.length;
  }

  /** The batch's outputs: findings durable first, then alerts and the group offset in one transaction. */
  async function commit(fp: FleetPartition, heartbeat: () => Promise<void>): Promise<boolean> {
    const stored = fp.stored;
    const alerts = fp.alerts;
    fp.stored = [];
    fp.alerts = [];
    if (stored.length && !(await whileHeartbeating(writer.durable(writer.add(stored)), heartbeat))) return false;
    const txn = await fp.producer.transaction();
    try {
      for (const topicMessages of chunks([{ topic: outbox, messages: alerts }], 512 * 1024)) await txn.sendBatch({ topicMessages, acks: -1 });
      await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: fp.partition, offset: fp.next.toString() }] }] });
      await txn.commit();
      emit.offsetsCommitted(cfg.name, [{ topic, partition: fp.partition, offset: fp.next.toString() }]);
      return true;
    } catch (e) {
      await txn.abort().catch(() => undefined);
      log.warn({ partition: fp.partition, err: String(e) }, 'fleet outputs not committed; the partition is rebuilt and the batch redone');
      return false;
    }
  }

  async function processBatch({ batch, resolveOffset, heartbeat, isStale }: EachBatchPayload): Promise<void> {
    if (stopping || isStale() || !batch.messages.length) return;
    const p = batch.partition;
    let fp = parts.get(p);
    if (!fp) {
      fp = await open(p);
      if (stopping || isStale() || (assigned && !assigned.has(p))) {
        await fp.producer.disconnect().catch(() => undefined);
        return;
      }
      parts.set(p, fp);
      if (fp.restore) log.info({ partition: p, from: fp.next.toString(), to: fp.replayUntil.toString() }, 'rebuilding the fleet partition from its topic');
      // From the start of retention, whatever the group's offset: this batch is dropped. (Offsets
      // are not contiguous here, transaction markers take some, so no gap can be told from a jump.)
      consumer.seek({ topic, partition: p, offset: fp.next.toString() });
      return;
    }
    let last: string | undefined;
    for (const m of batch.messages) {
      const o = BigInt(m.offset);
      if (o < fp.next) continue;
      fp.emitting = o >= fp.replayUntil;
      if (!fp.emitting && fp.restore) fp.restore.records++;
      apply(fp, m.value, m.offset);
      fp.next = o + 1n;
      last = m.offset;
      if (fp.restore && fp.next >= fp.replayUntil) {
        emit.fleetRestored(cfg.name, p, { records: fp.restore.records, items: fp.restore.items, replayedUpTo: fp.replayUntil, ms: Date.now() - fp.restore.t0 });
        fp.restore = undefined;
      }
    }
    if (last === undefined || fp.dropped) return;
    if (fp.next > fp.replayUntil && !(await commit(fp, heartbeat))) {
      await drop(fp, 'outputs not committed');
      return;
    }
    resolveOffset(last);
    await heartbeat().catch(() => undefined);
    report(component, 'ok');
  }

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assigned = new Set(e.payload.memberAssignment[topic] ?? []);
    // Kept or not, a partition is rebuilt: another owner may have moved it on meanwhile, and with
    // transaction markers between records a jump in offsets does not tell.
    for (const fp of [...parts.values()]) void drop(fp, assigned.has(fp.partition) ? 'rebalanced' : 'revoked');
    log.info({ assigned: [...assigned], member: e.payload.memberId }, 'fleet partitions assigned');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    report(component, e.payload.restart ? 'degraded' : 'down', `fleet consumer crashed: ${String(e.payload.error)}`);
    if (!e.payload.restart) emit.pipelineFailed(cfg.name, e.payload.error);
  });

  registerFleetProbe(cfg.name, {
    held: () => [...parts.values()].reduce((n, fp) => n + fp.fleet.held(), 0),
    queued: () => [...parts.values()].reduce((n, fp) => n + fp.seq.queued(), 0),
    lagSeconds() {
      let lag: number | undefined;
      for (const fp of parts.values()) {
        const d = fp.seq.newest() - fp.seq.watermark();
        if (Number.isFinite(d)) lag = Math.max(lag ?? 0, d / 1000);
      }
      return lag;
    },
  });

  // Sources that are caught up and quiet are declared idle in the partitions this instance owns.
  const poller = pollWithAdmin(deps.kafka, 1_000, declareIdle, (e) => log.debug({ err: String(e) }, 'fleet idle poll failed'));

  async function declareIdle(admin: Admin): Promise<void> {
    const ready = [...parts.values()].filter((fp) => !fp.dropped && fp.next >= fp.replayUntil);
    if (!ready.length) return;
    const caughtUp = new Set<string>();
    const committed = new Map<string, bigint>();
    for (const t of await admin.fetchOffsets({ groupId: src.group, topics: src.topics })) {
      for (const p of t.partitions) committed.set(sourceId(t.topic, p.partition), BigInt(p.offset));
    }
    for (const t of src.topics) {
      for (const o of await admin.fetchTopicOffsets(t)) {
        const id = sourceId(t, o.partition);
        if (BigInt(o.high) <= BigInt(o.low) || (committed.get(id) ?? -1n) >= BigInt(o.high)) caughtUp.add(id);
      }
    }
    const now = Date.now();
    const notesOut: Message[] = [];
    for (const fp of ready) {
      for (const s of fp.seq.sources()) {
        if (s.idle || !caughtUp.has(s.id)) continue;
        // A source never heard from counts from the start of this partition's state.
        const heard = fp.heard.get(s.id) ?? (fp.heard.set(s.id, now), now);
        if (now - heard < idleMs || now - (fp.declared.get(s.id) ?? 0) < idleMs) continue;
        fp.declared.set(s.id, now);
        notesOut.push({ key: s.id, partition: fp.partition, value: encodeFrame({ src: s.id, w: Number.NEGATIVE_INFINITY, idle: true }, []) });
      }
    }
    if (notesOut.length) {
      await notes.send({ topic, messages: notesOut, acks: -1 });
      log.debug({ frames: notesOut.length }, 'idle sources declared');
    }
  }

  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const inFlight = new Set<Promise<void>>();
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => {
      const p = processBatch(payload).catch(async (e: unknown) => {
        // Handled like a failed commit: the partition is rebuilt and the batch redone.
        emit.pipelineFailed(cfg.name, e);
        report(component, 'degraded', `fleet batch failed: ${String(e)}`);
        const fp = parts.get(payload.batch.partition);
        if (fp) await drop(fp, 'batch failed');
        await sleep(1_000);
      });
      inFlight.add(p);
      try {
        await p;
      } finally {
        inFlight.delete(p);
      }
    },
  });
  report(component, 'ok');
  log.info({ topic, group }, 'fleet stage running');

  return {
    name: cfg.name,
    stats: () => ({ ...counts }),
    async endOfInput(timeoutMs = 120_000) {
      const admin = deps.kafka.admin();
      await admin.connect();
      try {
        const offs = await admin.fetchTopicOffsets(topic);
        await notes.send({ topic, acks: -1, messages: offs.map((o) => ({ key: 'end', partition: o.partition, value: encodeFrame({ src: 'end', w: Number.NEGATIVE_INFINITY, end: true }, []) })) });
        const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
          const done = [...ends].every(([p, end]) => BigInt(t?.partitions.find((x) => x.partition === p)?.offset ?? '-1') >= end);
          if (done) return;
          if (Date.now() > deadline) throw new Error(`fleet stage of ${cfg.name} did not consume its end of input within ${timeoutMs} ms`);
          await sleep(200);
        }
      } finally {
        await admin.disconnect();
      }
    },
    async stop() {
      stopping = true;
      const polled = poller.stop();
      consumer.pause([{ topic }]);
      await Promise.allSettled([...inFlight]);
      if (!(await writer.close())) log.warn('fleet findings not written at shutdown; the next start redoes them');
      await consumer.stop().catch((e: unknown) => log.warn({ err: String(e) }, 'fleet consumer stop failed'));
      await consumer.disconnect().catch((e: unknown) => log.warn({ err: String(e) }, 'fleet consumer disconnect failed'));
      for (const fp of [...parts.values()]) await drop(fp, 'stopped');
      await polled;
      await notes.disconnect().catch(() => undefined);
      unregisterFleetProbe(cfg.name);
      report(component, 'stopped');
    },
  };
}
