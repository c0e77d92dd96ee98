/** Writing and reading findings. Rows are batched by the runner; one insert per flush. */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Finding } from '../detectors/types.js';
import { ident, queryRows } from './clickhouse.js';
import { factsOf } from './finding-facts.js';
import { chTime } from './ch-time.js';

export interface FindingRow {
  finding_id: string;
  pipeline: string;
  detector: string;
  device_id: string;
  device_class: string;
  key: string;
  first_ts: string;
  last_ts: string;
  count: number;
  score: number;
  severity: string;
  observed: string;
  expected: string;
  explanation: string;
  evidence: string;
  mitre: string[];
  /** Network and baseline facts (finding-facts.ts), columns so analysts can filter on them. */
  src_ip?: string;
  dst_ip?: string;
  dst_port?: number | null;
  metric?: string;
  observed_value?: number | null;
  expected_value?: number | null;
  expected_spread?: number | null;
  version: number;
}

function toRow(f: Finding): FindingRow {
  const facts = factsOf(f);
  return {
    finding_id: f.finding_id,
    pipeline: f.pipeline,
    detector: f.detector,
    device_id: f.device_id,
    device_class: f.device_class,
    key: f.key,
    first_ts: chTime(f.first_ts),
    last_ts: chTime(f.last_ts),
    count: f.count,
    score: Math.round(f.score * 1e4) / 1e4,
    severity: f.severity,
    observed: String(f.observed),
    expected: String(f.expected),
    explanation: f.explanation,
    evidence: JSON.stringify(f.evidence),
    mitre: f.mitre,
    src_ip: facts.src_ip ?? '',
    dst_ip: facts.dst_ip ?? '',
    dst_port: facts.dst_port ?? null,
    metric: facts.metric ?? '',
    observed_value: facts.observed_value ?? null,
    expected_value: facts.expected_value ?? null,
    expected_spread: facts.expected_spread ?? null,
    version: f.version,
  };
}

/**
 * Keep only the newest version of each finding in a batch: a sustained incident updates its
 * finding many times per batch and only the last one matters.
 */
export function latestVersions(findings: Finding[]): Finding[] {
  const byId = new Map<string, Finding>();
  for (const f of findings) {
    const prev = byId.get(f.finding_id);
    if (!prev || f.version >= prev.version) byId.set(f.finding_id, f);
  }
  return [...byId.values()];
}

export async function insertFindings(client: ClickHouseClient, database: string, table: string, findings: Finding[]): Promise<number> {
  if (findings.length === 0) return 0;
  const rows = latestVersions(findings).map(toRow);
  await client.insert({ table: `${database}.${table}`, values: rows, format: 'JSONEachRow' });
  return rows.length;
}

export interface FindingQuery {
  pipeline?: string;
  device_id?: string;
  min_score?: number;
  /** First seen at or after / before this time (epoch ms). The HTTP API always bounds both. */
  since?: number;
  until?: number;
  limit?: number;
}

/** Longest a findings query may run; past it ClickHouse stops it and the API answers 500. */
const QUERY_SECONDS = 10;

/**
 * Newest version of each finding, newest first. Instead of FINAL (which merges every part of the
 * table at read time), the rows of the time range are reduced to each finding's newest version
 * with LIMIT 1 BY; `first_ts` bounds prune whole monthly partitions.
 */
export async function selectFindings(client: ClickHouseClient, database: string, table: string, q: FindingQuery = {}): Promise<FindingRow[]> {
  const where: string[] = [];
  if (q.pipeline) where.push('pipeline = {pipeline:String}');
  if (q.device_id) where.push('device_id = {device_id:String}');
  if (q.min_score !== undefined) where.push('score >= {min_score:Float64}');
  const params: Record<string, unknown> = { ...q, limit: q.limit ?? 1000 };
  if (q.since !== undefined) {
    where.push('first_ts >= {since:DateTime64(3, \'UTC\')}');
    params.since = chTime(q.since);
  }
  if (q.until !== undefined) {
    where.push('first_ts <= {until:DateTime64(3, \'UTC\')}');
    params.until = chTime(q.until);
  }
  const sql = `SELECT finding_id, pipeline, detector, device_id, device_class, key,
      toString(first_ts) AS first_ts, toString(last_ts) AS last_ts, count, score, severity,
      observed, expected, explanation, evidence, mitre, version
    FROM (
      SELECT * FROM ${ident(database)}.${ident(table)}
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY finding_id, version DESC
      LIMIT 1 BY finding_id
    )
    ORDER BY first_ts DESC, finding_id
    LIMIT {limit:UInt32}
    SETTINGS max_execution_time = ${QUERY_SECONDS}`;
  return queryRows<FindingRow>(client, sql, params);
}
