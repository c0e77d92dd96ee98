/**
 * Ad hoc maintenance windows over the analyst API (the console routes them, with roles: viewers
 * list, analysts add and remove). The same windows as `m2m-sentinel maintenance`, on the same
 * compacted topic; the service's own book answers the list without a round trip to Kafka.
 */
import type { Kafka } from 'kafkajs';
import { makeWindow, type AdhocWindow, type MaintenanceBook, type WindowRequest } from '../alerts/maintenance.js';
import { parseDuration } from '../lib/duration.js';
import { putWindow, readMaintenance, windowJson } from '../alerts/maintenance-topic.js';
import { InputError } from './api-params.js';

export interface MaintenanceApiDeps {
  kafka?: Kafka;
  /** The service's live book of windows, once it has read the topic. */
  book?: () => MaintenanceBook | undefined;
}

const names = (v: unknown, field: string): string[] | undefined => {
  if (v === undefined) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > 1000 || !list.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 256)) throw new InputError(field, `${field}: a list of names`);
  return list as string[];
};
const time = (v: unknown, field: string): number | undefined => {
  if (v === undefined) return undefined;
  const t = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new InputError(field, `${field}: an ISO-8601 time with a zone`);
  return t;
};

/** A request body → the window it asks for (InputError for anything else). */
function windowFromBody(body: Record<string, unknown>, actor: string, now: number): AdhocWindow {
  const r: WindowRequest = {};
  const devices = names(body.devices, 'devices');
  const classes = names(body.classes, 'classes');
  if (devices) r.devices = devices;
  if (classes) r.classes = classes;
  if (body.all_devices === true) r.all_devices = true;
  for (const k of ['id', 'pipeline', 'reason'] as const) {
    const v = body[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new InputError(k, `${k}: text`);
    r[k] = v;
  }
  const start = time(body.start, 'start');
  const end = time(body.end, 'end');
  if (start !== undefined) r.start_ms = start;
  if (end !== undefined) r.end_ms = end;
  if (body.for !== undefined) {
    const ms = typeof body.for === 'string' ? parseDuration(body.for) : undefined;
    if (ms === undefined || ms <= 0) throw new InputError('for', 'for: a duration such as 2h');
    r.for_ms = ms;
  }
  const w = makeWindow(r, now, actor);
  if (typeof w === 'string') throw new InputError('body', w);
  return w;
}

export function maintenanceApi(d: MaintenanceApiDeps) {
  const kafka = (): Kafka => {
    if (!d.kafka) throw new InputError('kafka', 'this service has no Kafka connection for maintenance windows', 503);
    return d.kafka;
  };
  return {
    async list(): Promise<{ items: Array<Record<string, unknown>> }> {
      const book = d.book?.();
      const all = book ? book.all() : await readMaintenance(kafka());
      return { items: all.map(windowJson) };
    },
    async add(body: Record<string, unknown>, actor: string): Promise<Record<string, unknown>> {
      const w = windowFromBody(body, actor, Date.now());
      await putWindow(kafka(), w.id, w);
      return windowJson(w);
    },
    async remove(id: string): Promise<void> {
      const book = d.book?.();
      const known = (book ? book.all() : await readMaintenance(kafka())).some((w) => w.id === id);
      if (!known) throw new InputError('id', `no maintenance window ${JSON.stringify(id.slice(0, 140))}`, 404);
      await putWindow(kafka(), id, null);
    },
  };
}
