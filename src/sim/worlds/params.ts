/**
 * Declarative parameter ranges. A world's habits are drawn from these and only these, so a test
 * can check every drawn value against the range the docs state, and a reader of a labels file
 * can see what was possible as well as what was drawn.
 */
import type { Rng } from '../prng.js';

export type ParamValue = number | string | boolean | null;

export type ParamRange =
  | { pick: readonly ParamValue[]; why: string }
  | { int: readonly [number, number]; why: string }
  | { uniform: readonly [number, number]; why: string }
  | { log: readonly [number, number]; why: string };

export type ParamSpec = Readonly<Record<string, ParamRange>>;

export type Params = Record<string, ParamValue>;

/** Rounds to 3 significant decimals so the labels file stays readable. */
function tidy(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function drawParam(r: ParamRange, rng: Rng): ParamValue {
  if ('pick' in r) return rng.pick(r.pick);
  if ('int' in r) return rng.int(r.int[0], r.int[1]);
  if ('uniform' in r) return tidy(rng.uniform(r.uniform[0], r.uniform[1]));
  return tidy(rng.logUniform(r.log[0], r.log[1]));
}

export function drawParams(spec: ParamSpec, rng: Rng): Params {
  const out: Params = {};
  // Sorted names: the draw order, and so the values, do not depend on how the spec was written.
  for (const k of Object.keys(spec).sort()) out[k] = drawParam(spec[k]!, rng);
  return out;
}

/** True when v is a value the range can produce (tidy rounding allowed). */
export function inRange(r: ParamRange, v: ParamValue): boolean {
  if ('pick' in r) return r.pick.includes(v);
  if (typeof v !== 'number') return false;
  const [lo, hi] = 'int' in r ? r.int : 'uniform' in r ? r.uniform : r.log;
  if ('int' in r && !Number.isInteger(v)) return false;
  return v >= lo - 0.0005 && v <= hi + 0.0005;
}

export function describeRange(r: ParamRange): string {
  if ('pick' in r) {
    // A value listed twice is drawn twice as often: say so in shares.
    const counts = new Map<string, number>();
    for (const v of r.pick) counts.set(JSON.stringify(v), (counts.get(JSON.stringify(v)) ?? 0) + 1);
    const even = new Set(counts.values()).size === 1;
    return [...counts.entries()].map(([v, n]) => (even ? v : `${v} ${Math.round((100 * n) / r.pick.length)} %`)).join(', ');
  }
  if ('int' in r) return `${r.int[0]}–${r.int[1]}`;
  if ('uniform' in r) return `${r.uniform[0]}–${r.uniform[1]}`;
  return `${r.log[0]}–${r.log[1]} (log-uniform)`;
}

export const num = (p: Params, k: string): number => {
  const v = p[k];
  if (typeof v !== 'number') throw new Error(`world parameter ${k} is not a number: ${JSON.stringify(v)}`);
  return v;
};

export const str = (p: Params, k: string): string => {
  const v = p[k];
  if (typeof v !== 'string') throw new Error(`world parameter ${k} is not a string: ${JSON.stringify(v)}`);
  return v;
};
