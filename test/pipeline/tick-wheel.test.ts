/** The engine's tick schedule: a slot is handed out once, when its earliest due bucket comes. */
import { describe, expect, it } from 'vitest';
import { TickWheel } from '../../src/pipeline/tick-wheel.js';

const due = (w: TickWheel, cur: number): number[] => {
  const out: number[] = [];
  w.takeDue(cur, out);
  return out;
};

describe('TickWheel', () => {
  it('hands out slots whose due bucket has come, in bucket order, once', () => {
    const w = new TickWheel(60_000, 8);
    w.schedule(0, 125_000); // bucket 2
    w.schedule(1, 60_000); // bucket 1
    w.schedule(2, 10 * 60_000);
    expect(due(w, 0)).toEqual([]);
    expect(due(w, 2)).toEqual([1, 0]);
    expect(due(w, 2)).toEqual([]);
    expect(due(w, 10)).toEqual([2]);
  });

  it('keeps the earlier of two schedules: the later entry is stale', () => {
    const w = new TickWheel(1000, 4);
    w.schedule(0, 5000);
    w.schedule(0, 9000); // later: ignored
    w.schedule(0, 2000); // earlier: moves it
    expect(due(w, 2)).toEqual([0]);
    expect(due(w, 100)).toEqual([]);
  });

  it('a NaN due time is every tick; a cancelled slot is not handed out; clear forgets everything', () => {
    const w = new TickWheel(1000, 2);
    w.schedule(0, Number.NaN);
    expect(due(w, -1e9)).toEqual([0]);
    w.schedule(1, 3000);
    w.cancel(1);
    expect(due(w, 10)).toEqual([]);
    w.schedule(1, 3000);
    w.clear();
    expect(due(w, 10)).toEqual([]);
  });

  it('keeps schedules across growth', () => {
    const w = new TickWheel(1000, 2);
    w.schedule(1, 4000);
    w.grow(4);
    w.schedule(3, 1000);
    expect(due(w, 4)).toEqual([3, 1]);
  });
});
