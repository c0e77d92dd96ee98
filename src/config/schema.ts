/**
 * The pipeline JSON Schema, built in code from the static parts below, the detector registry and
 * the alert route specs. The same object validates files (validate.ts), ships as
 * schemas/pipeline.schema.json for editors (scripts/gen-schema.ts) and is rendered into
 * docs/pipelines.md (scripts/gen-pipeline-docs.ts), so the three cannot disagree.
 */
import { DETECTORS } from '../detectors/registry.js';
import type { DetectorSpec, ParamSpec } from '../detectors/types.js';
import { SEVERITIES } from '../detectors/types.js';
import { DURATION_HINT, DURATION_PATTERN, formatDuration } from '../lib/duration.js';
import { CANONICAL_FIELDS, isNumericKind } from './fields.js';
import { ROUTE_SPECS, type RouteSpec } from './routes.js';
import { allowSchema, detectorKnobSchemas, maintenanceSchema } from './knobs.js';
import { SASL_MECHANISMS } from '../kafka/security.js';
import { FLEET_DEFAULTS } from './fleet.js';

export type JsonSchema = Record<string, unknown>;

/** Per source partition: far above the bench's 12,500, still a bound (~1.2 GB of mature state). */
export const DEFAULT_MAX_DEVICES_PER_PARTITION = 100_000;

const SCHEMA_ID = 'urn:m2m-sentinel:pipeline-schema:v1';
/** Matches any value that still holds a `${VAR}` reference (editor variant only). */
const INTERPOLATION_PATTERN = '\\$\\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\\}';

const NAME_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,63}$';
const NAME_HINT = 'lower-case letters, digits, ".", "_" or "-", starting with a letter or digit (at most 64)';
const TOPIC_PATTERN = '^[a-zA-Z0-9._-]{1,249}$';
const TOPIC_HINT = 'a Kafka topic name (letters, digits, ".", "_", "-")';
const IDENT_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
const ENV_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

export interface SchemaOptions {
  /** Defaults to the live registry; tests pass their own. */
  detectors?: readonly DetectorSpec<any>[];
  routes?: readonly RouteSpec[];
  /**
   * Editor variant: every typed leaf also accepts a string holding `${VAR}`, because editors see
   * the file before interpolation. The validator checks the interpolated document, strictly.
   */
  forEditor?: boolean;
}

function durationSchema(description: string, def?: string, examples?: unknown[]): JsonSchema {
  const s: JsonSchema = { type: 'string', description, pattern: DURATION_PATTERN, patternErrorMessage: DURATION_HINT };
  if (def !== undefined) s.default = def;
  if (examples) s.examples = examples;
  return s;
}

function str(description: string, extra: JsonSchema = {}): JsonSchema {
  return { type: 'string', description, ...extra };
}

function obj(description: string, properties: Record<string, JsonSchema>, extra: JsonSchema = {}): JsonSchema {
  return { type: 'object', description, additionalProperties: false, properties, ...extra };
}

const JSON_TYPES: Record<ParamSpec['type'], string> = {
  number: 'number',
  integer: 'integer',
  string: 'string',
  boolean: 'boolean',
  duration: 'string',
  array: 'array',
  object: 'object',
};

const PARAM_TYPES = new Set(Object.keys(JSON_TYPES));

function isParamSpec(x: unknown): x is ParamSpec {
  return typeof x === 'object' && x !== null && PARAM_TYPES.has((x as { type?: string }).type ?? '');
}

/** A detector parameter (or route option) spec as JSON Schema. */
function paramToSchema(p: ParamSpec): JsonSchema {
  const s: JsonSchema = { type: JSON_TYPES[p.type] };
  if (p.description) s.description = p.description;
  if (p.type === 'duration') {
    s.pattern = DURATION_PATTERN;
    s.patternErrorMessage = DURATION_HINT;
  } else {
    if (p.minimum !== undefined) s.minimum = p.minimum;
    if (p.maximum !== undefined) s.maximum = p.maximum;
  }
  if (p.enum) s.enum = [...p.enum];
  if (p.items !== undefined) {
    s.items = isParamSpec(p.items) ? paramToSchema(p.items) : { ...p.items };
  }
  if (p.schema) Object.assign(s, p.schema);
  if (p.type === 'object' && s.additionalProperties === undefined && s.properties === undefined) {
    // Free-form maps (e.g. allowed_cidrs by device class) are open by design.
    s.additionalProperties = true;
  }
  if (p.default !== undefined) s.default = p.type === 'duration' && typeof p.default === 'number' ? formatDuration(p.default) : p.default;
  if (p.examples) s.examples = p.examples.map((e) => (p.type === 'duration' && typeof e === 'number' ? formatDuration(e) : e));
  return s;
}

function nullableObject(s: JsonSchema): JsonSchema {
  // `- metric_baseline:` with nothing after it is the YAML habit for "all defaults".
  return { ...s, type: ['object', 'null'] };
}

function detectorEntrySchema(detectors: readonly DetectorSpec<any>[]): JsonSchema {
  const props: Record<string, JsonSchema> = {};
  for (const d of detectors) {
    const params: Record<string, JsonSchema> = {};
    for (const [k, p] of Object.entries(d.params as Record<string, ParamSpec>)) params[k] = paramToSchema(p);
    props[d.name] = nullableObject(obj(`${d.family} detector. ${d.summary}`, params, { default: {} }));
  }
  props.id = str('Instance id, unique in the pipeline; defaults to the detector name. Needed to run two of one detector.', {
    pattern: NAME_PATTERN,
    patternErrorMessage: NAME_HINT,
    examples: ['fanout-fast'],
  });
  props.enabled = { type: 'boolean', default: true, description: 'Set false to switch the detector off without deleting its tuning.' };
  props.routes = {
    type: 'array',
    description: 'Send this detector\'s alerts only to these routes (by route name); default: every route. An empty list keeps its findings in ClickHouse without alerting (also what is left when every route it names is switched off).',
    items: str('A route name from alerts.routes.'),
    uniqueItems: true,
    examples: [['soc']],
  };
  Object.assign(props, detectorKnobSchemas());
  const entry = obj('One detector: a single-key map `<detector>: { params }`, optionally with id, enabled, routes, min_severity, sensitivity, and for metric detectors direction and min_deviation.', props, {
    minProperties: 1,
    examples: [{ fanout: { window: '5m' } }],
  });
  if (detectors.length > 0) entry.oneOf = detectors.map((d) => ({ required: [d.name] }));
  return entry;
}

function routeEntrySchema(routes: readonly RouteSpec[]): JsonSchema {
  const props: Record<string, JsonSchema> = {};
  for (const r of routes) {
    const opts: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const [k, o] of Object.entries(r.options)) {
      opts[k] = paramToSchema(o);
      if (o.required) required.push(k);
    }
    const s = obj(r.summary, opts);
    if (required.length) s.required = required;
    props[r.type] = required.length ? s : nullableObject(s);
  }
  props.name = str('Route name, used by detectors[].routes and in delivery metrics; defaults to the route type (type-2, type-3... when repeated).', {
    pattern: NAME_PATTERN,
    patternErrorMessage: NAME_HINT,
    examples: ['soc'],
  });
  props.min_severity = { type: 'string', enum: [...SEVERITIES], description: 'Only alerts at or above this severity take this route; default: alerts.min_severity.', examples: ['high'] };
  props.enabled = { type: 'boolean', default: true, description: 'Set false to switch the route off.' };
  props.max_per_minute = {
    type: 'integer',
    minimum: 1,
    maximum: 100000,
    default: 120,
    description: 'Alert budget of this route: at most this many alerts per minute are delivered one by one; the rest of the minute is folded into one digest alert (counts by detector and severity, the devices) sent when the minute ends, so a flood cannot bury the SOC and nothing is dropped silently.',
    examples: [30],
  };
  props.if_env = str('Keep this route only when this environment variable is set and not empty; otherwise it is dropped, and its ${...} references need not resolve.', {
    pattern: ENV_PATTERN,
    patternErrorMessage: 'an environment variable name',
    examples: ['SOC_WEBHOOK_URL'],
  });
  return obj('One alert route: a single-key map `<route type>: { options }`, optionally with name, min_severity, enabled and if_env.', props, {
    minProperties: 1,
    oneOf: routes.map((r) => ({ required: [r.type] })),
    examples: [{ kafka: { topic: 'm2m.alerts' } }],
  });
}

function mappingSchema(): JsonSchema {
  const fields: Record<string, JsonSchema> = {};
  const constants: Record<string, JsonSchema> = {};
  const pathSchema = str('Where the value is in the raw JSON: a dotted path, optionally starting with "$.".', {
    pattern: '^(?:\\$\\.)?[^.\\s\\[\\]]+(?:\\.[^.\\s\\[\\]]+)*$',
    patternErrorMessage: 'a dotted path like $.meta.device (array indexes are not supported)',
    examples: ['$.meta.device'],
  });
  for (const [name, f] of Object.entries(CANONICAL_FIELDS)) {
    const rule: Record<string, JsonSchema> = { path: pathSchema };
    if (f.kind === 'timestamp') {
      rule.format = {
        type: 'string',
        enum: ['auto', 'iso', 'epoch_s', 'epoch_ms'],
        default: 'auto',
        description: 'How the time is encoded; auto reads ISO-8601 text, and numbers below 1e11 as seconds, others as milliseconds.',
        examples: ['epoch_s'],
      };
    }
    if (isNumericKind(f.kind)) {
      rule.scale = { type: 'number', description: 'Multiply by this after reading (unit conversion).', examples: [0.001] };
      rule.offset = { type: 'number', description: 'Add this after scaling.', examples: [-273.15] };
    }
    fields[name] = {
      description: `${f.description} Either a path (shorthand) or a map with path${Object.keys(rule).length > 1 ? ` and ${Object.keys(rule).slice(1).join('/')}` : ''}.`,
      anyOf: [pathSchema, obj(`Mapping rule for ${name}.`, rule, { required: ['path'] })],
    };
    if (f.kind !== 'timestamp' && f.kind !== 'metrics') {
      const t = f.kind === 'string' ? 'string' : f.kind;
      constants[name] = { type: t, description: `Constant ${name} for every event on these topics.`, ...(f.enum ? { enum: [...f.enum] } : {}) };
    }
  }
  return obj(
    'How raw device messages map onto the event contract. Fields not mentioned are read under their canonical names.',
    {
      fields: obj('Canonical field → where to read it. Shorthand `device_id: $.meta.device`, or `ts: { path: $.t, format: epoch_s }`.', fields, {
        examples: [{ device_id: '$.meta.device', ts: { path: '$.t', format: 'epoch_s' } }],
      }),
      constants: obj('Canonical field → constant value, used when the message does not carry the field.', constants, {
        examples: [{ type: 'telemetry', device_class: 'smart_meter' }],
      }),
      metrics: {
        type: 'object',
        description: 'Per-metric renames and unit conversions, applied after the metrics object is read: value × scale + offset.',
        additionalProperties: obj('Conversion for one metric.', {
          rename: str('Canonical metric name.', { minLength: 1, examples: ['temperature_c'] }),
          scale: { type: 'number', description: 'Multiply by this.', examples: [0.001] },
          offset: { type: 'number', description: 'Then add this.', examples: [-273.15] },
        }, { minProperties: 1 }),
        examples: [{ temp_k: { rename: 'temperature_c', offset: -273.15 } }],
      },
    },
  );
}

export function buildPipelineSchema(opts: SchemaOptions = {}): JsonSchema {
  const detectors = opts.detectors ?? DETECTORS;
  const routes = opts.routes ?? ROUTE_SPECS;
  const topic = str('Kafka topic.', { pattern: TOPIC_PATTERN, patternErrorMessage: TOPIC_HINT });
  const schema: JsonSchema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: SCHEMA_ID,
    title: 'm2m-sentinel pipeline',
    description: 'One pipeline: a Kafka source, an optional field mapping, per-device detectors, the findings table and alert routes. Reference: docs/pipelines.md.',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'source', 'detectors'],
    properties: {
      name: str('Pipeline name: part of every finding id, so renaming a pipeline starts new incidents.', {
        pattern: NAME_PATTERN,
        patternErrorMessage: NAME_HINT,
        examples: ['plant-floor'],
      }),
      description: str('Free text for humans.', { examples: ['PLCs and sensors on the plant floor'] }),
      source: obj('Where events come from.', {
        kafka: obj('Kafka source (one consumer group per pipeline).', {
          brokers: {
            type: 'array',
            description: 'Bootstrap brokers host:port; default: the KAFKA_BROKERS environment variable, else 127.0.0.1:9092.',
            items: str('host:port', { pattern: '^(?:\\[[0-9a-fA-F:.]+\\]|[^\\s:\\[\\]]+):[0-9]{1,5}$', patternErrorMessage: 'host:port' }),
            minItems: 1,
            examples: [['kafka-1:9092', 'kafka-2:9092']],
          },
          topics: { type: 'array', description: 'Topics to consume (messages keyed by device_id).', items: topic, minItems: 1, uniqueItems: true, examples: [['m2m.telemetry', 'm2m.connections']] },
          group: str('Consumer group; offsets are committed under it, so keep it stable across restarts and unique per pipeline.', {
            pattern: TOPIC_PATTERN,
            patternErrorMessage: 'a consumer group id (letters, digits, ".", "_", "-")',
            examples: ['sentinel-plant'],
          }),
          start: { type: 'string', enum: ['earliest', 'latest'], default: 'latest', description: 'Where a group with no committed offsets starts; committed offsets always win.', examples: ['earliest'] },
          format: { type: 'string', enum: ['json'], default: 'json', description: 'Message encoding.', examples: ['json'] },
          dead_letter_topic: { ...topic, description: 'Where undecodable messages go (original bytes plus the reason); default: "<first topic>.dlq".', examples: ['m2m.telemetry.dlq'] },
          ssl: obj('TLS to the brokers (SSL or SASL_SSL listeners); `ssl: {}` checks their certificates against the system\'s CAs. Default: the KAFKA_SSL_* environment variables.', {
            ca: str('PEM file of the CA that signed the brokers\' certificates.', { minLength: 1, examples: ['/etc/m2m/kafka-ca.pem'] }),
            cert: str('PEM client certificate file, for brokers that authenticate clients by certificate (mTLS).', { minLength: 1, examples: ['/etc/m2m/sentinel.pem'] }),
            key: str('PEM private key file of `cert`.', { minLength: 1, examples: ['/etc/m2m/sentinel.key'] }),
            servername: str('Name the brokers\' certificates must carry, when it differs from the bootstrap host.', { minLength: 1, examples: ['kafka.internal.example'] }),
          }, { examples: [{ ca: '/etc/m2m/kafka-ca.pem' }] }),
          sasl: obj('SASL authentication to the brokers. Default: the KAFKA_SASL_* environment variables. The password comes from the environment (a ${VAR} reference; a literal is refused) or a file.', {
            mechanism: { type: 'string', enum: [...SASL_MECHANISMS], description: 'SASL mechanism.', examples: ['scram-sha-512'] },
            username: str('SASL user (the service\'s Kafka principal, User:<username>).', { minLength: 1, examples: ['sentinel'] }),
            password: str('Password, as a ${VAR} reference.', { minLength: 1, examples: ['${KAFKA_PASSWORD}'] }),
            password_file: str('File holding the password (e.g. a mounted secret).', { minLength: 1, examples: ['/run/secrets/kafka-password'] }),
          }, { required: ['mechanism', 'username'], examples: [{ mechanism: 'scram-sha-512', username: 'sentinel', password: '${KAFKA_PASSWORD}' }] }),
        }, { required: ['topics', 'group'] }),
      }, { required: ['kafka'] }),
      mapping: mappingSchema(),
      entities: obj('What a per-device state is keyed by and how long it is kept.', {
        key: { type: 'string', enum: ['device_id'], default: 'device_id', description: 'Entity key (only device_id for now).', examples: ['device_id'] },
        idle_eviction: durationSchema('Drop a device\'s state after this long without events (event time).', '7d', ['30d']),
        max_devices_per_partition: {
          type: 'integer',
          minimum: 1,
          maximum: 10_000_000,
          default: DEFAULT_MAX_DEVICES_PER_PARTITION,
          description: 'Most devices kept per source partition. Past it the least recently seen are evicted (they relearn if they come back) and a device_cap finding is raised: a flood of invented ids must not exhaust memory, and is itself an anomaly. Size it at about twice the devices a partition normally holds (a mature device holds ~12 kB).',
          examples: [20000],
        },
      }),
      allowed_lateness: durationSchema('How far event time may run out of order: the watermark (which drives silence detection, incident closing and eviction) trails stream time (the newest event time several devices agree on, so one bad clock cannot move it) by this much.', '1m', ['5m']),
      max_future_skew: durationSchema(
        'How far ahead an event may be dated: later than this past the wall clock (in the service) or the stream time most devices report (whichever is later; a backtest has only the latter) it goes to the dead-letter topic as future_timestamp instead of moving time. The default admits a device whose time zone is set wrong (up to 14 h ahead), which is then judged in its own clock frame; at least 1m.',
        '1d',
        ['2h'],
      ),
      detectors: {
        type: 'array',
        description: 'Detectors to run on every device, in order. `- <detector>: {}` takes all defaults.',
        minItems: 1,
        items: detectorEntrySchema(detectors),
        examples: [[{ fanout: { window: '5m', min_distinct_dst: 40 } }, { new_peer: {} }]],
      },
      fleet: obj('The fleet view: device findings judged against the rest of their class (docs/detectors.md, "The fleet view").', {
        enabled: { type: 'boolean', default: true, description: 'Judge findings against the class (fold fleet changes, weigh destinations by how common they are). Off: every finding is alerted as its device raised it.', examples: [false] },
        hold: durationSchema('How long a finding that may be part of a fleet change waits for the rest of its class before it is alerted (the alert latency of those findings); it waits another hold, up to `window`, while more devices of the class keep showing the same change.', FLEET_DEFAULTS.hold, ['30m']),
        window: durationSchema('Devices showing the same change within this of each other form one fleet change.', FLEET_DEFAULTS.window, ['12h']),
        min_devices: { type: 'integer', minimum: 3, default: FLEET_DEFAULTS.min_devices, description: 'A change (other than a new destination) on this many devices of a class, or on min_share of it if that is fewer, is a fleet change.', examples: [10] },
        min_share: { type: 'number', minimum: 0, maximum: 1, default: FLEET_DEFAULTS.min_share, description: 'Share of a class that makes a change a fleet change; a new destination needs this share (never fewer than 3 devices).', examples: [0.1] },
        common_share: { type: 'number', minimum: 0, maximum: 1, default: FLEET_DEFAULTS.common_share, description: 'A destination used by this share of its class (at least 3 devices) is a fleet service: periodic or new contact with it is not alerted.', examples: [0.5] },
        memory: durationSchema('How long the fleet view remembers which devices exist and which destinations they use.', FLEET_DEFAULTS.memory, ['14d']),
      }),
      findings: obj('Where findings are stored.', {
        clickhouse: obj('ClickHouse findings table (embedded chdb or CLICKHOUSE_URL).', {
          database: str('Database.', { pattern: IDENT_PATTERN, patternErrorMessage: 'a ClickHouse identifier', default: 'm2m', examples: ['m2m'] }),
          table: str('Table (created by migrations if absent).', { pattern: IDENT_PATTERN, patternErrorMessage: 'a ClickHouse identifier', default: 'findings', examples: ['findings'] }),
          ttl: durationSchema('Retention, in whole days.', '90d', ['365d']),
        }),
      }),
      alerts: obj('How findings become alerts.', {
        min_severity: { type: 'string', enum: [...SEVERITIES], default: 'medium', description: 'Findings below this severity are stored but not alerted.', examples: ['high'] },
        suppress: durationSchema('Repeats of one device + detector + key within this window fold into its open alert with a count; the first repeat after the window is sent as an update.', '30m', ['1h']),
        auto_close: durationSchema('An open alert closes by itself (OCSF activity Close, status Resolved) once its device + detector + key has raised no finding for this long in event time: the behaviour is back to baseline.', '24h', ['6h']),
        routes: { type: 'array', description: 'Where alerts go; every route gets every alert that passes its min_severity.', items: routeEntrySchema(routes), default: [], examples: [[{ stdout: {} }]] },
      }),
      allow: allowSchema(),
      maintenance: maintenanceSchema(),
    },
    definitions: {},
  };
  if (opts.forEditor) {
    (schema.definitions as JsonSchema).interpolated = {
      type: 'string',
      pattern: INTERPOLATION_PATTERN,
      description: 'A ${VAR} or ${VAR:-default} reference, resolved when the pipeline is loaded.',
    };
    schema.properties = allowInterpolation(schema.properties as JsonSchema);
  } else {
    delete schema.definitions;
  }
  return schema;
}

const ANNOTATIONS = ['description', 'default', 'examples'];

function needsWrap(s: JsonSchema): boolean {
  const t = s.type;
  if (t === 'number' || t === 'integer' || t === 'boolean') return true;
  if (t === 'string') return s.pattern !== undefined || s.format !== undefined || s.enum !== undefined || s.minLength !== undefined;
  return false;
}

/** Editor variant: let typed leaves hold `${VAR}` (recursing through properties and items). */
function allowInterpolation(props: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(props)) out[k] = wrap(v as JsonSchema);
  return out;
}

function wrap(s: JsonSchema): JsonSchema {
  if (needsWrap(s)) {
    const inner: JsonSchema = {};
    const outer: JsonSchema = {};
    for (const [k, v] of Object.entries(s)) (ANNOTATIONS.includes(k) ? outer : inner)[k] = v;
    return { ...outer, anyOf: [inner, { $ref: '#/definitions/interpolated' }] };
  }
  const c: JsonSchema = { ...s };
  if (c.properties) c.properties = allowInterpolation(c.properties as JsonSchema);
  if (c.items && typeof c.items === 'object') c.items = wrap(c.items as JsonSchema);
  if (c.additionalProperties && typeof c.additionalProperties === 'object') c.additionalProperties = wrap(c.additionalProperties as JsonSchema);
  if (Array.isArray(c.anyOf)) c.anyOf = (c.anyOf as JsonSchema[]).map(wrap);
  return c;
}

/** The committed editor schema's exact text (scripts/gen-schema.ts writes it; a test compares). */
export function renderEditorSchema(opts: Omit<SchemaOptions, 'forEditor'> = {}): string {
  return JSON.stringify(buildPipelineSchema({ ...opts, forEditor: true }), null, 2) + '\n';
}
