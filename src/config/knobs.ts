/**
 * The pipeline keys that tune and quiet detection without touching a detector's parameters:
 *
 * - beside a detector (like id and routes): `min_severity`, `sensitivity`, and for metric
 *   detectors `direction` and `min_deviation`;
 * - top level: `allow` (connections connection detectors do not analyse) and `maintenance`
 *   (scheduled windows during which findings are kept and alerts held).
 *
 * Their schema, the checks a schema cannot express, and the YAML → PipelineConfig step live
 * here; what they do at run time is in pipeline/knobs.ts (allow, direction, min_deviation),
 * detectors/thresholds.ts (sensitivity) and alerts/hold.ts (min_severity, maintenance).
 */
import { Cron } from 'croner';
import { ALLOW_DEFAULT_DETECTORS, METRIC_DETECTORS } from '../detectors/knob-scopes.js';
import { SENSITIVITY_RANGE, THRESHOLDS } from '../detectors/thresholds.js';
import { SEVERITIES, type DetectorSpec, type Severity } from '../detectors/types.js';
import { parseCidr } from '../detectors/lib/ip.js';
import { DURATION_HINT, DURATION_PATTERN, parseDuration } from '../lib/duration.js';
import type { AllowRule, DetectorConfig, Direction, MaintenanceWindowConfig, MinDeviation, PipelineConfig } from './types.js';
import type { YamlPath } from './interpolate.js';
import type { ConfigErrorCode } from './errors.js';

type JsonSchema = Record<string, unknown>;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const NAME_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,63}$';
const DIRECTIONS = ['up', 'down', 'both'] as const;
const strings = (description: string, examples: unknown[]): JsonSchema => ({ type: 'array', description, items: { type: 'string', minLength: 1 }, minItems: 1, uniqueItems: true, examples });

/** Keys beside a detector name, in the order the docs list them. */
export const DETECTOR_KNOB_KEYS = ['min_severity', 'sensitivity', 'direction', 'min_deviation'] as const;

export function detectorKnobSchemas(): Record<string, JsonSchema> {
  const dirEnum = { type: 'string', enum: [...DIRECTIONS] };
  return {
    min_severity: {
      type: 'string',
      enum: [...SEVERITIES],
      description: "This detector's findings below this severity are stored but not alerted; replaces alerts.min_severity for this detector (higher or lower).",
      examples: ['high'],
    },
    sensitivity: {
      type: 'number',
      minimum: SENSITIVITY_RANGE.min,
      maximum: SENSITIVITY_RANGE.max,
      default: 1,
      description: 'Moves the detector\'s threshold parameters: 2 fires at about half the threshold (more findings), 0.5 at about twice it (fewer). Relative to the parameters written here; not for range_limits, lateral_movement and policy, which have no threshold.',
      examples: [1.5],
    },
    direction: {
      description: `Metric detectors (${METRIC_DETECTORS.join(', ')}): which deviations are findings: up (rises only, e.g. temperature), down (drops only) or both. One value for every metric, or a map metric → direction with "*" for the others.`,
      anyOf: [dirEnum, { type: 'object', additionalProperties: dirEnum, minProperties: 1 }],
      default: 'both',
      examples: ['up', { temperature_c: 'up', '*': 'both' }],
    },
    min_deviation: {
      type: 'object',
      description: `Metric detectors (${METRIC_DETECTORS.join(', ')}): ignore deviations smaller than an absolute amount (abs, in the metric's unit) and/or a fraction of the expected value (rel), per metric; "*" for the others.`,
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        description: 'Both given: a deviation must exceed both.',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          abs: { type: 'number', minimum: 0, description: "Smallest deviation that counts, in the metric's own unit.", examples: [2] },
          rel: { type: 'number', minimum: 0, description: 'Smallest deviation that counts, as a fraction of the expected value (0.1 = 10%).', examples: [0.1] },
        },
      },
      examples: [{ temperature_c: { abs: 2 }, '*': { rel: 0.05 } }],
    },
  };
}

export function allowSchema(): JsonSchema {
  return {
    type: 'array',
    description: `Connections the connection detectors do not analyse (like RITA's safelist): known destinations and services. An entry matches a connection when its device class, destination address and port all match what the entry lists. By default an entry applies to the detectors that judge where a connection goes (${ALLOW_DEFAULT_DETECTORS.join(', ')}), not to scans, brute force or cloning, which an allowed destination does not excuse.`,
    items: {
      type: 'object',
      additionalProperties: false,
      description: 'One allow-list entry; give at least one of peers, cidrs or ports.',
      properties: {
        name: { type: 'string', pattern: NAME_PATTERN, patternErrorMessage: 'lower-case letters, digits, ".", "_" or "-"', description: 'Name for messages; default allow[i].', examples: ['scada-polling'] },
        classes: strings('Device classes it applies to; default every class.', [['plc']]),
        peers: strings('Destination addresses (IPv4 or IPv6).', [['10.20.0.1']]),
        cidrs: strings('Destination networks.', [['10.20.0.0/16']]),
        ports: { type: 'array', description: 'Destination ports (with peers or cidrs: that service only).', items: { type: 'integer', minimum: 0, maximum: 65535 }, minItems: 1, uniqueItems: true, examples: [[502, 123]] },
        detectors: strings('Detector ids it applies to, instead of the default set.', [['new_peer', 'beaconing']]),
      },
    },
    examples: [[{ name: 'ntp', ports: [123] }, { classes: ['plc'], cidrs: ['10.20.0.0/16'], ports: [502] }]],
  };
}

export function maintenanceSchema(): JsonSchema {
  const duration = { type: 'string', pattern: DURATION_PATTERN, patternErrorMessage: DURATION_HINT };
  return {
    type: 'array',
    description: 'Scheduled maintenance windows: findings of the devices in scope are stored as usual but not alerted while their event time is inside the window. One-off (start, end) or recurring (schedule, duration). Ad hoc windows: `m2m-sentinel maintenance add`.',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      description: 'One window; devices and classes widen each other, and neither means every device of the pipeline.',
      properties: {
        name: { type: 'string', pattern: NAME_PATTERN, patternErrorMessage: 'lower-case letters, digits, ".", "_" or "-"', description: 'Unique name (shown in metrics and logs).', examples: ['sunday-patching'] },
        devices: strings('Devices in scope.', [['plc-07']]),
        classes: strings('Device classes in scope.', [['pos_terminal']]),
        start: { type: 'string', format: 'date-time', description: 'One-off window: start (ISO-8601 with a zone).', examples: ['2026-03-28T22:00:00Z'] },
        end: { type: 'string', format: 'date-time', description: 'One-off window: end (exclusive).', examples: ['2026-03-29T02:00:00Z'] },
        schedule: { type: 'string', description: 'Recurring window: when it starts, as a 5-field cron expression (minute hour day-of-month month day-of-week).', examples: ['0 2 * * SUN'] },
        duration: { ...duration, description: 'Recurring window: how long each lasts.', examples: ['2h'] },
        timezone: { type: 'string', description: 'IANA time zone of the schedule (daylight saving followed); default UTC.', default: 'UTC', examples: ['Europe/Berlin'] },
      },
    },
    examples: [[{ name: 'sunday-patching', classes: ['pos_terminal'], schedule: '0 2 * * SUN', duration: '2h', timezone: 'Europe/Berlin' }]],
  };
}

export type AddError = (code: ConfigErrorCode, path: YamlPath, message: string, extra?: { expected?: string; found?: string; note?: string; hint?: string; at?: 'key' | 'value' }) => void;

/** Checks the schema cannot express: which detectors a knob fits, addresses, schedules. */
export function knobChecks(data: Obj, add: AddError, detectors: readonly DetectorSpec<any>[], entryType: (entry: unknown) => string | undefined): void {
  const dets = Array.isArray(data.detectors) ? data.detectors : [];
  const ids = new Map<string, string>();
  dets.forEach((entry, i) => {
    const t = entryType(entry);
    if (!t || !isObj(entry)) return;
    ids.set(typeof entry.id === 'string' ? entry.id : t, t);
    for (const k of ['direction', 'min_deviation'] as const) {
      if (entry[k] !== undefined && !METRIC_DETECTORS.includes(t)) {
        add('bad_value', ['detectors', i, k], `${k} applies to metric detectors only`, { at: 'key', expected: `one of ${METRIC_DETECTORS.join(', ')}`, found: t });
      }
    }
    if (entry.sensitivity !== undefined && (THRESHOLDS[t]?.length ?? 0) === 0) {
      add('bad_value', ['detectors', i, 'sensitivity'], `${t} has no threshold for sensitivity to move`, { at: 'key', note: t === 'range_limits' ? 'its limits are absolute: change them instead' : 'tune its parameters, or use min_severity' });
    }
  });
  const conn = new Set(detectors.filter((d) => d.family !== 'telemetry').map((d) => d.name));
  (Array.isArray(data.allow) ? data.allow : []).forEach((r, i) => {
    if (!isObj(r)) return;
    if (r.peers === undefined && r.cidrs === undefined && r.ports === undefined) add('missing_key', ['allow', i], 'an allow entry needs peers, cidrs or ports', { at: 'key', note: 'an entry with none would allow every connection' });
    (Array.isArray(r.peers) ? r.peers : []).forEach((p, j) => {
      if (typeof p !== 'string') return;
      const c = parseCidr(p);
      if (!c || p.includes('/')) add('bad_format', ['allow', i, 'peers', j], 'invalid address', { expected: 'an IPv4 or IPv6 address (networks go under cidrs)', found: JSON.stringify(p) });
    });
    (Array.isArray(r.cidrs) ? r.cidrs : []).forEach((p, j) => {
      if (typeof p === 'string' && !parseCidr(p)) add('bad_format', ['allow', i, 'cidrs', j], 'invalid network', { expected: 'a CIDR such as 10.20.0.0/16 or fd00::/8', found: JSON.stringify(p) });
    });
    (Array.isArray(r.detectors) ? r.detectors : []).forEach((d, j) => {
      if (typeof d !== 'string') return;
      const t = ids.get(d);
      if (t === undefined) add('undefined_route', ['allow', i, 'detectors', j], `no detector with id "${d}" in this pipeline`, { expected: [...ids.keys()].filter((x) => conn.has(ids.get(x)!)).join(', ') || 'a connection detector id' });
      else if (!conn.has(t)) add('bad_value', ['allow', i, 'detectors', j], `${d} is a telemetry detector; allow-lists are about connections`, {});
    });
  });
  const names = new Map<string, number>();
  (Array.isArray(data.maintenance) ? data.maintenance : []).forEach((w, i) => {
    if (!isObj(w)) return;
    if (typeof w.name === 'string') {
      const prev = names.get(w.name);
      if (prev !== undefined) add('duplicate_value', ['maintenance', i, 'name'], `window name "${w.name}" is already used by maintenance[${prev}]`, {});
      else names.set(w.name, i);
    }
    const oneOff = w.start !== undefined || w.end !== undefined;
    const recurring = w.schedule !== undefined || w.duration !== undefined;
    if (oneOff && recurring) add('bad_value', ['maintenance', i], 'a window is one-off (start, end) or recurring (schedule, duration), not both', { at: 'key' });
    else if (!oneOff && !recurring) add('missing_key', ['maintenance', i], 'a window needs start and end, or schedule and duration', { at: 'key' });
    else if (oneOff) {
      for (const k of ['start', 'end'] as const) if (w[k] === undefined) add('missing_key', ['maintenance', i], `missing required key "${k}"`, { at: 'key' });
      if (typeof w.start === 'string' && typeof w.end === 'string' && Date.parse(w.end) <= Date.parse(w.start)) add('out_of_range', ['maintenance', i, 'end'], 'end must be after start', { found: JSON.stringify(w.end) });
    } else {
      for (const k of ['schedule', 'duration'] as const) if (w[k] === undefined) add('missing_key', ['maintenance', i], `missing required key "${k}"`, { at: 'key' });
      if (typeof w.timezone === 'string') {
        try {
          new Intl.DateTimeFormat('en', { timeZone: w.timezone });
        } catch {
          add('bad_value', ['maintenance', i, 'timezone'], 'unknown time zone', { expected: 'an IANA name such as Europe/Berlin or UTC', found: JSON.stringify(w.timezone) });
        }
      }
      if (typeof w.schedule === 'string') {
        try {
          new Cron(w.schedule, { paused: true, mode: '5-part' });
        } catch (e) {
          add('bad_format', ['maintenance', i, 'schedule'], 'invalid cron schedule', { expected: 'minute hour day-of-month month day-of-week, e.g. "0 2 * * SUN"', found: JSON.stringify(w.schedule), note: String((e as Error).message) });
        }
      }
    }
  });
}

function directionMap(v: unknown): Record<string, Direction> | undefined {
  if (typeof v === 'string') return v === 'both' ? undefined : { '*': v as Direction };
  if (isObj(v)) return { ...(v as Record<string, Direction>) };
  return undefined;
}

/** The knob fields of one validated detector entry, normalized. */
export function detectorKnobs(entry: Obj): Partial<DetectorConfig> {
  const out: Partial<DetectorConfig> = {};
  if (typeof entry.min_severity === 'string') out.min_severity = entry.min_severity as Severity;
  if (typeof entry.sensitivity === 'number' && entry.sensitivity !== 1) out.sensitivity = entry.sensitivity;
  const dir = directionMap(entry.direction);
  if (dir) out.direction = dir;
  if (isObj(entry.min_deviation)) out.min_deviation = structuredClone(entry.min_deviation) as Record<string, MinDeviation>;
  return out;
}

/** The top-level knobs of a validated document, normalized. */
export function pipelineKnobs(data: Obj): Pick<PipelineConfig, 'allow' | 'maintenance'> {
  const out: Pick<PipelineConfig, 'allow' | 'maintenance'> = {};
  if (Array.isArray(data.allow) && data.allow.length) {
    out.allow = (data.allow as Obj[]).map((r, i) => {
      const a: AllowRule = { name: typeof r.name === 'string' ? r.name : `allow[${i}]` };
      for (const k of ['classes', 'peers', 'cidrs', 'detectors'] as const) if (Array.isArray(r[k])) a[k] = [...(r[k] as string[])];
      if (Array.isArray(r.ports)) a.ports = [...(r.ports as number[])];
      return a;
    });
  }
  if (Array.isArray(data.maintenance) && data.maintenance.length) {
    out.maintenance = (data.maintenance as Obj[]).map((w) => {
      const m: MaintenanceWindowConfig = { name: w.name as string };
      if (Array.isArray(w.devices)) m.devices = [...(w.devices as string[])];
      if (Array.isArray(w.classes)) m.classes = [...(w.classes as string[])];
      if (typeof w.start === 'string') m.start_ms = Date.parse(w.start);
      if (typeof w.end === 'string') m.end_ms = Date.parse(w.end);
      if (typeof w.schedule === 'string') m.schedule = w.schedule;
      if (typeof w.duration === 'string') m.duration_ms = parseDuration(w.duration)!;
      if (typeof w.timezone === 'string') m.timezone = w.timezone;
      return m;
    });
  }
  return out;
}

/** The knobs back in file form (validate --print). */
export function printDetectorKnobs(d: DetectorConfig): Obj {
  const o: Obj = {};
  if (d.min_severity) o.min_severity = d.min_severity;
  if (d.sensitivity !== undefined) o.sensitivity = d.sensitivity;
  if (d.direction) o.direction = Object.keys(d.direction).length === 1 && d.direction['*'] ? d.direction['*'] : { ...d.direction };
  if (d.min_deviation) o.min_deviation = structuredClone(d.min_deviation);
  return o;
}

export function printPipelineKnobs(cfg: PipelineConfig, formatDuration: (ms: number) => string): Obj {
  const o: Obj = {};
  if (cfg.allow) o.allow = cfg.allow.map(({ name, ...rest }) => ({ ...(name.startsWith('allow[') ? {} : { name }), ...structuredClone(rest) }));
  if (cfg.maintenance) {
    o.maintenance = cfg.maintenance.map((w) => {
      const x: Obj = { name: w.name };
      if (w.devices) x.devices = [...w.devices];
      if (w.classes) x.classes = [...w.classes];
      if (w.start_ms !== undefined) x.start = new Date(w.start_ms).toISOString();
      if (w.end_ms !== undefined) x.end = new Date(w.end_ms).toISOString();
      if (w.schedule) x.schedule = w.schedule;
      if (w.duration_ms !== undefined) x.duration = formatDuration(w.duration_ms);
      if (w.timezone) x.timezone = w.timezone;
      return x;
    });
  }
  return o;
}
