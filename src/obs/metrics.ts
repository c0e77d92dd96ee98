/**
 * Prometheus metrics for the service; one registry per process, served on /metrics.
 *
 * Counters are incremented by the typed events (events.ts). Gauges that describe the present
 * (lag, checkpoint age, events/s, devices) are computed when scraped from probes the runners
 * register, so a stalled pipeline shows growing lag and checkpoint age instead of the last value
 * it happened to set before it stalled.
 */
import client from 'prom-client';
import { cpuBetween, cpuByRole, threadCpuTimes, type CpuByRole, type ThreadCpu } from './proc.js';

export const registry = new client.Registry();
// Unprefixed on purpose: process_cpu_seconds_total, nodejs_heap_size_used_bytes... are the names
// stock Node.js dashboards and alert rules query; a prefix would hide the service from them.
client.collectDefaultMetrics({ register: registry });

const labels = ['pipeline'] as const;

/** One thread's V8 heap, as a detection worker reports it (the bench reads it for other threads too). */
export interface ThreadHeap {
  /** Bytes of live and not yet collected objects. */
  used: number;
  /** Bytes the heap holds from the system. */
  total: number;
  /** Bytes the thread's Buffers and ArrayBuffers hold outside the heap (batches, encoded state). */
  external?: number;
  /** OS thread id (Linux), by which the thread's CPU time is told from the process's other threads: see obs/proc.ts. */
  tid?: number;
}

export interface PartitionProbe {
  partitions(): Array<{ topic: string; partition: number; lag: number | undefined; checkpointAgeS: number; uncheckpointed: number }>;
  devices(): number;
  /** Findings queued for ClickHouse, or being inserted, and not yet written. */
  findingsPending(): number;
  /** The pipeline's detection worker threads' V8 heaps, bytes (none without workers). */
  workerHeaps(): ThreadHeap[];
}

const probes = new Map<string, PartitionProbe>();

export function registerPipelineProbe(pipeline: string, probe: PartitionProbe): void {
  probes.set(pipeline, probe);
}

export function unregisterPipelineProbe(pipeline: string): void {
  probes.delete(pipeline);
}

/** What a fleet stage (pipeline/fleet-stage.ts) reports when scraped, over the fleet partitions it owns. */
export interface FleetProbe {
  /** Findings waiting for fleet context (fleet.hold). */
  held(): number;
  /** Inputs received and waiting for the slower sources. */
  queued(): number;
  /** Event time (s) by which the fleet watermark trails the newest source watermark (undefined: no fleet partition yet). */
  lagSeconds(): number | undefined;
}

const fleetProbes = new Map<string, FleetProbe>();

export function registerFleetProbe(pipeline: string, probe: FleetProbe): void {
  fleetProbes.set(pipeline, probe);
}

export function unregisterFleetProbe(pipeline: string): void {
  fleetProbes.delete(pipeline);
}

function perFleet(g: client.Gauge<string>, pick: (p: FleetProbe) => number | undefined): void {
  g.reset();
  for (const [pipeline, probe] of fleetProbes) {
    const v = pick(probe);
    if (v !== undefined) g.set({ pipeline }, v);
  }
}

/** Detection worker heaps of every running pipeline of this process (the bench's memory breakdown). */
export function detectionWorkerHeaps(): ThreadHeap[] {
  return [...probes.values()].flatMap((p) => p.workerHeaps());
}

/** Thread CPU at the previous scrape, and every detection worker thread id seen (workers may be restarted). */
let lastThreads: Map<number, ThreadCpu> = new Map();
const workerTids = new Set<number>();
const ROLE_LABELS: Record<keyof CpuByRole, string> = { main: 'main', workers: 'detection_workers', helpers: 'node_helpers', clickhouse: 'clickhouse' };

/** CPU seconds per role label since the previous call (all of it at the first; nothing off Linux). */
function threadCpuSinceLastScrape(): Record<string, number> {
  const now = threadCpuTimes();
  if (now === undefined) return {};
  for (const h of detectionWorkerHeaps()) if (h.tid !== undefined) workerTids.add(h.tid);
  const r = cpuByRole(cpuBetween(lastThreads, now), process.pid, workerTids);
  lastThreads = now;
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [ROLE_LABELS[k as keyof CpuByRole], v]));
}

/** Events handled per wall-clock second, per pipeline, over a sliding window. */
const RATE_WINDOW_S = 10;
const rateBuckets = new Map<string, Map<number, number>>();

export function countForRate(pipeline: string, n: number): void {
  if (n <= 0) return;
  let b = rateBuckets.get(pipeline);
  if (!b) rateBuckets.set(pipeline, (b = new Map()));
  const sec = Math.floor(Date.now() / 1000);
  b.set(sec, (b.get(sec) ?? 0) + n);
  if (b.size > RATE_WINDOW_S * 2) for (const s of b.keys()) if (s < sec - RATE_WINDOW_S) b.delete(s);
}

function eventsPerSecond(pipeline: string): number {
  const b = rateBuckets.get(pipeline);
  if (!b) return 0;
  const now = Math.floor(Date.now() / 1000);
  let n = 0;
  // The current second counts too, so a burst shows at once; the window is then a little short.
  for (const [s, c] of b) if (s > now - RATE_WINDOW_S) n += c;
  return n / RATE_WINDOW_S;
}

function perPartition(g: client.Gauge<string>, pick: (p: ReturnType<PartitionProbe['partitions']>[number]) => number | undefined): void {
  g.reset();
  for (const [pipeline, probe] of probes) {
    for (const p of probe.partitions()) {
      const v = pick(p);
      if (v !== undefined) g.set({ pipeline, topic: p.topic, partition: String(p.partition) }, v);
    }
  }
}

export const metrics = {
  eventsDecoded: new client.Counter({ name: 'm2m_events_decoded_total', help: 'Events decoded and scored', labelNames: [...labels, 'type'], registers: [registry] }),
  deadLetters: new client.Counter({ name: 'm2m_dead_letters_total', help: 'Messages sent to the dead-letter topic', labelNames: [...labels, 'reason'], registers: [registry] }),
  duplicates: new client.Counter({ name: 'm2m_duplicates_suppressed_total', help: 'Exact repeats of a device\'s recent messages (at-least-once delivery, e.g. MQTT QoS 1) dropped before the detectors', labelNames: labels, registers: [registry] }),
  findings: new client.Counter({ name: 'm2m_findings_total', help: 'Finding updates raised (first raise and extensions)', labelNames: [...labels, 'detector', 'severity'], registers: [registry] }),
  findingsWritten: new client.Counter({ name: 'm2m_findings_written_total', help: 'Finding rows written to ClickHouse', labelNames: labels, registers: [registry] }),
  writeErrors: new client.Counter({ name: 'm2m_clickhouse_write_errors_total', help: 'Failed ClickHouse writes (retried)', labelNames: labels, registers: [registry] }),
  offsetsCommitted: new client.Counter({ name: 'm2m_offset_commits_total', help: 'Offset commits (each with a state checkpoint)', labelNames: labels, registers: [registry] }),
  checkpoints: new client.Counter({ name: 'm2m_checkpoints_total', help: 'State checkpoint transactions by outcome (ok, failed, fenced)', labelNames: [...labels, 'outcome'], registers: [registry] }),
  checkpointRecords: new client.Counter({ name: 'm2m_checkpoint_device_records_total', help: 'Changed-device records written to the state changelog', labelNames: labels, registers: [registry] }),
  restores: new client.Counter({ name: 'm2m_state_restores_total', help: 'Partitions restored from the state changelog', labelNames: labels, registers: [registry] }),
  lag: new client.Gauge({
    name: 'm2m_consumer_lag',
    help: 'Consumer lag in messages per owned partition (high watermark minus position), at scrape time',
    labelNames: [...labels, 'topic', 'partition'],
    registers: [registry],
    collect() {
      perPartition(this, (p) => p.lag);
    },
  }),
  checkpointAge: new client.Gauge({
    name: 'm2m_checkpoint_age_seconds',
    help: 'Seconds since the last committed state checkpoint per owned partition, at scrape time',
    labelNames: [...labels, 'topic', 'partition'],
    registers: [registry],
    collect() {
      perPartition(this, (p) => p.checkpointAgeS);
    },
  }),
  uncheckpointed: new client.Gauge({
    name: 'm2m_uncheckpointed_events',
    help: 'Events processed since the last checkpoint per owned partition (redone after a crash)',
    labelNames: [...labels, 'topic', 'partition'],
    registers: [registry],
    collect() {
      perPartition(this, (p) => p.uncheckpointed);
    },
  }),
  eventsPerSecond: new client.Gauge({
    name: 'm2m_events_per_second',
    help: `Events handled (scored or dead-lettered) per second over the last ${RATE_WINDOW_S} s`,
    labelNames: labels,
    registers: [registry],
    collect() {
      this.reset();
      for (const pipeline of new Set([...probes.keys(), ...rateBuckets.keys()])) this.set({ pipeline }, eventsPerSecond(pipeline));
    },
  }),
  devices: new client.Gauge({
    name: 'm2m_active_devices',
    help: 'Devices with state in memory',
    labelNames: labels,
    registers: [registry],
    collect() {
      this.reset();
      for (const [pipeline, probe] of probes) this.set({ pipeline }, probe.devices());
    },
  }),
  findingsPending: new client.Gauge({
    name: 'm2m_findings_pending',
    help: 'Findings queued for ClickHouse (or being inserted) and not yet written; grows while ClickHouse is slow or down',
    labelNames: labels,
    registers: [registry],
    collect() {
      this.reset();
      for (const [pipeline, probe] of probes) this.set({ pipeline }, probe.findingsPending());
    },
  }),
  workerHeap: new client.Gauge({
    name: 'm2m_detection_worker_heap_bytes',
    help: 'V8 heap of each detection worker thread (where detector state lives): used, and total held from the system',
    labelNames: [...labels, 'worker', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [pipeline, probe] of probes)
        probe.workerHeaps().forEach((h, i) => {
          this.set({ pipeline, worker: String(i), kind: 'used' }, h.used);
          this.set({ pipeline, worker: String(i), kind: 'total' }, h.total);
        });
    },
  }),
  threadCpu: new client.Counter({
    name: 'm2m_thread_cpu_seconds_total',
    help: 'CPU seconds used by this process by kind of thread: main (Kafka, routing, transactions), detection_workers, node_helpers (V8 GC and compiler, libuv pool: zlib, embedded ClickHouse queries), clickhouse (threads the embedded ClickHouse started). Linux only',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      for (const [role, seconds] of Object.entries(threadCpuSinceLastScrape())) if (seconds > 0) this.inc({ role }, seconds);
    },
  }),
  fleetInputs: new client.Counter({ name: 'm2m_fleet_inputs_total', help: 'Inputs the fleet stage applied (fact: a device seen or a destination used; finding: a device finding to judge or an attack mark), not counting replays', labelNames: [...labels, 'kind'], registers: [registry] }),
  fleetVerdicts: new client.Counter({
    name: 'm2m_fleet_verdicts_total',
    help: 'Finding updates the fleet stage wrote, by verdict (folded, service, raised, passed), first judgements and later versions alike; fleet_change: its own findings raised or updated',
    labelNames: [...labels, 'verdict'],
    registers: [registry],
  }),
  fleetRestores: new client.Counter({ name: 'm2m_fleet_restores_total', help: 'Fleet partitions rebuilt by replaying their topic partition', labelNames: labels, registers: [registry] }),
  fleetHeld: new client.Gauge({
    name: 'm2m_fleet_held_findings',
    help: 'Device findings the fleet stage holds for fleet context (up to fleet.hold of event time)',
    labelNames: labels,
    registers: [registry],
    collect() {
      perFleet(this, (p) => p.held());
    },
  }),
  fleetQueued: new client.Gauge({
    name: 'm2m_fleet_queued_inputs',
    help: 'Fleet inputs received and waiting until every source partition has come as far in event time',
    labelNames: labels,
    registers: [registry],
    collect() {
      perFleet(this, (p) => p.queued());
    },
  }),
  fleetLag: new client.Gauge({
    name: 'm2m_fleet_watermark_lag_seconds',
    help: 'Event time by which the fleet watermark (the slowest active source partition) trails the newest source partition',
    labelNames: labels,
    registers: [registry],
    collect() {
      perFleet(this, (p) => p.lagSeconds());
    },
  }),
  alerts: new client.Counter({ name: 'm2m_alerts_total', help: 'Alerts emitted by the router', labelNames: [...labels, 'severity'], registers: [registry] }),
  alertsWithheld: new client.Counter({ name: 'm2m_alerts_withheld_total', help: 'Alert-worthy findings kept in ClickHouse but not alerted, by reason (maintenance, detector_min_severity)', labelNames: [...labels, 'reason'], registers: [registry] }),
  alertsSuppressed: new client.Counter({ name: 'm2m_alerts_suppressed_total', help: 'Alert candidates folded into an open alert', labelNames: labels, registers: [registry] }),
  // Route names are per pipeline (two pipelines may both call a route "soc"): the pipeline label tells them apart.
  deliveries: new client.Counter({ name: 'm2m_alert_deliveries_total', help: 'Alert deliveries per pipeline, route and outcome', labelNames: [...labels, 'route', 'outcome'], registers: [registry] }),
  outboxDepth: new client.Gauge({ name: 'm2m_outbox_depth', help: 'Alerts in the outbox topic not yet delivered by a route (its consumer lag)', labelNames: [...labels, 'route'], registers: [registry] }),
  devicesEvicted: new client.Counter({ name: 'm2m_devices_evicted_total', help: 'Device states evicted to stay under entities.max_devices_per_partition (reason=cap); each round also raises a device_cap finding', labelNames: [...labels, 'reason'], registers: [registry] }),
  alertsFolded: new client.Counter({ name: 'm2m_alerts_folded_total', help: 'Alerts over a route\'s per-minute budget, folded into that minute\'s digest alert instead of delivered one by one', labelNames: [...labels, 'route'], registers: [registry] }),
  outboxDeadLetters: new client.Counter({ name: 'm2m_outbox_dead_letters_total', help: 'Outbox records that are not alerts, dead-lettered by a delivery route instead of stalling it', labelNames: [...labels, 'route'], registers: [registry] }),
  logsThrottled: new client.Counter({ name: 'm2m_log_lines_throttled_total', help: 'Repeated warnings about bad input not logged (counted here instead) to keep logs bounded under a flood', labelNames: ['event'], registers: [registry] }),
  batchSeconds: new client.Histogram({ name: 'm2m_batch_seconds', help: 'Time to process one fetched batch', labelNames: labels, buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry] }),
  checkpointSeconds: new client.Histogram({ name: 'm2m_checkpoint_seconds', help: 'Time to commit one checkpoint transaction', labelNames: labels, buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry] }),
};
