/**
 * Versioned migrations. Each migration is applied once per (database, findings table) and
 * recorded in <db>.schema_migrations, so upgrades are explicit and repeatable on both the
 * embedded engine and a server.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { ident, queryRows } from './clickhouse.js';
import { alertTables, findingsV2 } from './schema-v2.js';

export interface Target {
  database: string;
  table: string;
  ttlDays: number;
}

export interface Migration {
  version: number;
  name: string;
  statements(t: Target): string[];
}

const q = (t: Target, name: string) => `${ident(t.database)}.${ident(name)}`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'findings table',
    statements: (t) => [
      // ReplacingMergeTree(version) collapses the repeated rows that replays and updates of a
      // sustained incident write under one finding_id: at-least-once in, exactly-once results.
      // Ordered for the analyst's queries: one device's findings over time.
      // TTL on ingestion time, not event time, so that replaying an old recording keeps its findings.
      `CREATE TABLE IF NOT EXISTS ${q(t, t.table)} (
        finding_id String,
        pipeline LowCardinality(String),
        detector LowCardinality(String),
        device_id String,
        device_class LowCardinality(String),
        key String,
        first_ts DateTime64(3, 'UTC'),
        last_ts DateTime64(3, 'UTC'),
        count UInt32,
        score Float32,
        severity LowCardinality(String),
        observed String,
        expected String,
        explanation String,
        evidence String,
        mitre Array(LowCardinality(String)),
        version UInt64,
        ingested_at DateTime DEFAULT now()
      )
      ENGINE = ReplacingMergeTree(version)
      PARTITION BY toYYYYMM(first_ts)
      ORDER BY (device_id, first_ts, finding_id)
      TTL ingested_at + INTERVAL ${Math.max(1, Math.floor(t.ttlDays))} DAY`,
    ],
  },
  {
    version: 2,
    name: 'findings for analysts: time-first order, severity enum, network columns, partitions aligned with TTL',
    statements: (t) => findingsV2(t),
  },
  {
    version: 3,
    name: 'alerts with a lifecycle, their changes (audit trail) and the console audit log',
    statements: (t) => alertTables(t),
  },
];

/** Versions recorded for the target, or undefined when the migrations table cannot be read. */
async function appliedVersions(client: ClickHouseClient, t: Target): Promise<Set<number> | undefined> {
  try {
    const rows = await queryRows<{ version: number }>(client, `SELECT version FROM ${q(t, 'schema_migrations')} FINAL WHERE target = {target:String}`, { target: t.table });
    return new Set(rows.map((r) => Number(r.version)));
  } catch {
    return undefined;
  }
}

export async function migrate(client: ClickHouseClient, t: Target): Promise<number[]> {
  // Up to date: no DDL at all, so the service can run as a user with SELECT and INSERT on its
  // tables only (the secured compose setup migrates once with an administrator: `m2m-sentinel
  // migrate`).
  const known = await appliedVersions(client, t);
  if (known && MIGRATIONS.every((m) => known.has(m.version))) return [];
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${ident(t.database)}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${q(t, 'schema_migrations')} (
      target String, version UInt32, name String, applied_at DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree ORDER BY (target, version)`,
  });
  const done = new Set(
    (await queryRows<{ version: number }>(
      client,
      `SELECT version FROM ${q(t, 'schema_migrations')} FINAL WHERE target = {target:String}`,
      { target: t.table },
    )).map((r) => Number(r.version)),
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    for (const s of m.statements(t)) await client.command({ query: s });
    await client.insert({
      table: `${t.database}.schema_migrations`,
      values: [{ target: t.table, version: m.version, name: m.name }],
      format: 'JSONEachRow',
    });
    applied.push(m.version);
  }
  return applied;
}
