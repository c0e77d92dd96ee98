import { describe, expect, it } from 'vitest';
import { extendQuietly, raiseThrottled, type IncidentBook } from '../../src/detectors/incident.js';
import { Rng } from '../../src/sim/prng.js';

const GAP = 30 * 60_000;

function draft(key: string, ts: number, score: number) {
  return { detector: 'd', key, device_id: 'dev', device_class: 'c', ts, score, observed: `${score}`, expected: '', explanation: '', evidence: {}, mitre: [] };
}

/** Random observations on two keys: bursts, gaps past the incident gap, out-of-order times, falling and rising scores. */
function observations(seed: number): { key: string; ts: number; score: number }[] {
  const rng = new Rng(seed);
  const r = (): number => rng.next();
  const out: { key: string; ts: number; score: number }[] = [];
  let ts = 1_700_000_000_000;
  for (let i = 0; i < 3000; i++) {
    const u = r();
    ts += u < 0.02 ? GAP + 60_000 : u < 0.05 ? -120_000 : Math.floor(r() * 40_000);
    out.push({ key: r() < 0.7 ? 'a' : 'b', ts, score: Math.round(r() * 100) / 100 });
  }
  return out;
}

describe('extendQuietly', () => {
  it('emits exactly what raiseThrottled alone emits and leaves the same book', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const plain: IncidentBook = {};
      const gated: IncidentBook = {};
      const a: unknown[] = [];
      const b: unknown[] = [];
      let skipped = 0;
      for (const o of observations(seed)) {
        a.push(raiseThrottled(plain, draft(o.key, o.ts, o.score), GAP));
        if (extendQuietly(gated, o.key, o.ts, o.score, GAP)) {
          b.push(null);
          skipped++;
        } else b.push(raiseThrottled(gated, draft(o.key, o.ts, o.score), GAP));
      }
      expect(b).toEqual(a);
      expect(gated).toEqual(plain);
      // The test is only worth something if the quiet path was taken, and the loud one too.
      expect(skipped).toBeGreaterThan(100);
      expect(a.filter((f) => f !== null).length).toBeGreaterThan(100);
    }
  });

  it('does not open an incident', () => {
    const book: IncidentBook = {};
    expect(extendQuietly(book, 'k', 1000, 0.9, GAP)).toBe(false);
    expect(book).toEqual({});
  });
});
