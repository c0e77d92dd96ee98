/**
 * The analyst API's inputs, checked before anything reaches ClickHouse: a bad value is a 400
 * naming the parameter and what it takes, never a stack trace or a database error.
 */
import type { IncomingMessage } from 'node:http';
import type { Severity } from '../detectors/types.js';
import { SEVERITIES } from '../detectors/types.js';
import type { AlertCursor, AlertQuery, AlertState } from '../storage/alert-queries.js';
import type { FindingsPageQuery } from '../storage/finding-queries.js';
import { RESOLUTIONS, type Resolution } from '../alerts/record.js';

export class InputError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const MAX_PAGE = 1_000;
export const MAX_EXPORT = 10_000;
const STATES: readonly AlertState[] = ['new', 'acknowledged', 'resolved'];

const show = (s: string) => JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);

function int(p: URLSearchParams, name: string, min: number, max: number, def: number): number {
  const raw = p.get(name);
  if (raw === null || raw === '') return def;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new InputError(name, `${name} must be a whole number from ${min} to ${max}, got ${show(raw)}`);
  return Number(raw);
}

function time(p: URLSearchParams, name: string): number | undefined {
  const raw = p.get(name);
  if (raw === null || raw === '') return undefined;
  const rel = /^(\d{1,4})([mhd])$/.exec(raw);
  if (rel) return Date.now() - Number(rel[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd'];
  const t = /^\d{1,13}$/.test(raw) ? Number(raw) : raw.length <= 40 && /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isFinite(t)) throw new InputError(name, `${name} must be ISO-8601, epoch milliseconds or a duration back from now like 24h, got ${show(raw)}`);
  return t;
}

function text(p: URLSearchParams, name: string, max = 256): string | undefined {
  const raw = p.get(name);
  if (raw === null || raw === '') return undefined;
  if (raw.length > max || /[\u0000-\u001f]/.test(raw)) throw new InputError(name, `${name} must be at most ${max} printable characters`);
  return raw;
}

function oneOf<T extends string>(p: URLSearchParams, name: string, allowed: readonly T[]): T | undefined {
  const raw = p.get(name);
  if (raw === null || raw === '') return undefined;
  if (!(allowed as readonly string[]).includes(raw)) throw new InputError(name, `${name} must be one of ${allowed.join(', ')}, got ${show(raw)}`);
  return raw as T;
}

function known(p: URLSearchParams, names: readonly string[]): void {
  for (const k of p.keys()) if (!names.includes(k)) throw new InputError(k, `unknown parameter ${show(k)}; known: ${names.join(', ')}`);
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
export const encodeCursor = (c: unknown): string => b64(c);
function decodeCursor<T>(p: URLSearchParams, ok: (v: unknown) => v is T): T | undefined {
  const raw = p.get('cursor');
  if (raw === null || raw === '') return undefined;
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
    if (ok(v)) return v;
  } catch {
    // fall through to the error
  }
  throw new InputError('cursor', 'cursor must be the next_cursor of a previous page');
}

const ALERT_PARAMS = ['since', 'until', 'severity', 'device_id', 'device_class', 'detector', 'state', 'pipeline', 'q', 'sort', 'limit', 'cursor', 'format', 'fragment'];

export function alertQuery(p: URLSearchParams, maxLimit = MAX_PAGE): AlertQuery {
  known(p, ALERT_PARAMS);
  const q: AlertQuery = { limit: int(p, 'limit', 1, maxLimit, Math.min(100, maxLimit)) };
  const set = <K extends keyof AlertQuery>(k: K, v: AlertQuery[K] | undefined) => {
    if (v !== undefined) q[k] = v;
  };
  set('since', time(p, 'since'));
  set('until', time(p, 'until'));
  set('min_severity', oneOf<Severity>(p, 'severity', SEVERITIES));
  set('device_id', text(p, 'device_id'));
  set('device_class', text(p, 'device_class', 64));
  set('detector', text(p, 'detector', 64));
  set('state', oneOf(p, 'state', STATES));
  set('pipeline', text(p, 'pipeline', 64));
  set('q', text(p, 'q', 200));
  set('sort', oneOf(p, 'sort', ['severity', 'time'] as const));
  set('cursor', decodeCursor<AlertCursor>(p, (v): v is AlertCursor => Array.isArray(v) && v.length === 3 && Number.isInteger(v[0]) && Number.isFinite(v[1]) && typeof v[2] === 'string' && v[2].length <= 64));
  return q;
}

const FINDING_PARAMS = ['since', 'until', 'severity', 'device_id', 'device_class', 'detector', 'pipeline', 'q', 'limit', 'cursor', 'format', 'min_score'];

export function findingsPageQuery(p: URLSearchParams, maxLimit = MAX_PAGE): FindingsPageQuery & { min_score?: number } {
  known(p, FINDING_PARAMS);
  const q: FindingsPageQuery & { min_score?: number } = { limit: int(p, 'limit', 1, maxLimit, Math.min(100, maxLimit)) };
  const set = <K extends keyof FindingsPageQuery>(k: K, v: FindingsPageQuery[K] | undefined) => {
    if (v !== undefined) q[k] = v;
  };
  set('since', time(p, 'since'));
  set('until', time(p, 'until'));
  set('min_severity', oneOf<Severity>(p, 'severity', SEVERITIES));
  set('device_id', text(p, 'device_id'));
  set('device_class', text(p, 'device_class', 64));
  set('detector', text(p, 'detector', 64));
  set('pipeline', text(p, 'pipeline', 64));
  set('q', text(p, 'q', 200));
  set('cursor', decodeCursor<[number, string]>(p, (v): v is [number, string] => Array.isArray(v) && v.length === 2 && Number.isFinite(v[0]) && typeof v[1] === 'string' && v[1].length <= 64));
  const ms = p.get('min_score');
  if (ms !== null && ms !== '') {
    const s = Number(ms);
    if (!/^\d*\.?\d+$/.test(ms) || s > 1) throw new InputError('min_score', `min_score must be a number from 0 to 1, got ${show(ms)}`);
    q.min_score = s;
  }
  return q;
}

export const exportFormat = (p: URLSearchParams): 'csv' | 'ndjson' => oneOf(p, 'format', ['csv', 'ndjson'] as const) ?? 'csv';

/** A small JSON or form body (the console's actions). */
export async function readBody(req: IncomingMessage, maxBytes = 16 * 1024): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > maxBytes) throw new InputError('body', `request body over ${maxBytes} bytes`, 413);
    chunks.push(c);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw) return {};
  const type = String(req.headers['content-type'] ?? '');
  if (type.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new InputError('body', 'the body must be a JSON object');
}

export function comment(body: Record<string, unknown>, required: boolean): string | undefined {
  const c = body.comment;
  if (c === undefined || c === null || c === '') {
    if (required) throw new InputError('comment', 'comment is required');
    return undefined;
  }
  if (typeof c !== 'string' || c.length > 2000) throw new InputError('comment', 'comment must be text of at most 2000 characters');
  return c;
}

export function resolution(body: Record<string, unknown>): Resolution {
  const r = body.reason;
  if (typeof r !== 'string' || !(RESOLUTIONS as readonly string[]).includes(r)) throw new InputError('reason', `reason must be one of ${RESOLUTIONS.join(', ')}`);
  return r as Resolution;
}
