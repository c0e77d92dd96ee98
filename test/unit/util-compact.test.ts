import { describe, expect, it } from 'vitest';
import { compact } from '../../src/detectors/util.js';
import { rng } from '../detectors/helpers.js';

/** compact() as it was before its fast path was split out: the reference it must match bit for bit. */
function compactRef(x: number): number {
  const a = x < 0 ? -x : x;
  let p: number;
  if (a >= 1) {
    if (a < 10) p = 1e5;
    else if (a < 100) p = 1e4;
    else if (a < 1000) p = 1e3;
    else if (a < 1e4) p = 100;
    else if (a < 1e5) p = 10;
    else if (a < 1e6) p = 1;
    else if (Number.isInteger(x) || !Number.isFinite(x)) return x;
    else p = Math.pow(10, 5 - Math.floor(Math.log10(a)));
  } else if (a >= 0.1) p = 1e6;
  else if (a >= 0.01) p = 1e7;
  else if (a >= 0.001) p = 1e8;
  else if (a === 0) return x;
  else p = Math.pow(10, 5 - Math.floor(Math.log10(a)));
  return Math.round(x * p) / p;
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
function bits(x: number): bigint {
  f64[0] = x;
  return u64[0]!;
}
function fromBits(b: bigint): number {
  u64[0] = b;
  return f64[0]!;
}


function mismatches(xs: Iterable<number>): string[] {
  const bad: string[] = [];
  for (const x of xs) {
    const a = compact(x);
    const b = compactRef(x);
    // Same bits, NaN included (both produce the one NaN arithmetic gives).
    if (bits(a) !== bits(b) && !(Number.isNaN(a) && Number.isNaN(b))) bad.push(`${x}: ${a} vs ${b}`);
  }
  return bad;
}

describe('compact', () => {
  it('matches the reference on edge values', () => {
    const edge = [0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, Number.EPSILON, 1, -1, 0.5, 123456.5, 999999.5, 1e6, 1e6 + 0.5, 2 ** 53, 2 ** 53 + 2, 1e21, 1e300, 1e-300, 1e-320];
    expect(mismatches(edge)).toEqual([]);
    expect(Object.is(compact(-0), -0)).toBe(true);
    expect(Number.isNaN(compact(NaN))).toBe(true);
  });

  it('matches the reference next to every power of ten', () => {
    const xs: number[] = [];
    for (let k = -330; k <= 310; k++) {
      const p = Number(`1e${k}`);
      if (p === 0 || !Number.isFinite(p)) continue;
      const b = bits(p);
      for (let d = -3n; d <= 3n; d++) {
        const v = fromBits(b + d);
        xs.push(v, -v);
      }
      // The decade boundaries compact rounds at, and halves of the last kept digit around them.
      xs.push(p * 0.9999995, p * 1.0000005, p * 9.999995, p * 9.9999949, -p * 9.999995);
    }
    expect(mismatches(xs)).toEqual([]);
  });

  it('matches the reference on random values of every magnitude', () => {
    const rnd = rng(12345);
    const xs: number[] = [];
    for (let i = 0; i < 400_000; i++) {
      const e = Math.floor(rnd() * 80) - 40;
      const m = 1 + rnd() * 9;
      let v = m * Math.pow(10, e);
      if (i % 3 === 0) v = Math.round(v);
      if (i % 7 === 0) v = Math.round(v * 1e6 + 0.5) / 1e6;
      xs.push(rnd() < 0.5 ? -v : v);
    }
    // Raw bit patterns: subnormals, huge values, NaNs with payloads.
    for (let i = 0; i < 100_000; i++) {
      const hi = BigInt(Math.floor(rnd() * 2 ** 32));
      const lo = BigInt(Math.floor(rnd() * 2 ** 32));
      xs.push(fromBits((hi << 32n) | lo));
    }
    // Small integers and ordinary sensor readings at a fixed resolution.
    for (let i = -5000; i <= 5000; i++) xs.push(i, i / 10, i / 100, i / 1000, i * 0.1, i * 0.01, i * 1.7e-3);
    expect(mismatches(xs)).toEqual([]);
  });
});
