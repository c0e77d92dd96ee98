import { describe, expect, it } from 'vitest';
import { compact, regimeDistance, regimeDistanceInto, regimeNew, regimeUpdate } from '../../src/detectors/util.js';
import { rng } from '../detectors/helpers.js';

/** regimeUpdate as it was with splice/push (before merging in place): the reference it must match bit for bit. */
function regimeUpdateRef(r: number[], x: number, dt: number): void {
  const prev = r[1]!;
  const d = r.length > 3 ? (x > prev ? x - prev : prev - x) : 0;
  if (d > 0) {
    const nz = r[0]!;
    const lim = nz > 0 ? 3 * 1.595 * nz : d;
    r[0] = nz + 0.01 * ((d > lim ? lim : d) / 1.595 - nz);
  }
  r[1] = x;
  const w = dt > 3_600_000 ? 3_600_000 : dt > 0 ? dt : 0;
  const fl = Math.max(r[0]!, (x < 0 ? -x : x) * 1e-4, 1e-9);
  let best = r[2]!;
  let bd = Infinity;
  if (best >= 3 && best < r.length) {
    const c = r[best]!;
    const sp = r[best + 1]!;
    bd = (x > c ? x - c : c - x) / (sp > fl ? sp : fl);
  }
  if (!(bd <= 3)) {
    for (let i = 3; i < r.length; i += 4) {
      const dd = (x > r[i]! ? x - r[i]! : r[i]! - x) / Math.max(r[i + 1]!, fl);
      if (dd < bd) {
        bd = dd;
        best = i;
      }
    }
  }
  if (best >= 3 && bd <= 3) {
    const from = r[2]!;
    if (from !== best && from >= 3 && from < r.length) {
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
  if (r.length >= 3 + 4 * 8) {
    let bi = 3;
    for (let i = 7; i < r.length; i += 4) if (r[i + 2]! < r[bi + 2]!) bi = i;
    let bj = -1;
    let bdd = Infinity;
    for (let j = 3; j < r.length; j += 4) {
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
