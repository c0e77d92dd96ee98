import { describe, expect, it } from 'vitest';
import { Rng, hash32 } from '../../src/sim/prng.js';

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(xa);
  });

  it('derives independent named streams', () => {
    expect(Rng.derive(1, 'a').next()).not.toBe(Rng.derive(1, 'b').next());
    expect(Rng.derive(1, 'a').next()).toBe(Rng.derive(1, 'a').next());
    expect(hash32('meter-0001')).not.toBe(hash32('meter-0002'));
  });

  it('has sane distributions', () => {
    const r = new Rng(7);
    const n = 20_000;
    let s = 0;
    let s2 = 0;
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
    let e = 0;
    for (let i = 0; i < n; i++) e += r.exp(5);
    expect(e / n).toBeGreaterThan(4.8);
    expect(e / n).toBeLessThan(5.2);
    for (let i = 0; i < 1000; i++) {
      const k = r.int(3, 5);
      expect(k >= 3 && k <= 5).toBe(true);
      const l = r.logUniform(1, 100);
      expect(l >= 1 && l <= 100).toBe(true);
    }
  });
});
