/**
 * Reading one alert back from the outbox topic. A record that is not an alert (a forged or
 * truncated write, a producer bug, another tool's message on the topic) must not stop a route:
 * before this, JSON.parse threw inside the consumer's batch, kafkajs retried that batch forever,
 * and every later alert of the route waited behind it. Such a record is dead-lettered with its
 * reason instead (delivery.ts).
 */
import type { OcsfDetectionFinding } from './ocsf.js';

export type OutboxRecord = { ok: true; alert: OcsfDetectionFinding } | { ok: false; reason: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse and check the fields every channel reads; anything else is refused with a reason. */
export function readOutboxRecord(value: Buffer | null): OutboxRecord {
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
  return { ok: true, alert: doc as unknown as OcsfDetectionFinding };
}
