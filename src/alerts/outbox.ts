/**
 * The alert outbox, in one place: which topic a pipeline's alerts go to, the record its
 * producers write (the runner's checkpoint transactions, the console's analyst actions) and what
 * its consumer (delivery.ts, one group per route) reads back. Alerts are produced here before
 * any channel sees them, so a channel that is down only delays delivery.
 *
 * It depends on nothing above the pipeline configuration, so config validation (feedback loops
 * between pipelines) asks it the same question the runtime does.
 */
import type { Message } from 'kafkajs';
import type { AlertRouteConfig } from '../config/types.js';

/** Where alerts go when a pipeline has no kafka route. */
export const DEFAULT_OUTBOX_TOPIC = 'm2m.alerts';

/** The outbox topic of a pipeline's routes: its kafka route's topic (at most one), else the default. */
function outboxTopicOf(routes: ReadonlyArray<Pick<AlertRouteConfig, 'type' | 'options'>>): string {
  const k = routes.find((r) => r.type === 'kafka');
  return k ? String(k.options.topic) : DEFAULT_OUTBOX_TOPIC;
}

export const outboxTopic = (cfg: { alerts: { routes: ReadonlyArray<Pick<AlertRouteConfig, 'type' | 'options'>> } }): string => outboxTopicOf(cfg.alerts.routes);

/** Headers of an outbox record. */
export const OUTBOX_HEADER = {
  /** Names this change of the alert: receivers deduplicate on it (also sent by the webhook channel). */
  alertId: 'x-m2m-alert-id',
  /** Names the alert (OCSF finding_info.uid) across its changes. */
  alert: 'x-m2m-alert',
  /** The pipeline that wrote it: the routes of several pipelines may share one outbox topic. */
  pipeline: 'x-m2m-pipeline',
  /** On a record dead-lettered by a route: which route refused it. */
  route: 'x-m2m-route',
} as const;

/** The fields of an OCSF Detection Finding the outbox itself reads (alerts/ocsf.ts has the whole document). */
export interface OutboxAlert {
  metadata: { uid: string };
  finding_info: { uid: string };
  device: { uid: string };
}

/** The record of an alert document: keyed by device (one partition per device, so its alerts stay in order). */
export function outboxMessage(doc: OutboxAlert, pipeline: string): Message {
  return {
    key: doc.device.uid,
    value: JSON.stringify(doc),
    headers: { [OUTBOX_HEADER.alertId]: doc.metadata.uid, [OUTBOX_HEADER.alert]: doc.finding_info.uid, [OUTBOX_HEADER.pipeline]: pipeline },
  };
}

/** The pipeline that wrote a record, from its header. */
export function outboxPipeline(m: { headers?: Record<string, unknown> | undefined }): string | undefined {
  return (m.headers?.[OUTBOX_HEADER.pipeline] as Buffer | string | undefined)?.toString();
}

export type OutboxRecord<T extends OutboxAlert> = { ok: true; alert: T } | { ok: false; reason: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reading one alert back (the consumer's side, delivery.ts). A record that is not an alert (a
 * forged or truncated write, a producer bug, another tool's message on the topic) must not stop a
 * route: before this, JSON.parse threw inside the consumer's batch, kafkajs retried that batch
 * forever, and every later alert of the route waited behind it. Such a record is dead-lettered
 * with its reason instead. The fields every channel reads are checked; `T` is the document type
 * the caller renders (alerts/ocsf.ts's OcsfDetectionFinding).
 */
export function readOutboxRecord<T extends OutboxAlert>(value: Buffer | null): OutboxRecord<T> {
  if (!value || value.length === 0) return { ok: false, reason: 'empty record' };
  let doc: unknown;
  try {
    doc = JSON.parse(value.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `not JSON: ${(e as Error).message.slice(0, 200)}` };
  }
  if (!isObj(doc)) return { ok: false, reason: 'not a JSON object' };
  if (doc.class_uid !== 2004) return { ok: false, reason: 'not an OCSF Detection Finding (class_uid is not 2004)' };
  const meta = doc.metadata;
  const info = doc.finding_info;
  const dev = doc.device;
  if (!isObj(meta) || typeof meta.uid !== 'string') return { ok: false, reason: 'metadata.uid missing' };
  if (typeof doc.severity_id !== 'number' || typeof doc.time !== 'number') return { ok: false, reason: 'severity_id or time missing' };
  if (!isObj(info) || typeof info.uid !== 'string' || !isObj(info.analytic) || typeof info.analytic.name !== 'string' || !Array.isArray(info.attacks)) {
    return { ok: false, reason: 'finding_info incomplete' };
  }
  if (!isObj(dev) || typeof dev.uid !== 'string') return { ok: false, reason: 'device.uid missing' };
  return { ok: true, alert: doc as unknown as T };
}
