import { describe, expect, it, vi } from 'vitest';
import { createFindingsWriter } from '../../src/pipeline/findings-writer.js';
import type { Finding } from '../../src/detectors/types.js';

const f = (i: number): Finding => ({ finding_id: `f${i}` }) as unknown as Finding;
const many = (from: number, n: number): Finding[] => Array.from({ length: n }, (_, i) => f(from + i));
const tick = () => new Promise((r) => setTimeout(r, 0));

/** A write that records each insert's ids and can be told to fail its next attempts. */
function recorder() {
  const inserts: string[][] = [];
  let failures = 0;
  return {
    inserts,
    failNext(n: number) {
      failures = n;
    },
    write: async (fs: Finding[]) => {
      await tick();
      if (failures > 0) {
        failures--;
        throw new Error('engine down');
      }
      inserts.push(fs.map((x) => x.finding_id));
      return fs.length;
    },
  };
}

describe('findings writer', () => {
  it('coalesces many batches into one insert when asked for them', async () => {
    const r = recorder();
    const w = createFindingsWriter({ write: r.write, maxDelayMs: 60_000 });
    let t = 0;
    for (let b = 0; b < 10; b++) t = w.add(many(b * 3, 3));
    expect(t).toBe(30);
    expect(r.inserts).toEqual([]);
    expect(w.backlog()).toBe(30);
    expect(await w.durable(t)).toBe(true);
    expect(r.inserts.length).toBe(1);
    expect(r.inserts[0]).toEqual(many(0, 30).map((x) => x.finding_id));
    expect(w.backlog()).toBe(0);
  });

  it('inserts by itself when enough rows are queued, or after maxDelayMs', async () => {
    const r = recorder();
    const w = createFindingsWriter({ write: r.write, maxRows: 10, maxDelayMs: 30 });
    w.add(many(0, 12));
    await tick();
    await tick();
    expect(r.inserts.map((i) => i.length)).toEqual([12]);
    w.add(many(12, 2));
    await tick();
    await tick();
    expect(r.inserts.length).toBe(1);
    await new Promise((res) => setTimeout(res, 80));
    expect(r.inserts.map((i) => i.length)).toEqual([12, 2]);
  });

  it('a ticket taken during an insert waits for the next insert, and one insert runs at a time', async () => {
    const r = recorder();
    let running = 0;
    let most = 0;
    const write = async (fs: Finding[]) => {
      running++;
      most = Math.max(most, running);
      try {
        return await r.write(fs);
      } finally {
        running--;
      }
    };
    const w = createFindingsWriter({ write, maxDelayMs: 60_000 });
    const t1 = w.add(many(0, 2));
    const p1 = w.durable(t1);
    const t2 = w.add(many(2, 3));
    const p2 = w.durable(t2);
    expect(await p1).toBe(true);
    expect(await p2).toBe(true);
    expect(r.inserts.map((i) => i.length)).toEqual([2, 3]);
    expect(most).toBe(1);
  });

  it('retries a failing insert, reports each failure and says failing until it succeeds', async () => {
    const r = recorder();
    const errors: number[] = [];
    const w = createFindingsWriter({ write: r.write, maxDelayMs: 60_000, initialRetryMs: 5, maxRetryMs: 5, onError: (_e, n) => errors.push(n) });
    r.failNext(3);
    const t = w.add(many(0, 4));
    const p = w.durable(t);
    await new Promise((res) => setTimeout(res, 2));
    expect(w.failing()).toBe(true);
    expect(await p).toBe(true);
    expect(errors).toEqual([1, 2, 3]);
    expect(w.failing()).toBe(false);
    expect(r.inserts).toEqual([many(0, 4).map((x) => x.finding_id)]);
  });

  it('findings given up resolve false, and so does every later ticket (it covers them too)', async () => {
    const r = recorder();
    let stop = false;
    const w = createFindingsWriter({ write: r.write, maxDelayMs: 60_000, initialRetryMs: 1, giveUp: (n) => stop && n >= 2 });
    const first = w.add(many(0, 1));
    expect(await w.durable(first)).toBe(true);
    stop = true;
    r.failNext(2);
    const lost = w.durable(w.add(many(1, 2)));
    expect(await lost).toBe(false);
    stop = false;
    const later = w.durable(w.add(many(3, 1)));
    expect(await later).toBe(false);
    // Answered without an insert; close() still writes them (a restart rewrites them anyway, and
    // ClickHouse collapses the same ids), but answers false at once.
    expect(r.inserts).toEqual([['f0']]);
    expect(await w.close()).toBe(false);
    await new Promise((res) => setTimeout(res, 20));
    expect(r.inserts).toEqual([['f0'], ['f3']]);
    // A ticket settled long ago answers at once, with what happened to it.
    expect(await w.durable(first)).toBe(true);
    expect(await w.durable(3)).toBe(false);
  });

  it('findings whose wait ran out during an insert go in the next one at once, not a full wait later', async () => {
    vi.useFakeTimers();
    try {
      const done: number[] = [];
      const write = (fs: Finding[]) => new Promise<number>((res) => setTimeout(() => (done.push(Date.now()), res(fs.length)), 60));
      const w = createFindingsWriter({ write, maxDelayMs: 30 });
      const t0 = Date.now();
      w.add(many(0, 1)); // waits 30 ms, then an insert of 60 ms
      await vi.advanceTimersByTimeAsync(40);
      w.add(many(1, 1)); // its 30 ms run out at 70, during the first insert
      await vi.advanceTimersByTimeAsync(200);
      expect(done.map((t) => t - t0)).toEqual([90, 150]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('close writes what is queued', async () => {
    const r = recorder();
    const w = createFindingsWriter({ write: r.write, maxDelayMs: 60_000 });
    w.add(many(0, 5));
    expect(await w.close()).toBe(true);
    expect(r.inserts.flat().length).toBe(5);
  });
});
