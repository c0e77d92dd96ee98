/**
 * Validation of one interpolated pipeline document: the generated JSON Schema (ajv) first, its
 * errors rewritten into messages a data engineer can act on, then the checks a schema cannot
 * express (references between sections, duplicates, feedback loops, duration ranges).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { DETECTORS } from '../detectors/registry.js';
import { parseCidr } from '../detectors/lib/ip.js';
import { isVersion } from '../detectors/lib/versions.js';
import type { DetectorSpec, ParamSpec } from '../detectors/types.js';
import { DURATION_HINT, DURATION_PATTERN, formatDuration, parseDurationOrMs, suggestDuration } from '../lib/duration.js';
import { describeValue, didYouMean, formatPath, type ConfigError, type ConfigErrorCode } from './errors.js';
import { CANONICAL_FIELDS } from './fields.js';
import type { YamlPath } from './interpolate.js';
import type { Locate } from './locate.js';
import { redactUrl } from './redact.js';
import { ROUTE_SPECS, ROUTE_TYPES } from './routes.js';
import { buildPipelineSchema, type JsonSchema } from './schema.js';
import { DETECTOR_KNOB_KEYS, knobChecks } from './knobs.js';
import { DEFAULT_OUTBOX_TOPIC } from '../alerts/outbox.js';

// ajv-formats ships CJS with a default export; under NodeNext the callable is on .default.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv) => Ajv;

const DETECTOR_META_KEYS = ['id', 'enabled', 'routes', ...DETECTOR_KNOB_KEYS] as const;
const ROUTE_META_KEYS = ['name', 'min_severity', 'enabled', 'if_env', 'max_per_minute'] as const;

export interface ValidationContext {
  file: string;
  locate: Locate;
  /** Paths whose values came from secret variables, with their safe text. */
  secrets: Array<{ path: YamlPath; template: string }>;
  /** Paths whose values came from any variable, with their text as written (shown instead of the value). */
  interpolated?: Array<{ path: YamlPath; template: string }>;
  emptied: Array<{ path: YamlPath; vars: string[] }>;
  unresolved: Array<{ path: YamlPath; template: string }>;
  /**
   * Routes switched off by if_env: checked for typos in their keys, not for their values (which
   * may reference variables that only exist where the route is on).
   */
  switchedOff?: YamlPath[];
  /** Values whose interpolation failed (already reported); schema errors on them are noise. */
  failed?: YamlPath[];
  detectors?: readonly DetectorSpec<any>[];
}

const STRUCTURAL: ReadonlySet<ConfigErrorCode> = new Set(['unknown_key', 'unknown_route_type', 'route_entry']);

interface Compiled {
  validate: ValidateFunction;
  schema: JsonSchema;
}

let cache: { key: readonly DetectorSpec<any>[]; len: number; compiled: Compiled } | undefined;

function compiled(detectors: readonly DetectorSpec<any>[]): Compiled {
  // The registry is a live array that other modules may still be filling at import time.
  if (cache && cache.key === detectors && cache.len === detectors.length) return cache.compiled;
  const schema = buildPipelineSchema({ detectors });
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  addPipelineFormats(ajv);
  const c = { validate: ajv.compile(schema), schema };
  cache = { key: detectors, len: detectors.length, compiled: c };
  return c;
}

/** Formats detector parameters use beyond JSON Schema's own, with what to tell the author. */
const PIPELINE_FORMATS: Record<string, { validate: (s: string) => boolean; what: string; name: string }> = {
  cidr: { validate: (s) => parseCidr(s) !== undefined, name: 'CIDR', what: 'an IPv4 or IPv6 network like 10.20.0.0/16 or fd00::/8 (prefix 0-32 or 0-128)' },
  version: { validate: isVersion, name: 'version', what: 'a version like 4.2.1, v2.0 or 1.12.0-rc1' },
};

/** Register the pipeline's own formats on an ajv instance (the validator here, the schema test). */
export function addPipelineFormats(ajv: Ajv): void {
  for (const [name, f] of Object.entries(PIPELINE_FORMATS)) ajv.addFormat(name, { type: 'string', validate: f.validate });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function humanType(t: string): string {
  const names: Record<string, string> = {
    object: 'a map',
    array: 'a list',
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    boolean: 'true or false',
    null: 'nothing',
  };
  const parts = t.split(',').filter((x) => x !== 'null' || t === 'null');
  return parts.map((p) => names[p] ?? p).join(' or ');
}

function foundType(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (isObj(v)) return 'a map';
  if (typeof v === 'string') return `the string ${describeValue(v)}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
  return String(v);
}

function pointerToPath(pointer: string, data: unknown): YamlPath {
  const out: YamlPath = [];
  if (!pointer) return out;
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const i = Number(seg);
      out.push(i);
      cur = cur[i];
    } else {
      out.push(seg);
      cur = isObj(cur) ? cur[seg] : undefined;
    }
  }
  return out;
}

const samePath = (a: YamlPath, b: YamlPath): boolean => a.length === b.length && a.every((s, i) => s === b[i]);
const startsWith = (p: YamlPath, prefix: YamlPath): boolean => prefix.length <= p.length && prefix.every((s, i) => s === p[i]);

/** "url", "group", "topic" — what to call the value at a path in a message. */
function fieldWord(path: YamlPath): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const seg = path[i];
    if (typeof seg === 'string') return seg === 'topics' ? 'topic' : seg === 'brokers' ? 'broker' : seg;
  }
  return 'value';
}

/** What kind of list item a path points into, for tailored messages. */
function entryKind(path: YamlPath): 'detector' | 'route' | null {
  if (path.length === 2 && path[0] === 'detectors' && typeof path[1] === 'number') return 'detector';
  if (path.length === 3 && path[0] === 'alerts' && path[1] === 'routes' && typeof path[2] === 'number') return 'route';
  return null;
}

class Reporter {
  readonly errors: ConfigError[] = [];
  private seen = new Set<string>();
  constructor(private ctx: ValidationContext) {}

  add(code: ConfigErrorCode, path: YamlPath, message: string, extra: Partial<ConfigError> & { at?: 'key' | 'value' } = {}): void {
    const { at, ...rest } = extra;
    if (this.ctx.switchedOff?.some((p) => startsWith(path, p)) && !STRUCTURAL.has(code)) return;
    if (this.ctx.failed?.some((p) => startsWith(path, p))) return;
    const key = `${code}\u0000${formatPath(path)}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const p = this.ctx.locate(path, at ?? 'value');
    const e: ConfigError = { code, file: this.ctx.file, line: p.line, column: p.column, path: formatPath(path), message };
    // A did-you-mean or a note is built from the value; for a value from a variable, that value
    // may be a credential, so only the reference as written (in found) is shown.
    const fromVariable = this.ctx.interpolated?.some((x) => samePath(x.path, path));
    for (const [k, v] of Object.entries(rest)) if (v !== undefined && !(fromVariable && (k === 'hint' || k === 'note'))) (e as unknown as Record<string, unknown>)[k] = v;
    this.errors.push(e);
  }

  /** Whether the value at `path` came from a ${VAR} reference. */
  fromVariable(path: YamlPath): boolean {
    return this.ctx.interpolated?.some((x) => samePath(x.path, path)) ?? false;
  }

  /** "found …" for a value, without leaking credentials. */
  found(path: YamlPath, v: unknown, render: (v: unknown) => string = describeValue): string {
    const s = this.ctx.secrets.find((x) => samePath(x.path, path)) ?? this.ctx.interpolated?.find((x) => samePath(x.path, path));
    if (s) return `${JSON.stringify(s.template)} (value not shown)`;
    const last = path[path.length - 1];
    if (typeof last === 'string' && /secret|token|password/i.test(last) && v !== undefined && v !== null) return '(redacted)';
    // Route options that are credentials (a Slack webhook URL embeds its token).
    if (path[0] === 'alerts' && path[1] === 'routes' && path.length === 5 && ROUTE_SPECS.find((r) => r.type === path[3])?.options[String(last)]?.secret) return '(redacted)';
    return render(typeof v === 'string' ? redactUrl(v) : v);
  }
}

function mapSchemaErrors(errors: ErrorObject[], data: unknown, ctx: ValidationContext, rep: Reporter, detectors: readonly DetectorSpec<any>[]): void {
  const detectorNames = detectors.map((d) => d.name);
  // anyOf (mapping rules: "path" or { path, ... }): keep only the branch matching the value's
  // shape, so a bad `format` is reported as such rather than as "must be a string".
  const anyOfAt = new Map<string, number>();
  for (const e of errors) {
    if (e.keyword !== 'anyOf') continue;
    const d = e.data;
    anyOfAt.set(e.instancePath + '|' + e.schemaPath, typeof d === 'string' ? 0 : isObj(d) ? 1 : -1);
  }
  const unknownKeyAt = new Set<string>();
  for (const e of errors) if (e.keyword === 'additionalProperties') unknownKeyAt.add(e.instancePath);

  for (const e of errors) {
    // Sub-errors of a oneOf (detector / route "exactly one kind") are replaced by one message.
    if (/\/oneOf\/\d+\//.test(e.schemaPath)) continue;
    const branch = /^(.*)\/anyOf\/(\d+)\//.exec(e.schemaPath);
    if (branch) {
      const owner = [...anyOfAt.entries()].find(([k]) => {
        const [ip, sp] = k.split('|');
        return sp === branch[1] + '/anyOf' && e.instancePath.startsWith(ip!);
      });
      if (owner && owner[1] !== Number(branch[2])) continue;
    }
    const path = pointerToPath(e.instancePath, data);
    if (ctx.unresolved.some((u) => startsWith(path, u.path))) continue;
    const ps = (e.parentSchema ?? {}) as JsonSchema;
    switch (e.keyword) {
      case 'additionalProperties': {
        const k = String((e.params as { additionalProperty: string }).additionalProperty);
        const kp = [...path, k];
        const kind = entryKind(path);
        if (kind === 'detector') {
          const routeNote = (ROUTE_TYPES as string[]).includes(k) ? `${k} is an alert route; it belongs under alerts.routes` : undefined;
          rep.add('unknown_detector', kp, `unknown detector "${k}"`, {
            at: 'key',
            hint: didYouMean(k, [...detectorNames, ...DETECTOR_META_KEYS]),
            // All of them, however many: a typo far from every name still needs the list.
            expected: `one of ${detectorNames.join(', ')}`,
            note: routeNote,
          });
        } else if (kind === 'route') {
          rep.add('unknown_route_type', kp, `unknown alert route "${k}"`, {
            at: 'key',
            hint: didYouMean(k, [...ROUTE_TYPES, ...ROUTE_META_KEYS]),
            expected: `one of ${ROUTE_TYPES.join(', ')}`,
            note: detectorNames.includes(k) ? `${k} is a detector; it belongs under detectors` : undefined,
          });
        } else {
          const props = Object.keys((ps.properties ?? {}) as object);
          let note: string | undefined;
          if (path.length === 1 && path[0] === 'mapping' && k in CANONICAL_FIELDS) note = `canonical fields go under mapping.fields (mapping.fields.${k})`;
          else if (path.length === 0 && detectorNames.includes(k)) note = 'detectors are list items under detectors:';
          else if (path.length === 0 && k === 'kafka') note = 'kafka goes under source:';
          else if (path.length === 0 && k === 'routes') note = 'routes go under alerts:';
          const parentKind = entryKind(path.slice(0, -1));
          const parentName = String(path[path.length - 1]);
          if (parentKind === 'detector' && (DETECTOR_META_KEYS as readonly string[]).includes(k)) {
            note = `${k} belongs beside "${parentName}:", not inside its parameters: indent it like ${parentName}`;
          } else if (parentKind === 'route' && (ROUTE_META_KEYS as readonly string[]).includes(k)) {
            note = `${k} belongs beside "${parentName}:", not inside its options: indent it like ${parentName}`;
          }
          const isMapping = path[0] === 'mapping' && path[1] === 'fields' && path.length === 2;
          rep.add(isMapping ? 'bad_mapping' : 'unknown_key', kp, isMapping ? `unknown canonical field "${k}"` : `unknown key "${k}"`, {
            at: 'key',
            hint: didYouMean(k, props),
            expected: props.length && props.length <= 10 ? `one of ${props.join(', ')}` : undefined,
            note,
          });
        }
        break;
      }
      case 'required': {
        const k = String((e.params as { missingProperty: string }).missingProperty);
        const emptied = ctx.emptied.find((x) => samePath(x.path, [...path, k]));
        rep.add('missing_key', path, `missing required key "${k}"`, {
          at: 'key',
          note: emptied ? `${emptied.vars.map((v) => '${' + v + '}').join(', ')} resolved to an empty value` : undefined,
        });
        break;
      }
      case 'type': {
        const want = String((e.params as { type: string }).type);
        const v = e.data;
        if (ps.pattern === DURATION_PATTERN) {
          rep.add('bad_duration', path, 'a duration needs a unit', { expected: DURATION_HINT, found: rep.found(path, v), hint: suggestDuration(v) });
          break;
        }
        const kind = entryKind(path);
        let note: string | undefined;
        if (kind && typeof v === 'string') note = `write "- ${v}: {}" to use the defaults`;
        else if (want === 'array' && (typeof v === 'string' || typeof v === 'number')) note = `a single item is written [${String(v)}]`;
        else if (want === 'string' && (typeof v === 'number' || typeof v === 'boolean')) note = `YAML reads ${String(v)} as a ${typeof v}; quote it: "${String(v)}"`;
        rep.add('wrong_type', path, `wrong type`, { expected: humanType(want), found: rep.found(path, v, foundType), note });
        break;
      }
      case 'enum': {
        const allowed = ((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String);
        rep.add('bad_value', path, `must be one of ${allowed.join(', ')}`, {
          found: rep.found(path, e.data),
          hint: typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined,
        });
        break;
      }
      case 'pattern': {
        const v = e.data;
        if (ps.pattern === DURATION_PATTERN) {
          rep.add('bad_duration', path, 'not a duration', { expected: DURATION_HINT, found: rep.found(path, v), hint: suggestDuration(v) });
        } else {
          const what = typeof ps.patternErrorMessage === 'string' ? ps.patternErrorMessage : `text matching ${String(ps.pattern)}`;
          rep.add('bad_format', path, `invalid ${fieldWord(path)}`, { expected: what, found: rep.found(path, v) });
        }
        break;
      }
      case 'format': {
        const fmt = (e.params as { format: string }).format;
        const own = PIPELINE_FORMATS[fmt];
        const what = fmt === 'uri' ? 'an absolute URL' : own ? own.what : fmt;
        if (typeof ps.pattern === 'string' && !new RegExp(ps.pattern).test(String(e.data))) break; // reported by the pattern
        rep.add('bad_format', path, `invalid ${own ? own.name : fieldWord(path)}`, { expected: what, found: rep.found(path, e.data) });
        break;
      }
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        const min = ps.minimum as number | undefined;
        const max = ps.maximum as number | undefined;
        const expected = min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : `at most ${max}`;
        rep.add('out_of_range', path, 'out of range', { expected, found: rep.found(path, e.data) });
        break;
      }
      case 'minItems': {
        const n = (e.params as { limit: number }).limit;
        rep.add('bad_value', path, n === 1 ? 'must not be empty' : `needs at least ${n} items`, { at: 'key', found: 'an empty list' });
        break;
      }
      case 'uniqueItems': {
        const j = (e.params as { j: number }).j;
        rep.add('duplicate_value', [...path, j], 'duplicate item', { found: rep.found([...path, j], (e.data as unknown[])[j]) });
        break;
      }
      case 'minProperties': {
        const kind = entryKind(path);
        if (kind === 'detector') rep.add('detector_entry', path, 'empty detector entry', { expected: 'a detector name, e.g. "- metric_baseline: {}"' });
        else if (kind === 'route') rep.add('route_entry', path, 'empty route entry', { expected: `one of ${ROUTE_TYPES.join(', ')}` });
        else rep.add('bad_value', path, 'must not be empty', { at: 'key', expected: `at least one of ${Object.keys((ps.properties ?? {}) as object).join(', ')}` });
        break;
      }
      case 'minLength':
        rep.add('bad_value', path, 'must not be empty', { found: '""' });
        break;
      case 'oneOf': {
        const kind = entryKind(path);
        if (!kind || !isObj(e.data) || Object.keys(e.data).length === 0) break; // empty: minProperties says it
        if (unknownKeyAt.has(e.instancePath)) break; // the unknown name says it better
        const names = kind === 'detector' ? detectorNames : (ROUTE_TYPES as string[]);
        const present = Object.keys(e.data).filter((k) => names.includes(k));
        if (present.length === 0) {
          rep.add(kind === 'detector' ? 'detector_entry' : 'route_entry', path, kind === 'detector' ? 'entry has no detector' : 'entry has no route type', {
            expected: kind === 'detector' ? 'a detector name, e.g. "- metric_baseline: {}"' : `one of ${ROUTE_TYPES.join(', ')}`,
            found: `only ${Object.keys(e.data).join(', ')}`,
          });
        } else if (present.length > 1) {
          rep.add(kind === 'detector' ? 'detector_entry' : 'route_entry', [...path, present[1]!], `one ${kind} per list item, found ${present.join(' and ')}`, {
            at: 'key',
            note: `start a new list item: "- ${present[1]}: ..."`,
          });
        }
        break;
      }
      case 'anyOf': {
        if (anyOfAt.get(e.instancePath + '|' + e.schemaPath) === -1) {
          rep.add('wrong_type', path, 'wrong type', { expected: 'a path string or a map with path', found: rep.found(path, e.data, foundType) });
        }
        break;
      }
      default:
        rep.add('bad_value', path, e.message ?? 'invalid value', { found: rep.found(path, e.data) });
    }
  }
}

/** The detector / route kind named by a list entry, if it names exactly one. */
export function entryType(entry: unknown, names: readonly string[]): string | undefined {
  if (!isObj(entry)) return undefined;
  const ks = Object.keys(entry).filter((k) => names.includes(k));
  return ks.length === 1 ? ks[0] : undefined;
}

/** Route names as the runtime sees them: explicit names, else type, type-2, type-3... */
export function routeNames(routes: unknown[]): Array<string | undefined> {
  const taken = new Set<string>();
  for (const r of routes) if (isObj(r) && typeof r.name === 'string') taken.add(r.name);
  const out: Array<string | undefined> = [];
  for (const r of routes) {
    if (!isObj(r)) {
      out.push(undefined);
      continue;
    }
    if (typeof r.name === 'string') {
      out.push(r.name);
      continue;
    }
    const t = entryType(r, ROUTE_TYPES);
    if (!t) {
      out.push(undefined);
      continue;
    }
    let name = t;
    for (let n = 2; taken.has(name); n++) name = `${t}-${n}`;
    taken.add(name);
    out.push(name);
  }
  return out;
}

/** A route switched off by `enabled: false` or an unset `if_env` variable. */
export function routeActive(r: Record<string, unknown>, env: Record<string, string | undefined>): boolean {
  if (r.enabled === false) return false;
  if (typeof r.if_env === 'string') {
    const v = env[r.if_env];
    if (v === undefined || v === '') return false;
  }
  return true;
}

function checkDurationRange(rep: Reporter, path: YamlPath, v: unknown, p: ParamSpec): void {
  if (p.type !== 'duration' || typeof v !== 'string') return;
  const ms = parseDurationOrMs(v);
  if (ms === undefined) return;
  // Duration bounds in a ParamSpec are milliseconds, like the values detectors receive.
  if ((p.minimum !== undefined && ms < p.minimum) || (p.maximum !== undefined && ms > p.maximum)) {
    const lo = p.minimum !== undefined ? formatDuration(p.minimum) : undefined;
    const hi = p.maximum !== undefined ? formatDuration(p.maximum) : undefined;
    rep.add('out_of_range', path, 'out of range', { expected: lo && hi ? `between ${lo} and ${hi}` : lo ? `at least ${lo}` : `at most ${hi}`, found: JSON.stringify(v) });
  }
}

/**
 * Port 6514 is syslog over TLS (RFC 5425): plaintext sent there crosses the network readable
 * while the configuration looks encrypted. TLS-only options without TLS would be ignored.
 */
function syslogChecks(rep: Reporter, at: YamlPath, o: Record<string, unknown>): void {
  const protocol = typeof o.protocol === 'string' ? o.protocol : 'udp';
  if (protocol === 'tls') return;
  if (o.port === 6514) {
    rep.add('bad_value', [...at, 'port'], `port 6514 is syslog over TLS, but protocol is ${protocol}`, { note: 'set protocol: tls (and ca: <collector CA file>), or use the collector\'s plaintext port' });
  }
  for (const k of ['ca', 'servername', 'cert', 'key']) {
    if (o[k] !== undefined) rep.add('bad_value', [...at, k], `${k} applies to protocol: tls only`, { at: 'key', note: `protocol is ${protocol}; set protocol: tls` });
  }
}

function semanticChecks(data: Record<string, unknown>, rep: Reporter, detectors: readonly DetectorSpec<any>[]): void {
  const detectorNames = detectors.map((d) => d.name);
  const source = isObj(data.source) && isObj(data.source.kafka) ? data.source.kafka : {};
  const topics = Array.isArray(source.topics) ? source.topics.filter((t): t is string => typeof t === 'string') : [];
  const alerts = isObj(data.alerts) ? data.alerts : {};
  const routes = Array.isArray(alerts.routes) ? alerts.routes : [];
  const names = routeNames(routes);

  // Route names: explicit duplicates would make detector routing ambiguous.
  const firstByName = new Map<string, number>();
  routes.forEach((r, i) => {
    const n = names[i];
    if (n === undefined) return;
    const prev = firstByName.get(n);
    if (prev !== undefined) {
      rep.add('duplicate_value', ['alerts', 'routes', i, 'name'], `route name "${n}" is already used by alerts.routes[${prev}]`, { at: 'value', note: 'give each route its own name' });
    } else firstByName.set(n, i);
  });

  // At most one kafka route: it is the outbox topic, the runtime uses the first one only.
  const kafkaRoutes = routes.map((r, i) => [r, i] as const).filter(([r]) => entryType(r, ROUTE_TYPES) === 'kafka');
  for (const [, i] of kafkaRoutes.slice(1)) {
    rep.add('route_entry', ['alerts', 'routes', i, 'kafka'], 'only one kafka route per pipeline', {
      at: 'key',
      note: `the kafka route's topic is the pipeline's alert outbox; alerts.routes[${kafkaRoutes[0]![1]}] already defines it`,
    });
  }
  const firstKafka = kafkaRoutes[0];
  const outbox = firstKafka && isObj((firstKafka[0] as Record<string, unknown>).kafka) ? ((firstKafka[0] as Record<string, Record<string, unknown>>).kafka!.topic as unknown) : DEFAULT_OUTBOX_TOPIC;
  if (typeof outbox === 'string' && topics.includes(outbox)) {
    const at: YamlPath = firstKafka ? ['alerts', 'routes', firstKafka[1], 'kafka', 'topic'] : ['source', 'kafka', 'topics', topics.indexOf(outbox)];
    rep.add('feedback_loop', at, `alerts would be written to "${outbox}", which this pipeline consumes`, {
      note: firstKafka ? 'use a separate alerts topic' : `${DEFAULT_OUTBOX_TOPIC} is the default alert outbox; add "- kafka: { topic: <another topic> }" under alerts.routes`,
    });
  }
  if (typeof source.dead_letter_topic === 'string' && topics.includes(source.dead_letter_topic)) {
    rep.add('feedback_loop', ['source', 'kafka', 'dead_letter_topic'], 'the dead-letter topic is also a source topic', { note: 'bad messages would be consumed again forever' });
  }

  // Kafka SASL: the password comes from the environment or a file, never the pipeline file.
  const sasl = isObj(source.sasl) ? source.sasl : undefined;
  if (sasl) {
    const at: YamlPath = ['source', 'kafka', 'sasl'];
    if ((sasl.password === undefined) === (sasl.password_file === undefined)) rep.add('missing_key', at, 'give exactly one of password or password_file', { at: 'key' });
    else if (sasl.password !== undefined && !rep.fromVariable([...at, 'password'])) {
      rep.add('bad_value', [...at, 'password'], 'a password is never written into a pipeline file', { note: 'write password: "${KAFKA_PASSWORD}" and set the variable, or use password_file' });
    }
  }

  // Detectors: unique ids, route references, duration bounds.
  const dets = Array.isArray(data.detectors) ? data.detectors : [];
  const ids = new Map<string, number>();
  dets.forEach((entry, i) => {
    const t = entryType(entry, detectorNames);
    if (!t || !isObj(entry)) return;
    const id = typeof entry.id === 'string' ? entry.id : t;
    const prev = ids.get(id);
    if (prev !== undefined) {
      rep.add('duplicate_id', ['detectors', i, typeof entry.id === 'string' ? 'id' : t], `detector id "${id}" is already used by detectors[${prev}]`, {
        at: typeof entry.id === 'string' ? 'value' : 'key',
        note: `to run two ${t} detectors, give each an id (e.g. id: ${t}-2)`,
      });
    } else ids.set(id, i);
    if (Array.isArray(entry.routes)) {
      entry.routes.forEach((r, j) => {
        if (typeof r !== 'string' || firstByName.has(r)) return;
        const known = [...firstByName.keys()];
        rep.add('undefined_route', ['detectors', i, 'routes', j], `no alert route named "${r}"`, {
          hint: didYouMean(r, known),
          expected: known.length ? `one of ${known.join(', ')}` : 'a route defined under alerts.routes',
        });
      });
    }
    const spec = detectors.find((d) => d.name === t);
    const params = entry[t];
    if (spec && isObj(params)) {
      for (const [k, v] of Object.entries(params)) {
        const p = (spec.params as Record<string, ParamSpec>)[k];
        if (p) checkDurationRange(rep, ['detectors', i, t, k], v, p);
      }
      for (const c of spec.check?.(params) ?? []) rep.add('out_of_range', ['detectors', i, t, ...c.path], c.message);
    }
  });

  knobChecks(data, (code, path, message, extra = {}) => rep.add(code, path, message, extra), detectors, (e) => entryType(e, detectorNames));

  // Route option duration bounds and route enabling.
  routes.forEach((r, i) => {
    const t = entryType(r, ROUTE_TYPES);
    const spec = ROUTE_SPECS.find((s) => s.type === t);
    const opts = t && isObj(r) ? r[t] : undefined;
    if (spec && isObj(opts)) for (const [k, v] of Object.entries(opts)) if (spec.options[k]) checkDurationRange(rep, ['alerts', 'routes', i, t!, k], v, spec.options[k]!);
    if (t === 'syslog' && isObj(opts)) syslogChecks(rep, ['alerts', 'routes', i, 'syslog'], opts);
  });

  // Static durations with cross-field meaning.
  const dur = (v: unknown): number | undefined => (typeof v === 'string' ? parseDurationOrMs(v) : undefined);
  const findings = isObj(data.findings) && isObj(data.findings.clickhouse) ? data.findings.clickhouse : {};
  const ttl = dur(findings.ttl);
  if (ttl !== undefined && (ttl < 86_400_000 || ttl % 86_400_000 !== 0)) {
    rep.add('out_of_range', ['findings', 'clickhouse', 'ttl'], 'retention is kept in whole days', { expected: 'a whole number of days, at least 1d', found: JSON.stringify(findings.ttl), hint: `${Math.max(1, Math.round(ttl / 86_400_000))}d` });
  }
  const skew = dur(data.max_future_skew);
  if (skew !== undefined && skew < 60_000) {
    rep.add('out_of_range', ['max_future_skew'], 'max_future_skew must be at least a minute', {
      note: 'device clocks and the service clock are never exactly in step; a smaller skew dead-letters honest events',
      expected: 'at least 1m',
      found: JSON.stringify(data.max_future_skew),
    });
  }
  const entities = isObj(data.entities) ? data.entities : {};
  const idle = dur(entities.idle_eviction) ?? 7 * 86_400_000;
  const late = dur(data.allowed_lateness) ?? 60_000;
  if (idle <= late && (entities.idle_eviction !== undefined || data.allowed_lateness !== undefined)) {
    const at: YamlPath = entities.idle_eviction !== undefined ? ['entities', 'idle_eviction'] : ['allowed_lateness'];
    rep.add('out_of_range', at, 'idle_eviction must be longer than allowed_lateness', {
      note: 'otherwise a device is forgotten before its late events can arrive',
      expected: `more than ${formatDuration(late)}`,
      found: JSON.stringify(entities.idle_eviction ?? formatDuration(idle)),
    });
  }

  // Mapping: a field both mapped and constant never uses the constant (the mapped path wins even
  // when the message lacks it), and two metrics renamed onto one name overwrite each other.
  const mapping = isObj(data.mapping) ? data.mapping : {};
  const fields = isObj(mapping.fields) ? mapping.fields : {};
  const constants = isObj(mapping.constants) ? mapping.constants : {};
  for (const k of Object.keys(constants)) {
    if (k in fields) {
      rep.add('bad_mapping', ['mapping', 'constants', k], `"${k}" is both mapped and constant`, {
        at: 'key',
        note: `mapping.fields.${k} always wins, even when a message lacks it; keep one of them`,
      });
    }
  }
  const metrics = isObj(mapping.metrics) ? mapping.metrics : {};
  const targets = new Map<string, string>();
  for (const [m, rule] of Object.entries(metrics)) {
    const to = isObj(rule) && typeof rule.rename === 'string' ? rule.rename : m;
    const prev = targets.get(to);
    if (prev !== undefined) {
      rep.add('duplicate_value', ['mapping', 'metrics', m, ...(isObj(rule) && typeof rule.rename === 'string' ? ['rename'] : [])], `metrics "${prev}" and "${m}" both become "${to}"`, { note: 'one would overwrite the other' });
    } else targets.set(to, m);
  }
}

/** Schema + semantic validation of one interpolated pipeline document. */
export function validatePipelineData(data: unknown, ctx: ValidationContext): ConfigError[] {
  const detectors = ctx.detectors ?? DETECTORS;
  const rep = new Reporter(ctx);
  const { validate } = compiled(detectors);
  if (!validate(data)) mapSchemaErrors(validate.errors ?? [], data, ctx, rep, detectors);
  if (isObj(data)) semanticChecks(data, rep, detectors);
  return rep.errors.sort((a, b) => a.line - b.line || a.column - b.column);
}

