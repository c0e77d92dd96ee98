/**
 * CPU time by thread (obs/proc.ts) and the bench's CPU-per-event figures built on it: /proc stat
 * lines parsed right even when a thread's name holds spaces and parentheses, threads sorted into
 * roles, the measured span bracketed by samples, and the live readings of this process.
 */
import { describe, expect, it } from 'vitest';
import { cpuBetween, cpuByRole, cpuOver, ownThreadId, parentOf, parseStat, processCpu, threadCpuTimes, type CpuSample, type ThreadCpu } from '../../src/obs/proc.js';

// A /proc/<pid>/stat line: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
// majflt cmajflt utime stime cutime cstime …, utime 250 and stime 75 ticks (3.25 s at USER_HZ 100).
const line = (comm: string) => `4242 (${comm}) S 17 4242 4242 0 -1 4194560 1200 0 3 0 250 75 9 2 20 0 31 0 5000 1234567 890 18446744073709551615`;

const threads = (o: Record<number, [string, number]>): Map<number, ThreadCpu> => new Map(Object.entries(o).map(([tid, [name, seconds]]) => [Number(tid), { name, seconds }]));

describe('thread CPU from /proc', () => {
  it('reads name, CPU seconds and parent from a stat line, whatever the name holds', () => {
    for (const comm of ['node', 'V8 DefaultWorke', 'we (ird) ) name']) {
      expect(parseStat(line(comm))).toEqual({ name: comm, seconds: 3.25 });
      expect(parentOf(line(comm))).toBe(17);
    }
    expect(parseStat('garbage')).toBeUndefined();
    expect(parseStat('1 (x) S 1 2')).toBeUndefined();
  });

  it('counts what each thread spent between two readings: new threads whole, ended ones not at all', () => {
    const before = threads({ 1: ['node', 10], 2: ['node', 5], 3: ['ThreadPool', 1] });
    const after = threads({ 1: ['node', 12.5], 2: ['node', 5], 4: ['node', 0.75] });
    expect(cpuBetween(before, after)).toEqual(threads({ 1: ['node', 2.5], 2: ['node', 0], 4: ['node', 0.75] }));
  });

  it('sorts threads into main, detection workers, Node helpers and the embedded ClickHouse', () => {
    const t = threads({ 100: ['node', 3], 101: ['node', 1], 102: ['node', 0.5], 103: ['node', 4], 104: ['node', 5], 105: ['ThreadPool', 0.25], 106: ['MergeMutate', 0.5] });
    expect(cpuByRole(t, 100, new Set([103, 104]))).toEqual({ main: 3, workers: 9, helpers: 1.5, clickhouse: 0.75 });
    // Newer Node versions name libuv's pool and V8's platform threads: still Node's helpers.
    const named = threads({ 100: ['node', 1], 101: ['libuv-worker', 0.5], 102: ['V8 DefaultWorke', 0.25], 103: ['BgSchPool', 2] });
    expect(cpuByRole(named, 100, new Set())).toEqual({ main: 1, workers: 0, helpers: 0.75, clickhouse: 2 });
  });

  it('brackets the measured span with samples and divides by the events handled between them', () => {
    const s = (t: number, n: number, main: number, worker: number, broker?: number): CpuSample => ({ t, n, threads: threads({ 7: ['node', main], 8: ['node', worker] }), broker });
    const samples = [s(0, 0, 1, 0, 10), s(250, 0, 1.1, 0, 10.1), s(500, 1_000, 1.2, 0.4, 10.2), s(750, 2_000, 1.3, 0.8, 10.3), s(1_000, 2_000, 1.4, 0.8, 10.4)];
    // Span 300..700: from the sample at 250 (nothing handled yet) to the one at 750.
    const f = cpuOver(samples, 300, 700, 7, new Set([8]));
    expect(f).toMatchObject({ seconds: 0.5, events: 2_000, cores: 2 });
    expect(f!.usPerEvent).toEqual({ main: 100, workers: 400, helpers: 0, clickhouse: 0, total: 500, broker: 100 });
    // Without the broker's pid there is no broker figure; without a span, no figures.
    expect(cpuOver(samples.map((x) => ({ ...x, broker: undefined })), 300, 700, 7, new Set([8]))!.usPerEvent.broker).toBeNull();
    expect(cpuOver(samples, null, 700, 7, new Set())).toBeNull();
    expect(cpuOver(samples, 800, 900, 7, new Set())).toBeNull();
  });

  it("reads this process's threads, its main thread by the process id, and sees CPU spent", () => {
    const before = threadCpuTimes();
    if (process.platform !== 'linux') {
      expect(before).toBeUndefined();
      return;
    }
    expect(ownThreadId()).toBe(process.pid);
    expect(before!.has(process.pid)).toBe(true);
    // Spend 300 ms of CPU on this thread (measured as CPU, not wall time, on a busy machine;
    // user and system both, as the stat line counts them).
    const cpu = () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    };
    const c0 = cpu();
    let x = 0;
    while (cpu() - c0 < 300_000) for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    const main = threadCpuTimes()!.get(process.pid)!.seconds;
    expect(main - before!.get(process.pid)!.seconds).toBeGreaterThanOrEqual(0.2);
    // The process counts all its threads, read after the thread so no tick falls between them.
    expect(processCpu(process.pid)).toBeGreaterThanOrEqual(main);
  });
});
