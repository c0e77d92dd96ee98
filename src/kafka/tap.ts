/**
 * Reading topics without taking part in anything: a consumer in a throwaway group that never
 * commits, so tapping a pipeline's topics moves no pipeline's offsets and takes no partition
 * from its consumer group (each group gets every partition). Used by `m2m-sentinel tap`.
 */
import { randomBytes } from 'node:crypto';
import type { IHeaders, Kafka } from 'kafkajs';

export interface TappedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
  timestamp: string;
}

export interface TapOptions {
  topics: string[];
  /** Where to start: new messages only, every retained one, or the last N of each partition. */
  from: 'latest' | 'earliest' | { last: number };
  /** Return false to stop. */
  onMessage(m: TappedMessage): boolean | Promise<boolean>;
  signal?: AbortSignal;
}

export async function tap(kafka: Kafka, opts: TapOptions): Promise<void> {
  const groupId = `m2m-tap-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000, retry: { retries: 2 } });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    done();
  };
  opts.signal?.addEventListener('abort', stop, { once: true });
  await consumer.connect();
  try {
    for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.from === 'earliest' });
    let lastN: Map<string, string> | undefined;
    if (typeof opts.from === 'object') {
      // Where "the last N" starts, per partition, read before the first fetch.
      lastN = new Map();
      const admin = kafka.admin();
      await admin.connect();
      try {
        for (const topic of opts.topics) {
          for (const o of await admin.fetchTopicOffsets(topic)) {
            const start = BigInt(o.high) - BigInt(opts.from.last);
            lastN.set(`${topic}:${o.partition}`, (start > BigInt(o.low) ? start : BigInt(o.low)).toString());
          }
        }
      } finally {
        await admin.disconnect();
      }
    }
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        if (stopped) return;
        const go = await opts.onMessage({ topic, partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers, timestamp: message.timestamp });
        if (!go) stop();
      },
    });
    if (lastN) for (const [k, offset] of lastN) {
      const i = k.lastIndexOf(':');
      consumer.seek({ topic: k.slice(0, i), partition: Number(k.slice(i + 1)), offset });
    }
    await finished;
  } finally {
    await consumer.stop().catch(() => undefined);
    await consumer.disconnect().catch(() => undefined);
    // The group never committed anything; delete it so taps leave no trace in the broker.
    const admin = kafka.admin();
    await admin.connect().then(() => admin.deleteGroups([groupId])).catch(() => undefined).finally(() => admin.disconnect().catch(() => undefined));
  }
}
