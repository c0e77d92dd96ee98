/**
 * An analyst's change to an alert: acknowledge, resolve (with a reason) or comment. Each one is
 * published as an OCSF Detection Finding update on the alert's outbox topic, so every route (the
 * SIEM, the ticketing webhook) sees the same state as the console, and is then recorded in the
 * alert's audit trail in ClickHouse. Publishing first means a change the SOC's tools never
 * received is never shown as done; the id of the change (metadata.uid, x-m2m-alert-id) lets a
 * receiver drop a repeat if the record step is retried.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import type { AlertRecord, Resolution } from '../alerts/record.js';
import { eventRow, toOcsf, type AlertChangeInfo, type OcsfDetectionFinding } from '../alerts/ocsf.js';
import type { Finding } from '../detectors/types.js';
import { insertAlertEvents, type AlertAction } from '../storage/alerts.js';
import { getAlert, type AlertView } from '../storage/alert-queries.js';
import { queryRows, ident } from '../storage/clickhouse.js';
import { retry } from '../lib/retry.js';
import { InputError } from './api-params.js';

export interface ActionDeps {
  client: ClickHouseClient;
  database: string;
  findingsTable: string;
  productVersion: string;
  /** Detector kind of an instance id in a pipeline (OCSF analytic type). */
  detectorKind(pipeline: string, detector: string): string | undefined;
  /** Produce one alert document to the pipeline's outbox (resolves once the broker has it). */
  publish(pipeline: string, doc: OcsfDetectionFinding): Promise<void>;
}

export type AnalystAction = 'acknowledge' | 'resolve' | 'comment';

const REASON_TEXT: Record<Resolution, string> = { true_positive: 'true positive', benign: 'benign', false_positive: 'false positive' };

function recordOf(a: AlertView): AlertRecord {
  return {
    alert_id: a.alert_id, pipeline: a.pipeline, device_id: a.device_id, device_class: a.device_class, detector: a.detector, key: a.key,
    first_ts: a.first_ts, last_ts: a.last_ts, count: a.count, findings: a.findings, severity: a.severity, initial_severity: a.initial_severity,
    score: a.score, finding_id: a.finding_id, seq: a.seq, closed_ts: a.closed_ts,
  };
}

async function latestFinding(deps: ActionDeps, a: AlertView): Promise<Finding> {
  const [r] = await queryRows<Record<string, unknown>>(
    deps.client,
    `SELECT finding_id, pipeline, detector, device_id, device_class, key, toUnixTimestamp64Milli(first_ts) AS first_ts, toUnixTimestamp64Milli(last_ts) AS last_ts,
       count, score, toString(severity) AS severity, observed, expected, explanation, evidence, mitre, version
     FROM ${ident(deps.database)}.${ident(deps.findingsTable)} FINAL WHERE finding_id = {id:String} LIMIT 1`,
    { id: a.finding_id },
  );
  if (!r) {
    // The finding expired before its alert (different retention): state what the alert knows.
    return { finding_id: a.finding_id, pipeline: a.pipeline, detector: a.detector, device_id: a.device_id, device_class: a.device_class, key: a.key, first_ts: a.first_ts, last_ts: a.last_ts, count: a.count, score: a.score, severity: a.severity, observed: '', expected: '', explanation: a.explanation, evidence: {}, mitre: [], version: 1 };
  }
  let evidence: Record<string, unknown> = {};
  try {
    evidence = JSON.parse(String(r.evidence)) as Record<string, unknown>;
  } catch {
    // keep the document valid without it
  }
  return { ...(r as unknown as Finding), first_ts: Number(r.first_ts), last_ts: Number(r.last_ts), count: Number(r.count), version: Number(r.version), evidence };
}

export async function applyAction(deps: ActionDeps, alertId: string, action: AnalystAction, actor: string, input: { comment?: string; reason?: Resolution }): Promise<{ alert: AlertView; doc: OcsfDetectionFinding }> {
  const a = await getAlert(deps.client, deps.database, alertId);
  if (!a) throw new InputError('alert', `no alert ${JSON.stringify(alertId.slice(0, 64))}`, 404);
  // Which changes make sense from which state; a refused one is a 409 that says why.
  if (action === 'acknowledge' && a.state !== 'new') throw new InputError('state', `the alert is ${a.state} already`, 409);
  if (action === 'resolve' && a.state === 'resolved' && a.resolution !== '') throw new InputError('state', `the alert is resolved already (${a.resolution.replace(/_/g, ' ')})`, 409);
  const finding = await latestFinding(deps, a);
  const now = Date.now();
  const uid = `${a.alert_id}.${a.seq}.${action}.${now.toString(36)}${randomBytes(3).toString('hex')}`;
  const base = { seq: a.seq, time: now, actor, alertable: false, uid, ...(input.comment ? { comment: input.comment } : {}) };
  const change: AlertChangeInfo =
    action === 'acknowledge'
      ? { ...base, activity: 'update', status: 'acknowledged', detail: `Acknowledged by ${actor}` }
      : action === 'resolve'
        ? { ...base, activity: 'close', status: 'resolved', resolution: input.reason!, detail: `Resolved by ${actor} as ${REASON_TEXT[input.reason!]}` }
        : { ...base, activity: 'update', status: a.state, detail: `Comment by ${actor}` };
  const kind = deps.detectorKind(a.pipeline, a.detector);
  const doc = toOcsf({ alert: recordOf(a), finding, change, productVersion: deps.productVersion, ...(kind ? { detectorKind: kind } : {}) });
  await deps.publish(a.pipeline, doc);
  const row = eventRow(action as AlertAction, doc, a.severity);
  // The comment action keeps the state: its row records no status change.
  if (action === 'comment') row.status = '';
  await retry(() => insertAlertEvents(deps.client, deps.database, [row]).then(() => undefined), { onError: (_e, n) => n < 5 });
  const after = await getAlert(deps.client, deps.database, alertId);
  return { alert: after ?? a, doc };
}
