/** What a run reports besides its figures (the machine), and the table it prints at the end. */
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import type { CpuFigures } from '../src/obs/proc.js';
import { root } from './paths.js';
import type { MemoryAtPeak } from './protocol.js';
import type { Target } from './results.js';

/** The phases of a run, in the order they run and are reported. */
export const PHASES = ['detect', 'ceiling', 'pipeline', 'latency', 'scale'] as const;
export type Phase = (typeof PHASES)[number];

export function machine(kafkaVersion: string): Record<string, unknown> {
  const c = cpus();
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root('.'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = null;
  }
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    os: `${process.platform} ${release()}`,
    node: process.version,
    kafka: kafkaVersion,
    kafkajs: '2.2.4',
    clickhouse: 'embedded (chdb)',
    commit,
    date: new Date().toISOString(),
  };
}

/** "22.47 µs/event (1.63 cores): main 3.77 · …", or undefined without figures. */
function cpuText(c: unknown): string | undefined {
  if (!c) return undefined;
  const { usPerEvent: u, cores } = c as CpuFigures;
  const parts = [
    `main ${u.main}`,
    ...(u.workers ? [`detection workers ${u.workers}`] : []),
    `Node helpers (GC, compiler, libuv pool) ${u.helpers}`,
    ...(u.clickhouse ? [`ClickHouse's threads ${u.clickhouse}`] : []),
    ...(u.broker !== null ? [`broker ${u.broker}`] : []),
  ];
  return `${u.total} µs/event (${cores} cores): ${parts.join(' · ')}`;
}

/** The CPU line under a phase's result line, or nothing. */
export const cpuLine = (c: unknown): string => {
  const t = cpuText(c);
  return t === undefined ? '' : `\n  CPU ${t}`;
};

export function renderTable(r: Record<string, unknown>): string {
  const fmt = (v: unknown, unit = ''): string => (typeof v === 'number' ? `${v.toLocaleString('en', { maximumFractionDigits: 3 })}${unit}` : v === null || v === undefined ? '—' : String(v));
  const mib = (v: unknown) => (typeof v === 'number' ? `${(v / 2 ** 20).toFixed(0)} MiB` : '—');
  const rows: Array<[string, string]> = [];
  const m = r.machine as Record<string, unknown>;
  rows.push(['machine', `${m.cpu} × ${m.cores}, ${m.memoryGiB} GiB, node ${m.node}, Kafka ${m.kafka}`]);
  for (const ph of PHASES) {
    const e = (r[ph] as { error?: string } | undefined)?.error;
    if (e) rows.push([`${ph} FAILED`, e.split('\n')[0]!]);
  }
  const ok = (x: unknown) => (x && !(x as { error?: string }).error ? x : undefined);
  const d = ok(r.detect) as Record<string, Record<string, unknown>> | undefined;
  if (d) {
    rows.push(['decode only (1 core)', fmt(d.fleet!.decodeEventsPerSec, ' ev/s')]);
    rows.push(['detectors only (1 core)', fmt(d.fleet!.detectEventsPerSec, ' ev/s')]);
    rows.push(['detectors, mature devices', `${fmt(d.mature!.detectEventsPerSec, ' ev/s')} (${fmt(d.mature!.eventTimeSpanHours)} h of history)`]);
    rows.push(['state / device (fleet · mature)', `${fmt(d.fleet!.stateBytesPerDevice, ' B')} · ${fmt(d.mature!.stateBytesPerDevice, ' B')}`]);
    rows.push(['heap / device (fleet · mature)', `${fmt(d.fleet!.heapBytesPerDevice, ' B')} · ${fmt(d.mature!.heapBytesPerDevice, ' B')}`]);
  }
  const c = ok(r.ceiling) as Record<string, unknown> | undefined;
  if (c) rows.push(['ceiling: kafkajs + decode', `${fmt(c.eventsPerSec, ' ev/s')} (peak RSS ${mib(c.peakRssBytes)})`]);
  const cpuRow = (label: string, f: unknown) => {
    const t = cpuText(f);
    if (t !== undefined) rows.push([label, t]);
  };
  cpuRow('  CPU per event', c?.cpu);
  const p = ok(r.pipeline) as Record<string, unknown> | undefined;
  if (p) {
    rows.push(['full pipeline', `${fmt(p.eventsPerSec, ' ev/s')}${p.ratioToCeiling !== undefined ? ` = ${fmt(Math.round((p.ratioToCeiling as number) * 100))}% of ceiling` : ''}`]);
    cpuRow('  CPU per event', p.cpu);
    rows.push(['pipeline peak RSS', `${mib(p.peakRssBytes)} with ${fmt(p.devices)} devices`]);
    const m = p.memoryAtPeak as MemoryAtPeak | undefined;
    if (m?.workers) {
      // Heaps as held from the system (used in brackets); the rest of RSS is outside V8 heaps.
      const held = m.heapTotal + m.workers.reduce((a, w) => a + w.total, 0);
      const heaps = [`main ${mib(m.heapTotal)} (${mib(m.heapUsed)})`, ...m.workers.map((w, i) => `worker ${i + 1} ${mib(w.total)} (${mib(w.used)})`)];
      rows.push(['  at the peak: heaps (used)', heaps.join(' · ')]);
      rows.push(['  outside the heaps', `${mib((p.peakRssBytes as number) - held)} (code, stacks, Buffers, the embedded ClickHouse)`]);
      const ext = [`main ${mib(m.external)}`, ...m.workers.flatMap((w, i) => (w.external !== undefined ? [`worker ${i + 1} ${mib(w.external)}`] : []))];
      rows.push(['  of it Buffers (external)', ext.join(' · ')]);
      if (m.rssAnon !== undefined && m.rssFile !== undefined) rows.push(['  anonymous · mapped files', `${mib(m.rssAnon)} · ${mib(m.rssFile)} (files: code, mostly the embedded ClickHouse's library)`]);
    }
    rows.push(['checkpointed state / device', fmt(p.stateBytesPerDevice, ' B')]);
    rows.push(['findings · alerts · dead letters', `${fmt(p.findings)} · ${fmt(p.alerts)} · ${fmt(p.deadLetters)}`]);
  }
  const l = ok(r.latency) as Record<string, unknown> | undefined;
  if (l) {
    const du = l.durable as Record<string, unknown>;
    const de = l.detected as Record<string, unknown>;
    rows.push(['latency offered load', `${fmt(l.offeredEventsPerSec, ' ev/s')} (achieved ${fmt(l.achievedEventsPerSec)}) · ${fmt(l.probes)} probes`]);
    rows.push(['event→finding durable p50 / p99', `${fmt(du.p50Ms, ' ms')} / ${fmt(du.p99Ms, ' ms')} (max ${fmt(du.maxMs, ' ms')}, missing ${fmt(du.missing)})`]);
    rows.push(['event→finding detected p50 / p99', `${fmt(de.p50Ms, ' ms')} / ${fmt(de.p99Ms, ' ms')}`]);
    const lag = l.lagEvents as Record<string, number | null>;
    rows.push(['  consumer lag p50 / max', `${fmt(lag.p50, ' events')} / ${fmt(lag.max, ' events')} · ${fmt(l.checkpointsPerSec)} checkpoints/s`]);
  }
  const s = ok(r.scale) as Record<string, unknown> | undefined;
  if (s) {
    rows.push(['scale-out: 2 instances', `${fmt(s.eventsPerSec, ' ev/s')}${s.speedupOverOne !== undefined ? ` (${fmt(s.speedupOverOne)}× one instance)` : ''}`]);
    rows.push(['  while both busy', `${fmt(s.steadyEventsPerSec, ' ev/s')} · ${fmt(s.reprocessed)} events redone after the rebalance`]);
  }
  const waits = PHASES.flatMap((ph) => {
    const x = (ok(r[ph]) as { pressure?: { cpuSomeShare: number; ioSomeShare: number } } | undefined)?.pressure;
    return x ? [`${ph} ${Math.round(x.cpuSomeShare * 100)}% · ${Math.round(x.ioSomeShare * 100)}%`] : [];
  });
  if (waits.length) rows.push(['waiting for CPU · for I/O', waits.join(', ')]);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`);
  lines.push('');
  lines.push('  targets');
  for (const t of r.targets as Target[]) {
    lines.push(`  ${t.met === null ? '  ·' : t.met ? '  ✓' : '  ✗'} ${t.target}: ${fmt(t.value)}`);
  }
  return lines.join('\n');
}
