/**
 * Detector and router state per (pipeline, topic, partition), stored in ClickHouse next to the
 * findings, with the offset it reflects. Why ClickHouse and not a compacted Kafka topic: the
 * findings already have to be durable there before we commit, so one store means one thing to
 * back up and restart, and a restore is a single keyed read instead of replaying a changelog.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { EngineSnapshot } from '../pipeline/engine.js';
import type { RouterState } from '../alerts/router.js';
import { ident, queryRows } from '../storage/clickhouse.js';

export interface PartitionCheckpoint {
  next_offset: bigint;
  engine: EngineSnapshot;
  router: RouterState;
}

// JSON has no Infinity; an engine that has seen no event keeps -Infinity watermarks.
const replacer = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

export function encodeState(c: Omit<PartitionCheckpoint, 'next_offset'>): string {
  return JSON.stringify({ engine: c.engine, router: c.router }, replacer);
}

export async function writeCheckpoint(
  client: ClickHouseClient,
  database: string,
  key: { pipeline: string; topic: string; partition: number },
  c: PartitionCheckpoint,
): Promise<number> {
  const state = encodeState(c);
  await client.insert({
    table: `${database}.checkpoints`,
    values: [{ ...key, next_offset: c.next_offset.toString(), state, devices: Object.keys(c.engine.devices).length }],
    format: 'JSONEachRow',
  });
  return state.length;
}

export async function readCheckpoint(
  client: ClickHouseClient,
  database: string,
  key: { pipeline: string; topic: string; partition: number },
): Promise<PartitionCheckpoint | null> {
  const rows = await queryRows<{ next_offset: string; state: string }>(
    client,
    `SELECT toString(next_offset) AS next_offset, state FROM ${ident(database)}.checkpoints
     WHERE pipeline = {pipeline:String} AND topic = {topic:String} AND partition = {partition:UInt32}
     ORDER BY next_offset DESC LIMIT 1`,
    key,
  );
  const r = rows[0];
  if (!r) return null;
  const parsed = JSON.parse(r.state) as { engine: EngineSnapshot; router: RouterState };
  const e = parsed.engine;
  if (e.max_ts === null) e.max_ts = Number.NEGATIVE_INFINITY;
  if (e.last_tick === null) e.last_tick = Number.NEGATIVE_INFINITY;
  return { next_offset: BigInt(r.next_offset), engine: e, router: parsed.router };
}
