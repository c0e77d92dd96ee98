/**
 * The analyst's reads of findings: filtered pages with a cursor, an alert's findings, and what
 * the findings tell about one device. The findings table's time-first sort key serves the time
 * range; device, detector and severity filters use its skip indexes (schema-v2.ts).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Severity } from '../detectors/types.js';
import { ident, queryRows } from './clickhouse.js';

export interface FindingView {
  finding_id: string;
  pipeline: string;
  detector: string;
  device_id: string;
  device_class: string;
  key: string;
  first_ts: number;
  last_ts: number;
  count: number;
  score: number;
  severity: Severity;
  observed: string;
  expected: string;
  explanation: string;
  evidence: Record<string, unknown>;
  mitre: string[];
  src_ip: string;
  dst_ip: string;
  dst_port: number | null;
  metric: string;
  observed_value: number | null;
  expected_value: number | null;
  expected_spread: number | null;
}

export interface FindingsPageQuery {
  since?: number;
  until?: number;
  min_severity?: Severity;
  device_id?: string;
  device_class?: string;
  detector?: string;
  pipeline?: string;
  key?: string;
  q?: string;
  limit: number;
  /** [first_ts ms, finding_id] of the last row of the previous page. */
  cursor?: [number, string];
}

const COLUMNS = `finding_id, pipeline, detector, device_id, device_class, key, toUnixTimestamp64Milli(first_ts) AS first_ts, toUnixTimestamp64Milli(last_ts) AS last_ts,
  count, score, toString(severity) AS severity, observed, expected, explanation, evidence, mitre, src_ip, dst_ip, dst_port, metric, observed_value, expected_value, expected_spread`;

type Raw = Omit<FindingView, 'evidence'> & { evidence: string };
function view(r: Raw): FindingView {
  let evidence: Record<string, unknown> = {};
  try {
    evidence = JSON.parse(r.evidence) as Record<string, unknown>;
  } catch {
    // A row written by hand; show it without evidence rather than fail the page.
  }
  return { ...r, first_ts: Number(r.first_ts), last_ts: Number(r.last_ts), count: Number(r.count), evidence };
}

export async function listFindings(client: ClickHouseClient, db: string, table: string, q: FindingsPageQuery): Promise<{ items: FindingView[]; next_cursor: [number, string] | null }> {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: q.limit + 1 };
  if (q.since !== undefined) (where.push(`last_ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')`), (params.since = q.since));
  if (q.until !== undefined) (where.push(`first_ts <= fromUnixTimestamp64Milli({until:Int64}, 'UTC')`), (params.until = q.until));
  if (q.min_severity) (where.push('severity >= {sev:String}'), (params.sev = q.min_severity));
  if (q.device_id) (where.push('device_id = {device:String}'), (params.device = q.device_id));
  if (q.device_class) (where.push('device_class = {cls:String}'), (params.cls = q.device_class));
  if (q.detector) (where.push('detector = {det:String}'), (params.det = q.detector));
  if (q.pipeline) (where.push('pipeline = {pipeline:String}'), (params.pipeline = q.pipeline));
  if (q.key !== undefined) (where.push('key = {key:String}'), (params.key = q.key));
  if (q.q) (where.push(`positionCaseInsensitiveUTF8(concat(device_id, ' ', detector, ' ', key, ' ', explanation), {text:String}) > 0`), (params.text = q.q));
  if (q.cursor) (where.push('(toUnixTimestamp64Milli(first_ts), finding_id) < ({c_ts:Int64}, {c_id:String})'), Object.assign(params, { c_ts: q.cursor[0], c_id: q.cursor[1] }));
  const rows = await queryRows<Raw>(
    client,
    // The filters run on the stored columns in the inner query: the outer one's aliases (times in ms) would shadow them.
    `SELECT ${COLUMNS} FROM (SELECT * FROM ${ident(db)}.${ident(table)} FINAL ${where.length ? 'WHERE ' + where.join(' AND ') : ''}) ORDER BY first_ts DESC, finding_id DESC LIMIT {limit:UInt32}`,
    params,
  );
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit).map(view);
  const last = page[page.length - 1];
  return { items: page, next_cursor: more && last ? [last.first_ts, last.finding_id] : null };
}

/** An alert's findings: its device, detector and key, from its first event to its last. */
export async function findingsOfAlert(client: ClickHouseClient, db: string, table: string, a: { pipeline: string; device_id: string; detector: string; key: string; first_ts: number; last_ts: number }): Promise<FindingView[]> {
  const rows = await queryRows<Raw>(
    client,
    `SELECT ${COLUMNS} FROM (SELECT * FROM ${ident(db)}.${ident(table)} FINAL
       WHERE pipeline = {p:String} AND device_id = {d:String} AND detector = {det:String} AND key = {k:String}
         AND first_ts <= fromUnixTimestamp64Milli({until:Int64}, 'UTC') AND last_ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC'))
     ORDER BY first_ts LIMIT 500`,
    { p: a.pipeline, d: a.device_id, det: a.detector, k: a.key, since: a.first_ts, until: a.last_ts },
  );
  return rows.map(view);
}

export interface DeviceFacts {
  device_id: string;
  device_classes: string[];
  first_finding: number | null;
  last_finding: number | null;
  findings: number;
  by_detector: Array<{ detector: string; findings: number; max_severity: string }>;
  /** Firmware versions the firmware detector saw change, oldest first. */
  firmware_changes: Array<{ ts: number; from: string; to: string }>;
  /** Peers and ports the device's connection findings named. */
  peers: Array<{ dst_ip: string; dst_port: number | null; findings: number }>;
}

export async function deviceFacts(client: ClickHouseClient, db: string, table: string, device: string): Promise<DeviceFacts> {
  const t = `${ident(db)}.${ident(table)}`;
  const [sum] = await queryRows<{ classes: string[]; first: string | null; last: string | null; n: string }>(
    client,
    `SELECT groupUniqArray(device_class) AS classes, if(count() = 0, NULL, toUnixTimestamp64Milli(min(first_ts))) AS first, if(count() = 0, NULL, toUnixTimestamp64Milli(max(last_ts))) AS last, count() AS n FROM ${t} FINAL WHERE device_id = {d:String}`,
    { d: device },
  );
  const by = await queryRows<{ detector: string; findings: string; max_severity: string }>(
    client,
    `SELECT detector, count() AS findings, toString(max(severity)) AS max_severity FROM ${t} FINAL WHERE device_id = {d:String} GROUP BY detector ORDER BY max(severity) DESC, findings DESC`,
    { d: device },
  );
  const fw = await queryRows<{ ts: string; observed: string; expected: string }>(
    client,
    `SELECT toUnixTimestamp64Milli(first_ts) AS ts, observed, expected FROM ${t} FINAL WHERE device_id = {d:String} AND detector LIKE 'firmware%' ORDER BY first_ts LIMIT 100`,
    { d: device },
  );
  const peers = await queryRows<{ dst_ip: string; dst_port: number | null; findings: string }>(
    client,
    `SELECT dst_ip, dst_port, count() AS findings FROM ${t} FINAL WHERE device_id = {d:String} AND dst_ip != '' GROUP BY dst_ip, dst_port ORDER BY findings DESC LIMIT 50`,
    { d: device },
  );
  return {
    device_id: device,
    device_classes: sum?.classes ?? [],
    first_finding: sum?.first == null ? null : Number(sum.first),
    last_finding: sum?.last == null ? null : Number(sum.last),
    findings: Number(sum?.n ?? 0),
    by_detector: by.map((r) => ({ ...r, findings: Number(r.findings) })),
    firmware_changes: fw.map((r) => ({ ts: Number(r.ts), from: r.expected, to: r.observed })),
    peers: peers.map((r) => ({ ...r, findings: Number(r.findings) })),
  };
}
