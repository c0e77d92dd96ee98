/**
 * The runner: source → decode → detect → sinks for one pipeline, on a Kafka consumer group.
 *
 * Per assigned partition it keeps one detection engine and one alert router, restored from the
 * partition's slice of the state changelog (src/state/changelog.ts). Each fetched batch is
 * decoded and scored and its findings are queued for ClickHouse, where one writer inserts the
 * findings of many batches and partitions at once (findings-writer.ts; retried until durable;
 * while inserts fail, a batch that raised something waits, so its partition is not fetched
 * further, which is the backpressure). Dead letters and alerts (these once their findings are
 * written) are *published* promptly, in a small transaction that also records "outputs
 * of source offsets below X are committed" (PartitionStore.publish). A *checkpoint*, on its own
 * longer cadence, commits the changed device states, the marker (offset, clock, router) and the
 * group offset in one Kafka transaction. So a crash anywhere resumes from a consistent (state,
 * offset) pair; replayed events rewrite the same finding rows (deterministic ids, collapsed by
 * ClickHouse) and re-raise the same outputs, of which those below X are suppressed: each dead
 * letter and alert is committed once.
 */
import type { Consumer, EachBatchPayload, Kafka, Message } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import type { PipelineConfig } from '../config/types.js';
import type { Finding } from '../detectors/types.js';
import { startDetection, defaultDetectWorkers, type CheckpointTaken } from './detection-host.js';
import type { EngineStats } from './detection.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import { emptyRouterState, pruneRouter, route, routeTime, type RouterState } from '../alerts/router.js';
import { holdPolicy } from '../alerts/hold.js';
import type { AdhocWindow } from '../alerts/maintenance.js';
import type { OcsfDetectionFinding } from '../alerts/ocsf.js';
import { createAlertOutputs, writeStored, type Stored } from './alert-outputs.js';
import { outboxMessage, outboxTopic } from '../alerts/outbox.js';
import { deadLetterMessage } from '../kafka/dead-letter.js';
import { isRetriable } from '../kafka/client.js';
import { ensureTopics } from '../kafka/topics.js';
import { migrate } from '../storage/migrations.js';
import { changelogTopic, ensureChangelog, PartitionStore, StoreFenced, type Checkpoint } from '../state/changelog.js';
import { GaveUp, retry, sleep } from '../lib/retry.js';
import { AccessDenied, attempt, preflight } from '../kafka/authz.js';
import { createFindingsWriter } from './findings-writer.js';
import { createFleetForward, fleetTopicSpec, type ForwardState } from './fleet-forward.js';
import { emit } from '../obs/events.js';
import { registerPipelineProbe, unregisterPipelineProbe, type PartitionProbe } from '../obs/metrics.js';
import { logger } from '../obs/log.js';
import { report } from '../server/health.js';

export interface RunnerDeps {
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  /**
   * The service's shared producer. Unused by the runner since dead letters and alerts moved into
   * the per-partition checkpoint transactions; kept so callers need not change.
   */
  producer?: unknown;
  productVersion: string;
}

export interface RunnerOptions {
  /**
   * Wall-clock interval between state checkpoints (and so offset commits) while a partition is
   * busy, provided the checkpoint is worth its size (minEventsPerStateRecord). Default 5000.
   */
  checkpointEveryMs?: number;
  /**
   * A busy partition checkpoints after checkpointEveryMs only once it has handled at least this
   * many events per changed device since its previous checkpoint, or after maxCheckpointEveryMs
   * regardless. This bounds the state written per input event (one device record per this many
   * events): with many devices and frequent checkpoints nearly every event used to cost a device
   * record (JSON, compression, a changelog write), far more than its detection. Default 8.
   */
  minEventsPerStateRecord?: number;
  /** Longest wall-clock interval between checkpoints of a busy partition. Default 12 × checkpointEveryMs. */
  maxCheckpointEveryMs?: number;
  /**
   * A caught-up partition with uncheckpointed progress that has been idle (no batch) this long,
   * and at least this long after its previous checkpoint, checkpoints early, which commits its
   * offset. Default min(1000, checkpointEveryMs).
   */
  minCheckpointGapMs?: number;
  /**
   * Least time between two publications of a partition's alerts and dead letters (each is a
   * small transaction, independent of checkpoints). Pending outputs are published by the batch
   * that finds this much time elapsed or, if no batch comes, by an idle timer. Default 100,
   * behind or caught up alike: publications run on their own lane and never hold a batch.
   */
  publishGapMs?: number;
  /**
   * Checkpoint early once this many devices of a partition changed since its last checkpoint,
   * which bounds the length of one checkpoint transaction and the work redone after a crash.
   * Default 20000.
   */
  maxCheckpointDevices?: number;
  /**
   * Checkpoints of one instance taken and not yet committed at a time (due ones wait for a
   * slot; first, forced and final checkpoints do not). Default: one per two detection workers,
   * at least one.
   */
  maxConcurrentCheckpoints?: number;
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
  /**
   * Checkpoint early once this many dead letters and alerts wait for publication, so a burst of
   * bad input cannot grow memory between checkpoints. Default 5000.
   */
  maxPendingOutputs?: number;
  /**
   * Consumer group session timeout: how long the partitions of an instance that died without
   * leaving (SIGKILL, host loss) stay stalled before the group moves them. Default 30 s, or
   * KAFKA_SESSION_TIMEOUT_MS; the broker bounds it (group.min/max.session.timeout.ms).
   */
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

interface PartitionState {
  topic: string;
  partition: number;
  store: PartitionStore;
  /** This partition state's engine in the detection host (unique per restore, so a late drop cannot hit a successor). */
  engine: string;
  /** The engine's counts as of its last batch or checkpoint. */
  stats: EngineStats;
  router: RouterState;
  /** Next offset to process (-1: no checkpoint yet, take what the consumer hands us). */
  next: bigint;
  /** Offset of the last committed checkpoint (-1: none). */
  committed: bigint;
  /** Offset of the last checkpoint taken, committed or still committing (-1: none). */
  checkpointed: bigint;
  /**
   * Checkpoint transactions run one after another on this lane, behind the batches: a
   * checkpoint takes the engine's state at once (encoded, so later batches cannot change it) and
   * commits while the next batches are scored.
   */
  stateLane: Lane;
  /**
   * Publications (alerts, dead letters) run one after another on their own lane and producer,
   * so they do not wait for a checkpoint; a checkpoint waits for the publications of the
   * outputs below its offset (PartitionStore.publish).
   */
  outLane: Lane;
  /** Set once the state is dropped: queued store operations are skipped. */
  dropped: boolean;
  /**
   * Outputs of every offset below this are committed (by a publish or a checkpoint), so a replay
   * of those offsets must not send them again (-1: none).
   */
  published: bigint;
  /** When outputs were last published (wall clock). */
  lastPublish: number;
  /** Cumulative per-partition accounting, checkpointed with the state. */
  processed: number;
  deadLettered: number;
  /** Outputs produced since the last checkpoint, published by it. */
  dlq: Message[];
  alerts: Message[];
  lastCheckpoint: number;
  /** Events handled since the last checkpoint. */
  sinceCheckpoint: number;
  /** Set on rejoin while we kept the partition: prove ownership before trusting the state. */
  verify: boolean;
  /** Last high watermark seen, for lag. */
  high: bigint;
  /** When the last batch of this partition finished (wall clock), to tell idle from live. */
  lastBatch: number;
  /** What this partition sends the fleet stage (pipelines with the fleet view). */
  fleet?: ForwardState;
  /** Ticket of this partition's latest findings (findings-writer.ts; 0: none since the restore). */
  ticket: number;
  /** Waits on this partition's behalf for its findings; told false when the state is dropped. */
  waiting: Set<(ok: boolean) => void>;
}

const key = (topic: string, partition: number) => `${topic}:${partition}`;

/** Store operations of one kind for one partition, in order: the tail to chain after, and how many are queued or running. */
interface Lane {
  tail: Promise<void>;
  busy: number;
}
const newLane = (): Lane => ({ tail: Promise.resolve(), busy: 0 });

function errType(e: unknown): string {
  return String((e as { type?: string })?.type ?? (e as { name?: string })?.name ?? '');
}

export async function startPipeline(cfg: PipelineConfig, deps: RunnerDeps, opts: RunnerOptions = {}): Promise<PipelineHandle> {
  const log = logger().child({ pipeline: cfg.name });
  const component = `pipeline:${cfg.name}`;
  report(component, 'starting');
  const src = cfg.source.kafka;
  const { database, table, ttl_days } = cfg.findings.clickhouse;
  const checkpointEvery = opts.checkpointEveryMs ?? 5_000;
  const minGap = Math.min(opts.minCheckpointGapMs ?? 1_000, checkpointEvery);
  const publishGap = Math.min(opts.publishGapMs ?? 100, checkpointEvery);
  const maxDevices = opts.maxCheckpointDevices ?? 20_000;
  const perRecord = opts.minEventsPerStateRecord ?? 8;
  const maxEvery = Math.max(checkpointEvery, opts.maxCheckpointEveryMs ?? 12 * checkpointEvery);
  /** Whether a busy partition's state is due for a checkpoint (time, amortised size, or size). */
  const stateDue = (ps: PartitionState, since: number): boolean => {
    const changed = ps.stats.changed;
    return since >= maxEvery || changed >= maxDevices || (since >= checkpointEvery && ps.sinceCheckpoint >= perRecord * changed);
  };
  const maxPending = opts.maxPendingOutputs ?? 5_000;
  const sessionTimeout = opts.sessionTimeoutMs ?? (Number(process.env.KAFKA_SESSION_TIMEOUT_MS) || 30_000);
  const outbox = outboxTopic(cfg);
  // Per-detector min_severity and maintenance windows (scheduled, and ad hoc from the service's book).
  const hold = holdPolicy(cfg, opts.maintenance);
  const routerOpts = { minSeverity: cfg.alerts.min_severity, suppressMs: cfg.alerts.suppress_ms, hold, ...(cfg.alerts.auto_close_ms !== undefined ? { autoCloseMs: cfg.alerts.auto_close_ms } : {}) };
  const alertOutputs = createAlertOutputs(cfg, deps.productVersion);
  const detection = startDetection(cfg, opts.detectWorkers ?? defaultDetectWorkers());
  // With the fleet view, change-role findings, attack marks and facts go to the fleet stage.
  const fwd = cfg.fleet.enabled ? createFleetForward(cfg) : undefined;
  /** Outputs waiting for publication: dead letters, alerts, and what is due for the fleet stage. */
  const outputsOf = (ps: PartitionState): number => ps.dlq.length + ps.alerts.length + (ps.fleet ? fwd!.pending(ps.fleet, ps.stats.watermark, Date.now()) : 0);
  // Partitions that start together at the same rate fall due together; a checkpoint of every
  // device of every partition at once (hundreds of MB to encode, compress and write) stalled the
  // instance for seconds. Checkpoints taken and not yet committed are limited instance-wide;
  // a due partition that finds no slot checkpoints at a later batch.
  // (Latency phase of the bench at 28k events/s, two workers: p99 4.2–4.8 s without a limit,
  // 1.5 s with two slots, 0.9 s with one; throughput unchanged. Measured again once the bench
  // stopped timing its own load generator, at 34k events/s: 2.6 and 1.4 s with two slots, 1.1
  // and 0.9 s with one, alternated.)
  const checkpointSlots = opts.maxConcurrentCheckpoints ?? Math.max(1, Math.floor(detection.workers / 2));
  let checkpointsActive = 0;
  let restores = 0;

  await retry(() => migrate(deps.clickhouse, { database, table, ttlDays: ttl_days }), {
    onError: (e, n) => {
      report(component, 'degraded', `ClickHouse migrations failing: ${String(e)}`);
      log.warn({ attempt: n, err: String(e) }, 'migrations failed; retrying');
      return n < 30;
    },
  });
  await retry(
    async () => {
      const fleetOut = fwd ? fleetTopicSpec(cfg) : undefined;
      const topics = [...src.topics, src.dead_letter_topic, outbox, ...(fleetOut ? [fleetOut.topic] : [])].join(', ');
      await attempt({ operation: 'DESCRIBE and CREATE', resource: `topics ${topics}`, why: 'set up the pipeline\'s topics (or create them beforehand and grant DESCRIBE)' }, () =>
        ensureTopics(deps.kafka, [
          ...src.topics.map((topic) => ({ topic })),
          { topic: src.dead_letter_topic, config: { 'retention.ms': String(30 * 86_400_000) } },
          { topic: outbox },
          ...(fleetOut ? [fleetOut] : []),
        ]),
      );
      const changelog = await attempt({ operation: 'DESCRIBE and CREATE', resource: `topic ${changelogTopic(src.group)}`, why: 'set up the state changelog' }, () => ensureChangelog(deps.kafka, src.group, src.topics));
      if (fwd) await attempt({ operation: 'DESCRIBE', resource: `topics ${fwd.topic}, ${src.topics.join(', ')}`, why: 'count the fleet topic\'s and the sources\' partitions' }, () => fwd.init(deps.kafka));
      // With ACLs on, a missing grant found now is one clear message; found later, inside a
      // checkpoint transaction, it was a checkpoint failing and restoring forever.
      await preflight(deps.kafka, {
        group: src.group,
        sources: src.topics,
        outputs: [
          { topic: outbox, what: 'alert outbox' },
          { topic: src.dead_letter_topic, what: 'dead letters' },
          { topic: changelog, what: 'state changelog' },
          ...(fwd ? [{ topic: fwd.topic, what: 'fleet topic (the fleet stage\'s inputs)' }] : []),
        ],
      });
    },
    {
      onError: (e, n) => {
        report(component, isRetriable(e) ? 'degraded' : 'down', `cannot set up topics: ${String(e)}`);
        if (!isRetriable(e)) return false;
        log.warn({ attempt: n, err: String(e) }, 'topic setup failed; retrying');
        return n < 20;
      },
    },
  ).catch((e: unknown) => {
    // The reason itself, not "gave up after 1 attempts: …", is what the operator reads.
    throw e instanceof GaveUp && e.cause instanceof AccessDenied ? e.cause : e;
  });

  const partitions = new Map<string, PartitionState>();
  /** events: decoded and accepted (duplicates included, as in the events metric); duplicates: of those, dropped as exact repeats. */
  const counts = { events: 0, deadLetters: 0, duplicates: 0, findings: 0, alerts: 0 };
  let stopping = false;
  /** The partitions of our latest assignment (undefined until the first join). */
  let assigned: Set<string> | undefined;

  // One batch or one checkpoint at a time per partition: a checkpoint must see the engine, the
  // outputs and `next` of whole batches whose findings are durable, never a batch half done.
  const locks = new Map<string, Promise<void>>();
  async function exclusive<T>(k: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(k);
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev ? prev.then(() => mine) : mine;
    locks.set(k, tail);
    if (prev) await prev;
    try {
      return await fn();
    } finally {
      release();
      if (locks.get(k) === tail) locks.delete(k);
    }
  }

  const consumer: Consumer = deps.kafka.consumer({
    groupId: src.group,
    sessionTimeout,
    rebalanceTimeout: 60_000,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
    maxBytesPerPartition: 1_048_576,
    maxBytes: 4 * 1_048_576,
    allowAutoTopicCreation: false,
  });

  /** Forget a partition's in-memory state (its next batch restores from the changelog); false if already forgotten. */
  function discard(ps: PartitionState, why: string): boolean {
    if (ps.dropped) return false;
    ps.dropped = true;
    for (const w of [...ps.waiting]) w(false);
    const k = key(ps.topic, ps.partition);
    // A batch that was in flight across a rebalance may report on state already replaced.
    if (partitions.get(k) === ps) partitions.delete(k);
    log.info({ partition: k, why }, 'partition state dropped');
    detection.drop(ps.engine);
    return true;
  }

  /** Both lanes of a partition, done. */
  const settled = (ps: PartitionState): Promise<void> => Promise.all([ps.stateLane.tail, ps.outLane.tail]).then(() => undefined);

  /** Drop a partition's in-memory state, and close its store once its store operations are done. */
  async function drop(ps: PartitionState, why: string): Promise<void> {
    if (!discard(ps, why)) return;
    await settled(ps);
    await ps.store.close();
  }

  /** Queue a store operation behind the earlier ones of its lane. `op` handles its own failure. */
  function storeOp(ps: PartitionState, lane: Lane, op: () => Promise<boolean>): Promise<boolean> {
    lane.busy++;
    const done = lane.tail
      .then(() => (ps.dropped ? false : op()))
      .finally(() => {
        lane.busy--;
      });
    lane.tail = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** A failed transaction: nothing of it is visible; the state is dropped and redone from the changelog. */
  async function storeFailed(ps: PartitionState, e: unknown, what: string): Promise<false> {
    const fenced = e instanceof StoreFenced;
    emit.checkpointFailed(cfg.name, ps.topic, ps.partition, e, fenced);
    if (!fenced) report(component, 'degraded', `${what} failing: ${String(e)}`);
    // Called on a lane: the store is closed here, not after the lanes (this call is on one).
    if (discard(ps, fenced ? 'fenced by a new owner' : `${what} failed`)) await ps.store.close();
    return false;
  }

  /** Findings given up (shutting down): nothing that follows them may commit; a restore replays them. */
  async function findingsLost(ps: PartitionState): Promise<false> {
    // Called on a lane, as storeFailed.
    if (discard(ps, 'findings not written')) await ps.store.close();
    return false;
  }

  async function restore(topic: string, partition: number): Promise<PartitionState> {
    const t0 = Date.now();
    const store = new PartitionStore(deps.kafka, src.group, topic, partition);
    const cp = await retry(
      async () => {
        await store.open();
        try {
          return await store.read();
        } catch (e) {
          await store.close();
          throw e;
        }
      },
      {
        onError: (e, n) => {
          report(component, 'degraded', `state restore failing: ${String(e)}`);
          log.warn({ topic, partition, attempt: n, err: String(e) }, 'state restore failed; retrying');
          return !stopping;
        },
      },
    );
    const engine = `${key(topic, partition)}#${++restores}`;
    let stats: EngineStats;
    try {
      stats = await detection.open(engine, cp?.engine ?? null);
    } catch (e) {
      detection.drop(engine);
      await store.close();
      throw e;
    }
    const ps: PartitionState = {
      topic,
      partition,
      store,
      engine,
      stats,
      router: emptyRouterState(),
      next: -1n,
      committed: -1n,
      checkpointed: -1n,
      stateLane: newLane(),
      outLane: newLane(),
      dropped: false,
      published: -1n,
      lastPublish: Date.now(),
      processed: 0,
      deadLettered: 0,
      dlq: [],
      alerts: [],
      lastCheckpoint: Date.now(),
      sinceCheckpoint: 0,
      verify: false,
      high: -1n,
      lastBatch: Date.now(),
      ticket: 0,
      waiting: new Set(),
      ...(fwd ? { fleet: fwd.open(topic, partition) } : {}),
    };
    if (cp) {
      ps.router = cp.router;
      ps.next = ps.committed = ps.checkpointed = cp.next_offset;
      ps.published = cp.published;
      ps.processed = cp.processed;
      ps.deadLettered = cp.dead_lettered;
    }
    emit.stateRestored(cfg.name, topic, partition, { devices: stats.devices, records: cp?.records ?? 0, nextOffset: ps.next, ms: Date.now() - t0 });
    if (ps.published > ps.next) log.info({ topic, partition, from: ps.next.toString(), published: ps.published.toString() }, 'replaying offsets whose outputs are published; their outputs are suppressed');
    return ps;
  }

  /**
   * Findings are written by one writer for all partitions, in coalesced inserts (see
   * findings-writer.ts); what must come after them (checkpoints, alerts) waits for its ticket.
   */
  const writer = createFindingsWriter<Stored>({
    write: (items) => writeStored(deps.clickhouse, database, table, items),
    onError: (e, n) => {
      emit.writeFailed(cfg.name, e, n);
      report(component, 'degraded', `ClickHouse write failing: ${String(e)}`);
    },
    onWritten: (rows, ms) => emit.batchWritten(cfg.name, rows, ms),
    // Shutting down: give up after a few attempts; the restart replays them from the checkpoint.
    giveUp: (n) => stopping && n >= 3,
  });
  /**
   * Whether a due checkpoint may be taken now: not while inserts fail and this partition's
   * findings are unwritten, for it would then hold a checkpoint slot (and with it every other
   * partition's checkpoints) until ClickHouse is back.
   */
  const mayCheckpoint = (ps: PartitionState): boolean => !writer.failing() || writer.isWritten(ps.ticket);
  /** Findings queued and not yet written beyond which batches wait for them (memory bound). */
  const maxBacklog = 20_000;
  /** The partition's findings so far durable: true, or false once they are given up or the partition is dropped. */
  function durableFor(ps: PartitionState): Promise<boolean> {
    const ticket = ps.ticket;
    if (ps.dropped) return Promise.resolve(false);
    if (writer.isWritten(ticket)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        ps.waiting.delete(done);
        resolve(ok);
      };
      ps.waiting.add(done);
      void writer.durable(ticket).then(done);
    });
  }

  /**
   * Hold a batch until the partition's findings so far are durable, heartbeating so the
   * partition stays ours meanwhile. False if they were given up, the partition was dropped, or
   * a rebalance means someone else will redo this batch from the last checkpoint.
   */
  function awaitWritten(ps: PartitionState, heartbeat: () => Promise<void>): Promise<boolean> {
    return whileHeartbeating(durableFor(ps), heartbeat);
  }

  /** Wait for `done` in a batch, heartbeating every second; false on a rebalance (someone else redoes the batch). */
  async function whileHeartbeating(done: Promise<boolean>, heartbeat: () => Promise<void>): Promise<boolean> {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([done, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 1_000)))]);
      clearTimeout(timer);
      if (ok !== undefined) return ok;
      let rebalancing = false;
      await heartbeat().catch((he: unknown) => {
        if (/REBALANCE|ILLEGAL_GENERATION|UNKNOWN_MEMBER|NOT_COORDINATOR/i.test(errType(he) + String(he))) rebalancing = true;
      });
      if (rebalancing) return false;
    }
  }

  /**
   * Commit a checkpoint: changed devices, marker and the group offset, in one transaction, after
   * the pending outputs. The state is taken now (its point: the batches done so far) and encoded
   * while later batches go on; the transaction runs on the partition's state lane. With `wait`
   * the result is the commit's, otherwise true once the state is taken. On failure the
   * partition's state is dropped (its next batch restores it).
   */
  async function checkpoint(ps: PartitionState, force = false, wait = true): Promise<boolean> {
    if (ps.next < 0n) return true;
    // A batch that was in flight when its partition was revoked: the new owner redoes it.
    if (partitions.get(key(ps.topic, ps.partition)) !== ps) return false;
    if (!force && ps.next === ps.checkpointed && !outputsOf(ps)) return wait ? settled(ps).then(() => !ps.dropped) : true;
    pruneRouter(ps.router, ps.stats.watermark, routerOpts);
    const t0 = Date.now();
    let taken: CheckpointTaken;
    checkpointsActive++;
    try {
      taken = await detection.takeState(ps.engine);
    } catch (e) {
      checkpointsActive--;
      emit.checkpointFailed(cfg.name, ps.topic, ps.partition, e, false);
      report(component, 'degraded', `checkpoint failing: ${String(e)}`);
      await drop(ps, 'checkpoint failed');
      return false;
    }
    ps.stats = taken.stats;
    const next = ps.next;
    // The outputs of the offsets below `next` go out first, on the publication lane; the
    // checkpoint commits only once they (and every publication before them) have.
    const nOut = outputsOf(ps);
    publishOutputs(ps);
    const published = ps.outLane.tail;
    // The findings of those batches too: a committed state past findings that are lost would never raise them again.
    const written = durableFor(ps);
    const marker: Checkpoint['marker'] = {
      next_offset: next.toString(),
      max_ts: taken.clock.max_ts,
      last_tick: taken.clock.last_tick,
      // Later batches route on: the marker holds the router as of this state.
      router: structuredClone(ps.router),
      processed: ps.processed,
      dead_lettered: ps.deadLettered,
      devices: taken.stats.devices,
    };
    ps.checkpointed = next;
    ps.lastCheckpoint = ps.lastPublish = Date.now();
    ps.sinceCheckpoint = 0;
    // The devices are encoded while the partition's next batches are scored (they do not change
    // what is written); the transaction waits for them on the state lane.
    const done = storeOp(ps, ps.stateLane, async () => {
      try {
        const [delta, , ok] = await Promise.all([taken.delta, published, written]);
        if (ps.dropped) return false;
        if (!ok) return findingsLost(ps);
        const cp: Checkpoint = { devices: delta.ids.map((id, i) => [id, delta.values[i] ?? undefined]), marker, outputs: [] };
        const bytes = await ps.store.commit(cp);
        emit.checkpointWritten(cfg.name, ps.topic, ps.partition, { devices: taken.stats.devices, delta: delta.ids.length, bytes, outputs: nOut, ms: Date.now() - t0 });
        emit.offsetsCommitted(cfg.name, [{ topic: ps.topic, partition: ps.partition, offset: next.toString() }]);
        ps.committed = next;
        if (next > ps.published) ps.published = next;
        ps.verify = false;
        report(component, 'ok');
        return true;
      } catch (e) {
        // A partition dropped meanwhile (revoked, a failed batch) cancels its encoding: nothing to report.
        return ps.dropped ? false : storeFailed(ps, e, 'checkpoint');
      }
    });
    void done.finally(() => checkpointsActive--);
    return wait ? done : true;
  }

  /**
   * Publish pending dead letters and alerts without checkpointing state (PartitionStore.publish),
   * on the partition's publication lane. Until the partition has a checkpoint a restore could
   * not tell where to resume, so the first publication is a checkpoint. On failure the
   * partition's state is dropped, as for a checkpoint.
   */
  async function publish(ps: PartitionState, wait = true): Promise<boolean> {
    if (!outputsOf(ps)) return true;
    if (ps.committed < 0n) return checkpoint(ps, false, wait);
    if (partitions.get(key(ps.topic, ps.partition)) !== ps) return false;
    const done = publishOutputs(ps)!;
    return wait ? done : true;
  }

  /** Queue the pending outputs (those of the offsets below `next`) for publication; undefined if none. */
  function publishOutputs(ps: PartitionState): Promise<boolean> | undefined {
    const n = outputsOf(ps);
    if (n === 0) return undefined;
    const outputs = [
      { topic: src.dead_letter_topic, messages: ps.dlq },
      { topic: outbox, messages: ps.alerts },
      // The fleet stage's inputs of these offsets, with the watermark as of `next`.
      ...(ps.fleet ? [{ topic: fwd!.topic, messages: fwd!.frames(ps.fleet, ps.stats.watermark, Date.now()) }] : []),
    ];
    const upTo = ps.next;
    // An alert names a finding: it goes out once the finding can be looked up.
    const written = ps.alerts.length ? durableFor(ps) : undefined;
    ps.dlq = [];
    ps.alerts = [];
    ps.lastPublish = Date.now();
    const t0 = Date.now();
    return storeOp(ps, ps.outLane, async () => {
      try {
        if (written !== undefined && !(await written)) return ps.dropped ? false : findingsLost(ps);
        await ps.store.publish(outputs, upTo);
        emit.outputsPublished(cfg.name, ps.topic, ps.partition, { outputs: n, upTo, ms: Date.now() - t0 });
        if (upTo > ps.published) ps.published = upTo;
        return true;
      } catch (e) {
        return storeFailed(ps, e, 'publishing outputs');
      }
    });
  }

  const inFlight = new Set<Promise<void>>();
  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    if (stopping) return;
    const k = key(payload.batch.topic, payload.batch.partition);
    const p = exclusive(k, () => processBatch(payload)).catch(async (e: unknown) => {
      // kafkajs stops a consumer for good on an error it does not know as retriable. Any
      // failure here is handled like a failed checkpoint instead: drop the partition's state
      // and leave its offset unresolved, so the batch is fetched again and redone after a restore.
      const ps = partitions.get(key(payload.batch.topic, payload.batch.partition));
      emit.pipelineFailed(cfg.name, e);
      report(component, 'degraded', `batch failed: ${String(e)}`);
      if (ps) await drop(ps, 'batch failed');
      await sleep(1_000);
    });
    inFlight.add(p);
    try {
      await p;
    } finally {
      inFlight.delete(p);
    }
  }

  async function processBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const t0 = process.hrtime.bigint();
    const k = key(batch.topic, batch.partition);
    let ps = partitions.get(k);
    if (ps?.verify) {
      // We kept this partition across a rejoin. If another instance owned it meanwhile it fenced
      // our store, and this commit fails and drops our (stale) state before we use it. State
      // never checkpointed cannot be proven current that way: restore it instead (it is empty).
      if (ps.next < 0n) await drop(ps, 'unproven after rejoin');
      else if (!(await awaitWritten(ps, heartbeat))) await drop(ps, 'findings not written');
      else await checkpoint(ps, true);
      ps = partitions.get(k);
    }
    const first = BigInt(batch.firstOffset() ?? batch.messages[0]?.offset ?? '0');
    if (ps && ps.next >= 0n && first > ps.next) {
      // The group's offset moved past our state: another instance checkpointed this partition
      // while we held stale state. Restore what it wrote.
      await drop(ps, `group offset ${first} is past our state at ${ps.next}`);
      ps = undefined;
    }
    if (!ps) {
      if (stopping) return;
      ps = await restore(batch.topic, batch.partition);
      if (stopping || isStale() || (assigned && !assigned.has(k))) {
        // Revoked while we restored: the revocation's drop could not see this state, and
        // keeping it would hold a fenced store (and stale state) until some later rebalance.
        await ps.store.close();
        return;
      }
      partitions.set(k, ps);
      if (ps.next >= 0n && first > ps.next) {
        // The group offset is committed in the same transaction as the checkpoint, so it is
        // ahead only if an operator reset it or retention removed events: go back to the
        // checkpoint unless those events are gone.
        if (await offsetGone(batch.topic, batch.partition, ps.next)) {
          log.warn({ partition: k, checkpoint: ps.next.toString(), first: first.toString() }, 'events after the checkpoint were removed by retention; continuing from the oldest available');
          ps.next = first;
        } else {
          log.info({ partition: k, from: first.toString(), to: ps.next.toString() }, 'seeking back to checkpoint');
          consumer.seek({ topic: batch.topic, partition: batch.partition, offset: ps.next.toString() });
          return;
        }
      }
    }
    if (ps.next >= 0n && BigInt(batch.lastOffset()) < ps.next) {
      // Everything here is already in our state. This happens after a rejoin: kafkajs fetches
      // from the group's committed offset, which trails our state by the work done since the last
      // checkpoint. We resolve only offsets we process, so without moving the position kafkajs
      // would fetch this same batch again and again (the partition stalled for good).
      // (A stale batch's partition may be gone already: its new owner positions itself.)
      if (!isStale()) consumer.seek({ topic: batch.topic, partition: batch.partition, offset: ps.next.toString() });
      return;
    }
    ps.high = BigInt(batch.highWatermark);
    if (ps.next < 0n) {
      // No checkpoint yet: record where this partition starts (an empty checkpoint at the first
      // offset kafkajs hands us), so that outputs can be published before the first state
      // checkpoint and a restore knows where their offsets begin.
      ps.next = first;
      if (!(await checkpoint(ps, true))) return;
    }
    // Offsets below `next` are already reflected in the (restored) state.
    const msgs = batch.messages.filter((m) => BigInt(m.offset) >= ps!.next);
    if (!msgs.length || !isRunning() || isStale() || stopping) return;
    const out = await detection.process(ps.engine, msgs.map((m) => m.value));
    const evicted = (out.stats.capEvicted ?? 0) - (ps.stats.capEvicted ?? 0);
    if (evicted > 0) emit.devicesEvictedByCap(cfg.name, evicted);
    ps.stats = out.stats;
    const findings: Finding[] = [];
    /** Findings and the alert rows they cause, for ClickHouse (alert-outputs.ts). */
    const stored: Stored[] = [];
    const decoded = out.decoded;
    const dead = msgs.length - decoded;
    let alerted = 0;
    // A replay of offsets whose outputs were published after the restored checkpoint: the
    // engine and router re-raise exactly those outputs (and must, to reach the same state),
    // but they are in Kafka already.
    const replayedAt = (i: number): boolean => BigInt(msgs[i]!.offset) < ps!.published;
    if (ps.fleet) fwd!.collect(ps.fleet, out, msgs.map((m) => m.offset), replayedAt);
    const publishAt = (i: number) =>
      replayedAt(i)
        ? null
        : (doc: OcsfDetectionFinding) => {
            ps!.alerts.push(outboxMessage(doc, cfg.name));
            emit.alertEmitted(cfg.name, doc.severity.toLowerCase());
            opts.onAlert?.(doc);
          };
    // Watermark steps (a new minute of event time) close quiet alerts, in message order with the findings.
    let clock = 0;
    const clockUpTo = (i: number): void => {
      for (; clock < out.clockAt.length && out.clockAt[clock]! <= i; clock++) {
        const at = out.clockAt[clock]!;
        alerted += alertOutputs.handle(routeTime(ps!.router, out.clockWm[clock]!, routerOpts), stored, publishAt(at));
      }
    };
    for (let j = 0; j < out.at.length; j++) {
      const i = out.at[j]!;
      clockUpTo(i - 1);
      const m = msgs[i]!;
      const error = out.errors[j];
      if (error !== undefined) {
        if (!replayedAt(i)) ps.dlq.push(deadLetterMessage(m.key, m.value, error, { pipeline: cfg.name, topic: batch.topic, partition: batch.partition, offset: m.offset }));
        emit.eventDeadLettered(cfg.name, error, { topic: batch.topic, partition: batch.partition, offset: m.offset });
        continue;
      }
      for (const f of out.findings[j]!) {
        findings.push(f);
        emit.findingRaised(f);
        // Judged by the fleet stage, which writes and routes it (collected above).
        if (fwd?.leaves(f)) continue;
        stored.push(f);
        const changes = route(ps.router, f, routerOpts, { topic: batch.topic, partition: batch.partition, offset: m.offset });
        alerted += alertOutputs.handle(changes, stored, publishAt(i));
        for (const ch of changes) if (ch.kind === 'fold') emit.alertSuppressed(cfg.name);
        if (!changes.length && SEVERITY_RANK[f.severity] >= SEVERITY_RANK[cfg.alerts.min_severity]) {
          const why = hold.held(f);
          if (why) emit.alertWithheld(cfg.name, why);
        }
      }
    }
    clockUpTo(Number.POSITIVE_INFINITY);
    const lastOffset = msgs[msgs.length - 1]!.offset;
    ps.next = BigInt(lastOffset) + 1n;
    if (stored.length) ps.ticket = writer.add(stored);
    // Backpressure: while inserts fail (ClickHouse down) or fall far behind, a batch that raised
    // something waits for its findings, so the partition is not fetched further.
    if (stored.length && (writer.failing() || writer.backlog() >= maxBacklog) && !(await awaitWritten(ps, heartbeat))) {
      // The state has moved past findings that are not durable: it must not be checkpointed.
      await drop(ps, 'findings not written');
      return;
    }
    resolveOffset(lastOffset);
    ps.processed += decoded;
    ps.deadLettered += dead;
    ps.sinceCheckpoint += decoded + dead;
    counts.events += decoded;
    counts.deadLetters += dead;
    counts.duplicates += out.duplicates;
    counts.findings += findings.length;
    counts.alerts += alerted;
    emit.eventsProcessed(cfg.name, decoded, dead);
    emit.duplicatesSuppressed(cfg.name, out.duplicates);
    const now = Date.now();
    const outputs = outputsOf(ps);
    // State on its own cadence (time, or the number of changed devices, which bounds one
    // checkpoint's size and the state written per event); outputs promptly, at most once per
    // gap, whether the partition is caught up or behind. Anything left is published by the
    // idle flush.
    // A transaction still running on a lane defers the next one of that lane to a later batch
    // (or the idle flush), so at most one taken state waits in memory per partition.
    if (ps.stateLane.busy === 0 && checkpointsActive < checkpointSlots && stateDue(ps, now - ps.lastCheckpoint) && mayCheckpoint(ps)) await checkpoint(ps, false, false);
    else if (ps.outLane.busy === 0 && outputs > 0 && (outputs >= maxPending || now - ps.lastPublish >= publishGap)) await publish(ps, false);
    else if (outputs >= maxPending && !(await whileHeartbeating(ps.outLane.tail.then(() => true), heartbeat))) {
      // Outputs pile up behind a publication that waits (for its alerts' findings while
      // ClickHouse is down): hold the partition rather than let them grow without bound.
      await drop(ps, 'outputs not published');
      return;
    }
    ps.lastBatch = Date.now();
    await heartbeat().catch(() => undefined);
    emit.batchProcessed(cfg.name, Number(process.hrtime.bigint() - t0) / 1e9);
  }

  async function offsetGone(topic: string, partition: number, offset: bigint): Promise<boolean> {
    const admin = deps.kafka.admin();
    await admin.connect();
    try {
      const o = (await admin.fetchTopicOffsets(topic)).find((x) => x.partition === partition);
      return o !== undefined && BigInt(o.low) > offset;
    } finally {
      await admin.disconnect();
    }
  }

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const now = new Set<string>();
    for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) for (const p of parts) now.add(key(topic, p));
    assigned = now;
    for (const [k, ps] of partitions) {
      if (!now.has(k)) void drop(ps, 'revoked');
      else ps.verify = true;
    }
    log.info({ assigned: [...now], member: e.payload.memberId }, 'partitions assigned');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    report(component, e.payload.restart ? 'degraded' : 'down', `consumer crashed: ${String(e.payload.error)}`);
    // kafkajs rejoins by itself after a retriable crash (a coordinator still loading after a
    // broker restart): that is a degraded moment, reported, not a failed pipeline.
    if (e.payload.restart) log.warn({ err: String(e.payload.error) }, 'consumer crashed; kafkajs restarts it');
    else emit.pipelineFailed(cfg.name, e.payload.error);
  });
  consumer.on(consumer.events.CONNECT, () => log.debug('consumer connected'));

  // Lag is high watermark minus our position. Positions are ours; high watermarks come from
  // fetched batches and, for partitions that are blocked or idle, from a background poll.
  const probe: PartitionProbe = {
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
  };
  registerPipelineProbe(cfg.name, probe);
  let polling = true;
  const poller = (async () => {
    // Few retries: this loop doubles as the broker health check, and kafkajs' default retry
    // would keep a dead broker looking healthy for a minute.
    const admin = deps.kafka.admin({ retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 } });
    let connected = false;
    while (polling) {
      try {
        if (!connected) {
          await admin.connect();
          connected = true;
        }
        for (const topic of src.topics) {
          for (const o of await admin.fetchTopicOffsets(topic)) {
            const ps = partitions.get(key(topic, o.partition));
            if (ps) {
              const h = BigInt(o.high);
              if (h > ps.high) ps.high = h;
            }
          }
        }
        report('kafka', 'ok');
      } catch (e) {
        if (polling) report('kafka', 'degraded', `cannot reach brokers: ${String(e)}`);
        log.debug({ err: String(e) }, 'lag poll failed');
        if (connected) await admin.disconnect().catch(() => undefined);
        connected = false;
      }
      for (let i = 0; i < 8 && polling; i++) await sleep(250);
    }
    await admin.disconnect().catch(() => undefined);
  })();

  // Batches trigger checkpoints only when they arrive; this publishes what a caught-up partition
  // holds once no batch comes to do it, so alerts become durable within about `minGap`.
  const flusher = setInterval(() => {
    if (stopping) return;
    const now = Date.now();
    for (const [k, ps] of partitions) {
      if (locks.has(k) || ps.verify || ps.next < 0n) continue;
      const since = now - ps.lastCheckpoint;
      const outputs = outputsOf(ps) > 0;
      const progress = ps.next > ps.checkpointed;
      if (!outputs && !progress) continue;
      const caughtUp = ps.next >= ps.high;
      const full = ps.stateLane.busy === 0 && checkpointsActive < checkpointSlots && mayCheckpoint(ps) && ((progress && stateDue(ps, since)) || (caughtUp && progress && since >= minGap && now - ps.lastBatch >= minGap));
      if (!full && !(outputs && ps.outLane.busy === 0 && now - ps.lastPublish >= publishGap)) continue;
      const p = exclusive(k, () => (full ? checkpoint(ps, false, false) : publish(ps, false)).then(() => undefined)).catch((e: unknown) => {
        emit.pipelineFailed(cfg.name, e);
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }, Math.max(20, Math.floor(Math.min(minGap, publishGap) / 2)));
  flusher.unref();

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
      clearInterval(flusher);
      try {
        consumer.pause(src.topics.map((topic) => ({ topic })));
      } catch {
        // A consumer that crashed for good (kafkajs would not restart it) has nothing to pause.
      }
      await Promise.allSettled([...inFlight]);
      // As many side by side as checkpoint slots: one partition's encoding overlaps another's
      // broker round trips, and the memory of taken states stays bounded as in operation.
      const queue = [...partitions];
      await Promise.all(
        Array.from({ length: Math.min(queue.length, checkpointSlots) }, async () => {
          for (let next = queue.shift(); next; next = queue.shift()) {
            const [k, ps] = next;
            await exclusive(k, () => checkpoint(ps));
          }
        }),
      );
      if (!(await writer.close())) log.warn('findings not written at shutdown; the next start redoes them from the last checkpoint');
      polling = false;
      await consumer.stop().catch((e: unknown) => log.warn({ err: String(e) }, 'consumer stop failed'));
      await consumer.disconnect().catch((e: unknown) => log.warn({ err: String(e) }, 'consumer disconnect failed'));
      for (const ps of [...partitions.values()]) await drop(ps, 'stopped');
      await poller;
      await detection.close();
      unregisterPipelineProbe(cfg.name);
      report(component, 'stopped');
    },
  };
}
