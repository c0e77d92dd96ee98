/**
 * range_limits: readings outside the physical limits a pipeline declares, per metric and
 * optionally per device class. No learning: a mains voltage of 900 V or a negative tank level is
 * wrong from the first reading, whether the sensor failed or someone is spoofing it.
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { TELEMETRY_ONLY, reusedResult, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from './types.js';
import type { M2MEvent, TelemetryEvent } from '../events/types.js';
import { fmt } from './lib/format.js';

export interface Limit {
  min?: number;
  max?: number;
}

export interface RangeLimitsParams extends Record<string, unknown> {
  limits: Record<string, Limit>;
  class_limits: Record<string, Record<string, Limit>>;
  incident_gap: number;
}

export interface RangeLimitsState {
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const LIMIT_SCHEMA = {
  type: 'object',
  properties: { min: { type: 'number' }, max: { type: 'number' } },
  additionalProperties: false,
};

export const rangeLimits: DetectorSpec<RangeLimitsParams> = {
  name: 'range_limits',
  family: 'telemetry',
  summary:
    'Readings outside declared physical limits (per metric, optionally overridden per device class). Fires from the first reading: a value no healthy sensor can produce is either a fault or a spoofed reading.',
  params: {
    limits: {
      type: 'object',
      description: 'Metric → {min, max} for every device class.',
      default: {},
      schema: { type: 'object', additionalProperties: LIMIT_SCHEMA },
      examples: [{ voltage: { min: 0, max: 480 }, temperature_c: { min: -40, max: 125 } }],
    },
    class_limits: {
      type: 'object',
      description: 'Device class → metric → {min, max}; overrides `limits` for that class and metric.',
      default: {},
      schema: { type: 'object', additionalProperties: { type: 'object', additionalProperties: LIMIT_SCHEMA } },
      examples: [{ smart_meter: { voltage: { min: 180, max: 260 } } }],
    },
    incident_gap: { type: 'duration', description: 'Out-of-range readings closer than this extend one finding.', default: '30m' },
  },
  example:
    'meter-0042 (smart_meter) reported voltage=912, above its physical limit 260 (allowed 180..260); treat the reading as untrustworthy, check the sensor, and look for spoofed telemetry if the device is otherwise healthy.',
  mitre: ['T0856', 'T0832'],
  check(p) {
    const out: Array<{ path: Array<string | number>; message: string }> = [];
    const one = (path: Array<string | number>, l: unknown) => {
      const { min, max } = (l ?? {}) as Limit;
      if (typeof min === 'number' && typeof max === 'number' && min > max) out.push({ path: [...path, 'min'], message: `min ${min} is above max ${max}: no reading could ever be in range` });
    };
    const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (isObj(p.limits)) for (const [m, l] of Object.entries(p.limits)) one(['limits', m], l);
    if (isObj(p.class_limits)) for (const [c, ls] of Object.entries(p.class_limits)) if (isObj(ls)) for (const [m, l] of Object.entries(ls)) one(['class_limits', c, m], l);
    return out;
  },
  create(params, id) {
    return new RangeLimitsDetector(params, id);
  },
};

class RangeLimitsDetector implements DetectorInstance<RangeLimitsState> {
  readonly spec = rangeLimits;
  readonly eventTypes = TELEMETRY_ONLY;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<RangeLimitsState>();
  /** One open incident per limited metric. */
  readonly maxStateBytes: number;
  /** Resolved limits per device class; derived from params only, so caching keeps purity. */
  private readonly byClass = new Map<string, Record<string, Limit>>();

  constructor(
    private readonly p: RangeLimitsParams,
    readonly id: string,
  ) {
    const metrics = new Set(Object.keys(p.limits));
    for (const c of Object.values(p.class_limits)) for (const m of Object.keys(c)) metrics.add(m);
    this.maxStateBytes = 32 + Math.max(1, metrics.size) * (64 + 110);
  }

  private limitsFor(cls: string): Record<string, Limit> {
    let l = this.byClass.get(cls);
    if (l === undefined) {
      l = { ...this.p.limits, ...(this.p.class_limits[cls] ?? {}) };
      this.byClass.set(cls, l);
    }
    return l;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): RangeLimitsState {
    return { inc: null };
  }

  step(s: RangeLimitsState, ev: M2MEvent): StepResult<RangeLimitsState> {
    const e = ev as TelemetryEvent;
    const limits = this.limitsFor(e.device_class);
    let out: FindingDraft[] | null = null;
    for (const name in limits) {
      const x = e.metrics[name];
      if (typeof x !== 'number') continue;
      const lim = limits[name]!;
      const lo = lim.min;
      const hi = lim.max;
      const below = lo !== undefined && x < lo;
      const above = hi !== undefined && x > hi;
      if (!below && !above) continue;
      const bound = below ? lo! : hi!;
      const width = lo !== undefined && hi !== undefined ? hi - lo : Math.max(Math.abs(bound), 1);
      const excess = Math.abs(x - bound) / width;
      // Just past a limit is often a sensor at the edge of its range; far past it is not physics.
      const score = excess > 0.5 ? 0.8 : excess > 0.1 ? 0.7 : 0.6;
      const allowed = `${lo !== undefined ? fmt(lo) : '-∞'}..${hi !== undefined ? fmt(hi) : '∞'}`;
      const f = raiseThrottled((s.inc ??= {}),
        {
          detector: this.id,
          key: name,
          device_id: e.device_id,
          device_class: e.device_class,
          ts: e.ts,
          score,
          observed: x,
          expected: allowed,
          explanation: `${e.device_id} (${e.device_class}) reported ${name}=${fmt(x)}, ${below ? 'below' : 'above'} its physical limit ${fmt(bound)} (allowed ${allowed}); treat the reading as untrustworthy, check the sensor, and look for spoofed telemetry if the device is otherwise healthy.`,
          evidence: { metric: name, value: x, min: lo ?? null, max: hi ?? null, direction: below ? 'below' : 'above', excess_of_range: Math.round(excess * 1000) / 1000 },
          mitre: rangeLimits.mitre,
        },
        this.p.incident_gap,
      );
      if (f !== null) (out ??= []).push(f);
    }
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, this.p.incident_gap);
      break;
    }
    return this.result(s, out ?? NONE);
  }
}

const NONE: FindingDraft[] = [];
