/**
 * compact(): ~6 significant digits, so checkpointed state stays small. Known values pin the
 * rounding; properties pin what every caller relies on (bounded error, idempotent, order kept,
 * nothing beyond six digits, special values untouched) across magnitudes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compact } from '../../../src/detectors/lib/compact.js';

/** Finite doubles with |x| in [lo, hi), either sign. */
const magnitude = (lo: number, hi: number): fc.Arbitrary<number> =>
  fc
    .tuple(fc.double({ min: Math.log10(lo), max: Math.log10(hi), noNaN: true, maxExcluded: true }), fc.double({ min: 1, max: 10, noNaN: true, maxExcluded: true }), fc.boolean())
    .map(([e, m, neg]) => (neg ? -1 : 1) * Math.min(m * 10 ** Math.floor(e), hi * (1 - 1e-15)))
    .filter((x) => Math.abs(x) >= lo && Math.abs(x) < hi);

const RUNS = { numRuns: 20_000, seed: 23 };

describe('compact', () => {
  it('rounds to six significant digits: known values', () => {
    const cases: Array<[number, number]> = [
      [1.23456789, 1.23457],
      [-1.23456789, -1.23457],
      [123456.789, 123457],
      [0.000123456789, 0.000123457],
      [0.1234565, 0.123457],
      [9.999995, 10],
      [229.81234, 229.812],
      [1234567.89, 1234570],
      [0.5, 0.5],
      [-2.5e-7, -2.5e-7],
      [1.000000001e-12, 1e-12],
    ];
    for (const [x, want] of cases) expect(compact(x), String(x)).toBe(want);
  });

  it('leaves zero (with its sign), NaN, infinities and integers from a million up unchanged', () => {
    expect(Object.is(compact(0), 0)).toBe(true);
    expect(Object.is(compact(-0), -0)).toBe(true);
    expect(compact(NaN)).toBeNaN();
    expect(compact(Infinity)).toBe(Infinity);
    expect(compact(-Infinity)).toBe(-Infinity);
    for (const n of [1_000_000, 1_234_567, -98_765_432, 2 ** 53, 1e21, Number.MAX_VALUE]) expect(compact(n)).toBe(n);
  });

  it('moves a value by at most half a unit of its sixth significant digit', () => {
    fc.assert(
      fc.property(magnitude(1e-300, 1e15), (x) => {
        const unit = 10 ** (Math.floor(Math.log10(Math.abs(x))) - 5);
        return Math.abs(compact(x) - x) <= unit * 0.5 * (1 + 1e-9);
      }),
      RUNS,
    );
  });

  it('keeps no more than six significant digits below a million', () => {
    // Down to 1e-17 the scale is an exact power of ten, so the result is the double nearest to
    // its six-digit decimal. (From a million up, integers are kept whole: counters, byte totals.)
    fc.assert(
      fc.property(magnitude(1e-17, 1e6), (x) => {
        const c = compact(x);
        return Number(c.toPrecision(6)) === c;
      }),
      RUNS,
    );
  });

  it('gives a number for the smallest magnitudes, where the scale 10^e overflows (|x| < 1e-303)', () => {
    for (const x of [9.99e-304, 1e-304, -1.234567891e-305, 2.2250738585072014e-308, -3.3e-310, 1e-320, Number.MIN_VALUE, -Number.MIN_VALUE]) {
      const c = compact(x);
      expect(Number.isFinite(c), `${x} → ${c}`).toBe(true);
      expect(Math.sign(c), String(x)).toBe(Math.sign(x));
      expect(Object.is(compact(c), c), `${x} idempotent`).toBe(true);
    }
    expect(compact(-1.234567891e-305)).toBe(-1.23457e-305);
    fc.assert(
      fc.property(magnitude(1e-307, 1e-300), (x) => {
        const c = compact(x);
        const unit = 10 ** (Math.floor(Math.log10(Math.abs(x))) - 5);
        return Math.abs(c - x) <= unit * 0.5 * (1 + 1e-6) && Object.is(compact(c), c);
      }),
      RUNS,
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(magnitude(1e-300, 1e300), (x) => Object.is(compact(compact(x)), compact(x))),
      RUNS,
    );
  });

  it('keeps order below a million (never swaps two readings)', () => {
    fc.assert(
      fc.property(magnitude(1e-300, 1e6), magnitude(1e-300, 1e6), (x, y) => {
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        return compact(lo) <= compact(hi);
      }),
      RUNS,
    );
    // Around decade boundaries, where the rounding step changes.
    for (let k = -12; k <= 5; k++) {
      const p = 10 ** k;
      const xs = [p * 0.9999994, p * 0.9999995, p * 0.9999996, p, p * 1.0000004, p * 1.0000005, p * 1.0000006];
      const cs = xs.map(compact);
      for (let i = 1; i < cs.length; i++) expect(cs[i]!, `${xs[i - 1]} ≤ ${xs[i]}`).toBeGreaterThanOrEqual(cs[i - 1]!);
    }
  });
});
