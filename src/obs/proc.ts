/**
 * What Linux /proc tells about this process and the machine, for the benchmark and /metrics:
 * memory by kind, pressure stalls, and CPU time by thread. Everything returns undefined (or nothing) where /proc
 * is not there, and the figures are then left out.
 *
 * CPU by thread: on a machine whose cores are all busy, throughput alone mixes what a change
 * saves with what the other threads (and the broker) took that second; CPU seconds per event,
 * per thread, do not. Node 20 names every thread of its own "node" (main, detection workers,
 * V8's GC and compiler helpers, libuv's pool), so threads are told apart by OS thread id: the
 * main thread's is the process id, and each detection worker reports its own (ownThreadId). The
 * embedded ClickHouse names the threads it starts (ThreadPool, MergeMutate, …); its queries
 * themselves run on libuv's pool.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * Clock ticks per second of utime/stime in /proc stat files. USER_HZ is 100 on every Linux ABI
 * Node runs on (the kernel scales to it whatever its own HZ), and Node offers no sysconf.
 */
const TICKS_PER_S = 100;

/** A /proc file's text, or undefined (no /proc, or a process or thread that has ended). */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** RssAnon and RssFile of this process in bytes, or undefined off Linux. */
export function rssKinds(): { rssAnon: number; rssFile: number } | undefined {
  const s = readProc('/proc/self/status');
  if (s === undefined) return undefined;
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1]) * 1024;
  const rssAnon = kb('RssAnon');
  const rssFile = kb('RssFile');
  return Number.isFinite(rssAnon) && Number.isFinite(rssFile) ? { rssAnon, rssFile } : undefined;
}

/**
 * Pressure stall totals (µs during which some task waited for a CPU, or for I/O), from
 * /proc/pressure; undefined where the kernel has no PSI. Over a phase they tell whether its
 * figures were bound by the machine's cores or by its disk.
 */
export function pressureTotals(): { cpu: number; io: number } | undefined {
  const some = (f: string) => Number(/^some .*total=(\d+)/m.exec(readProc(f) ?? '')?.[1]);
  const cpu = some('/proc/pressure/cpu');
  const io = some('/proc/pressure/io');
  return Number.isFinite(cpu) && Number.isFinite(io) ? { cpu, io } : undefined;
}

export interface ThreadCpu {
  /** The thread's name (comm), as the kernel has it. */
  name: string;
  /** User + system CPU seconds since the thread started. */
  seconds: number;
}

/**
 * Name and the fields after it of a /proc stat line. The name sits in parentheses and may itself
 * hold spaces and parentheses, so fields are counted from the last ")": fields[0] is the state
 * (field 3 of the line), fields[1] the parent pid, fields[11] and [12] utime and stime.
 */
function statFields(line: string): { name: string; fields: string[] } | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  return { name: line.slice(open + 1, close), fields: line.slice(close + 2).split(' ') };
}

/** Name and CPU seconds from one /proc stat line. */
export function parseStat(line: string): ThreadCpu | undefined {
  const s = statFields(line);
  if (s === undefined) return undefined;
  const utime = Number(s.fields[11]);
  const stime = Number(s.fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { name: s.name, seconds: (utime + stime) / TICKS_PER_S };
}

/** The parent process id of a /proc stat line, or undefined. */
export function parentOf(line: string): number | undefined {
  const ppid = Number(statFields(line)?.fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

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
    const line = readProc(`/proc/self/task/${tid}/stat`);
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
  const line = readProc(`/proc/${pid}/stat`);
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
    const line = readProc(`/proc/${p}/stat`);
    if (line !== undefined && parentOf(line) === pid) out.push(Number(p));
  }
  return out;
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

/** CPU seconds by kind of thread: the figures the bench reports per event. */
export interface CpuByRole {
  /** The main thread (kafkajs, routing, the ClickHouse client, transactions). */
  main: number;
  /** Detection worker threads (decode, detectors, state encoding). */
  workers: number;
  /** Node's other threads: V8's GC and compiler helpers, libuv's pool (zlib, the embedded ClickHouse's queries). */
  helpers: number;
  /** Threads the embedded ClickHouse started and named (merges, background pools). */
  clickhouse: number;
}

/**
 * Whether a thread name is one Node gives: "node" for all of them on Node 20; later versions
 * name libuv's pool ("libuv-worker") and V8's platform threads.
 */
const isNodeThread = (name: string): boolean => name === 'node' || /^(libuv|v8|node)/i.test(name);

/** Sum threads by role: the main thread is `mainTid`, the detection workers `workerTids`. */
export function cpuByRole(threads: ReadonlyMap<number, ThreadCpu>, mainTid: number, workerTids: ReadonlySet<number>): CpuByRole {
  const r: CpuByRole = { main: 0, workers: 0, helpers: 0, clickhouse: 0 };
  for (const [tid, t] of threads) {
    if (tid === mainTid) r.main += t.seconds;
    else if (workerTids.has(tid)) r.workers += t.seconds;
    else if (isNodeThread(t.name)) r.helpers += t.seconds;
    else r.clickhouse += t.seconds;
  }
  return r;
}

/** One reading of a process's threads (and of the broker), with the events handled by then. */
export interface CpuSample {
  t: number;
  n: number;
  threads: Map<number, ThreadCpu>;
  broker: number | undefined;
}

/** CPU per event over a measured span, by role of thread. */
export interface CpuFigures {
  /** Wall time between the samples that bracket the measured span, and events handled in it. */
  seconds: number;
  events: number;
  /** µs of CPU per event: this process's threads by role, their total, and the broker (null: not ours to see). */
  usPerEvent: CpuByRole & { total: number; broker: number | null };
  /** This process's CPU over the span in cores (1 = one core busy throughout). */
  cores: number;
}

/**
 * CPU per event between the last sample at or before `first` and the first at or after `last`
 * (a measured span), threads by role, or null without two such samples or without events
 * between them.
 */
export function cpuOver(samples: readonly CpuSample[], first: number | null, last: number | null, mainTid: number, workerTids: ReadonlySet<number>): CpuFigures | null {
  if (first === null || last === null || samples.length < 2) return null;
  let a = samples[0]!;
  for (const x of samples) if (x.t <= first) a = x;
  const b = samples.find((x) => x.t >= last) ?? samples[samples.length - 1]!;
  const events = b.n - a.n;
  const seconds = (b.t - a.t) / 1000;
  if (events <= 0 || seconds <= 0) return null;
  const r = cpuByRole(cpuBetween(a.threads, b.threads), mainTid, workerTids);
  const total = r.main + r.workers + r.helpers + r.clickhouse;
  const us = (x: number) => Math.round((x / events) * 1e8) / 100;
  return {
    seconds,
    events,
    usPerEvent: { main: us(r.main), workers: us(r.workers), helpers: us(r.helpers), clickhouse: us(r.clickhouse), total: us(total), broker: a.broker !== undefined && b.broker !== undefined ? us(b.broker - a.broker) : null },
    cores: Math.round((total / seconds) * 100) / 100,
  };
}
