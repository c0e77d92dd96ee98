/**
 * Query parameters of the HTTP API, checked before anything reaches ClickHouse: a bad value is a
 * 400 that names the parameter and says what it takes (limit=-1 used to come back as ClickHouse's
 * own error text).
 */
import type { FindingQuery } from '../storage/findings.js';

export class ParamError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_LIMIT = 5_000;
/** Longest time range one request may scan. */
const MAX_RANGE_MS = 31 * 86_400_000;
const DEFAULT_RANGE_MS = 7 * 86_400_000;

function int(p: URLSearchParams, name: string, min: number, max: number, def: number): number {
  const raw = p.get(name);
  if (raw === null) return def;
  if (!/^[0-9]{1,10}$/.test(raw)) throw new ParamError(name, `${name} must be a whole number between ${min} and ${max}, got ${JSON.stringify(raw.slice(0, 40))}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ParamError(name, `${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function time(p: URLSearchParams, name: string, def: number): number {
  const raw = p.get(name);
  if (raw === null) return def;
  const t = /^[0-9]{1,13}$/.test(raw) ? Number(raw) : /^\d{4}-\d{2}-\d{2}/.test(raw) && raw.length <= 40 ? Date.parse(raw) : NaN;
  if (!Number.isFinite(t)) throw new ParamError(name, `${name} must be an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(raw.slice(0, 40))}`);
  return t;
}

const KNOWN = new Set(['limit', 'device_id', 'min_score', 'since', 'until', 'pipeline']);

/** /api/findings?device_id=&pipeline=&min_score=&since=&until=&limit= → a bounded FindingQuery. */
export function findingsQuery(p: URLSearchParams, now: number = Date.now()): FindingQuery {
  for (const k of p.keys()) if (!KNOWN.has(k)) throw new ParamError(k, `unknown parameter ${JSON.stringify(k.slice(0, 40))}; known: ${[...KNOWN].join(', ')}`);
  const q: FindingQuery = { limit: int(p, 'limit', 1, MAX_LIMIT, 100) };
  const device = p.get('device_id');
  if (device !== null) {
    if (device.length === 0 || device.length > 256) throw new ParamError('device_id', 'device_id must be 1 to 256 characters');
    q.device_id = device;
  }
  const pipeline = p.get('pipeline');
  if (pipeline !== null) {
    if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(pipeline)) throw new ParamError('pipeline', 'pipeline must be a pipeline name');
    q.pipeline = pipeline;
  }
  const minScore = p.get('min_score');
  if (minScore !== null) {
    const s = /^(?:0|1|0?\.[0-9]{1,6}|1\.0{1,6})$/.test(minScore) ? Number(minScore) : NaN;
    if (!Number.isFinite(s)) throw new ParamError('min_score', `min_score must be a number between 0 and 1, got ${JSON.stringify(minScore.slice(0, 40))}`);
    q.min_score = s;
  }
  const until = time(p, 'until', now);
  const since = time(p, 'since', until - DEFAULT_RANGE_MS);
  if (since > until) throw new ParamError('since', 'since must not be after until');
  if (until - since > MAX_RANGE_MS) throw new ParamError('since', `a request covers at most ${MAX_RANGE_MS / 86_400_000} days (since … until); page through longer ranges`);
  q.since = since;
  q.until = until;
  return q;
}
