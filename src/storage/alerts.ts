/**
 * Writing alerts and their changes. The runner writes the pipeline's side (every version of an
 * alert, and every published change as an event) through the findings writer, so they are as
 * durable as the findings before a checkpoint moves past them; the console writes the analysts'
 * changes (acknowledge, resolve, comment) as events. Ids are deterministic for the pipeline's
 * rows, so a replay rewrites the same rows and ReplacingMergeTree collapses them.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { AlertRecord, AlertStatus } from '../alerts/record.js';
import type { Severity } from '../detectors/types.js';
import { chTime } from './ch-time.js';

export interface AlertRow {
  alert_id: string;
  pipeline: string;
  device_id: string;
  device_class: string;
  detector: string;
  key: string;
  first_ts: string;
  last_ts: string;
  closed_ts: string | null;
  count: number;
  findings: number;
  severity: Severity;
  initial_severity: Severity;
  score: number;
  finding_id: string;
  explanation: string;
  src_topic: string;
  src_partition: number;
  first_offset: string;
  last_offset: string;
  seq: number;
}

export function alertRow(a: AlertRecord, explanation: string): AlertRow {
  return {
    alert_id: a.alert_id,
    pipeline: a.pipeline,
    device_id: a.device_id,
    device_class: a.device_class,
    detector: a.detector,
    key: a.key,
    first_ts: chTime(a.first_ts),
    last_ts: chTime(a.last_ts),
    closed_ts: a.closed_ts === null ? null : chTime(a.closed_ts),
    count: a.count,
    findings: a.findings,
    severity: a.severity,
    initial_severity: a.initial_severity,
    score: Math.round(a.score * 1e4) / 1e4,
    finding_id: a.finding_id,
    explanation,
    src_topic: a.source?.topic ?? '',
    src_partition: a.source?.partition ?? 0,
    first_offset: a.source?.first_offset ?? '0',
    last_offset: a.source?.last_offset ?? '0',
    seq: a.seq,
  };
}

/** Actions in the audit trail: the pipeline's changes and the analysts'. */
export type AlertAction = 'create' | 'update' | 'escalate' | 'close' | 'acknowledge' | 'resolve' | 'comment';

export interface AlertEventRow {
  event_uid: string;
  alert_id: string;
  pipeline: string;
  device_id: string;
  at: string;
  actor: string;
  action: AlertAction;
  /** The state this change sets ('' when it leaves the state as it was). */
  status: '' | AlertStatus;
  resolution: string;
  comment: string;
  severity: Severity;
  seq: number;
  /** The OCSF document published for this change. */
  doc: string;
}

/** Newest version of each alert in a batch: a busy alert changes many times per batch and only the last matters. */
function latestAlertRows(rows: AlertRow[]): AlertRow[] {
  const by = new Map<string, AlertRow>();
  for (const r of rows) {
    const p = by.get(r.alert_id);
    if (!p || r.seq >= p.seq) by.set(r.alert_id, r);
  }
  return [...by.values()];
}

export async function insertAlertRows(client: ClickHouseClient, database: string, rows: AlertRow[]): Promise<number> {
  if (!rows.length) return 0;
  const values = latestAlertRows(rows);
  await client.insert({ table: `${database}.alerts`, values, format: 'JSONEachRow' });
  return values.length;
}

export async function insertAlertEvents(client: ClickHouseClient, database: string, rows: AlertEventRow[]): Promise<number> {
  if (!rows.length) return 0;
  await client.insert({ table: `${database}.alert_events`, values: rows, format: 'JSONEachRow' });
  return rows.length;
}
