/**
 * What the analyst's API reads: alerts with their state, findings, a device's story. Every
 * value reaches ClickHouse as a query parameter; identifiers only through ident().
 *
 * An alert's state merges its two sides. The pipeline's (table alerts: counts, severity, and
 * closed_ts once it closed by itself) and the analysts' (table alert_events, actions
 * acknowledge and resolve, latest wins):
 *   resolved      an analyst resolved it (with a reason), or it closed by itself
 *   acknowledged  an analyst acknowledged it and it is still open
 *   new           otherwise
 * An analyst's verdict is kept when the alert later closes by itself, and an alert that closed
 * by itself can still be resolved with a verdict.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Severity } from '../detectors/types.js';
import { ident, queryRows } from './clickhouse.js';

export type AlertState = 'new' | 'acknowledged' | 'resolved';

export interface AlertView {
  alert_id: string;
  pipeline: string;
  device_id: string;
  device_class: string;
  detector: string;
  key: string;
  first_ts: number;
  last_ts: number;
  closed_ts: number | null;
  count: number;
  findings: number;
  severity: Severity;
  initial_severity: Severity;
  score: number;
  finding_id: string;
  explanation: string;
  seq: number;
  src_topic: string;
  src_partition: number;
  first_offset: string;
  last_offset: string;
  state: AlertState;
  resolution: string;
  /** Who last acknowledged or resolved it ('' if nobody), and when (ms). */
  acted_by: string;
  acted_at: number | null;
  comments: number;
}

export interface AlertQuery {
  since?: number;
  until?: number;
  min_severity?: Severity;
  device_id?: string;
  device_class?: string;
  detector?: string;
  state?: AlertState;
  pipeline?: string;
  q?: string;
  sort?: 'severity' | 'time';
  limit: number;
  cursor?: AlertCursor;
}

/** Position after the last row of a page: [severity rank, last_ts ms, alert_id] (rank 0 when sorted by time). */
export type AlertCursor = [number, number, string];

const ms = (col: string) => `toUnixTimestamp64Milli(${col})`;

function alertSelect(db: string, where: string[], eventsWhere = ''): string {
  const d = ident(db);
  return `SELECT a.alert_id AS alert_id, a.pipeline AS pipeline, a.device_id AS device_id, a.device_class AS device_class, a.detector AS detector, a.key AS key,
      ${ms('a.first_ts')} AS first_ts, ${ms('a.last_ts')} AS last_ts, if(a.closed_ts IS NULL, NULL, ${ms('assumeNotNull(a.closed_ts)')}) AS closed_ts,
      a.count AS count, a.findings AS findings, toString(a.severity) AS severity, toString(a.initial_severity) AS initial_severity, a.score AS score,
      a.finding_id AS finding_id, a.explanation AS explanation, a.seq AS seq, a.src_topic AS src_topic, a.src_partition AS src_partition,
      toString(a.first_offset) AS first_offset, toString(a.last_offset) AS last_offset,
      multiIf(e.analyst_status = 'resolved', 'resolved', a.closed_ts IS NOT NULL, 'resolved', e.analyst_status = 'acknowledged', 'acknowledged', 'new') AS state,
      e.resolution AS resolution, e.acted_by AS acted_by, if(e.acted_by = '', NULL, e.acted_at) AS acted_at, e.comments AS comments,
      toInt8(a.severity) AS sev_rank
    FROM (SELECT * FROM ${d}.alerts FINAL ${where.length ? 'WHERE ' + where.join(' AND ') : ''}) AS a
    LEFT JOIN (
      SELECT alert_id,
        argMaxIf(status, at, action IN ('acknowledge', 'resolve')) AS analyst_status,
        argMaxIf(resolution, at, action = 'resolve') AS resolution,
        argMaxIf(actor, at, action IN ('acknowledge', 'resolve')) AS acted_by,
        toUnixTimestamp64Milli(maxIf(at, action IN ('acknowledge', 'resolve'))) AS acted_at,
        countIf(action = 'comment') AS comments
      FROM ${d}.alert_events FINAL WHERE action IN ('acknowledge', 'resolve', 'comment') ${eventsWhere}
      GROUP BY alert_id
    ) AS e ON e.alert_id = a.alert_id`;
}

type Row = AlertView & { sev_rank: number };
const view = (r: Row): AlertView => {
  const { sev_rank: _rank, ...v } = r;
  return { ...v, first_ts: Number(v.first_ts), last_ts: Number(v.last_ts), closed_ts: v.closed_ts === null ? null : Number(v.closed_ts), acted_at: v.acted_at === null ? null : Number(v.acted_at), comments: Number(v.comments), count: Number(v.count), findings: Number(v.findings), seq: Number(v.seq) };
};

export async function listAlerts(client: ClickHouseClient, db: string, q: AlertQuery): Promise<{ items: AlertView[]; next_cursor: AlertCursor | null }> {
  const inner: string[] = [];
  const params: Record<string, unknown> = { limit: q.limit + 1 };
  if (q.since !== undefined) (inner.push(`last_ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')`), (params.since = q.since));
  if (q.until !== undefined) (inner.push(`first_ts <= fromUnixTimestamp64Milli({until:Int64}, 'UTC')`), (params.until = q.until));
  if (q.min_severity) (inner.push(`severity >= {sev:String}`), (params.sev = q.min_severity));
  if (q.device_id) (inner.push('device_id = {device:String}'), (params.device = q.device_id));
  if (q.device_class) (inner.push('device_class = {cls:String}'), (params.cls = q.device_class));
  if (q.detector) (inner.push('detector = {det:String}'), (params.det = q.detector));
  if (q.pipeline) (inner.push('pipeline = {pipeline:String}'), (params.pipeline = q.pipeline));
  if (q.q) (inner.push(`positionCaseInsensitiveUTF8(concat(device_id, ' ', device_class, ' ', detector, ' ', key, ' ', explanation), {text:String}) > 0`), (params.text = q.q));
  const outer: string[] = [];
  if (q.state) (outer.push('state = {state:String}'), (params.state = q.state));
  const bySeverity = (q.sort ?? 'severity') === 'severity';
  if (q.cursor) {
    outer.push(bySeverity ? '(sev_rank, last_ts, alert_id) < ({c_rank:Int8}, {c_ts:Int64}, {c_id:String})' : '(last_ts, alert_id) < ({c_ts:Int64}, {c_id:String})');
    Object.assign(params, { c_rank: q.cursor[0], c_ts: q.cursor[1], c_id: q.cursor[2] });
  }
  const sql = `SELECT * FROM (${alertSelect(db, inner)}) ${outer.length ? 'WHERE ' + outer.join(' AND ') : ''}
    ORDER BY ${bySeverity ? 'sev_rank DESC, ' : ''}last_ts DESC, alert_id DESC LIMIT {limit:UInt32}`;
  const rows = await queryRows<Row>(client, sql, params);
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return { items: page.map(view), next_cursor: more && last ? [bySeverity ? Number(last.sev_rank) : 0, Number(last.last_ts), last.alert_id] : null };
}

export async function getAlert(client: ClickHouseClient, db: string, id: string): Promise<AlertView | undefined> {
  const [r] = await queryRows<Row>(client, alertSelect(db, ['alert_id = {id:String}'], 'AND alert_id = {id:String}'), { id });
  return r ? view(r) : undefined;
}

export interface AlertEventView {
  event_uid: string;
  at: number;
  recorded_at: number;
  actor: string;
  action: string;
  status: string;
  resolution: string;
  comment: string;
  severity: string;
}

/** The alert's audit trail, oldest first: the pipeline's changes and the analysts'. */
export async function alertEvents(client: ClickHouseClient, db: string, id: string): Promise<AlertEventView[]> {
  const rows = await queryRows<AlertEventView>(
    client,
    `SELECT event_uid, ${ms('at')} AS at, ${ms('recorded_at')} AS recorded_at, actor, action, status, resolution, comment, toString(severity) AS severity
     FROM ${ident(db)}.alert_events FINAL WHERE alert_id = {id:String} ORDER BY recorded_at, seq, at`,
    { id },
  );
  return rows.map((r) => ({ ...r, at: Number(r.at), recorded_at: Number(r.recorded_at) }));
}

/** The OCSF document of an alert's latest published change (what every route last saw). */
export async function latestDoc(client: ClickHouseClient, db: string, id: string): Promise<string | undefined> {
  const [r] = await queryRows<{ doc: string }>(client, `SELECT doc FROM ${ident(db)}.alert_events FINAL WHERE alert_id = {id:String} ORDER BY recorded_at DESC, seq DESC LIMIT 1`, { id });
  return r?.doc;
}

/** Newest change time over all alerts (live updates poll this). */
export async function alertsVersion(client: ClickHouseClient, db: string): Promise<string> {
  const [r] = await queryRows<{ v: string }>(
    client,
    `SELECT concat(toString((SELECT max(updated_at) FROM ${ident(db)}.alerts)), '|', toString((SELECT count() FROM ${ident(db)}.alerts)), '|', toString((SELECT max(recorded_at) FROM ${ident(db)}.alert_events)), '|', toString((SELECT count() FROM ${ident(db)}.alert_events))) AS v`,
  );
  return r?.v ?? '';
}
