/**
 * Decode and validate one raw message into an event. Bad input is a value, not an exception:
 * the caller routes a DecodeError to the dead-letter topic with the original bytes.
 */
import { isIP } from 'node:net';
import type { MappingConfig } from './mapping.js';
import type { AuthOutcome, ConnectionEvent, M2MEvent, TelemetryEvent } from './types.js';
import { UNKNOWN_CLASS } from './types.js';

/** Names no metric may have (see the telemetry branch of validateEvent). */
const PROTO_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

export type DecodeErrorCode =
  | 'oversized'
  | 'bad_json'
  | 'not_object'
  | 'missing_field'
  | 'bad_field'
  | 'bad_timestamp'
  | 'unknown_type'
  /** Decoded, but dated too far ahead of the stream (the engine's future gate, pipeline/time.ts). */
  | 'future_timestamp';

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
  /** Readings per telemetry event; default DEFAULT_MAX_METRICS. */
  maxMetrics?: number;
}

const DEFAULT_MAX_BYTES = 64 * 1024;
/**
 * Readings per telemetry event. Every detector runs per metric, so an event with thousands of
 * invented metrics costs thousands of detector steps (4,800 metrics: 1.8 ms an event) and as
 * many state entries: such events are dead letters, not telemetry.
 */
export const DEFAULT_MAX_METRICS = 256;
/** Longest metric name (it becomes a state key, a finding key and alert text). */
const MAX_METRIC_NAME = 128;
/** Longest excerpt of a device's value quoted in a reason (dead-letter headers, logs). */
const SHOW_MAX = 64;
const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > SHOW_MAX ? `${s.slice(0, SHOW_MAX)}… (${s.length} chars)` : s;
};
const DEFAULT_MIN_TS = Date.UTC(2000, 0, 1);
const DEFAULT_MAX_TS = Date.UTC(2100, 0, 1);
const MAX_ID_LEN = 256;

/** A time for a message; toISOString throws past ±8.64e15 ms, and this is on the path of every bad event. */
const isoOrNumber = (t: number): string => (Math.abs(t) <= 8.64e15 ? new Date(t).toISOString() : String(t));

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

const C0 = 48; // '0'

/** Two ASCII digits at i as a number, or -1. */
function d2(s: string, i: number): number {
  const a = s.charCodeAt(i) - C0;
  const b = s.charCodeAt(i + 1) - C0;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * The canonical wire form, `YYYY-MM-DDTHH:MM:SS[.fff…]Z`, without regular expressions or
 * Date.parse (together about a third of decoding time). Returns undefined for anything else,
 * which then takes the general path, so results are Date.parse's own: V8 rolls days past the
 * month's end over (Feb 30 → Mar 2) exactly as Date.UTC does, keeps the first three fraction
 * digits without rounding, and rejects hour 24 with non-zero minutes (left to Date.parse here).
 */
function parseIsoZ(s: string): number | undefined {
  const n = s.length;
  if (n < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined;
  const t = s.charCodeAt(10);
  if (t !== 84 && t !== 116) return undefined; // 'T' | 't'
  const z = s.charCodeAt(n - 1);
  if (z !== 90 && z !== 122) return undefined; // 'Z' | 'z'
  const y1 = d2(s, 0);
  const y2 = d2(s, 2);
  const mo = d2(s, 5);
  const d = d2(s, 8);
  const h = d2(s, 11);
  const mi = d2(s, 14);
  const sec = d2(s, 17);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return undefined;
  let ms = 0;
  if (n !== 20) {
    // ".f" to ".fffffffff" then Z; V8 reads the first three digits and ignores the rest.
    if (s.charCodeAt(19) !== 46 || n < 22 || n > 30) return undefined;
    let scale = 100;
    for (let i = 20; i < n - 1; i++) {
      const c = s.charCodeAt(i) - C0;
      if (c < 0 || c > 9) return undefined;
      ms += c * scale;
      scale = scale >= 10 ? scale / 10 : 0;
    }
  }
  const year = y1 * 100 + y2;
  // Date.UTC maps years 0–99 to 1900–1999; ISO strings do not. Those are absurd here anyway.
  if (year < 100) return undefined;
  return Date.UTC(year, mo - 1, d, h, mi, sec, ms);
}

/** Parse ISO-8601 or epoch seconds/milliseconds into epoch ms, or NaN. */
export function parseTimestamp(v: unknown, format: 'iso' | 'epoch_s' | 'epoch_ms' | 'auto' = 'auto'): number {
  if (typeof v === 'string' && format !== 'epoch_s' && format !== 'epoch_ms') {
    const fast = parseIsoZ(v);
    if (fast !== undefined) return fast;
  }
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

/**
 * Objects built from device data have no prototype: JSON.parse makes `"__proto__"` an ordinary
 * own key, but assigning it to a plain object (`metrics[name] = v`) sets that object's
 * prototype instead, which let a device skip the mapping's renames and scales and slip metrics
 * in through inheritance. On a null-prototype object it stays a key, and validateEvent refuses
 * it as a reserved name.
 */
const bare = (): Record<string, unknown> => Object.create(null) as Record<string, unknown>;

function applyMapping(raw: Record<string, unknown>, m: MappingConfig): Record<string, unknown> {
  const out = Object.assign(bare(), raw);
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
    const metrics = bare();
    for (const [name, val] of Object.entries(out.metrics as Record<string, unknown>)) {
      const r = Object.hasOwn(mm, name) ? mm[name] : undefined;
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

/**
 * Dotted-quad IPv4 as net.isIP accepts it (0–255, no leading zeros), by hand: most M2M traffic
 * is IPv4 and isIP's regular expression was a tenth of decoding. Only ever answers "yes";
 * everything else (IPv6, and anything this does not recognise) is left to isIP.
 */
function isIPv4Fast(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let val = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 46 : s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || val > 255) return false;
      parts++;
      val = 0;
      digits = 0;
      continue;
    }
    const x = c - C0;
    if (x < 0 || x > 9) return false;
    if (digits === 1 && val === 0) return false; // leading zero
    val = val * 10 + x;
    digits++;
    if (digits > 3) return false;
  }
  return parts === 4;
}

const isAddress = (s: string): boolean => isIPv4Fast(s) || isIP(s) !== 0;

const CONNECTION_NUMBERS = ['bytes_out', 'bytes_in', 'duration_ms'] as const;

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

/**
 * Validate an already-parsed (and mapped) object: shared by Kafka decode and file inputs. The
 * event may share its `metrics` object with `o` (not copied when every reading is a number).
 */
function validateEvent(o: Record<string, unknown>, opts: DecodeOptions = {}): DecodeResult {
  const type = o.type;
  if (type === undefined) return fail('missing_field', 'required field "type" is missing', 'type');
  if (type !== 'telemetry' && type !== 'connection') {
    return fail('unknown_type', `"type" must be "telemetry" or "connection", got ${show(type)}`, 'type');
  }
  const device_id = str(o, 'device_id', true);
  if (isErr(device_id)) return device_id;
  const cls = str(o, 'device_class', false);
  if (isErr(cls)) return cls;
  if (o.ts === undefined || o.ts === null) return fail('missing_field', 'required field "ts" is missing', 'ts');
  const ts = typeof o.ts === 'number' && opts.mapping?.fields.ts ? o.ts : parseTimestamp(o.ts);
  if (!Number.isFinite(ts)) return fail('bad_timestamp', `"ts" is not an ISO-8601 time or epoch number: ${show(o.ts)}`, 'ts');
  const minTs = opts.minTs ?? DEFAULT_MIN_TS;
  const maxTs = opts.maxTs ?? DEFAULT_MAX_TS;
  if (ts < minTs || ts > maxTs) {
    return fail('bad_timestamp', `"ts" ${isoOrNumber(ts)} is outside the plausible range ${isoOrNumber(minTs)} – ${isoOrNumber(maxTs)}`, 'ts');
  }
  const firmware = str(o, 'firmware', false, 64);
  if (isErr(firmware)) return firmware;
  const device_class = cls ?? UNKNOWN_CLASS;

  if (type === 'telemetry') {
    const m = o.metrics;
    if (m === undefined || m === null) return fail('missing_field', 'required field "metrics" is missing', 'metrics');
    if (typeof m !== 'object' || Array.isArray(m)) return fail('bad_field', `"metrics" must be an object of numbers, got ${typeName(m)}`, 'metrics');
    // Usually every reading is a finite number: then the parsed object is the event's own (it
    // came from JSON.parse or a mapping copy, nobody else holds it) and is not copied.
    const raw = m as Record<string, unknown>;
    let metrics = raw as Record<string, number>;
    let n = 0;
    let seen = 0;
    const maxMetrics = opts.maxMetrics ?? DEFAULT_MAX_METRICS;
    let copy = false;
    for (const k in raw) {
      // Detectors keep per-metric state in objects keyed by metric name: a name that is also an
      // Object.prototype property ("constructor", "__proto__") would read or replace the
      // prototype's instead of the metric's.
      if (PROTO_NAMES.has(k)) return fail('bad_field', `metric name "${k}" is reserved (a JavaScript object property); rename it in the pipeline mapping`, `metrics.${k.slice(0, MAX_METRIC_NAME)}`);
      if (k.length > MAX_METRIC_NAME || k.length === 0) return fail('bad_field', `metric name ${show(k)} must be 1 to ${MAX_METRIC_NAME} characters`, 'metrics');
      if (++seen > maxMetrics) return fail('bad_field', `"metrics" holds more than ${maxMetrics} readings`, 'metrics');
      const v = raw[k];
      if (typeof v === 'number' && Number.isFinite(v)) {
        n++;
        continue;
      }
      if (v === null || v === undefined || typeof v === 'boolean') {
        copy = true;
        continue;
      }
      return fail('bad_field', `metric ${show(k)} must be a finite number, got ${typeName(v)}`, `metrics.${k.slice(0, MAX_METRIC_NAME)}`);
    }
    if (copy) {
      metrics = {};
      n = 0;
      for (const k in raw) {
        const v = raw[k];
        if (v === null || v === undefined) continue; // a missing reading, not an error
        metrics[k] = typeof v === 'boolean' ? (v ? 1 : 0) : (v as number);
        n++;
      }
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
  if (!isAddress(src_ip!)) return fail('bad_field', `"src_ip" is not an IP address: ${show(src_ip)}`, 'src_ip');
  const dst_ip = str(o, 'dst_ip', true, 64);
  if (isErr(dst_ip)) return dst_ip;
  if (!isAddress(dst_ip!)) return fail('bad_field', `"dst_ip" is not an IP address: ${show(dst_ip)}`, 'dst_ip');
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
  for (const f of CONNECTION_NUMBERS) {
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
      return fail('bad_field', `"auth" must be one of ok, failed, none; got ${show(o.auth)}`, 'auth');
    }
    ev.auth = o.auth as AuthOutcome;
  }
  if (firmware !== undefined) ev.firmware = firmware;
  return { ok: true, event: ev };
}
