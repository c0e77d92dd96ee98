/**
 * Fault-suite harness: run the service as a child process (`m2m-sentinel run` from source),
 * kill or stop it, and read back everything it left behind (findings from its embedded
 * ClickHouse, dead letters and alerts from Kafka, accounting from the state changelog).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { createKafka } from '../../../src/kafka/client.js';
import { changelogTopic, readPartition, type CheckpointMarker } from '../../../src/state/changelog.js';
import { readDeadLetterHeaders } from '../../../src/kafka/dead-letter.js';
import { fleet, pipelineYaml, prng, type FleetEvent } from './fleet.js';
import { uid, tempDir } from '../../support/kafka.js';

export const ROOT = resolve(import.meta.dirname, '../../..');

export interface Scenario {
  name: string;
  topic: string;
  group: string;
  dlq: string;
  alerts: string;
  dir: string;
  yaml: string;
  events: FleetEvent[];
}

/** Fresh topics and group; the pipeline name is fixed so finding ids match across scenarios. */
export function scenario(label: string, events: FleetEvent[] = fleet()): Scenario {
  const id = uid(label);
  const dir = tempDir(`m2m-fault-${label}`);
  const s = { name: 'fault', topic: `${id}.events`, group: `${id}-group`, dlq: `${id}.dlq`, alerts: `${id}.alerts` };
  const yaml = join(dir, 'pipeline.yaml');
  writeFileSync(yaml, pipelineYaml(s));
  return { ...s, dir, yaml, events };
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => res(port));
    });
  });
}

export interface Child {
  proc: ChildProcess;
  httpPort: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  log: string;
}

let childSeq = 0;

/** Start `m2m-sentinel run <yaml>` with its own embedded ClickHouse directory. */
export async function startChild(s: Scenario, o: { brokers: string; chDir: string; checkpointEveryMs?: number }): Promise<Child> {
  const httpPort = await freePort();
  mkdirSync(o.chDir, { recursive: true });
  const log = join(s.dir, `child-${++childSeq}.log`);
  const out = createWriteStream(log);
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fault/support/cli.ts', 'run', s.yaml, '--http-port', String(httpPort), '--checkpoint-every', String(o.checkpointEveryMs ?? 500), '--no-deliver'],
    { cwd: ROOT, env: { ...process.env, KAFKA_BROKERS: o.brokers, CLICKHOUSE_DATA_DIR: o.chDir, CLICKHOUSE_URL: '', LOG_LEVEL: 'info', KAFKA_SESSION_TIMEOUT_MS: '6000' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.pipe(out);
  proc.stderr!.pipe(out);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  return { proc, httpPort, exited, log };
}

/** Until the child's pipeline runs (HTTP /readyz answers 200). */
export async function ready(c: Child, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `child ready (log: ${c.log})`,
    async () => {
      if (c.proc.exitCode !== null) throw new Error(`child exited early (log: ${c.log})`);
      const r = await fetch(`http://127.0.0.1:${c.httpPort}/readyz`, { signal: AbortSignal.timeout(1_000) });
      return r.status === 200;
    },
    timeoutMs,
  );
}

export async function health(c: Child): Promise<{ status: string; components: Record<string, { status: string; detail?: string }> } | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${c.httpPort}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return (await r.json()) as { status: string; components: Record<string, { status: string; detail?: string }> };
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Produce events in order (keyed by device), in chunks, calling `between` after each chunk. */
export async function produceEvents(k: Kafka, topic: string, events: FleetEvent[], chunk: number, between?: (sent: number) => Promise<void>): Promise<void> {
  const p = k.producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  try {
    for (let i = 0; i < events.length; i += chunk) {
      const part = events.slice(i, i + chunk).map((e) => ({ key: e.key, value: e.value }));
      for (let attempt = 1; ; attempt++) {
        try {
          await p.send({ topic, messages: part, acks: -1 });
          break;
        } catch (e) {
          // The broker-restart scenario stops the broker under this producer too.
          if (attempt >= 60) throw e;
          await sleep(1_000);
        }
      }
      await between?.(Math.min(i + chunk, events.length));
    }
  } finally {
    await p.disconnect();
  }
}

export async function endOffsets(k: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = k.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** True when the group's committed offsets (written with each checkpoint) reach the topic's end. */
export async function committedToEnd(k: Kafka, group: string, topic: string): Promise<boolean> {
  const ends = await endOffsets(k, topic);
  const admin = k.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const got = new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    for (const [p, end] of ends) if (end > 0n && (got.get(p) ?? -1n) < end) return false;
    return true;
  } finally {
    await admin.disconnect();
  }
}

/** Events checkpointed so far: the sum of the group's committed offsets. */
export async function committedTotal(k: Kafka, group: string, topic: string): Promise<bigint> {
  const admin = k.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return (t?.partitions ?? []).reduce((n, p) => n + (BigInt(p.offset) > 0n ? BigInt(p.offset) : 0n), 0n);
  } finally {
    await admin.disconnect();
  }
}

/** Every record of a topic, read_committed, partition by partition. */
export async function readTopic(k: Kafka, topic: string): Promise<Array<{ partition: number; key: string; value: Buffer | null; headers: Record<string, string> }>> {
  const out: Array<{ partition: number; key: string; value: Buffer | null; headers: Record<string, string> }> = [];
  const ends = await endOffsets(k, topic);
  for (const p of ends.keys()) {
    // readPartition hands key and value; headers need the message, so read it the plain way.
    await readPartitionWithHeaders(k, topic, p, (m) => out.push({ partition: p, ...m }));
  }
  return out;
}

async function readPartitionWithHeaders(k: Kafka, topic: string, partition: number, on: (m: { key: string; value: Buffer | null; headers: Record<string, string> }) => void): Promise<void> {
  const ends = await endOffsets(k, topic);
  const end = ends.get(partition) ?? 0n;
  if (end === 0n) return;
  const c = k.consumer({ groupId: uid('fault-reader'), maxWaitTimeInMs: 250 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolveDone, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic}[${partition}] timed out`)), 60_000);
    c.on(c.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.partition === partition && BigInt(e.payload.lastOffset) + 1n >= end) {
        clearTimeout(timer);
        resolveDone();
      }
    });
    void c.run({
      eachBatch: async ({ batch }) => {
        if (batch.partition !== partition) return;
        for (const m of batch.messages) on({ key: m.key?.toString() ?? '', value: m.value, headers: readDeadLetterHeaders(m.headers) });
      },
    });
  });
  await c.disconnect();
}

/** The last committed marker of each source partition, from the state changelog. */
export async function markers(k: Kafka, s: Scenario): Promise<Map<number, CheckpointMarker>> {
  const out = new Map<number, CheckpointMarker>();
  const cl = changelogTopic(s.group);
  for (const p of (await endOffsets(k, cl)).keys()) {
    await readPartition(k, cl, p, 60_000, (key, value) => {
      if (key === `m|${s.topic}` && value) out.set(p, JSON.parse(value.toString()) as CheckpointMarker);
    });
  }
  return out;
}

export interface FindingRow {
  finding_id: string;
  version: string;
  [k: string]: unknown;
}

/** Newest version of every finding in an embedded ClickHouse directory (read by a child: one chdb directory per process). */
export async function dumpFindings(chDir: string): Promise<FindingRow[]> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/fault/support/dump.ts', chDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  if (code !== 0) throw new Error(`dump of ${chDir} failed (${code}): ${err}`);
  return JSON.parse(out) as FindingRow[];
}

/** Newest version per finding id over several stores (two instances of one group). */
export function newest(...sets: FindingRow[][]): FindingRow[] {
  const by = new Map<string, FindingRow>();
  for (const rows of sets) {
    for (const r of rows) {
      const prev = by.get(r.finding_id);
      if (!prev || Number(r.version) > Number(prev.version)) by.set(r.finding_id, r);
    }
  }
  return [...by.values()].sort((a, b) => a.finding_id.localeCompare(b.finding_id));
}

export const kafkaAt = (brokers: string): Kafka => createKafka({ brokers: [brokers], clientId: 'm2m-fault' });

/**
 * What every faulty run must show: each input event accounted for exactly once (scored or
 * dead-lettered, per the checkpointed counters, which must equal each partition's end offset),
 * the dead-letter topic holding each bad record exactly once, and the alert outbox holding the
 * clean run's alerts exactly once.
 */
export async function accounting(k: Kafka, s: Scenario): Promise<{ processed: number; deadLettered: number; perPartitionOk: boolean; dlqOffsets: string[]; alertIds: string[] }> {
  const ends = await endOffsets(k, s.topic);
  const ms = await markers(k, s);
  let processed = 0;
  let deadLettered = 0;
  let perPartitionOk = true;
  for (const [p, end] of ends) {
    const m = ms.get(p);
    const next = m ? BigInt(m.next_offset) : 0n;
    if (next !== end || (m ? m.processed + m.dead_lettered : 0) !== Number(end)) perPartitionOk = false;
    processed += m?.processed ?? 0;
    deadLettered += m?.dead_lettered ?? 0;
  }
  const dlq = await readTopic(k, s.dlq);
  const alerts = await readTopic(k, s.alerts);
  return {
    processed,
    deadLettered,
    perPartitionOk,
    dlqOffsets: dlq.map((m) => `${m.headers['x-m2m-source-partition']}:${m.headers['x-m2m-source-offset']}`).sort(),
    alertIds: alerts.map((m) => m.headers['x-m2m-alert-id'] ?? '').sort(),
  };
}

/** Seeded delays, so a failing run can be repeated exactly (up to the OS scheduler). */
export function prngDelay(seed: number): (min: number, max: number) => number {
  const r = prng(seed);
  return (min, max) => Math.round(min + r() * (max - min));
}
