/**
 * Maintenance windows: spans of event time during which a device's (or a class's, or a whole
 * pipeline's) findings are stored as usual but not alerted. Two sources:
 *
 * - scheduled, in the pipeline file (`maintenance:`): one-off (start, end) or recurring (a cron
 *   schedule, a duration and a time zone: "every Sunday 02:00 Europe/Berlin for 2h");
 * - ad hoc, from `m2m-sentinel maintenance add` or the HTTP API, kept in a compacted Kafka topic
 *   (maintenance-topic.ts) that every instance reads, so all replicas agree.
 *
 * Whether a finding falls in a window is decided by its event time (last_ts), never the clock,
 * so a replay holds the same alerts. Pure functions over plain data.
 */
import { randomBytes } from 'node:crypto';
import { Cron } from 'croner';
import type { MaintenanceWindowConfig } from '../config/types.js';

/** An ad hoc window as stored on the maintenance topic (times in epoch ms). */
export interface AdhocWindow {
  id: string;
  /** Absent: every pipeline. */
  pipeline?: string;
  devices?: string[];
  classes?: string[];
  start_ms: number;
  end_ms: number;
  reason?: string;
  created_by?: string;
  created_at_ms?: number;
}

/** What a window is matched against: the finding's device, class and event time. */
export interface Subject {
  pipeline: string;
  device_id: string;
  device_class: string;
  ts: number;
}

function inScope(w: { devices?: string[]; classes?: string[] }, s: Subject): boolean {
  // Devices and classes widen each other: a window for [plc] plus [meter-7] covers both.
  if (!w.devices?.length && !w.classes?.length) return true;
  return (w.devices?.includes(s.device_id) ?? false) || (w.classes?.includes(s.device_class) ?? false);
}

const crons = new Map<string, Cron>();

/** One parsed schedule per (expression, zone): parsing is the costly part. */
function cronOf(schedule: string, timezone = 'UTC'): Cron {
  const k = `${timezone}\u0000${schedule}`;
  let c = crons.get(k);
  if (!c) {
    c = new Cron(schedule, { timezone, paused: true, mode: '5-part' });
    crons.set(k, c);
  }
  return c;
}

/** Whether event time `ts` is inside a window of the pipeline file. */
export function scheduledCovers(w: MaintenanceWindowConfig, ts: number): boolean {
  if (w.start_ms !== undefined && w.end_ms !== undefined) return ts >= w.start_ms && ts < w.end_ms;
  if (w.schedule === undefined || w.duration_ms === undefined) return false;
  // A recurring window covers ts when one of its starts lies in (ts − duration, ts]: the first
  // start after ts − duration, if it is not after ts.
  const next = cronOf(w.schedule, w.timezone).nextRun(new Date(ts - w.duration_ms));
  return next !== null && next.getTime() <= ts;
}

/** The name of the first window (scheduled, then ad hoc) that holds this subject's alerts. */
export function maintenanceFor(s: Subject, scheduled: readonly MaintenanceWindowConfig[] | undefined, adhoc: Iterable<AdhocWindow> = []): string | undefined {
  for (const w of scheduled ?? []) if (inScope(w, s) && scheduledCovers(w, s.ts)) return w.name;
  for (const w of adhoc) {
    if (w.pipeline !== undefined && w.pipeline !== s.pipeline) continue;
    if (s.ts >= w.start_ms && s.ts < w.end_ms && inScope(w, s)) return w.id;
  }
  return undefined;
}

/** The ad hoc windows an instance knows, by id (the topic is compacted by id; null deletes). */
export class MaintenanceBook {
  private readonly windows = new Map<string, AdhocWindow>();

  apply(id: string, w: AdhocWindow | null): void {
    if (w === null) this.windows.delete(id);
    else this.windows.set(id, w);
  }

  all(): AdhocWindow[] {
    return [...this.windows.values()].sort((a, b) => a.start_ms - b.start_ms || (a.id < b.id ? -1 : 1));
  }

  values(): Iterable<AdhocWindow> {
    return this.windows.values();
  }
}

/** What the CLI and the HTTP API ask for; times in epoch ms. */
export interface WindowRequest {
  id?: string;
  devices?: string[];
  classes?: string[];
  pipeline?: string;
  start_ms?: number;
  end_ms?: number;
  /** Length from the start, instead of end_ms. */
  for_ms?: number;
  reason?: string;
  /** Needed to ask for a window over every device (so that forgetting --device is not one). */
  all_devices?: boolean;
}

export const WINDOW_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The window a request makes (start defaults to now), or why it is refused. */
export function makeWindow(r: WindowRequest, now: number, user: string): AdhocWindow | string {
  if (!r.devices?.length && !r.classes?.length && !r.all_devices) return 'name the devices in scope (devices, classes), or all devices explicitly';
  if (r.for_ms !== undefined && r.end_ms !== undefined) return 'give an end or a length, not both';
  if (r.for_ms === undefined && r.end_ms === undefined) return 'say when the window ends: a length (2h) or an end time';
  const start = r.start_ms ?? now;
  const end = r.end_ms ?? start + r.for_ms!;
  if (!(end > start)) return 'the window ends before it starts';
  const id = r.id ?? `mw-${new Date(now).toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
  if (!WINDOW_ID.test(id)) return `an id is letters, digits, ".", "_", ":" or "-" (at most 128), got ${JSON.stringify(id.slice(0, 140))}`;
  const w: AdhocWindow = { id, start_ms: start, end_ms: end, created_by: user, created_at_ms: now };
  if (r.pipeline) w.pipeline = r.pipeline;
  if (r.devices?.length) w.devices = [...new Set(r.devices)];
  if (r.classes?.length) w.classes = [...new Set(r.classes)];
  if (r.reason) w.reason = r.reason.slice(0, 500);
  return w;
}
