/**
 * Ad hoc maintenance windows live in one compacted Kafka topic (key = window id, value = the
 * window as JSON, a null value deletes it), as Kafka Streams keeps a global table: the CLI and
 * the HTTP API write it, every instance of every pipeline reads all of it, so replicas agree
 * and a restart knows the windows before it routes anything. Records are checked like any
 * input: one that does not parse is skipped with a warning, never trusted.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { MaintenanceBook, WINDOW_ID, type AdhocWindow } from './maintenance.js';
import { logger } from '../obs/log.js';
import { ensureTopics } from '../kafka/topics.js';

export const maintenanceTopic = (env: NodeJS.ProcessEnv = process.env): string => env.M2M_MAINTENANCE_TOPIC || 'm2m.maintenance';

const ID = WINDOW_ID;
const strList = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 256) ? (v as string[]).slice(0, 10_000) : undefined);

/** The topic's JSON (ISO times) → a window, or a reason it is not one. */
function parseWindow(id: string, text: string): AdhocWindow | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not an object';
  const r = o as Record<string, unknown>;
  const start = typeof r.start === 'string' ? Date.parse(r.start) : NaN;
  const end = typeof r.end === 'string' ? Date.parse(r.end) : NaN;
  if (!ID.test(id)) return 'bad id';
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return 'start and end must be ISO times with end after start';
  const w: AdhocWindow = { id, start_ms: start, end_ms: end };
  if (typeof r.pipeline === 'string' && r.pipeline) w.pipeline = r.pipeline;
  const devices = strList(r.devices);
  const classes = strList(r.classes);
  if (r.devices !== undefined && !devices) return 'devices must be a list of names';
  if (r.classes !== undefined && !classes) return 'classes must be a list of names';
  if (devices?.length) w.devices = devices;
  if (classes?.length) w.classes = classes;
  if (typeof r.reason === 'string') w.reason = r.reason.slice(0, 500);
  if (typeof r.created_by === 'string') w.created_by = r.created_by.slice(0, 200);
  if (typeof r.created_at === 'string' && Number.isFinite(Date.parse(r.created_at))) w.created_at_ms = Date.parse(r.created_at);
  return w;
}

/** A window as the topic stores it (ISO times, readable with any Kafka tool). */
export function windowJson(w: AdhocWindow): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: w.id,
    ...(w.pipeline ? { pipeline: w.pipeline } : {}),
    ...(w.devices ? { devices: w.devices } : {}),
    ...(w.classes ? { classes: w.classes } : {}),
    start: iso(w.start_ms),
    end: iso(w.end_ms),
    ...(w.reason ? { reason: w.reason } : {}),
    ...(w.created_by ? { created_by: w.created_by } : {}),
    ...(w.created_at_ms !== undefined ? { created_at: iso(w.created_at_ms) } : {}),
  };
}

async function ensure(kafka: Kafka, topic: string): Promise<void> {
  // One partition: every reader sees every change in the order it was made.
  await ensureTopics(kafka, [{ topic, partitions: 1, config: { 'cleanup.policy': 'compact' } }]);
}

/** Write (or, with null, delete) a window. */
export async function putWindow(kafka: Kafka, id: string, w: AdhocWindow | null, topic = maintenanceTopic()): Promise<void> {
  await ensure(kafka, topic);
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  try {
    await p.send({ topic, acks: -1, messages: [{ key: id, value: w ? JSON.stringify(windowJson(w)) : null }] });
  } finally {
    await p.disconnect();
  }
}

export interface BookFollower {
  book: MaintenanceBook;
  /** Resolves once everything on the topic at start has been read. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Read the topic from the beginning and keep following it. A throwaway group that commits
 * nothing: each reader always rebuilds the whole book (it is small; the topic is compacted).
 */
export async function followMaintenance(kafka: Kafka, topic = maintenanceTopic()): Promise<BookFollower> {
  await ensure(kafka, topic);
  const book = new MaintenanceBook();
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const target = new Map(ends.map((o) => [o.partition, BigInt(o.high)]));
  const pos = new Map<number, bigint>();
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const check = () => {
    for (const [p, high] of target) if ((pos.get(p) ?? BigInt(ends.find((e) => e.partition === p)?.low ?? '0')) < high) return;
    markReady();
  };
  check();
  const groupId = `m2m-maintenance-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  // Not awaited: run() resolves only after the group join (seconds), and a service must not
  // start that much later when there is nothing to read (`ready` is already resolved then).
  void consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const id = message.key?.toString('utf8') ?? '';
      if (message.value === null) book.apply(id, null);
      else {
        const w = parseWindow(id, message.value.toString('utf8'));
        if (typeof w === 'string') logger().warn({ topic, offset: message.offset, reason: w }, 'maintenance record skipped');
        else book.apply(id, w);
      }
      pos.set(partition, BigInt(message.offset) + 1n);
      check();
    },
  }).catch((e: unknown) => logger().warn({ topic, err: String(e) }, 'maintenance topic reader stopped'));
  return {
    book,
    ready,
    async stop() {
      await consumer.stop().catch(() => undefined);
      await consumer.disconnect().catch(() => undefined);
      const a = kafka.admin();
      await a.connect().then(() => a.deleteGroups([groupId])).catch(() => undefined).finally(() => a.disconnect().catch(() => undefined));
    },
  };
}

/** The windows on the topic now (the CLI's list). */
export async function readMaintenance(kafka: Kafka, topic = maintenanceTopic(), timeoutMs = 15_000): Promise<AdhocWindow[]> {
  const f = await followMaintenance(kafka, topic);
  try {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([f.ready, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), timeoutMs)))]).finally(() => clearTimeout(timer));
    return f.book.all();
  } finally {
    await f.stop();
  }
}
