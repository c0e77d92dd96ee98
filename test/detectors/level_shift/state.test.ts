/**
 * level_shift's flat per-metric state: the hour-of-day profile holds slots only for the hours a
 * metric has been read in, yet stands for the full 48 × [centre, n] profile; checkpoints (JSON,
 * NaN written as null) are revived to the same live state; an older layout is not revived.
 */
import { describe, expect, it } from 'vitest';
import { levelShift } from '../../../src/detectors/level_shift/detector.js';
import { denseProfile } from '../../../src/detectors/level_shift/profile.js';
import type { LevelShiftState } from '../../../src/detectors/level_shift/state.js';
import { createEngine } from '../../../src/pipeline/engine.js';
import type { M2MEvent, TelemetryEvent } from '../../../src/events/types.js';
import { DAY, HOUR, MIN, T0, make, reading, rng, run, seasonalTelemetry } from '../helpers.js';

/** Profile bucket of ts as the detector indexes it: 2 × (UTC hour + 24 at weekends). */
function bucket(ts: number): number {
  const h = Math.floor(ts / HOUR) % 24;
  const dow = (Math.floor(ts / DAY) + 4) % 7;
  return (h + (dow === 0 || dow === 6 ? 24 : 0)) * 2;
}

/**
 * Readings whose value is fixed per bucket (100 + bucket): a bucket's centre is then exactly that
 * value from its first reading on and its n counts its readings, so the full profile is known.
 */
function profileCase(times: number[]): { evs: TelemetryEvent[]; expected: number[] } {
  const expected = new Array<number>(96).fill(0);
  const evs = times.map((ts) => {
    const b = bucket(ts);
    expected[b] = 100 + b;
    expected[b + 1]!++;
    return reading(ts, { v: 100 + b });
  });
  return { evs, expected };
}

const stateOf = (r: ReturnType<typeof run>): LevelShiftState => r.engine.device('dev-1')!.d.level_shift as LevelShiftState;

describe('level_shift state', () => {
  it('the hour profile holds only the hours read, and equals the full profile, for readings in any order', () => {
    const r0 = rng(5);
    const cases: Array<[string, number[]]> = [
      // In order from a Friday evening over a weekend and across midnights: runs wrap around.
      ['in order', Array.from({ length: 4 * 24 * 6 }, (_, i) => T0 + 4 * DAY + 20 * HOUR + i * 10 * MIN)],
      // Random times over two weeks, in random order: runs grow both ways, late readings included.
      ['shuffled', Array.from({ length: 3000 }, () => T0 + Math.floor(r0() * 14 * DAY))],
      // Backwards in time, hour by hour.
      ['backwards', Array.from({ length: 60 }, (_, i) => T0 + 3 * DAY - i * HOUR)],
    ];
    for (const [name, times] of cases) {
      const { evs, expected } = profileCase(times);
      const prefix = evs.slice(0, Math.floor(evs.length / 3));
      for (const part of [prefix, evs]) {
        const want = part === evs ? expected : profileCase(times.slice(0, prefix.length)).expected;
        const f = stateOf(run([make(levelShift)], part)).m.v!.f;
        expect(denseProfile(f), name).toEqual(want);
      }
    }
  });

  it('a young metric keeps a small state: one profile slot per hour read, not 96 numbers', () => {
    const evs = Array.from({ length: 40 }, (_, i) => reading(T0 + 9 * HOUR + i * MIN, { v: 20 + (i % 3) }));
    const s = stateOf(run([make(levelShift)], evs));
    const full = denseProfile(s.m.v!.f);
    expect(full.filter((x, i) => i % 2 === 1 && x > 0)).toEqual([40]);
    // 38 scalars + one bucket; the regime array sized exactly.
    expect(JSON.stringify(s).length).toBeLessThan(600);
  });

  it('a checkpoint read back through JSON gives the same findings and state as a straight run', () => {
    // A shift after warm-up, a reboot, a silence and a firmware change, so every kind of field is set.
    const evs = seasonalTelemetry({ days: 6, stepMs: 5 * MIN, seq: true, firmware: '1.0.0', metrics: { flow: [120, 10, 2], temp: [40, 3, 0.5] } }) as TelemetryEvent[];
    const shiftAt = evs.findIndex((e) => e.ts >= T0 + 4 * DAY + 3 * HOUR);
    for (let i = shiftAt; i < evs.length; i++) evs[i]!.metrics.flow! += 15;
    const gap = evs.findIndex((e) => e.ts >= T0 + 5 * DAY);
    const input: M2MEvent[] = [...evs.slice(0, gap), ...evs.slice(gap + 30)];
    for (let i = gap; i < input.length; i++) (input[i] as TelemetryEvent).firmware = '1.1.0';
    const newEngine = () => createEngine({ pipeline: 'test', detectors: [make(levelShift)], allowedLatenessMs: 0, idleEvictionMs: 30 * DAY });
    const runWith = (restoreAt: number[]) => {
      let engine = newEngine();
      const out: string[] = [];
      input.forEach((ev, i) => {
        if (restoreAt.includes(i)) {
          const next = newEngine();
          next.restore(JSON.parse(JSON.stringify(engine.snapshot())));
          engine = next;
          const f = (engine.device('dev-1')!.d.level_shift as LevelShiftState).m.flow!.f;
          expect(f.some((x) => x === null)).toBe(false);
          expect(f.some((x) => Number.isNaN(x))).toBe(true);
        }
        for (const x of engine.process(ev)) out.push(JSON.stringify(x));
      });
      return { out, state: JSON.stringify(engine.snapshot()) };
    };
    const straight = runWith([]);
    expect(straight.out.length).toBeGreaterThan(0);
    // Restored during warm-up (robust warm-up buffer held), before the profile is used, and mid-shift.
    const restored = runWith([10, Math.floor(shiftAt / 2), shiftAt + 40]);
    expect(restored.out).toEqual(straight.out);
    expect(restored.state).toBe(straight.state);
  });

  it('does not revive state of another layout (the device starts afresh instead)', () => {
    const det = make(levelShift);
    const old = { m: { v: { t0: T0, g: { n: 3, c: 1, s: 0, w: [1, 1, 1] }, e: { n: 0, c: 0, s: 0, w: [] }, hb: new Array(96).fill(0), sp: 0, sn: 0 } }, nm: 1, inc: {} };
    expect(det.revive!(old)).toBeUndefined();
    expect(det.revive!({ m: { v: { f: [1, 2, 3], r: [0, 0, 0], w: null } }, nm: 1, inc: {} })).toBeUndefined();
    expect(det.revive!(null)).toBeUndefined();
    const live = stateOf(run([det], [reading(T0, { v: 1 }), reading(T0 + MIN, { v: 2 })]));
    const back = det.revive!(JSON.parse(JSON.stringify(live)));
    expect(back).toBeDefined();
    expect(JSON.stringify(back)).toBe(JSON.stringify(live));
  });
});
