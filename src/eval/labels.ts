/**
 * Ground-truth labels for the backtest: the simulator's labels file, a plain JSON array of
 * incidents, or NDJSON with one incident per line (how labeled datasets from elsewhere usually
 * arrive). Only device_id, kind, start and end are required.
 */
import { readFile } from 'node:fs/promises';
import { parseTimestamp } from '../events/decode.js';

export interface Incident {
  id: string;
  device_id: string;
  kind: string;
  /** Epoch ms. */
  start: number;
  end: number;
  detail?: Record<string, unknown>;
}

export interface BenignWindow {
  id: string;
  kind: string;
  start: number;
  end: number;
  devices?: string[];
}

export interface Labels {
  incidents: Incident[];
  benign: BenignWindow[];
  /** Device count from the labels file, when it says (used for device-days when no events say otherwise). */
  devices?: number;
  start?: number;
  end?: number;
}

export class LabelsError extends Error {}

function toIncident(o: unknown, where: string, i: number): Incident {
  if (!o || typeof o !== 'object') throw new LabelsError(`${where}: incident ${i + 1} is not an object`);
  const r = o as Record<string, unknown>;
  const device = r.device_id ?? r.device;
  if (typeof device !== 'string' || !device) throw new LabelsError(`${where}: incident ${i + 1} has no device_id`);
  const kind = r.kind ?? r.label ?? r.type;
  if (typeof kind !== 'string' || !kind) throw new LabelsError(`${where}: incident ${i + 1} has no kind`);
  const start = parseTimestamp(r.start);
  const end = r.end === undefined || r.end === null ? start : parseTimestamp(r.end);
  if (!Number.isFinite(start)) throw new LabelsError(`${where}: incident ${i + 1} has no valid start (${JSON.stringify(r.start)})`);
  if (!Number.isFinite(end) || end < start) throw new LabelsError(`${where}: incident ${i + 1} has an end before its start or unreadable`);
  const inc: Incident = { id: typeof r.id === 'string' ? r.id : `label-${i + 1}`, device_id: device, kind, start, end };
  if (r.detail && typeof r.detail === 'object') inc.detail = r.detail as Record<string, unknown>;
  return inc;
}

export function parseLabels(text: string, where = 'labels'): Labels {
  const trimmed = text.trim();
  let doc: unknown;
  try {
    doc = JSON.parse(trimmed);
  } catch {
    // NDJSON: one incident per line.
    const incidents = trimmed
      .split('\n')
      .filter((l) => l.trim())
      .map((l, i) => {
        try {
          return toIncident(JSON.parse(l), where, i);
        } catch (e) {
          if (e instanceof LabelsError) throw e;
          throw new LabelsError(`${where}:${i + 1}: not valid JSON`);
        }
      });
    return { incidents, benign: [] };
  }
  if (Array.isArray(doc)) return { incidents: doc.map((o, i) => toIncident(o, where, i)), benign: [] };
  if (doc && typeof doc === 'object' && Array.isArray((doc as Record<string, unknown>).incidents)) {
    const d = doc as Record<string, unknown>;
    const incidents = (d.incidents as unknown[]).map((o, i) => toIncident(o, where, i));
    const benign: BenignWindow[] = Array.isArray(d.benign)
      ? (d.benign as Array<Record<string, unknown>>).map((b, i) => {
          const w: BenignWindow = { id: String(b.id ?? `benign-${i + 1}`), kind: String(b.kind ?? 'benign'), start: parseTimestamp(b.start), end: parseTimestamp(b.end) };
          if (Array.isArray(b.devices)) w.devices = b.devices.map(String);
          return w;
        })
      : [];
    const out: Labels = { incidents, benign };
    if (typeof d.devices === 'number') out.devices = d.devices;
    const s = parseTimestamp(d.start);
    const e = parseTimestamp(d.end);
    if (Number.isFinite(s)) out.start = s;
    if (Number.isFinite(e)) out.end = e;
    return out;
  }
  throw new LabelsError(`${where}: expected a labels object with "incidents", a JSON array, or NDJSON lines`);
}

export async function loadLabels(file: string): Promise<Labels> {
  return parseLabels(await readFile(file, 'utf8'), file);
}
