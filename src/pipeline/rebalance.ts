/**
 * Which state a batch of a source partition runs on, across rebalances: partitions revoked
 * are dropped, partitions kept across a rejoin prove their ownership before their state is
 * trusted, a partition met for the first time (or again) is restored from the changelog, and
 * the consumer is positioned where that state ends, not where the group's offset says.
 */
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { CommitPolicy } from './commit-policy.js';
import { offsetGone, partitionKey as key, type PartitionState } from './partition-state.js';

export interface RebalanceContext {
  kafka: Kafka;
  log: Logger;
  consumer: Consumer;
  partitions: Map<string, PartitionState>;
  restore: (topic: string, partition: number) => Promise<PartitionState>;
  policy: Pick<CommitPolicy, 'drop' | 'checkpoint' | 'awaitWritten'>;
  stopping: () => boolean;
}

/** Follows the group's assignments; `stateFor` gives a batch its partition's state, or undefined to skip the batch. */
export function followAssignments(ctx: RebalanceContext): { stateFor(payload: EachBatchPayload): Promise<PartitionState | undefined> } {
  const { consumer, partitions, log } = ctx;
  const { drop, checkpoint } = ctx.policy;
  /** The partitions of our latest assignment (undefined until the first join). */
  let assigned: Set<string> | undefined;

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

  async function stateFor({ batch, heartbeat, isStale }: EachBatchPayload): Promise<PartitionState | undefined> {
    const k = key(batch.topic, batch.partition);
    let ps = partitions.get(k);
    if (ps?.verify) {
      // We kept this partition across a rejoin. If another instance owned it meanwhile it fenced
      // our store, and this commit fails and drops our (stale) state before we use it. State
      // never checkpointed cannot be proven current that way: restore it instead (it is empty).
      if (ps.next < 0n) await drop(ps, 'unproven after rejoin');
      else if (!(await ctx.policy.awaitWritten(ps, heartbeat))) await drop(ps, 'findings not written');
      else await checkpoint(ps, { force: true });
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
      if (ctx.stopping()) return undefined;
      ps = await ctx.restore(batch.topic, batch.partition);
      if (ctx.stopping() || isStale() || (assigned && !assigned.has(k))) {
        // Revoked while we restored: the revocation's drop could not see this state, and
        // keeping it would hold a fenced store (and stale state) until some later rebalance.
        await ps.store.close();
        return undefined;
      }
      partitions.set(k, ps);
      if (ps.next >= 0n && first > ps.next) {
        // The group offset is committed in the same transaction as the checkpoint, so it is
        // ahead only if an operator reset it or retention removed events: go back to the
        // checkpoint unless those events are gone.
        if (await offsetGone(ctx.kafka, batch.topic, batch.partition, ps.next)) {
          log.warn({ partition: k, checkpoint: ps.next.toString(), first: first.toString() }, 'events after the checkpoint were removed by retention; continuing from the oldest available');
          ps.next = first;
        } else {
          log.info({ partition: k, from: first.toString(), to: ps.next.toString() }, 'seeking back to checkpoint');
          consumer.seek({ topic: batch.topic, partition: batch.partition, offset: ps.next.toString() });
          return undefined;
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
      return undefined;
    }
    ps.high = BigInt(batch.highWatermark);
    if (ps.next < 0n) {
      // No checkpoint yet: record where this partition starts (an empty checkpoint at the first
      // offset kafkajs hands us), so that outputs can be published before the first state
      // checkpoint and a restore knows where their offsets begin.
      ps.next = first;
      if (!(await checkpoint(ps, { force: true }))) return undefined;
    }
    return ps;
  }

  return { stateFor };
}
