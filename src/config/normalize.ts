/**
 * A validated pipeline document → PipelineConfig: defaults applied, durations in milliseconds,
 * shorthands expanded, switched-off detectors and routes dropped. Only called on documents that
 * passed validation, so a failure here is a bug and throws.
 */
import type { Severity } from '../detectors/types.js';
import type { DetectorSpec } from '../detectors/types.js';
import { withDefaults } from '../detectors/params.js';
import { parseDurationOrMs } from '../lib/duration.js';
import type { KafkaSasl, KafkaTls } from '../kafka/security.js';
import type { AlertRouteConfig, DetectorConfig, FieldRule, MappingConfig, PipelineConfig } from './types.js';
import { FLEET_DEFAULTS } from './fleet.js';
import type { YamlPath } from './interpolate.js';
import { ROUTE_SPECS, ROUTE_TYPES } from './routes.js';
import { DEFAULT_MAX_DEVICES_PER_PARTITION } from './schema.js';
import { entryType, routeActive, routeNames } from './validate.js';
import { DETECTOR_KNOB_KEYS, detectorKnobs, pipelineKnobs } from './knobs.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function ms(v: unknown, def: string): number {
  const r = parseDurationOrMs(typeof v === 'string' ? v : def);
  if (r === undefined) throw new Error(`bug: unvalidated duration ${JSON.stringify(v)}`);
  return r;
}

export interface Normalized {
  config: PipelineConfig;
  /** YAML path → PipelineConfig path, for carrying redactions over. */
  translate(path: YamlPath): YamlPath | undefined;
}

export function normalizePipeline(
  data: Obj,
  opts: { file?: string; env: Record<string, string | undefined>; detectors: readonly DetectorSpec<any>[] },
): Normalized {
  const k = (data.source as Obj).kafka as Obj;
  const topics = k.topics as string[];
  const source: PipelineConfig['source'] = {
    kafka: {
      topics: [...topics],
      group: k.group as string,
      start: (k.start as 'earliest' | 'latest' | undefined) ?? 'latest',
      format: 'json',
      dead_letter_topic: (k.dead_letter_topic as string | undefined) ?? `${topics[0]}.dlq`,
    },
  };
  if (Array.isArray(k.brokers)) source.kafka.brokers = [...(k.brokers as string[])];
  if (isObj(k.ssl)) source.kafka.ssl = { ...(k.ssl as KafkaTls) };
  if (isObj(k.sasl)) source.kafka.sasl = { ...(k.sasl as unknown as KafkaSasl) };

  let mapping: MappingConfig | undefined;
  if (isObj(data.mapping)) {
    const m = data.mapping;
    const fields: Record<string, FieldRule> = {};
    for (const [name, rule] of Object.entries(isObj(m.fields) ? m.fields : {})) {
      if (typeof rule === 'string') fields[name] = { path: rule };
      else if (isObj(rule)) {
        const r: FieldRule = { path: rule.path as string };
        if (rule.format !== undefined) r.format = rule.format as FieldRule['format'];
        if (rule.scale !== undefined) r.scale = rule.scale as number;
        if (rule.offset !== undefined) r.offset = rule.offset as number;
        fields[name] = r;
      }
    }
    const metrics: MappingConfig['metrics'] = {};
    for (const [name, rule] of Object.entries(isObj(m.metrics) ? m.metrics : {})) {
      if (isObj(rule)) metrics[name] = { ...(rule as MappingConfig['metrics'][string]) };
    }
    mapping = { fields, constants: { ...((isObj(m.constants) ? m.constants : {}) as MappingConfig['constants']) }, metrics };
  }

  const entities = isObj(data.entities) ? data.entities : {};
  const findings = isObj(data.findings) && isObj(data.findings.clickhouse) ? data.findings.clickhouse : {};
  const alerts = isObj(data.alerts) ? data.alerts : {};
  const fleet = isObj(data.fleet) ? data.fleet : {};
  const rawRoutes = Array.isArray(alerts.routes) ? (alerts.routes as unknown[]) : [];
  const names = routeNames(rawRoutes);

  const routeIndex = new Map<number, number>();
  const routes: AlertRouteConfig[] = [];
  rawRoutes.forEach((r, i) => {
    if (!isObj(r) || !routeActive(r, opts.env)) return;
    const type = entryType(r, ROUTE_TYPES) as AlertRouteConfig['type'];
    const spec = ROUTE_SPECS.find((s) => s.type === type)!;
    const given = isObj(r[type]) ? (r[type] as Obj) : {};
    const options: Obj = {};
    for (const [name, o] of Object.entries(spec.options)) {
      const v = given[name] !== undefined ? given[name] : o.default;
      if (v === undefined) continue;
      options[name] = o.type === 'duration' ? ms(v, String(o.default)) : v;
    }
    // The syslog port's default depends on the transport: 6514 is syslog over TLS (RFC 5425).
    if (type === 'syslog' && options.port === undefined) options.port = options.protocol === 'tls' ? 6514 : 514;
    const route: AlertRouteConfig = { type, name: names[i]!, options };
    if (typeof r.min_severity === 'string') route.min_severity = r.min_severity as Severity;
    if (typeof r.max_per_minute === 'number') route.max_per_minute = r.max_per_minute;
    routeIndex.set(i, routes.length);
    routes.push(route);
  });
  const activeNames = new Set(routes.map((r) => r.name));

  const detectorIndex = new Map<number, number>();
  const detectors: DetectorConfig[] = [];
  const names2 = opts.detectors.map((d) => d.name);
  (data.detectors as unknown[]).forEach((entry, i) => {
    if (!isObj(entry) || entry.enabled === false) return;
    const type = entryType(entry, names2)!;
    const spec = opts.detectors.find((d) => d.name === type)!;
    const given = isObj(entry[type]) ? (entry[type] as Obj) : {};
    const d: DetectorConfig = { type, id: typeof entry.id === 'string' ? entry.id : type, params: withDefaults(spec, given), ...detectorKnobs(entry) };
    // A reference to a route switched off by if_env/enabled is not an error: the route exists,
    // it is just not running in this environment.
    if (Array.isArray(entry.routes)) d.routes = (entry.routes as string[]).filter((n) => activeNames.has(n));
    detectorIndex.set(i, detectors.length);
    detectors.push(d);
  });

  const config: PipelineConfig = {
    name: data.name as string,
    ...(typeof data.description === 'string' ? { description: data.description } : {}),
    ...(opts.file !== undefined ? { file: opts.file } : {}),
    source,
    ...(mapping ? { mapping } : {}),
    entities: { key: 'device_id', idle_eviction_ms: ms(entities.idle_eviction, '7d'), max_devices_per_partition: typeof entities.max_devices_per_partition === 'number' ? entities.max_devices_per_partition : DEFAULT_MAX_DEVICES_PER_PARTITION },
    allowed_lateness_ms: ms(data.allowed_lateness, '1m'),
    max_future_skew_ms: ms(data.max_future_skew, '1d'),
    detectors,
    fleet: {
      enabled: fleet.enabled !== false,
      hold_ms: ms(fleet.hold, FLEET_DEFAULTS.hold),
      window_ms: ms(fleet.window, FLEET_DEFAULTS.window),
      min_devices: typeof fleet.min_devices === 'number' ? fleet.min_devices : FLEET_DEFAULTS.min_devices,
      min_share: typeof fleet.min_share === 'number' ? fleet.min_share : FLEET_DEFAULTS.min_share,
      common_share: typeof fleet.common_share === 'number' ? fleet.common_share : FLEET_DEFAULTS.common_share,
      memory_ms: ms(fleet.memory, FLEET_DEFAULTS.memory),
    },
    findings: {
      clickhouse: {
        database: (findings.database as string | undefined) ?? 'm2m',
        table: (findings.table as string | undefined) ?? 'findings',
        ttl_days: Math.round(ms(findings.ttl, '90d') / 86_400_000),
      },
    },
    alerts: {
      min_severity: (alerts.min_severity as Severity | undefined) ?? 'medium',
      suppress_ms: ms(alerts.suppress, '30m'),
      auto_close_ms: ms(alerts.auto_close, '24h'),
      routes,
    },
    ...pipelineKnobs(data),
  };

  const translate = (p: YamlPath): YamlPath | undefined => {
    const [a, b, c, d, ...rest] = p;
    if (a === 'alerts' && b === 'routes' && typeof c === 'number') {
      const j = routeIndex.get(c);
      if (j === undefined) return undefined;
      return typeof d === 'string' && (ROUTE_TYPES as string[]).includes(d) ? ['alerts', 'routes', j, 'options', ...rest] : ['alerts', 'routes', j, ...(d === undefined ? [] : [d]), ...rest];
    }
    if (a === 'detectors' && typeof b === 'number') {
      const j = detectorIndex.get(b);
      if (j === undefined) return undefined;
      return typeof c === 'string' && (c === 'id' || c === 'routes' || (DETECTOR_KNOB_KEYS as readonly string[]).includes(c)) ? ['detectors', j, c, ...(d === undefined ? [] : [d]), ...rest] : ['detectors', j, 'params', ...(d === undefined ? [] : [d]), ...rest];
    }
    if (a === 'mapping' && b === 'fields' && typeof c === 'string' && d === undefined) return ['mapping', 'fields', c, 'path'];
    return p;
  };
  return { config, translate };
}

