/**
 * The per-entry knobs of a pipeline's detectors, applied around a detector instance so that no
 * detector needs to know them: allow-listed connections are not offered to it, and findings
 * outside the entry's `direction` or below its `min_deviation` are dropped as they leave it.
 * (min_severity and maintenance windows are routing decisions: alerts/hold.ts. sensitivity
 * moves parameters before the instance is made: detectors/thresholds.ts.)
 *
 * Both are pure functions of the event and the finding, so replays, backtests and restored
 * partitions give the same results. An entry without these knobs gets its instance unwrapped.
 */
import type { AllowRule, DetectorConfig, Direction, MinDeviation } from '../config/types.js';
import { ALLOW_DEFAULT_DETECTORS, METRIC_DETECTORS } from '../detectors/knob-scopes.js';
import type { DetectorInstance, FindingDraft, StepResult } from '../detectors/types.js';
import { inCidr, parseCidr, type Cidr } from '../detectors/lib/ip.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';

/** What a metric finding says about its deviation, read from the evidence its detector writes. */
export interface MetricDeviation {
  metric: string;
  direction: 'up' | 'down';
  /** |observed − expected|, in the metric's unit. */
  deviation: number;
  /** The value it deviates from (baseline, implied value, crossed limit). */
  expected: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Undefined when the finding does not carry what is needed: such a finding is always kept. */
function metricDeviation(type: string, f: FindingDraft): MetricDeviation | undefined {
  const e = f.evidence as Record<string, unknown>;
  const metric = typeof e.metric === 'string' ? e.metric : undefined;
  if (metric === undefined) return undefined;
  const dir = (up: boolean): 'up' | 'down' => (up ? 'up' : 'down');
  switch (type) {
    case 'metric_baseline': {
      const observed = e.counter === true ? num(e.rate_per_s) : num(e.value);
      const expected = num(e.baseline_center);
      if (observed === undefined || expected === undefined) return undefined;
      return { metric, direction: dir(e.direction === 'above'), deviation: Math.abs(observed - expected), expected };
    }
    case 'level_shift': {
      const expected = num(e.baseline_center);
      const value = num(e.value);
      if (expected === undefined || value === undefined) return undefined;
      // The shift of the level (recent mean residual × σ), not one reading's distance.
      const shift = num(e.mean_shift_sigma) !== undefined && num(e.baseline_sigma) !== undefined ? Math.abs(num(e.mean_shift_sigma)! * num(e.baseline_sigma)!) : Math.abs(value - expected);
      return { metric, direction: dir(e.direction === 'above'), deviation: shift, expected };
    }
    case 'metric_relation': {
      const value = num(e.value);
      const implied = num(e.implied);
      if (value === undefined || implied === undefined) return undefined;
      return { metric, direction: dir(value > implied), deviation: Math.abs(value - implied), expected: implied };
    }
    case 'range_limits': {
      const value = num(e.value);
      const above = e.direction === 'above';
      const limit = above ? num(e.max) : num(e.min);
      if (value === undefined || limit === undefined) return undefined;
      return { metric, direction: dir(above), deviation: Math.abs(value - limit), expected: limit };
    }
    default:
      return undefined;
  }
}

const pick = <T>(m: Record<string, T> | undefined, metric: string): T | undefined => (m ? (m[metric] ?? m['*']) : undefined);

/** Whether a metric finding passes the entry's direction and min_deviation. */
function keepMetricFinding(d: MetricDeviation, direction: Record<string, Direction> | undefined, minDev: Record<string, MinDeviation> | undefined): boolean {
  const want = pick(direction, d.metric) ?? 'both';
  if (want !== 'both' && want !== d.direction) return false;
  const m = pick(minDev, d.metric);
  if (m) {
    if (m.abs !== undefined && d.deviation < m.abs) return false;
    if (m.rel !== undefined && d.deviation < m.rel * Math.abs(d.expected)) return false;
  }
  return true;
}

interface CompiledRule {
  classes: Set<string> | undefined;
  nets: Cidr[] | undefined;
  ports: Set<number> | undefined;
}

function compile(r: AllowRule): CompiledRule {
  const nets = [...(r.peers ?? []), ...(r.cidrs ?? [])].map((t) => parseCidr(t)).filter((c): c is Cidr => c !== undefined);
  return {
    classes: r.classes ? new Set(r.classes) : undefined,
    nets: r.peers || r.cidrs ? nets : undefined,
    ports: r.ports ? new Set(r.ports) : undefined,
  };
}

/** The allow rules that apply to one detector entry. */
export function allowRulesFor(d: Pick<DetectorConfig, 'id' | 'type'>, rules: readonly AllowRule[] | undefined): AllowRule[] {
  return (rules ?? []).filter((r) => (r.detectors ? r.detectors.includes(d.id) : ALLOW_DEFAULT_DETECTORS.includes(d.type)));
}

/** A predicate: is this connection allowed by any of the rules (class, destination and port all match)? */
function allowMatcher(rules: readonly AllowRule[]): (e: ConnectionEvent) => boolean {
  const cs = rules.map(compile);
  return (e) => {
    for (const c of cs) {
      if (c.classes && !c.classes.has(e.device_class)) continue;
      if (c.ports && !c.ports.has(e.dst_port)) continue;
      if (c.nets && !c.nets.some((n) => inCidr(e.dst_ip, n))) continue;
      return true;
    }
    return false;
  };
}

/** The instance with the entry's knobs around it, or the instance itself when it has none. */
export function withKnobs(inst: DetectorInstance, d: DetectorConfig, allow: readonly AllowRule[] | undefined): DetectorInstance {
  const rules = allowRulesFor(d, allow);
  const metricKnobs = METRIC_DETECTORS.includes(d.type) && (d.direction !== undefined || d.min_deviation !== undefined);
  const connections = inst.eventTypes === undefined || inst.eventTypes.includes('connection');
  const allowed = rules.length && connections ? allowMatcher(rules) : undefined;
  if (!metricKnobs && !allowed) return inst;

  const keep = (f: FindingDraft): boolean => {
    const dev = metricDeviation(d.type, f);
    return dev === undefined || keepMetricFinding(dev, d.direction, d.min_deviation);
  };
  const filter = <S>(r: StepResult<S>): StepResult<S> => {
    if (!metricKnobs || r.findings.length === 0) return r;
    const kept = r.findings.filter(keep);
    return kept.length === r.findings.length ? r : { state: r.state, findings: kept };
  };
  // Plain delegation (not a prototype chain): detectors may use private fields bound to `this`.
  const w: DetectorInstance = {
    id: inst.id,
    spec: inst.spec,
    applies: allowed ? (e: M2MEvent) => !(e.type === 'connection' && allowed(e)) && inst.applies(e) : (e: M2MEvent) => inst.applies(e),
    init: (e) => inst.init(e),
    step: (s, e, ctx) => filter(inst.step(s, e, ctx)),
  };
  const opt = w as { -readonly [K in keyof DetectorInstance]: DetectorInstance[K] };
  if (inst.eventTypes !== undefined) opt.eventTypes = inst.eventTypes;
  if (inst.tick) opt.tick = (s, id, cls, ctx) => filter(inst.tick!(s, id, cls, ctx));
  if (inst.nextTick) opt.nextTick = (s) => inst.nextTick!(s);
  if (inst.revive) opt.revive = (s) => inst.revive!(s);
  if (inst.maxStateBytes !== undefined) opt.maxStateBytes = inst.maxStateBytes;
  return w;
}
