/**
 * Parameter helpers shared by the detectors, the pipeline validator and the tests.
 *
 * The validator turns YAML into params using each detector's ParamSpec; tests and the backtest
 * build instances directly, so they need the same defaulting and duration parsing without the
 * YAML layer. Both go through here so "5m" means the same thing everywhere.
 */
import type { DetectorSpec, ParamSpec } from './types.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** Longer text is not a duration (no real one is; the bound keeps parsing cheap). */
const MAX_DURATION_CHARS = 64;

/**
 * "500ms", "30s", "5m", "24h", "7d", "2w" and compounds such as "1h30m" → milliseconds.
 * A bare number is taken as milliseconds. Anything else (negative, empty, unknown unit) is
 * undefined so the caller can report it as a user error with its location.
 *
 * A hand-written scanner, one pass: the regular expressions it replaces backtracked
 * quadratically (a 100,000-digit "duration" took 4.3 s to refuse). This is the one parser of
 * durations; config/duration.ts builds the pipeline grammar (no bare numbers) on it.
 */
export function parseDuration(s: unknown): number | undefined {
  if (typeof s === 'number') return Number.isFinite(s) && s >= 0 ? s : undefined;
  if (typeof s !== 'string') return undefined;
  const t = s.trim();
  if (t === '' || t.length > MAX_DURATION_CHARS) return undefined;
  let total = 0;
  let i = 0;
  let parts = 0;
  while (i < t.length) {
    const start = i;
    while (i < t.length && isDigit(t.charCodeAt(i))) i++;
    if (i === start) return undefined;
    if (t[i] === '.') {
      i++;
      const frac = i;
      while (i < t.length && isDigit(t.charCodeAt(i))) i++;
      if (i === frac) return undefined;
    }
    const num = Number(t.slice(start, i));
    if (i === t.length) return parts === 0 ? num : undefined; // a bare number: milliseconds
    const unit = t[i] === 'm' && t[i + 1] === 's' ? 'ms' : t[i]!;
    const f = UNIT_MS[unit];
    if (f === undefined) return undefined;
    i += unit.length;
    total += num * f;
    parts++;
  }
  return total;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/** Milliseconds → the shortest exact duration string ("90000" → "90s", "5400000" → "90m"). */
export function formatDuration(ms: number): string {
  for (const [unit, f] of [['w', UNIT_MS.w!], ['d', UNIT_MS.d!], ['h', UNIT_MS.h!], ['m', UNIT_MS.m!], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${unit}`;
  }
  return `${ms}ms`;
}

function convert(name: string, spec: ParamSpec, value: unknown): unknown {
  if (spec.type === 'duration') {
    const ms = parseDuration(value);
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
