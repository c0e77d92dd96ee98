/**
 * Decode and validate one raw message into an event. Bad input is a value, not an exception:
 * the caller routes a DecodeError to the dead-letter topic with the original bytes.
 */
import { isIP } from 'node:net';
import type { MappingConfig } from '../config/types.js';
import type { AuthOutcome, ConnectionEvent, M2MEvent, TelemetryEvent } from './types.js';
import { UNKNOWN_CLASS } from './types.js';

export type DecodeErrorCode =
  | 'oversized'
  | 'bad_json'
  | 'not_object'
  | 'missing_field'
  | 'bad_field'
  | 'bad_timestamp'
  | 'unknown_type';

export interface DecodeError {
  code: DecodeErrorCode;
  /** The offending field, when there is one. */
  field?: string;
  message: string;
}

export type DecodeResult = { ok: true; event: M2MEvent } | { ok: false; error: DecodeError };

export interface DecodeOptions {
  maxBytes?: number;
  /** Event times outside [minTs, maxTs] are absurd (clock not set, wrong unit). */
  minTs?: number;
  maxTs?: number;
  mapping?: MappingConfig;
}

export const DEFAULT_MAX_BYTES = 64 * 1024;
export const DEFAULT_MIN_TS = Date.UTC(2000, 0, 1);
export const DEFAULT_MAX_TS = Date.UTC(2100, 0, 1);
const MAX_ID_LEN = 256;

function fail(code: DecodeErrorCode, message: string, field?: string): DecodeResult {
  return { ok: false, error: field === undefined ? { code, message } : { code, field, message } };
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function readPath(obj: Record<string, unknown>, path: string): unknown {
  const p = path.startsWith('$.') ? path.slice(2) : path;
  if (!p.includes('.')) return obj[p];
  let cur: unknown = obj;
  for (const part of p.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Parse ISO-8601 or epoch seconds/milliseconds into epoch ms, or NaN. */
export function parseTimestamp(v: unknown, format: 'iso' | 'epoch_s' | 'epoch_ms' | 'auto' = 'auto'): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return NaN;
    if (format === 'epoch_s') return v * 1000;
    if (format === 'epoch_ms') return v;
    if (format === 'iso') return NaN;
    // auto: anything below 1e11 is seconds (1e11 s is year 5138; 1e11 ms is 1973).
    return Math.abs(v) < 1e11 ? v * 1000 : v;
  }
  if (typeof v === 'string') {
    if (format === 'epoch_s' || format === 'epoch_ms' || (format === 'auto' && /^\d+(\.\d+)?$/.test(v))) {
      return parseTimestamp(Number(v), format === 'auto' ? 'auto' : format);
    }
    // Require a date; Date.parse alone accepts too much ("1", "March").
    if (!/^\d{4}-\d{2}-\d{2}/.test(v)) return NaN;
    return Date.parse(v);
  }
  return NaN;
}

function applyMapping(raw: Record<string, unknown>, m: MappingConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const [k, v] of Object.entries(m.constants)) if (out[k] === undefined) out[k] = v;
  for (const [field, rule] of Object.entries(m.fields)) {
    let v = readPath(raw, rule.path);
    if (typeof v === 'number' && (rule.scale !== undefined || rule.offset !== undefined)) {
      v = v * (rule.scale ?? 1) + (rule.offset ?? 0);
    }
    if (field === 'ts' && v !== undefined) v = parseTimestamp(v, rule.format ?? 'auto');
    out[field] = v;
  }
  const mm = m.metrics;
  if (Object.keys(mm).length > 0 && out.metrics && typeof out.metrics === 'object' && !Array.isArray(out.metrics)) {
    const metrics: Record<string, unknown> = {};
    for (const [name, val] of Object.entries(out.metrics as Record<string, unknown>)) {
      const r = mm[name];
      if (!r) {
        metrics[name] = val;
        continue;
      }
      metrics[r.rename ?? name] = typeof val === 'number' ? val * (r.scale ?? 1) + (r.offset ?? 0) : val;
    }
    out.metrics = metrics;
  }
  return out;
}

function str(o: Record<string, unknown>, f: string, required: boolean, maxLen = MAX_ID_LEN): string | undefined | DecodeResult {
  const v = o[f];
  if (v === undefined || v === null) return required ? fail('missing_field', `required field "${f}" is missing`, f) : undefined;
  if (typeof v !== 'string') return fail('bad_field', `"${f}" must be a string, got ${typeName(v)}`, f);
  if (required && v.length === 0) return fail('bad_field', `"${f}" must not be empty`, f);
  if (v.length > maxLen) return fail('bad_field', `"${f}" is longer than ${maxLen} characters`, f);
  return v;
}

function num(o: Record<string, unknown>, f: string, min: number, max: number, integer = false): number | undefined | DecodeResult {
  const v = o[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) return fail('bad_field', `"${f}" must be a finite number, got ${typeName(v)}`, f);
  if (integer && !Number.isInteger(v)) return fail('bad_field', `"${f}" must be an integer, got ${v}`, f);
  if (v < min || v > max) return fail('bad_field', `"${f}" must be between ${min} and ${max}, got ${v}`, f);
  return v;
}

const isErr = (v: unknown): v is DecodeResult => typeof v === 'object' && v !== null && 'ok' in v;

export function decodeEvent(input: Buffer | string, opts: DecodeOptions = {}): DecodeResult {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) return fail('oversized', `message is ${size} bytes, over the ${maxBytes}-byte limit`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof input === 'string' ? input : input.toString('utf8'));
  } catch (e) {
    return fail('bad_json', `not valid JSON: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return fail('not_object', `expected a JSON object, got ${typeName(parsed)}`);
  }
  const o = opts.mapping ? applyMapping(parsed as Record<string, unknown>, opts.mapping) : (parsed as Record<string, unknown>);
  return validateEvent(o, opts);
}

/** Validate an already-parsed (and mapped) object: shared by Kafka decode and file inputs. */
export function validateEvent(o: Record<string, unknown>, opts: DecodeOptions = {}): DecodeResult {
  const type = o.type;
  if (type === undefined) return fail('missing_field', 'required field "type" is missing', 'type');
  if (type !== 'telemetry' && type !== 'connection') {
    return fail('unknown_type', `"type" must be "telemetry" or "connection", got ${JSON.stringify(type)}`, 'type');
  }
  const device_id = str(o, 'device_id', true);
  if (isErr(device_id)) return device_id;
  const cls = str(o, 'device_class', false);
  if (isErr(cls)) return cls;
  if (o.ts === undefined || o.ts === null) return fail('missing_field', 'required field "ts" is missing', 'ts');
  const ts = typeof o.ts === 'number' && opts.mapping?.fields.ts ? o.ts : parseTimestamp(o.ts);
  if (!Number.isFinite(ts)) return fail('bad_timestamp', `"ts" is not an ISO-8601 time or epoch number: ${JSON.stringify(o.ts)}`, 'ts');
  const minTs = opts.minTs ?? DEFAULT_MIN_TS;
  const maxTs = opts.maxTs ?? DEFAULT_MAX_TS;
  if (ts < minTs || ts > maxTs) {
    return fail('bad_timestamp', `"ts" ${new Date(ts).toISOString()} is outside the plausible range ${new Date(minTs).toISOString()} – ${new Date(maxTs).toISOString()}`, 'ts');
  }
  const firmware = str(o, 'firmware', false, 64);
  if (isErr(firmware)) return firmware;
  const device_class = cls ?? UNKNOWN_CLASS;

  if (type === 'telemetry') {
    const m = o.metrics;
    if (m === undefined || m === null) return fail('missing_field', 'required field "metrics" is missing', 'metrics');
    if (typeof m !== 'object' || Array.isArray(m)) return fail('bad_field', `"metrics" must be an object of numbers, got ${typeName(m)}`, 'metrics');
    const metrics: Record<string, number> = {};
    let n = 0;
    for (const k in m as Record<string, unknown>) {
      const v = (m as Record<string, unknown>)[k];
      if (v === null || v === undefined) continue; // a missing reading, not an error
      if (typeof v === 'boolean') metrics[k] = v ? 1 : 0;
      else if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
      else return fail('bad_field', `metric "${k}" must be a finite number, got ${typeName(v)}`, `metrics.${k}`);
      n++;
    }
    if (n === 0) return fail('bad_field', '"metrics" holds no numeric reading', 'metrics');
    const seq = num(o, 'seq', 0, Number.MAX_SAFE_INTEGER, true);
    if (isErr(seq)) return seq;
    const ev: TelemetryEvent = { type, device_id: device_id!, device_class, ts, metrics };
    if (firmware !== undefined) ev.firmware = firmware;
    if (seq !== undefined) ev.seq = seq;
    return { ok: true, event: ev };
  }

  const src_ip = str(o, 'src_ip', true, 64);
  if (isErr(src_ip)) return src_ip;
  if (!isIP(src_ip!)) return fail('bad_field', `"src_ip" is not an IP address: ${JSON.stringify(src_ip)}`, 'src_ip');
  const dst_ip = str(o, 'dst_ip', true, 64);
  if (isErr(dst_ip)) return dst_ip;
  if (!isIP(dst_ip!)) return fail('bad_field', `"dst_ip" is not an IP address: ${JSON.stringify(dst_ip)}`, 'dst_ip');
  if (o.dst_port === undefined || o.dst_port === null) return fail('missing_field', 'required field "dst_port" is missing', 'dst_port');
  const dst_port = num(o, 'dst_port', 0, 65535, true);
  if (isErr(dst_port)) return dst_port;
  const protocol = str(o, 'protocol', true, 32);
  if (isErr(protocol)) return protocol;
  const ev: ConnectionEvent = {
    type,
    device_id: device_id!,
    device_class,
    ts,
    src_ip: src_ip!,
    dst_ip: dst_ip!,
    dst_port: dst_port!,
    protocol: protocol!.toLowerCase(),
  };
  const app = str(o, 'app_protocol', false, 64);
  if (isErr(app)) return app;
  if (app !== undefined) ev.app_protocol = app.toLowerCase();
  for (const f of ['bytes_out', 'bytes_in', 'duration_ms'] as const) {
    const v = num(o, f, 0, Number.MAX_SAFE_INTEGER);
    if (isErr(v)) return v;
    if (v !== undefined) ev[f] = v;
  }
  if (o.tls !== undefined && o.tls !== null) {
    if (typeof o.tls !== 'boolean') return fail('bad_field', `"tls" must be a boolean, got ${typeName(o.tls)}`, 'tls');
    ev.tls = o.tls;
  }
  if (o.auth !== undefined && o.auth !== null) {
    if (o.auth !== 'ok' && o.auth !== 'failed' && o.auth !== 'none') {
      return fail('bad_field', `"auth" must be one of ok, failed, none; got ${JSON.stringify(o.auth)}`, 'auth');
    }
    ev.auth = o.auth as AuthOutcome;
  }
  if (firmware !== undefined) ev.firmware = firmware;
  return { ok: true, event: ev };
}
