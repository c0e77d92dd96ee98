/**
 * The data of an alert's chart. For a telemetry anomaly: the device's readings of the metric
 * around the alert, read back from the source topic, with the detector's own baseline band as
 * each finding stated it (its expected value ± spread, from finding-facts.ts) and the findings
 * marked. For a connection anomaly: the device's connections around the alert, by peer and port
 * over time. Nothing about the baseline is recomputed here: where the detector said nothing,
 * there is no band.
 */
import type { M2MEvent } from '../events/types.js';
import type { FindingView } from '../storage/finding-queries.js';

export interface MetricSeries {
  kind: 'metric';
  metric: string;
  /** Aligned arrays for the chart (uPlot's layout): time in seconds, then values or null. */
  x: number[];
  observed: Array<number | null>;
  center: Array<number | null>;
  low: Array<number | null>;
  high: Array<number | null>;
  /** The finding's observed value at its times, null elsewhere. */
  marks: Array<number | null>;
  findings: Array<{ finding_id: string; first_ts: number; last_ts: number; severity: string; expected: string }>;
}

export interface ConnectionSeries {
  kind: 'connections';
  /** What each bucket counts: connections, or bytes sent (volume anomalies). */
  measure: 'connections' | 'bytes_out';
  /** Bucket starts (seconds) and, per peer:port, connections in each bucket. */
  x: number[];
  bucket_s: number;
  series: Array<{ label: string; counts: number[]; flagged: boolean }>;
  findings: Array<{ finding_id: string; first_ts: number; last_ts: number; severity: string }>;
}

export type AlertSeries = MetricSeries | ConnectionSeries | { kind: 'none'; reason: string };

export function metricSeries(metric: string, events: M2MEvent[], findings: FindingView[]): MetricSeries {
  const byTs = new Map<number, number | null>();
  for (const e of events) {
    if (e.type !== 'telemetry') continue;
    const v = e.metrics[metric];
    if (typeof v === 'number' && Number.isFinite(v)) byTs.set(e.ts, v);
  }
  // The findings' own times are on the axis too, so a mark sits where the detector raised it.
  const fs = findings.filter((f) => f.metric === metric || f.key === metric).sort((a, b) => a.first_ts - b.first_ts);
  const markAt = new Map<number, number>();
  for (const f of fs) {
    if (f.observed_value !== null) markAt.set(f.last_ts, f.observed_value);
    const first = byTs.get(f.first_ts);
    if (first !== undefined && first !== null) markAt.set(f.first_ts, first);
    for (const t of [f.first_ts, f.last_ts]) if (!byTs.has(t)) byTs.set(t, null);
  }
  const xs = [...byTs.keys()].sort((a, b) => a - b);
  // Band at time t: the latest finding raised at or before t (the first one before any), as stated.
  const bandAt = (t: number): FindingView | undefined => {
    let pick: FindingView | undefined = fs[0];
    for (const f of fs) if (f.first_ts <= t) pick = f;
    return pick && pick.expected_value !== null ? pick : undefined;
  };
  const out: MetricSeries = { kind: 'metric', metric, x: [], observed: [], center: [], low: [], high: [], marks: [], findings: fs.map((f) => ({ finding_id: f.finding_id, first_ts: f.first_ts, last_ts: f.last_ts, severity: f.severity, expected: f.expected })) };
  for (const t of xs) {
    const b = bandAt(t);
    out.x.push(t / 1000);
    out.observed.push(byTs.get(t) ?? null);
    out.center.push(b ? b.expected_value : null);
    const s = b?.expected_spread ?? null;
    out.low.push(b && s !== null ? b.expected_value! - s : null);
    out.high.push(b && s !== null ? b.expected_value! + s : null);
    out.marks.push(markAt.get(t) ?? null);
  }
  return out;
}

/** Connections per peer:port in about 40 buckets; the eight busiest peers and the flagged ones apart, the rest as "other". */
export function connectionSeries(events: M2MEvent[], findings: FindingView[], measure: ConnectionSeries['measure'] = 'connections'): ConnectionSeries {
  const conns = events.filter((e): e is Extract<M2MEvent, { type: 'connection' }> => e.type === 'connection');
  const flagged = new Set(findings.flatMap((f) => (f.dst_ip ? [`${f.dst_ip}:${f.dst_port ?? '*'}`, `${f.dst_ip}:*`] : [])));
  const fsOut = findings.map((f) => ({ finding_id: f.finding_id, first_ts: f.first_ts, last_ts: f.last_ts, severity: f.severity }));
  if (!conns.length) return { kind: 'connections', measure, x: [], bucket_s: 60, series: [], findings: fsOut };
  const t0 = Math.min(...conns.map((e) => e.ts));
  const t1 = Math.max(...conns.map((e) => e.ts));
  const steps = [60, 300, 600, 900, 1800, 3600, 7200, 21600];
  const bucket = steps.find((s) => (t1 - t0) / (s * 1000) <= 40) ?? 86400;
  const start = Math.floor(t0 / 1000 / bucket) * bucket;
  const n = Math.floor((t1 / 1000 - start) / bucket) + 1;
  const per = new Map<string, number[]>();
  const totals = new Map<string, number>();
  for (const e of conns) {
    const label = `${e.dst_ip}:${e.dst_port}`;
    let arr = per.get(label);
    if (!arr) per.set(label, (arr = new Array<number>(n).fill(0)));
    const v = measure === 'bytes_out' ? (e.bytes_out ?? 0) : 1;
    arr[Math.floor((e.ts / 1000 - start) / bucket)]! += v;
    totals.set(label, (totals.get(label) ?? 0) + v);
  }
  const isFlagged = (l: string) => flagged.has(l) || flagged.has(`${l.slice(0, l.lastIndexOf(':'))}:*`);
  const ranked = [...totals.keys()].sort((a, b) => Number(isFlagged(b)) - Number(isFlagged(a)) || totals.get(b)! - totals.get(a)!);
  const keep = ranked.slice(0, 8);
  const series = keep.map((l) => ({ label: l, counts: per.get(l)!, flagged: isFlagged(l) }));
  const rest = ranked.slice(8);
  if (rest.length) {
    const other = new Array<number>(n).fill(0);
    for (const l of rest) per.get(l)!.forEach((c, i) => (other[i]! += c));
    series.push({ label: `${rest.length} other peers`, counts: other, flagged: false });
  }
  return { kind: 'connections', measure, x: Array.from({ length: n }, (_, i) => start + i * bucket), bucket_s: bucket, series, findings: fsOut };
}
