/**
 * Detector and router state in a compacted Kafka changelog topic, as Kafka Streams keeps its
 * state stores. See docs/operations.md ("State store") for why Kafka and not ClickHouse.
 *
 * Layout: one topic `<group>.state` (cleanup.policy=compact) with at least as many partitions as
 * the widest source topic. The state of source partition (topic, p) lives in changelog partition
 * p, so that a partition and its state always move together:
 *
 *   key `d|<topic>|<device_id>`  value MessagePack [2, <DeviceState>]  (null value = tombstone;
 *                                JSON {"v":1,"s":<DeviceState>} written before v2 still reads)
 *   key `m|<topic>`              value CheckpointMarker            (next offset, clock, router)
 *
 * A checkpoint is ONE Kafka transaction holding the devices changed since the previous
 * checkpoint, the marker and the consumer group offset (sendOffsets). Dead letters and alerts do
 * not wait for it: they go out in their own small transactions (publish, below). Restores read with isolation read_committed, so a checkpoint is applied
 * whole or not at all. Transactions are also what keeps compaction safe: the log cleaner never
 * lets an aborted or still-open value replace a committed one, which a plain "write deltas, then
 * a marker" scheme cannot promise once older values of a key are compacted away.
 *
 * The transactional id is per (group, source topic, partition). Opening a store for a partition
 * bumps the producer epoch, which fences any previous owner (a "zombie" that lost the partition
 * in a rebalance but has not noticed yet): its open transaction is aborted and its next commit
 * fails. A store is therefore always opened BEFORE the changelog is read, and a store that fails
 * is never reopened without reading the changelog again, so every committed checkpoint extends
 * the chain it was read from.
 */
import { randomBytes } from 'node:crypto';
import { CompressionTypes, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { Packr } from 'msgpackr';
import type { DeviceState, EngineSnapshot } from '../pipeline/engine.js';
import { emptyRouterState, type RouterState } from '../alerts/record.js';
import { logger } from '../obs/log.js';

export const changelogTopic = (group: string): string => `${group}.state`;
export const deviceKey = (topic: string, device: string): string => `d|${topic}|${device}`;
const markerKey = (topic: string): string => `m|${topic}`;
/** Key of the "outputs published" record of a source topic's partition (see PartitionStore.publish). */
const publishedKey = (topic: string): string => `o|${topic}`;

/** Topic configs of the changelog. */
const CHANGELOG_CONFIG: Record<string, string> = {
  'cleanup.policy': 'compact',
  // Compaction only touches closed segments; hourly segments bound how much superseded state a
  // restore has to read through (Kafka's default is a week).
  'segment.ms': String(3_600_000),
  'min.cleanable.dirty.ratio': '0.2',
  // Tombstones of evicted devices must outlive the slowest restore that could still need them.
  'delete.retention.ms': String(86_400_000),
  // Kafka's default, stated so a broker configured larger does not hide an oversized checkpoint
  // request from the tests (commit() splits requests below this).
  'max.message.bytes': String(1_048_588),
};

export interface CheckpointMarker {
  v: 1;
  /** Next source offset to process: every event before it is reflected in this state. */
  next_offset: string;
  /** Engine clock; null stands for -Infinity (no event seen yet). */
  max_ts: number | null;
  last_tick: number | null;
  router: RouterState;
  /** Cumulative accounting of the partition: events decoded and scored, and dead-lettered. */
  processed: number;
  dead_lettered: number;
  /** Devices in state when written, and how many records this checkpoint carried. */
  devices: number;
  delta: number;
  written_at: string;
}

/** Value of the `o|<topic>` record: every output of source offsets below `published` is committed. */
export interface PublishedMarker {
  v: 1;
  published: string;
}

export interface RestoredPartition {
  next_offset: bigint;
  /**
   * Outputs (alerts, dead letters) of every source offset below this are already committed, by
   * a publish or a checkpoint: a replay re-raises them deterministically and must not send them
   * again. At least `next_offset`.
   */
  published: bigint;
  engine: EngineSnapshot;
  router: RouterState;
  processed: number;
  dead_lettered: number;
  /** Changelog records read for this source partition (compaction keeps this near `devices`). */
  records: number;
}

// JSON has no Infinity; an engine that has seen no event keeps -Infinity clocks. JSON.stringify
// already writes non-finite numbers as null, so this is kept only for callers that want it
// spelled out; the hot path does without (a replacer is called for every value in the state).
export const jsonReplacer = (_k: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

/**
 * Device records are MessagePack `[2, state]`. Detector state is mostly numbers (flat arrays of
 * doubles): printing and parsing them as JSON text cost ~80 ns a number and made state encoding
 * the largest single cost of a checkpoint; MessagePack writes a double as its 8 bytes, about 4×
 * cheaper to write and 2× to read, and keeps NaN and ±Infinity, which JSON turns into null.
 * Records (shared structures) stay off: every value must decode on its own after compaction.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const DEVICE_V2 = 2;

/** The changelog value of one device. */
export const encodeDevice = (st: DeviceState): Buffer => packr.pack([DEVICE_V2, st]);

/** A device record as written by encodeDevice, or by the JSON format (v1) before it. */
export function decodeDevice(value: Buffer): DeviceState {
  // JSON text starts with "{"; MessagePack [2, …] with a fixarray byte (0x92).
  if (value[0] === 0x7b) return (JSON.parse(value.toString('utf8')) as { s: DeviceState }).s;
  const rec = packr.unpack(value) as unknown;
  if (!Array.isArray(rec) || rec[0] !== DEVICE_V2) throw new Error(`unknown device state record format (first byte 0x${value[0]?.toString(16) ?? '??'})`);
  return rec[1] as DeviceState;
}
const orNegInf = (v: number | null | undefined): number => (typeof v === 'number' ? v : Number.NEGATIVE_INFINITY);

/** Create the changelog (or widen it) so that every source partition has its own partition. */
export async function ensureChangelog(kafka: Kafka, group: string, sourceTopics: string[]): Promise<string> {
  const topic = changelogTopic(group);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: sourceTopics });
    const need = Math.max(1, ...meta.topics.map((t) => t.partitions.length));
    const existing = new Set(await admin.listTopics());
    if (!existing.has(topic)) {
      await admin
        .createTopics({
          waitForLeaders: true,
          topics: [{ topic, numPartitions: need, replicationFactor: -1, configEntries: Object.entries(CHANGELOG_CONFIG).map(([name, value]) => ({ name, value })) }],
        })
        .catch((e: unknown) => {
          // Two instances of one group starting together race to create it; either one is fine.
          if (!String(e).includes('already exists')) throw e;
        });
    } else {
      const [cl] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      const have = cl?.partitions.length ?? 0;
      if (have < need) {
        logger().warn({ topic, have, need }, 'source topic gained partitions; widening the state changelog');
        await admin.createPartitions({ topicPartitions: [{ topic, count: need }] });
      }
    }
    return topic;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Values of a delta checkpoint: changed devices (undefined = evicted; a Buffer is a value
 * encodeDevice already wrote, as the detection workers do) and the marker fields.
 */
export interface Checkpoint {
  devices: Array<[string, DeviceState | Buffer | undefined]>;
  marker: Omit<CheckpointMarker, 'v' | 'written_at' | 'delta'>;
}

export class StoreFenced extends Error {}

/** Bytes per produce request in a checkpoint, well under Kafka's 1 MiB default message.max.bytes. */
const MAX_SEND_BYTES = 512 * 1024;

const sizeOf = (m: Message): number =>
  (typeof m.value === 'string' ? Buffer.byteLength(m.value) : (m.value?.length ?? 0)) + (typeof m.key === 'string' ? m.key.length : (m.key?.length ?? 0)) + 64;

/** Split topic messages, in order, into groups of at most about `max` bytes. */
export function chunks(topics: TopicMessages[], max: number): TopicMessages[][] {
  const out: TopicMessages[][] = [];
  let cur: TopicMessages[] = [];
  let bytes = 0;
  for (const t of topics) {
    let part: TopicMessages | undefined;
    for (const m of t.messages) {
      const n = sizeOf(m);
      if (bytes + n > max && bytes > 0) {
        out.push(cur);
        cur = [];
        bytes = 0;
        part = undefined;
      }
      if (!part) cur.push((part = { topic: t.topic, messages: [] }));
      part.messages.push(m);
      bytes += n;
    }
  }
  if (cur.length) out.push(cur);
  return out;
}

const FENCED = /fenced|INVALID_PRODUCER_EPOCH|PRODUCER_FENCED|INVALID_PRODUCER_ID_MAPPING|TRANSACTIONAL_ID_AUTHORIZATION/i;

/**
 * One source partition's slice of the changelog, owned by this instance from open() until a
 * commit fails or close(). Not reusable after a failure: read the changelog again and open anew.
 */
export class PartitionStore {
  readonly changelog: string;
  private producer: Producer | undefined;
  /**
   * Publications have a transactional producer of their own, so that they commit while a
   * checkpoint transaction (tens of MB of state) is still running. See publish() for the order
   * this asks of the caller.
   */
  private publisher: Producer | undefined;
  private broken = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly group: string,
    readonly topic: string,
    readonly partition: number,
  ) {
    this.changelog = changelogTopic(group);
  }

  /** Take ownership: fences the previous owner and waits until its open transactions are aborted. */
  async open(): Promise<void> {
    const state = await this.fence(`${this.group}.state.${this.topic}.${this.partition}`);
    try {
      this.publisher = await this.fence(`${this.group}.out.${this.topic}.${this.partition}`);
    } catch (e) {
      await state.disconnect().catch(() => undefined);
      throw e;
    }
    this.producer = state;
  }

  /** A connected transactional producer for `transactionalId`, any previous holder of the id fenced. */
  private async fence(transactionalId: string): Promise<Producer> {
    const producer = this.kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
      // Bounded, so a broker outage surfaces as a failed checkpoint (and a degraded health
      // report) instead of a send that hangs; the transaction makes the give-up safe.
      retry: { retries: 6, initialRetryTime: 300, maxRetryTime: 5_000 },
    });
    await producer.connect();
    try {
      // kafkajs initialises the producer id (InitProducerId, which is the fencing step) lazily
      // on the first transaction; an empty one sends nothing else.
      const t = await producer.transaction();
      await t.abort();
    } catch (e) {
      await producer.disconnect().catch(() => undefined);
      throw e;
    }
    return producer;
  }

  /** Everything committed for this source partition, or null if it has no checkpoint yet. */
  async read(timeoutMs = 120_000): Promise<RestoredPartition | null> {
    const dPrefix = `d|${this.topic}|`;
    const mKey = markerKey(this.topic);
    const oKey = publishedKey(this.topic);
    const devices: Record<string, DeviceState> = {};
    let marker: CheckpointMarker | undefined;
    let published = -1n;
    let records = 0;
    await readPartition(this.kafka, this.changelog, this.partition, timeoutMs, (key, value) => {
      if (key === oKey) {
        if (value) {
          const o = BigInt((JSON.parse(value.toString('utf8')) as PublishedMarker).published);
          if (o > published) published = o;
          records++;
        }
      } else if (key === mKey) {
        if (value) {
          marker = JSON.parse(value.toString('utf8')) as CheckpointMarker;
          records++;
        }
      } else if (key.startsWith(dPrefix)) {
        const id = key.slice(dPrefix.length);
        records++;
        if (value === null) delete devices[id];
        else devices[id] = decodeDevice(value);
      }
    });
    // Publishes happen only after a first checkpoint (the runner checkpoints instead), so an
    // `o` record without a marker cannot occur; without a marker there is nothing to resume.
    if (!marker) return null;
    const next = BigInt(marker.next_offset);
    return {
      next_offset: next,
      published: published > next ? published : next,
      engine: { v: 1, max_ts: orNegInf(marker.max_ts), last_tick: orNegInf(marker.last_tick), devices },
      router: marker.router ?? emptyRouterState(),
      processed: marker.processed ?? 0,
      dead_lettered: marker.dead_lettered ?? 0,
      records,
    };
  }

  /**
   * Commit one checkpoint atomically, with the group's offset for this partition. Returns the
   * bytes of state written. Any failure leaves the store unusable (StoreFenced if another
   * instance owns the partition now).
   */
  async commit(cp: Checkpoint): Promise<number> {
    if (!this.producer || this.broken) throw new Error(`state store for ${this.topic}:${this.partition} is not open`);
    const txn = await this.producer.transaction().catch((e: unknown) => this.fail(e));
    let bytes = 0;
    try {
      // Several sends in one transaction keep each produce request under the broker's size
      // limits however many devices changed; one producer with one request in flight keeps
      // their order, so the marker still lands after its devices. Devices are serialised one
      // request at a time so a checkpoint of every device never holds them all as strings at once
      // (the caller keeps the engine still until commit returns). Dead letters and alerts are not
      // in checkpoints: they are published ahead of them (publish).
      let batch: Message[] = [];
      let size = 0;
      const send = async (): Promise<void> => {
        // Device states repeat the same keys over and over: gzip shrinks them several times (JSON
        // ~9×, MessagePack ~5× on the bench fleet), which is less for kafkajs to checksum and copy
        // and for the broker to write, and zlib runs off the event loop. The request limit above
        // is on uncompressed bytes, so it holds even for state that does not compress.
        await txn.sendBatch({ topicMessages: [{ topic: this.changelog, messages: batch }], acks: -1, compression: CompressionTypes.GZIP });
        batch = [];
        size = 0;
      };
      for (const [id, st] of cp.devices) {
        const value = st === undefined ? null : Buffer.isBuffer(st) ? st : encodeDevice(st);
        const k = deviceKey(this.topic, id);
        const vb = value === null ? 0 : value.length;
        const n = vb + Buffer.byteLength(k) + 64;
        if (size + n > MAX_SEND_BYTES && size > 0) await send();
        batch.push({ key: k, value, partition: this.partition });
        size += n;
        bytes += vb;
      }
      const marker: CheckpointMarker = { v: 1, ...cp.marker, delta: cp.devices.length, written_at: new Date().toISOString() };
      const mv = JSON.stringify(marker);
      bytes += mv.length;
      // Last in the batch, so within the partition the marker follows the devices it completes.
      batch.push({ key: markerKey(this.topic), value: mv, partition: this.partition });
      await send();
      await txn.sendOffsets({
        consumerGroupId: this.group,
        topics: [{ topic: this.topic, partitions: [{ partition: this.partition, offset: cp.marker.next_offset }] }],
      });
      await txn.commit();
      return bytes;
    } catch (e) {
      await txn.abort().catch(() => undefined);
      return this.fail(e);
    }
  }

  /**
   * Publish outputs promptly, without a state checkpoint: ONE transaction holding the dead
   * letters and alerts and the `o|<topic>` record "outputs of every source offset below
   * `publishedUpTo` are committed" — no device states, no consumer offset. Its own transactional
   * producer (fenced by open() like commit()'s, so a zombie owner cannot publish either), so a
   * publication does not wait for a checkpoint transaction that is still running.
   *
   * That independence asks one thing of the caller: a checkpoint at offset C must commit only
   * after every output of the offsets below C is published, and must not carry outputs itself
   * while a later publication could commit before it. Otherwise a crash between the two could
   * leave an `o|` record that vouches for outputs of an uncommitted checkpoint (and a restore
   * from an older checkpoint would suppress them: lost).
   *
   * Why this keeps exactly-once outputs: the engine and router are deterministic, so after a
   * crash the restore (state at the last checkpoint, offset C ≤ publishedUpTo) replays the
   * events from C and raises the very same outputs again for offsets below `publishedUpTo`; the
   * runner suppresses those and publishes only what follows. A read_committed reader sees each
   * output once. Callers publish only after the findings of those offsets are durable.
   */
  async publish(outputs: TopicMessages[], publishedUpTo: bigint): Promise<void> {
    if (!this.publisher || this.broken) throw new Error(`state store for ${this.topic}:${this.partition} is not open`);
    const txn = await this.publisher.transaction().catch((e: unknown) => this.fail(e));
    try {
      const o: PublishedMarker = { v: 1, published: publishedUpTo.toString() };
      const all = [...outputs, { topic: this.changelog, messages: [{ key: publishedKey(this.topic), value: JSON.stringify(o), partition: this.partition }] }];
      // Usually one produce request; the record comes last, after the outputs it vouches for.
      for (const topicMessages of chunks(all, MAX_SEND_BYTES)) {
        await txn.sendBatch({ topicMessages, acks: -1 });
      }
      await txn.commit();
    } catch (e) {
      await txn.abort().catch(() => undefined);
      this.fail(e);
    }
  }

  private fail(e: unknown): never {
    this.broken = true;
    if (FENCED.test(String((e as { type?: string })?.type ?? '')) || FENCED.test(String(e))) {
      throw new StoreFenced(`state store for ${this.topic}:${this.partition} was taken over by another instance: ${String(e)}`, { cause: e });
    }
    throw e;
  }

  async close(): Promise<void> {
    const ps = [this.producer, this.publisher];
    this.producer = this.publisher = undefined;
    this.broken = true;
    await Promise.all(ps.map((p) => p?.disconnect().catch(() => undefined)));
  }
}

/**
 * Read one partition of a topic from its beginning to its current end, read_committed, calling
 * `onRecord` in offset order. kafkajs has no manual assignment, so this joins a throwaway group,
 * pauses every other partition, and leaves (and deletes the group) when done.
 */
export async function readPartition(
  kafka: Kafka,
  topic: string,
  partition: number,
  timeoutMs: number,
  onRecord: (key: string, value: Buffer | null, offset: string) => void,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let end: bigint;
  let low: bigint;
  try {
    const offs = await admin.fetchTopicOffsets(topic);
    const o = offs.find((x) => x.partition === partition);
    if (!o) throw new Error(`topic ${topic} has no partition ${partition}`);
    end = BigInt(o.high);
    low = BigInt(o.low);
  } finally {
    await admin.disconnect();
  }
  if (end <= low) return;
  const groupId = `${topic}.restore.${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, sessionTimeout: 30_000, allowAutoTopicCreation: false });
  let failure: unknown;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic}[${partition}] did not reach offset ${end} within ${timeoutMs} ms`)), timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        resolve();
      };
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const others = (e.payload.memberAssignment[topic] ?? []).filter((p) => p !== partition);
        if (others.length) consumer.pause([{ topic, partitions: others }]);
      });
      // END_BATCH_PROCESS also fires for batches that held only transaction markers or aborted
      // records, which is how the end of a transactional partition is reached.
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
        if (e.payload.partition === partition && BigInt(e.payload.lastOffset) + 1n >= end) finish();
      });
      consumer.on(consumer.events.CRASH, (e) => {
        if (!e.payload.restart) {
          clearTimeout(timer);
          reject(e.payload.error);
        }
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (batch.partition !== partition) return;
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= end) break;
              onRecord(m.key?.toString('utf8') ?? '', m.value, m.offset);
            }
          },
        })
        .catch(reject);
    });
  } catch (e) {
    failure = e;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  if (failure) throw failure;
  // The group has no offsets and no members; deleting it just keeps `kafka-consumer-groups` tidy.
  const a2 = kafka.admin();
  await a2
    .connect()
    .then(() => a2.deleteGroups([groupId]))
    .catch(() => undefined)
    .finally(() => a2.disconnect().catch(() => undefined));
}
