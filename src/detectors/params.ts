/**
 * Parameter helpers shared by the detectors, the pipeline validator and the tests.
 *
 * The validator turns YAML into params using each detector's ParamSpec; tests and the backtest
 * build instances directly, so they need the same defaulting and duration parsing without the
 * YAML layer. Both go through here (and lib/duration.ts) so "5m" means the same thing everywhere.
 */
import { parseDurationOrMs } from '../lib/duration.js';
import type { DetectorSpec, ParamSpec } from './types.js';

function convert(name: string, spec: ParamSpec, value: unknown): unknown {
  if (spec.type === 'duration') {
    const ms = parseDurationOrMs(value);
    if (ms === undefined) throw new Error(`param ${name}: not a duration: ${JSON.stringify(value)}`);
    return ms;
  }
  return value;
}

/**
 * Apply a detector's defaults to partial params and convert durations to ms: what the validator
 * hands to `create`. Unknown keys are an error (a typo in a test should not silently use the
 * default). Throws on bad input because its callers are code, not users.
 */
export function withDefaults<P extends Record<string, unknown>>(spec: DetectorSpec<P>, partial: Partial<Record<keyof P, unknown>> = {}): P {
  const out: Record<string, unknown> = {};
  const specs = spec.params as Record<string, ParamSpec>;
  for (const k of Object.keys(partial)) {
    if (!(k in specs)) throw new Error(`detector ${spec.name}: unknown param ${k}`);
  }
  for (const [k, ps] of Object.entries(specs)) {
    const given = (partial as Record<string, unknown>)[k];
    const v = given !== undefined ? given : ps.default;
    if (v === undefined) continue;
    out[k] = convert(k, ps, typeof v === 'object' && v !== null ? structuredClone(v) : v);
  }
  return out as P;
}

/** Build an instance from a spec and partial params (tests, backtest, bench). */
export function instantiate<P extends Record<string, unknown>>(spec: DetectorSpec<P>, partial: Partial<Record<keyof P, unknown>> = {}, id = spec.name) {
  return spec.create(withDefaults(spec, partial), id);
}
