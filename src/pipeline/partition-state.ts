/**
 * What the runner holds per assigned source partition, and how it is restored from the
 * partition's slice of the state changelog (src/state/changelog.ts): the engine in the
 * detection host, the alert router, the offsets that say what is checkpointed and published,
 * and the two lanes its store operations run on.
 */
import type { Kafka, Message } from 'kafkajs';
import type { Logger } from 'pino';
import { emptyRouterState, type RouterState } from '../alerts/router.js';
import { PartitionStore } from '../state/changelog.js';
import { retry } from '../lib/retry.js';
import { emit } from '../obs/events.js';
import { report } from '../server/health.js';
import type { DetectionHost } from './detection-host.js';
import type { EngineStats } from './detection.js';
import type { FleetForward, ForwardState } from './fleet-forward.js';

export interface PartitionState {
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
  /** Outputs produced since the last publication, published by the next one or a checkpoint. */
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

export const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

/** Store operations of one kind for one partition, in order: the tail to chain after, and how many are queued or running. */
export interface Lane {
  tail: Promise<void>;
  busy: number;
}
const newLane = (): Lane => ({ tail: Promise.resolve(), busy: 0 });

/** Queue a store operation behind the earlier ones of its lane. `op` handles its own failure. */
export function storeOp(ps: PartitionState, lane: Lane, op: () => Promise<boolean>): Promise<boolean> {
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

/** Both lanes of a partition, done. */
export const settled = (ps: PartitionState): Promise<void> => Promise.all([ps.stateLane.tail, ps.outLane.tail]).then(() => undefined);

export interface RestoreContext {
  kafka: Kafka;
  pipeline: string;
  group: string;
  /** The health component the pipeline reports as. */
  component: string;
  log: Logger;
  detection: DetectionHost;
  fwd: FleetForward | undefined;
  /** Shutting down: a failing restore stops retrying. */
  stopping: () => boolean;
}

/** Restores partitions' state from the changelog, each under a fresh engine name. */
export function createRestorer(ctx: RestoreContext): (topic: string, partition: number) => Promise<PartitionState> {
  let restores = 0;
  return async (topic, partition) => {
    const t0 = Date.now();
    const store = new PartitionStore(ctx.kafka, ctx.group, topic, partition);
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
          report(ctx.component, 'degraded', `state restore failing: ${String(e)}`);
          ctx.log.warn({ topic, partition, attempt: n, err: String(e) }, 'state restore failed; retrying');
          return !ctx.stopping();
        },
      },
    );
    const engine = `${partitionKey(topic, partition)}#${++restores}`;
    let stats: EngineStats;
    try {
      stats = await ctx.detection.open(engine, cp?.engine ?? null);
    } catch (e) {
      ctx.detection.drop(engine);
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
      ...(ctx.fwd ? { fleet: ctx.fwd.open(topic, partition) } : {}),
    };
    if (cp) {
      ps.router = cp.router;
      ps.next = ps.committed = ps.checkpointed = cp.next_offset;
      ps.published = cp.published;
      ps.processed = cp.processed;
      ps.deadLettered = cp.dead_lettered;
    }
    emit.stateRestored(ctx.pipeline, topic, partition, { devices: stats.devices, records: cp?.records ?? 0, nextOffset: ps.next, ms: Date.now() - t0 });
    if (ps.published > ps.next) ctx.log.info({ topic, partition, from: ps.next.toString(), published: ps.published.toString() }, 'replaying offsets whose outputs are published; their outputs are suppressed');
    return ps;
  };
}

/** Whether retention removed `offset` of a source partition (its low watermark is past it). */
export async function offsetGone(kafka: Kafka, topic: string, partition: number, offset: bigint): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const o = (await admin.fetchTopicOffsets(topic)).find((x) => x.partition === partition);
    return o !== undefined && BigInt(o.low) > offset;
  } finally {
    await admin.disconnect();
  }
}
