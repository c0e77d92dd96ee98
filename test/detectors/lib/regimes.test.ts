import { describe, expect, it } from 'vitest';
import { compact } from '../../../src/detectors/lib/compact.js';
import { regimeDistance, regimeDistanceInto, regimeKnown, regimeNew, regimeNoise, regimeRevive, regimeUpdate } from '../../../src/detectors/lib/regimes.js';
import { HOUR, MIN, gauss, rng } from '../helpers.js';

/** regimeUpdate as it was with splice/push (before merging in place): the reference it must match bit for bit. */
function regimeUpdateRef(r: number[], x: number, dt: number): void {
  const prev = r[1]!;
  const d = r.length > 4 ? (x > prev ? x - prev : prev - x) : 0;
  if (d > 0) {
    // The plain mean of the first 100 moves (clipped from the 6th), then an EWMA.
    const nz = r[0]!;
    const k = r[3]! + 1;
    const lim = k > 5 ? 3 * 1.595 * nz : d;
    r[0] = nz + (k < 100 ? 1 / k : 0.01) * ((d > lim ? lim : d) / 1.595 - nz);
    if (k <= 100) r[3] = k;
  }
  r[1] = x;
  const w = dt > 3_600_000 ? 3_600_000 : dt > 0 ? dt : 0;
  const fl = Math.max(r[0]!, (x < 0 ? -x : x) * 1e-4, 1e-9);
  let best = r[2]!;
  let bd = Infinity;
  if (best >= 4 && best < r.length) {
    const c = r[best]!;
    const sp = r[best + 1]!;
    bd = (x > c ? x - c : c - x) / (sp > fl ? sp : fl);
  }
  if (!(bd <= 3)) {
    for (let i = 4; i < r.length; i += 4) {
      const dd = (x > r[i]! ? x - r[i]! : r[i]! - x) / Math.max(r[i + 1]!, fl);
      if (dd < bd) {
        bd = dd;
        best = i;
      }
    }
  }
  if (best >= 4 && bd <= 3) {
    const from = r[2]!;
    if (from !== best && from >= 4 && from < r.length) {
      const gap = Math.abs(r[from]! - r[best]!) / Math.max(r[from + 1]!, r[best + 1]!, fl);
      if (gap > 6) r[best + 3] = r[best + 3]! + 1;
    }
    r[2] = best;
    const wt = r[best + 2]!;
    let a = w > 0 ? w / (wt + w) : 0;
    if (a < 0.005) a = 0.005;
    const dx = x - r[best]!;
    r[best] = r[best]! + a * dx;
    r[best + 1] = (1 - a) * r[best + 1]! + a * 1.2533 * (dx < 0 ? -dx : dx);
    r[best + 2] = wt + w;
    return;
  }
  if (r.length >= 4 + 4 * 8) {
    let bi = 4;
    for (let i = 8; i < r.length; i += 4) if (r[i + 2]! < r[bi + 2]!) bi = i;
    let bj = -1;
    let bdd = Infinity;
    for (let j = 4; j < r.length; j += 4) {
      if (j === bi) continue;
      const dd = Math.abs(r[bi]! - r[j]!) / (Math.max(r[bi + 1]!, fl) + Math.max(r[j + 1]!, fl));
      if (dd < bdd) {
        bdd = dd;
        bj = j;
      }
    }
    const wi = r[bi + 2]!;
    const wj = r[bj + 2]!;
    const ww = wi + wj;
    const fi = ww > 0 ? wi / ww : 0.5;
    const fj = 1 - fi;
    const c = fi * r[bi]! + fj * r[bj]!;
    const di = r[bi]! - c;
    const dj = r[bj]! - c;
    const v = fi * (r[bi + 1]! ** 2 + di * di) + fj * (r[bj + 1]! ** 2 + dj * dj);
    r[bj] = compact(c);
    r[bj + 1] = compact(Math.sqrt(v));
    r[bj + 2] = compact(ww);
    r[bj + 3] = Math.max(r[bi + 3]!, r[bj + 3]!);
    r.splice(bi, 4);
    r[2] = -1;
  }
  r[2] = r.length;
  r.push(compact(x), 0, compact(w), 1);
}


describe('regimeUpdate', () => {
  it('matches the splice/push reference on jumpy, modal and quiet series, merges included', () => {
    const rnd = rng(99);
    for (let k = 0; k < 300; k++) {
      const r = regimeNew();
      const ref = regimeNew();
      const modes = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => (rnd() - 0.3) * 10 ** Math.floor(rnd() * 6 - 2));
      const noise = rnd() < 0.2 ? 0 : rnd() * 0.05;
      for (let j = 0; j < 400; j++) {
        const m = modes[Math.floor(rnd() * modes.length)]!;
        const x = rnd() < 0.05 ? m * (1 + 5 * rnd()) : m * (1 + noise * (rnd() - 0.5));
        const dt = rnd() < 0.1 ? 0 : Math.floor(rnd() * 7_200_000);
        regimeUpdate(r, x, dt);
        regimeUpdateRef(ref, x, dt);
        expect(r).toEqual(ref);
      }
      const x = modes[0]! * 1.3;
      const out = [NaN, NaN];
      const found = regimeDistanceInto(r, x, 0, 0, out);
      const near = regimeDistance(r, x, 0, 0);
      expect(found).toBe(near !== null);
      if (near) expect([out[0], out[1]]).toEqual([near.z, near.c]);
    }
  });
});

describe('regime noise from the first readings', () => {
  it('learns a white-noise series as one level with its noise within 20 readings', () => {
    const rnd = rng(5);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    let oneLevel = 0;
    for (let k = 0; k < 50; k++) {
      const r = regimeNew();
      for (let j = 0; j < 20; j++) regimeUpdate(r, 230 + gauss(), 60_000);
      // The estimate is mean |Δ| / 1.595; mean |Δ| of white noise is 1.128σ, so it is near 0.71σ.
      expect(regimeNoise(r)).toBeGreaterThan(0.35);
      expect(regimeNoise(r)).toBeLessThan(1.2);
      const levels = (r.length - regimeNew().length) / 4;
      expect(levels).toBeLessThanOrEqual(3);
      if (levels === 1) oneLevel++;
    }
    // An estimate started at 0 split nearly every reading into a level of its own (8 of 8 slots).
    expect(oneLevel).toBeGreaterThanOrEqual(30);
  });

  it('still keeps two operating modes apart', () => {
    const rnd = rng(6);
    const r = regimeNew();
    for (let j = 0; j < 200; j++) regimeUpdate(r, (Math.floor(j / 20) % 2 === 0 ? 0 : 50) + rnd(), 60_000);
    expect(r.length).toBe(regimeNew().length + 8);
    expect(regimeKnown(r, 50.5, 0, 0)).toBe(true);
    expect(regimeKnown(r, 25, 0, 0)).toBe(false);
  });
});

describe('regimeRevive', () => {
  it('takes the current layout as it is and migrates the three-number header of earlier checkpoints', () => {
    const r = regimeNew();
    for (let j = 0; j < 30; j++) regimeUpdate(r, j % 10 < 5 ? 1 : 9, 60_000);
    expect(regimeRevive(r)).toBe(r);
    // The earlier layout: [noise, previous, matched index] and the same centroids.
    const old = [r[0]!, r[1]!, r[2]! - 1, ...r.slice(4)];
    const migrated = regimeRevive(old)!;
    expect(migrated.slice(4)).toEqual(r.slice(4));
    expect([migrated[0], migrated[1], migrated[2], migrated[3]]).toEqual([r[0], r[1], r[2], 100]);
    expect(regimeRevive([0, 0, 0])).toEqual(regimeNew().map((_, i) => (i === 3 ? 100 : 0)));
    expect(regimeRevive([1, 2])).toBeUndefined();
    expect(regimeRevive([0, 0, 0, 0, 1, 2])).toBeUndefined();
  });
});

describe('occupied levels (lib/regimes.ts)', () => {
  it('knows levels held for real time, not transients, and not levels never occupied', () => {
    const r = rng(3);
    const rg = regimeNew();
    let x = 0;
    for (let i = 0; i < 4000; i++) {
      const on = Math.floor(i / 200) % 2 === 0;
      x = on ? 50 + gauss(r) : 0;
      regimeUpdate(rg, x, MIN);
      // A transient through the middle, a minute each time.
      if (i % 200 === 199) regimeUpdate(rg, 25, MIN);
    }
    expect(regimeKnown(rg, 0, 3 * HOUR, 0.02)).toBe(true);
    expect(regimeKnown(rg, 51, 3 * HOUR, 0.02)).toBe(true);
    expect(regimeKnown(rg, 25, 3 * HOUR, 0.02)).toBe(false);
    expect(regimeKnown(rg, 58, 3 * HOUR, 0.02)).toBe(false);
    expect(regimeKnown(rg, -5, 3 * HOUR, 0.02)).toBe(false);
    expect(rg.length).toBeLessThanOrEqual(3 + 4 * 8);
  });
});
