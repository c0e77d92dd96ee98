/**
 * A device's own events around a point of a source topic, read back from Kafka for the console
 * (the chart of an alert, a device's peers and firmware). Nothing stores raw readings besides
 * the topics themselves, and keying by device puts all of one device's events on one partition,
 * so a window of that partition around the alert's offsets holds them in order.
 *
 * kafkajs has no manual assignment: the reader joins a throwaway consumer group (about a second),
 * seeks the one partition and reads forward until the window's end or a message budget.
 */
import kafkajs, { type Kafka } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import { decodeEvent, type DecodeOptions } from '../events/decode.js';
import type { M2MEvent } from '../events/types.js';
import { logger } from '../obs/log.js';

export interface WindowRequest {
  topic: string;
  device_id: string;
  /** Partition of the device (computed from the key when absent). */
  partition?: number;
  /** Read from this offset (clamped to the partition's start)… */
  from: bigint;
  /** …up to (not including) this one (clamped to its end). */
  to: bigint;
  decode?: DecodeOptions;
  timeoutMs?: number;
}

/** Most messages one window reads (a busy partition around a long incident). */
const MAX_WINDOW_MESSAGES = 60_000;

/** The partition kafkajs' default partitioner gives a device's key (murmur2, as the Java client). */
export function partitionOf(deviceId: string, partitions: number): number {
  const p = kafkajs.Partitioners.DefaultPartitioner();
  return p({ topic: '', partitionMetadata: Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] })), message: { key: deviceId, value: null } });
}

export async function readDeviceWindow(kafka: Kafka, r: WindowRequest): Promise<{ events: M2MEvent[]; scanned: number; partition: number }> {
  const admin = kafka.admin();
  await admin.connect();
  let offsets: Array<{ partition: number; low: string; high: string }>;
  try {
    offsets = await admin.fetchTopicOffsets(r.topic);
  } finally {
    await admin.disconnect();
  }
  const partition = r.partition ?? partitionOf(r.device_id, offsets.length);
  const o = offsets.find((x) => x.partition === partition);
  if (!o) return { events: [], scanned: 0, partition };
  const low = BigInt(o.low);
  const high = BigInt(o.high);
  let from = r.from < low ? low : r.from;
  const to = r.to > high ? high : r.to;
  if (to - from > BigInt(MAX_WINDOW_MESSAGES)) from = to - BigInt(MAX_WINDOW_MESSAGES);
  if (from >= to) return { events: [], scanned: 0, partition };
  const consumer = kafka.consumer({ groupId: `m2m-console-reader-${randomBytes(6).toString('hex')}`, sessionTimeout: 10_000, rebalanceTimeout: 10_000, maxBytesPerPartition: 4 * 1_048_576 });
  const events: M2MEvent[] = [];
  let scanned = 0;
  const deviceKey = Buffer.from(r.device_id);
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: r.topic, fromBeginning: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, r.timeoutMs ?? 15_000);
      let seeked = false;
      consumer.on(consumer.events.GROUP_JOIN, () => {
        if (seeked) return;
        seeked = true;
        consumer.seek({ topic: r.topic, partition, offset: from.toString() });
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (batch.partition !== partition) return;
            for (const m of batch.messages) {
              const off = BigInt(m.offset);
              if (off < from) continue;
              if (off >= to) {
                clearTimeout(timer);
                return resolve();
              }
              scanned++;
              // Cheap key test first: most of a partition belongs to other devices.
              if (m.key && !m.key.equals(deviceKey)) continue;
              if (!m.value) continue;
              const d = decodeEvent(m.value, r.decode ?? {});
              if (d.ok && d.event.device_id === r.device_id) events.push(d.event);
            }
            if (BigInt(batch.lastOffset()) + 1n >= to) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } catch (e) {
    logger().warn({ topic: r.topic, partition, err: String(e) }, 'reading a device window failed');
    throw e;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return { events, scanned, partition };
}
