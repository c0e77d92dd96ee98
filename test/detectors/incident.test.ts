import { describe, expect, it } from 'vitest';
import { extendQuietly, raise, raiseThrottled, type IncidentBook } from '../../src/detectors/incident.js';
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

/**
 * The throttling rule as documented, spelled out on top of raise(): emit when the incident
 * opens, when its peak rises, when its count reaches a power of two, and otherwise at most
 * once per interval (5 min).
 */
function throttledByTheBook(book: IncidentBook, d: ReturnType<typeof draft>, gapMs: number) {
  const before = book[d.key] as (IncidentBook[string] & { em?: number }) | undefined;
  const extending = before !== undefined && d.ts - before.last_ts <= gapMs && d.ts >= before.first_ts;
  const peakBefore = extending ? before.peak : -1;
  const emittedAt = extending ? (before.em ?? before.first_ts) : -Infinity;
  const f = raise(book, d, gapMs);
  const c = f.count;
  if (c === 1 || f.score > peakBefore || (c & (c - 1)) === 0 || d.ts - emittedAt >= 5 * 60_000) {
    (book[d.key] as { em?: number }).em = d.ts;
    return f;
  }
  return null;
}

describe('raiseThrottled and extendQuietly', () => {
  it('emit by the documented rule, alone or with extendQuietly asked first, and leave the same book', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const spec: IncidentBook = {};
      const plain: IncidentBook = {};
      const gated: IncidentBook = {};
      const want: unknown[] = [];
      const a: unknown[] = [];
      const b: unknown[] = [];
      let skipped = 0;
      for (const o of observations(seed)) {
        want.push(throttledByTheBook(spec, draft(o.key, o.ts, o.score), GAP));
        a.push(raiseThrottled(plain, draft(o.key, o.ts, o.score), GAP));
        if (extendQuietly(gated, o.key, o.ts, o.score, GAP)) {
          b.push(null);
          skipped++;
        } else b.push(raiseThrottled(gated, draft(o.key, o.ts, o.score), GAP));
      }
      expect(a).toEqual(want);
      expect(b).toEqual(want);
      expect(plain).toEqual(spec);
      expect(gated).toEqual(spec);
      // The test is only worth something if the quiet path was taken, and the loud one too.
      expect(skipped).toBeGreaterThan(100);
      expect(want.filter((f) => f !== null).length).toBeGreaterThan(100);
    }
  });

  it('does not open an incident', () => {
    const book: IncidentBook = {};
    expect(extendQuietly(book, 'k', 1000, 0.9, GAP)).toBe(false);
    expect(book).toEqual({});
  });
});
