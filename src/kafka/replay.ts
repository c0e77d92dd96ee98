/**
 * Replay recorded events into Kafka in file order (which is event-time order for recordings and
 * simulations), keyed by device so each device stays on one partition, at a speed factor of
 * event time or as fast as possible. Lines that are not valid events are sent as they are:
 * replaying a recording must reproduce its bad input too, so the dead-letter path is exercised.
 */
import type { Kafka, Message } from 'kafkajs';
import { readNdjsonLines } from '../events/files.js';
import { parseTimestamp } from '../events/decode.js';
import { sleep } from '../lib/retry.js';

export interface ReplayOptions {
  files: string[];
  /** Destination topic, or a function choosing one per event type. */
  topic: string | ((type: string | undefined) => string);
  /** Event-time speed-up factor; Infinity = as fast as possible. */
  speed: number;
  batchSize?: number;
  onProgress?: (p: { sent: number; bytes: number; lastTs?: number }) => void;
}

export interface ReplayResult {
  sent: number;
  bytes: number;
  topics: Record<string, number>;
  firstTs?: number;
  lastTs?: number;
}

function peek(line: string): { key: string | null; type?: string; ts?: number } {
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const key = typeof o.device_id === 'string' ? o.device_id : null;
    const ts = parseTimestamp(o.ts);
    const out: { key: string | null; type?: string; ts?: number } = { key };
    if (typeof o.type === 'string') out.type = o.type;
    if (Number.isFinite(ts)) out.ts = ts;
    return out;
  } catch {
    return { key: null };
  }
}

export async function replay(kafka: Kafka, opts: ReplayOptions): Promise<ReplayResult> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const res: ReplayResult = { sent: 0, bytes: 0, topics: {} };
  const batchSize = opts.batchSize ?? 2_000;
  const pending = new Map<string, Message[]>();
  let pendingCount = 0;
  const wall0 = Date.now();
  const flush = async () => {
    if (pendingCount === 0) return;
    const topicMessages = [...pending].map(([topic, messages]) => ({ topic, messages }));
    await producer.sendBatch({ topicMessages, acks: -1 });
    pending.clear();
    pendingCount = 0;
    opts.onProgress?.({ sent: res.sent, bytes: res.bytes, ...(res.lastTs !== undefined ? { lastTs: res.lastTs } : {}) });
  };
  try {
    for (const file of opts.files) {
      for await (const { line } of readNdjsonLines(file)) {
        const p = peek(line);
        if (p.ts !== undefined) {
          res.firstTs ??= p.ts;
          res.lastTs = Math.max(res.lastTs ?? p.ts, p.ts);
          if (Number.isFinite(opts.speed)) {
            const due = wall0 + (p.ts - res.firstTs) / opts.speed;
            const wait = due - Date.now();
            if (wait > 5) {
              await flush();
              await sleep(wait);
            }
          }
        }
        const topic = typeof opts.topic === 'string' ? opts.topic : opts.topic(p.type);
        let list = pending.get(topic);
        if (!list) pending.set(topic, (list = []));
        list.push({ key: p.key, value: line });
        pendingCount++;
        res.sent++;
        res.bytes += line.length;
        res.topics[topic] = (res.topics[topic] ?? 0) + 1;
        if (pendingCount >= batchSize) await flush();
      }
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return res;
}
