/**
 * When and how a partition's progress becomes durable. Findings go to ClickHouse through one
 * writer for all partitions (findings-writer.ts). Dead letters, alerts and the fleet stage's
 * inputs are *published* promptly, in a small transaction that also records "outputs of source
 * offsets below X are committed" (PartitionStore.publish). A *checkpoint*, on its own longer
 * cadence, commits the changed device states, the marker (offset, clock, router) and the group
 * offset in one Kafka transaction, after the publications and findings of the offsets below it.
 * A failed transaction drops the partition's in-memory state; its next batch restores it.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/types.js';
import { pruneRouter, type RouterOptions } from '../alerts/router.js';
import { StoreFenced, type Checkpoint } from '../state/changelog.js';
import { emit } from '../obs/events.js';
import { report } from '../server/health.js';
import type { CheckpointTaken, DetectionHost } from './detection-host.js';
import { writeStored, type Stored } from './alert-outputs.js';
import { createFindingsWriter, type FindingsWriter } from './findings-writer.js';
import type { FleetForward } from './fleet-forward.js';
import { partitionKey, settled, storeOp, type PartitionState } from './partition-state.js';
import type { PartitionTurns } from './turns.js';
import { whileHeartbeating } from './heartbeat.js';

export interface CommitOptions {
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
  /**
   * Checkpoint early once this many dead letters and alerts wait for publication, so a burst of
   * bad input cannot grow memory between checkpoints. Default 5000.
   */
  maxPendingOutputs?: number;
}

export interface CommitContext {
  cfg: PipelineConfig;
  component: string;
  log: Logger;
  clickhouse: ClickHouseClient;
  detection: DetectionHost;
  fwd: FleetForward | undefined;
  routerOpts: RouterOptions;
  outbox: string;
  /** The partitions this instance holds; a dropped state leaves it. */
  partitions: Map<string, PartitionState>;
  stopping: () => boolean;
}

export interface CheckpointOptions {
  /** Commit even when nothing changed (proves ownership after a rejoin; records a first offset). */
  force?: boolean;
  /** Resolve with the commit's result (default), or with true as soon as the state is taken. */
  wait?: boolean;
}

export type CommitPolicy = ReturnType<typeof createCommitPolicy>;

/** Findings queued and not yet written beyond which batches wait for them (memory bound). */
const MAX_BACKLOG = 20_000;

export function createCommitPolicy(ctx: CommitContext, opts: CommitOptions) {
  const { cfg, component, log, detection, fwd, routerOpts, partitions } = ctx;
  const { database, table } = cfg.findings.clickhouse;
  const checkpointEvery = opts.checkpointEveryMs ?? 5_000;
  const minGap = Math.min(opts.minCheckpointGapMs ?? 1_000, checkpointEvery);
  const publishGap = Math.min(opts.publishGapMs ?? 100, checkpointEvery);
  const maxDevices = opts.maxCheckpointDevices ?? 20_000;
  const perRecord = opts.minEventsPerStateRecord ?? 8;
  const maxEvery = Math.max(checkpointEvery, opts.maxCheckpointEveryMs ?? 12 * checkpointEvery);
  const maxPending = opts.maxPendingOutputs ?? 5_000;
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

  /** Whether a busy partition's state is due for a checkpoint (time, amortised size, or size). */
  const stateDue = (ps: PartitionState, since: number): boolean => {
    const changed = ps.stats.changed;
    return since >= maxEvery || changed >= maxDevices || (since >= checkpointEvery && ps.sinceCheckpoint >= perRecord * changed);
  };
  /** Outputs waiting for publication: dead letters, alerts, and what is due for the fleet stage. */
  const outputsOf = (ps: PartitionState): number => ps.dlq.length + ps.alerts.length + (ps.fleet ? fwd!.pending(ps.fleet, ps.stats.watermark, Date.now()) : 0);

  /**
   * Findings are written by one writer for all partitions, in coalesced inserts (see
   * findings-writer.ts); what must come after them (checkpoints, alerts) waits for its ticket.
   */
  const writer: FindingsWriter<Stored> = createFindingsWriter<Stored>({
    write: (items) => writeStored(ctx.clickhouse, database, table, items),
    onError: (e, n) => {
      emit.writeFailed(cfg.name, e, n);
      report(component, 'degraded', `ClickHouse write failing: ${String(e)}`);
    },
    onWritten: (rows, ms) => emit.batchWritten(cfg.name, rows, ms),
    // Shutting down: give up after a few attempts; the restart replays them from the checkpoint.
    giveUp: (n) => ctx.stopping() && n >= 3,
  });
  /**
   * Whether a due checkpoint may be taken now: not while inserts fail and this partition's
   * findings are unwritten, for it would then hold a checkpoint slot (and with it every other
   * partition's checkpoints) until ClickHouse is back.
   */
  const mayCheckpoint = (ps: PartitionState): boolean => !writer.failing() || writer.isWritten(ps.ticket);
  const slotFree = (): boolean => checkpointsActive < checkpointSlots;

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

  /** Forget a partition's in-memory state (its next batch restores from the changelog); false if already forgotten. */
  function discard(ps: PartitionState, why: string): boolean {
    if (ps.dropped) return false;
    ps.dropped = true;
    for (const w of [...ps.waiting]) w(false);
    const k = partitionKey(ps.topic, ps.partition);
    // A batch that was in flight across a rebalance may report on state already replaced.
    if (partitions.get(k) === ps) partitions.delete(k);
    log.info({ partition: k, why }, 'partition state dropped');
    detection.drop(ps.engine);
    return true;
  }

  /** Drop a partition's in-memory state, and close its store once its store operations are done. */
  async function drop(ps: PartitionState, why: string): Promise<void> {
    if (!discard(ps, why)) return;
    await settled(ps);
    await ps.store.close();
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

  /**
   * Commit a checkpoint: changed devices, marker and the group offset, in one transaction, after
   * the pending outputs. The state is taken now (its point: the batches done so far) and encoded
   * while later batches go on; the transaction runs on the partition's state lane. On failure
   * the partition's state is dropped (its next batch restores it).
   */
  async function checkpoint(ps: PartitionState, { force = false, wait = true }: CheckpointOptions = {}): Promise<boolean> {
    if (ps.next < 0n) return true;
    // A batch that was in flight when its partition was revoked: the new owner redoes it.
    if (partitions.get(partitionKey(ps.topic, ps.partition)) !== ps) return false;
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
        const cp: Checkpoint = { devices: delta.ids.map((id, i) => [id, delta.values[i] ?? undefined]), marker };
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
  async function publish(ps: PartitionState, { wait = true }: { wait?: boolean } = {}): Promise<boolean> {
    if (!outputsOf(ps)) return true;
    if (ps.committed < 0n) return checkpoint(ps, { wait });
    if (partitions.get(partitionKey(ps.topic, ps.partition)) !== ps) return false;
    const done = publishOutputs(ps)!;
    return wait ? done : true;
  }

  /** Queue the pending outputs (those of the offsets below `next`) for publication; undefined if none. */
  function publishOutputs(ps: PartitionState): Promise<boolean> | undefined {
    const n = outputsOf(ps);
    if (n === 0) return undefined;
    const outputs = [
      { topic: cfg.source.kafka.dead_letter_topic, messages: ps.dlq },
      { topic: ctx.outbox, messages: ps.alerts },
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

  /**
   * Hold a batch until the partition's findings so far are durable, heartbeating so the
   * partition stays ours meanwhile. False if they were given up, the partition was dropped, or
   * a rebalance means someone else will redo this batch from the last checkpoint.
   */
  const awaitWritten = (ps: PartitionState, heartbeat: () => Promise<void>): Promise<boolean> => whileHeartbeating(durableFor(ps), heartbeat);

  /**
   * Backpressure: while inserts fail (ClickHouse down) or fall far behind, a batch that raised
   * something waits for its findings, so the partition is not fetched further. False if the
   * partition was dropped (the batch must not be resolved).
   */
  async function backpressure(ps: PartitionState, raised: boolean, heartbeat: () => Promise<void>): Promise<boolean> {
    if (raised && (writer.failing() || writer.backlog() >= MAX_BACKLOG) && !(await awaitWritten(ps, heartbeat))) {
      // The state has moved past findings that are not durable: it must not be checkpointed.
      await drop(ps, 'findings not written');
      return false;
    }
    return true;
  }

  /**
   * After a batch, resolved and counted: its state on its own cadence (time, or the number of
   * changed devices, which bounds one checkpoint's size and the state written per event), its
   * outputs promptly, at most once per gap, whether the partition is caught up or behind;
   * anything left is published by the idle flush. False if the partition was dropped.
   */
  async function afterBatch(ps: PartitionState, heartbeat: () => Promise<void>): Promise<boolean> {
    const now = Date.now();
    const outputs = outputsOf(ps);
    // A transaction still running on a lane defers the next one of that lane to a later batch
    // (or the idle flush), so at most one taken state waits in memory per partition.
    if (ps.stateLane.busy === 0 && slotFree() && stateDue(ps, now - ps.lastCheckpoint) && mayCheckpoint(ps)) await checkpoint(ps, { wait: false });
    else if (ps.outLane.busy === 0 && outputs > 0 && (outputs >= maxPending || now - ps.lastPublish >= publishGap)) await publish(ps, { wait: false });
    else if (outputs >= maxPending && !(await whileHeartbeating(ps.outLane.tail.then(() => true), heartbeat))) {
      // Outputs pile up behind a publication that waits (for its alerts' findings while
      // ClickHouse is down): hold the partition rather than let them grow without bound.
      await drop(ps, 'outputs not published');
      return false;
    }
    return true;
  }

  /**
   * Batches trigger checkpoints only when they arrive; this publishes what a caught-up partition
   * holds once no batch comes to do it, so alerts become durable within about `minGap`.
   * Returns the function that stops it.
   */
  function startIdleFlush(turns: PartitionTurns): () => void {
    const flusher = setInterval(() => {
      if (ctx.stopping()) return;
      const now = Date.now();
      for (const [k, ps] of partitions) {
        if (turns.locked(k) || ps.verify || ps.next < 0n) continue;
        const since = now - ps.lastCheckpoint;
        const outputs = outputsOf(ps) > 0;
        const progress = ps.next > ps.checkpointed;
        if (!outputs && !progress) continue;
        const caughtUp = ps.next >= ps.high;
        const full = ps.stateLane.busy === 0 && slotFree() && mayCheckpoint(ps) && ((progress && stateDue(ps, since)) || (caughtUp && progress && since >= minGap && now - ps.lastBatch >= minGap));
        if (!full && !(outputs && ps.outLane.busy === 0 && now - ps.lastPublish >= publishGap)) continue;
        const p = turns.exclusive(k, () => (full ? checkpoint(ps, { wait: false }) : publish(ps, { wait: false })).then(() => undefined)).catch((e: unknown) => {
          emit.pipelineFailed(cfg.name, e);
        });
        turns.track(p);
      }
    }, Math.max(20, Math.floor(Math.min(minGap, publishGap) / 2)));
    flusher.unref();
    return () => clearInterval(flusher);
  }

  return { writer, checkpointSlots, checkpoint, drop, awaitWritten, backpressure, afterBatch, startIdleFlush };
}
