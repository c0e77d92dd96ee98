/**
 * CPU time by thread, from Linux /proc, for the benchmark's "where the CPU goes" figures. On a
 * machine whose cores are all busy, throughput alone mixes what a change saves with what the
 * other threads (and the broker) took that second; CPU seconds per event, per thread, do not.
 *
 * Node names every thread of its own "node" (main, detection workers, V8's GC and compiler
 * helpers, libuv's pool that runs zlib), so threads are told apart by OS thread id: the main
 * thread's is the process id, and each detection worker reports its own (ownThreadId). The
 * embedded ClickHouse names its threads (ThreadPool, MergeMutate, …).
 *
 * Everything returns undefined where /proc is not there: the figures are then left out.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * Clock ticks per second of utime/stime in /proc stat files. USER_HZ is 100 on every Linux ABI
 * Node runs on (the kernel scales to it whatever its own HZ), and Node offers no sysconf.
 */
const TICKS_PER_S = 100;

export interface ThreadCpu {
  /** The thread's name (comm), as the kernel has it. */
  name: string;
  /** User + system CPU seconds since the thread started. */
  seconds: number;
}

/**
 * Name and CPU seconds from one /proc stat line. The name sits in parentheses and may itself
 * hold spaces and parentheses, so fields are counted from the last ")"; utime and stime are
 * fields 14 and 15 of the line.
 */
export function parseStat(line: string): ThreadCpu | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  // After ")": state (field 3), ppid (4), … utime (14), stime (15).
  const rest = line.slice(close + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { name: line.slice(open + 1, close), seconds: (utime + stime) / TICKS_PER_S };
}

/** The parent process id of a /proc stat line (field 4), or undefined. */
export function parentOf(line: string): number | undefined {
  const close = line.lastIndexOf(')');
  if (close < 0) return undefined;
  const ppid = Number(line.slice(close + 2).split(' ')[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

const readStat = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** Every thread of this process by OS thread id, or undefined off Linux. */
export function threadCpuTimes(): Map<number, ThreadCpu> | undefined {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const out = new Map<number, ThreadCpu>();
  for (const tid of tids) {
    // A thread may end between the listing and the read.
    const line = readStat(`/proc/self/task/${tid}/stat`);
    const t = line === undefined ? undefined : parseStat(line);
    if (t !== undefined) out.set(Number(tid), t);
  }
  return out;
}

/** The calling thread's OS thread id (main thread or worker), or undefined off Linux. */
export function ownThreadId(): number | undefined {
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds of process `pid` (all its threads), or undefined if it is gone or there is no /proc. */
export function processCpu(pid: number): number | undefined {
  const line = readStat(`/proc/${pid}/stat`);
  return line === undefined ? undefined : parseStat(line)?.seconds;
}

/** Pids whose parent is `pid` (one scan of /proc; empty off Linux). */
export function childrenOf(pid: number): number[] {
  let all: string[];
  try {
    all = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const p of all) {
    if (!/^\d+$/.test(p)) continue;
    const line = readStat(`/proc/${p}/stat`);
    if (line !== undefined && parentOf(line) === pid) out.push(Number(p));
  }
  return out;
}

/** CPU seconds by kind of thread: the figures the bench reports per event. */
export interface CpuByRole {
  /** The main thread (kafkajs, routing, the ClickHouse client, transactions). */
  main: number;
  /** Detection worker threads (decode, detectors, state encoding). */
  workers: number;
  /** Node's other threads: V8's GC and compiler helpers, libuv's pool (zlib). */
  helpers: number;
  /** Threads the embedded ClickHouse named (anything not named "node"). */
  clickhouse: number;
}

/**
 * CPU seconds each thread spent between two readings of threadCpuTimes(): a thread that started
 * in between counts whole, one that ended in between is lost (its last seconds with it).
 */
export function cpuBetween(before: ReadonlyMap<number, ThreadCpu>, after: ReadonlyMap<number, ThreadCpu>): Map<number, ThreadCpu> {
  const out = new Map<number, ThreadCpu>();
  for (const [tid, t] of after) out.set(tid, { name: t.name, seconds: Math.max(0, t.seconds - (before.get(tid)?.seconds ?? 0)) });
  return out;
}

/** Sum threads by role: the main thread is `mainTid`, the detection workers `workerTids`. */
export function cpuByRole(threads: ReadonlyMap<number, ThreadCpu>, mainTid: number, workerTids: ReadonlySet<number>): CpuByRole {
  const r: CpuByRole = { main: 0, workers: 0, helpers: 0, clickhouse: 0 };
  for (const [tid, t] of threads) {
    if (tid === mainTid) r.main += t.seconds;
    else if (workerTids.has(tid)) r.workers += t.seconds;
    else if (t.name === 'node') r.helpers += t.seconds;
    else r.clickhouse += t.seconds;
  }
  return r;
}
