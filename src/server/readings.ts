/**
 * The device's own events for the console, read back from the source topics (kafka/window.ts):
 * the chart around an alert, and a device's recent peers, ports, firmware and metrics. Results
 * are cached briefly: a chart is opened several times while an analyst works an alert.
 */
import type { Kafka } from 'kafkajs';
import type { PipelineConfig } from '../config/types.js';
import type { M2MEvent } from '../events/types.js';
import type { AlertView } from '../storage/alert-queries.js';
import type { FindingView } from '../storage/finding-queries.js';
import { partitionOf, readDeviceWindow } from '../kafka/window.js';
import { connectionSeries, metricSeries, type AlertSeries } from './series.js';

/** Source records read before the alert's first event and after its last (a few hours of a busy partition). */
const BEFORE = 8_000n;
const AFTER = 3_000n;
/** Records read back for a device page. */
const RECENT = 6_000n;

class Lru<V> {
  private readonly m = new Map<string, { v: V; at: number }>();
  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}
  get(k: string): V | undefined {
    const e = this.m.get(k);
    if (!e || Date.now() - e.at > this.ttlMs) return undefined;
    return e.v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value!);
    this.m.set(k, { v, at: Date.now() });
  }
}

const charts = new Lru<AlertSeries>(50, 10 * 60_000);
const devices = new Lru<DeviceRecent>(50, 30_000);

export async function alertSeries(kafka: Kafka | undefined, cfg: PipelineConfig, a: AlertView, findings: FindingView[]): Promise<AlertSeries> {
  if (!kafka) return { kind: 'none', reason: 'no Kafka connection to read the device’s events from' };
  if (!a.src_topic) return { kind: 'none', reason: 'this alert does not record where its events are in the source' };
  const cacheKey = `${a.alert_id}:${a.seq}`;
  const hit = charts.get(cacheKey);
  if (hit) return hit;
  const latest = findings[findings.length - 1];
  const metric = latest?.metric || undefined;
  const connection = findings.some((f) => f.dst_ip !== '');
  if (!metric && !connection) return { kind: 'none', reason: `${a.detector} findings carry no metric and no peer to chart` };
  const { events } = await readDeviceWindow(kafka, {
    topic: a.src_topic,
    partition: a.src_partition,
    device_id: a.device_id,
    from: BigInt(a.first_offset) - BEFORE,
    to: BigInt(a.last_offset) + AFTER,
    ...(cfg.mapping ? { decode: { mapping: cfg.mapping } } : {}),
  });
  // Volume anomalies are about bytes sent, the others about who the device talks to how often.
  const kind = cfg.detectors.find((d) => d.id === a.detector)?.type ?? a.detector;
  const out = metric ? metricSeries(metric, events, findings) : connectionSeries(events, findings, kind === 'exfiltration' ? 'bytes_out' : 'connections');
  charts.set(cacheKey, out);
  return out;
}

export interface DeviceRecent {
  last_seen: number | null;
  firmware: string | null;
  metrics: string[];
  peers: Array<{ peer: string; connections: number }>;
  ports: Array<{ port: number; connections: number }>;
  scanned: number;
}

export async function deviceRecent(kafka: Kafka | undefined, pipelines: PipelineConfig[], device: string): Promise<DeviceRecent> {
  const empty: DeviceRecent = { last_seen: null, firmware: null, metrics: [], peers: [], ports: [], scanned: 0 };
  if (!kafka) return empty;
  const hit = devices.get(device);
  if (hit) return hit;
  const events: M2MEvent[] = [];
  let scanned = 0;
  const topics = [...new Set(pipelines.flatMap((p) => p.source.kafka.topics.map((t) => [t, p] as const)).map(([t]) => t))];
  for (const topic of topics) {
    const cfg = pipelines.find((p) => p.source.kafka.topics.includes(topic))!;
    const admin = kafka.admin();
    await admin.connect();
    const high = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
    const partition = partitionOf(device, high.length);
    const end = BigInt(high.find((h) => h.partition === partition)?.high ?? '0');
    const r = await readDeviceWindow(kafka, { topic, partition, device_id: device, from: end - RECENT, to: end, ...(cfg.mapping ? { decode: { mapping: cfg.mapping } } : {}) });
    events.push(...r.events);
    scanned += r.scanned;
  }
  const peers = new Map<string, number>();
  const ports = new Map<number, number>();
  const metrics = new Set<string>();
  let last: number | null = null;
  let fw: { ts: number; v: string } | null = null;
  for (const e of events) {
    last = last === null ? e.ts : Math.max(last, e.ts);
    if (e.type === 'telemetry') {
      for (const m of Object.keys(e.metrics)) metrics.add(m);
      if (e.firmware && (!fw || e.ts >= fw.ts)) fw = { ts: e.ts, v: e.firmware };
    } else {
      peers.set(e.dst_ip, (peers.get(e.dst_ip) ?? 0) + 1);
      ports.set(e.dst_port, (ports.get(e.dst_port) ?? 0) + 1);
    }
  }
  const top = <K>(m: Map<K, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const out: DeviceRecent = {
    last_seen: last,
    firmware: fw?.v ?? null,
    metrics: [...metrics].sort().slice(0, 30),
    peers: top(peers).map(([peer, connections]) => ({ peer, connections })),
    ports: top(ports).map(([port, connections]) => ({ port, connections })),
    scanned,
  };
  devices.set(device, out);
  return out;
}
