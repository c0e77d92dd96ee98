/**
 * The in-process backtest: recorded events → the consumers' decoder → one detection engine in
 * event-time order → findings. No Kafka, but exactly the code the consumers run (decodeEvent,
 * buildDetectors, createEngine), so a backtest number is a production number.
 *
 * Lines that fail decoding, and events the engine rejects (dated too far ahead of the stream:
 * future_timestamp), are counted per reason with a first example, as the dead-letter topic would
 * hold them; exact repeats of a device's recent messages are counted as duplicates, as the
 * service's m2m_duplicates_suppressed_total counts them. There is no wall clock here: the future
 * gate judges by the stream's own time, so a backtest gives the same answer whenever it runs.
 * Several inputs are merged by event time (each is assumed to be in event-time
 * order, as exports and our simulator write them; disorder within an input is counted and fed as
 * is, so the engine's lateness handling applies exactly as it would on Kafka).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { PipelineConfig } from '../config/types.js';
import { decodeEvent, type DecodeOptions } from '../events/decode.js';
import { CsvMapper, type CsvOptions } from '../events/csv.js';
import type { M2MEvent } from '../events/types.js';
import type { Finding } from '../detectors/types.js';
import { createOfflineDetection } from './detect.js';

export interface BacktestOptions {
  pipeline: PipelineConfig;
  inputs: string[];
  /** For .csv / .csv.gz inputs. */
  csv?: CsvOptions;
  /**
   * Extra event time to advance past the last event so that silence-style detectors flush.
   * The watermark is always advanced to the last event's time (lastTs + allowed lateness); this
   * adds to that. Default 0: beyond the data we know nothing, and pretending every device went
   * quiet at end of input would be a fleet-wide outage that is not in the data.
   */
  flushMs?: number;
  /** Devices whose series are kept for report timelines. */
  watchDevices?: Iterable<string>;
  onProgress?: (fraction: number, events: number) => void;
}

export interface RejectReason {
  count: number;
  example: { file: string; line: number; message: string };
}

export interface ConnBucket {
  ts: number;
  connections: number;
  distinct_dst: number;
  bytes_out: number;
  auth_failed: number;
}

export interface DeviceSeries {
  device_id: string;
  device_class: string;
  /** metric → [ts[], value[]] */
  metrics: Record<string, { ts: number[]; v: number[] }>;
  /** Connections per bucket (5 min). */
  connections: ConnBucket[];
}

export interface BacktestResult {
  /** Final version of each finding, ordered by first_ts then id. */
  findings: Finding[];
  lines: number;
  decoded: number;
  rejected: number;
  rejectedBy: Record<string, RejectReason>;
  /** Exact repeats of a device's recent messages, dropped before the detectors (counted in `decoded`). */
  duplicates: number;
  /** Decoded events (repeats included) dated before the newest already read: the input's own disorder, fed as is. */
  outOfOrder: number;
  devices: number;
  firstTs: number;
  /** Stream time at the end of input (several devices' newest time, not one device's). */
  lastTs: number;
  /** Distinct devices × observed span in days. */
  deviceDays: number;
  series: Map<string, DeviceSeries>;
}

const DAY = 86_400_000;
export const CONN_BUCKET_MS = 5 * 60_000;
const MAX_POINTS = 50_000;

type Item = { ts: number; event: M2MEvent; line: number };

interface Source {
  file: string;
  size: number;
  bytesRead(): number;
  next(): Promise<Item | undefined>;
}

function isCsv(file: string): boolean {
  return /\.csv(\.gz)?$/i.test(file);
}

async function openSource(file: string, opts: BacktestOptions, onReject: (file: string, line: number, reason: string, message: string) => void, countLine: () => void): Promise<Source> {
  const size = (await stat(file)).size;
  const raw = createReadStream(file);
  const stream = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const it = createInterface({ input: stream, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const decodeOpts: DecodeOptions = {};
  if (opts.pipeline.mapping) decodeOpts.mapping = opts.pipeline.mapping;
  const csv = isCsv(file);
  // CSV columns are already canonical names; only the pipeline's unit conversions and constants apply.
  const csvDecode: DecodeOptions = opts.pipeline.mapping ? { mapping: { fields: {}, constants: opts.pipeline.mapping.constants, metrics: opts.pipeline.mapping.metrics } } : {};
  let mapper: CsvMapper | undefined;
  let lineNo = 0;
  return {
    file,
    size,
    bytesRead: () => raw.bytesRead,
    async next() {
      for (;;) {
        const r = await it.next();
        if (r.done) return undefined;
        lineNo++;
        const line = r.value;
        if (line.trim().length === 0) continue;
        if (csv && !mapper) {
          mapper = new CsvMapper(line, opts.csv ?? {});
          continue;
        }
        countLine();
        const res = csv ? decodeEvent(JSON.stringify(mapper!.row(line)), csvDecode) : decodeEvent(line, decodeOpts);
        if (!res.ok) {
          const reason = res.error.field ? `${res.error.code}:${res.error.field}` : res.error.code;
          onReject(file, lineNo, reason, res.error.message);
          continue;
        }
        return { ts: res.event.ts, event: res.event, line: lineNo };
      }
    },
  };
}

export async function runBacktest(opts: BacktestOptions): Promise<BacktestResult> {
  const cfg = opts.pipeline;
  const det = createOfflineDetection(cfg);
  const rejectedBy: Record<string, RejectReason> = {};
  let rejected = 0;
  let lines = 0;
  const onReject = (file: string, line: number, reason: string, message: string): void => {
    rejected++;
    const r = rejectedBy[reason];
    if (r) r.count++;
    else rejectedBy[reason] = { count: 1, example: { file, line, message } };
  };

  const sources: Source[] = [];
  for (const f of opts.inputs) sources.push(await openSource(f, opts, onReject, () => lines++));
  const totalBytes = sources.reduce((s, x) => s + x.size, 0) || 1;
  const heads: Array<Item | undefined> = await Promise.all(sources.map((s) => s.next()));

  const watch = new Set(opts.watchDevices ?? []);
  const series = new Map<string, DeviceSeries>();
  const buckets = new Map<string, Map<number, ConnBucket & { dst: Set<string> }>>();
  const devices = new Set<string>();
  let decoded = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let maxTs = Number.NEGATIVE_INFINITY;
  let firstTs = Number.POSITIVE_INFINITY;

  for (;;) {
    // Merge by event time across inputs; ties go to the earlier input, keeping runs stable.
    let k = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h && (k < 0 || h.ts < heads[k]!.ts)) k = i;
    }
    if (k < 0) break;
    const item = heads[k]!;
    heads[k] = await sources[k]!.next();
    const ev = item.event;
    const outcome = det.process(ev);
    if (outcome === 'future') {
      const err = det.futureError(ev);
      onReject(sources[k]!.file, item.line, `${err.code}:${err.field}`, err.message);
      continue;
    }
    decoded++;
    // Disorder of the input as delivered, repeats included (a repeat is never ahead of its device).
    if (ev.ts < maxTs) outOfOrder++;
    else maxTs = ev.ts;
    if (outcome === 'duplicate') {
      duplicates++;
      continue;
    }
    devices.add(ev.device_id);
    if (ev.ts < firstTs) firstTs = ev.ts;
    if (watch.has(ev.device_id)) record(ev);
    if ((decoded & 0x3fff) === 0 && opts.onProgress) {
      let read = 0;
      for (const s of sources) read += s.bytesRead();
      opts.onProgress(read / totalBytes, decoded);
    }
  }
  // Stream time, not the newest timestamp: a device whose clock runs ahead must not end the run
  // later (and make every other device look silent at the end).
  const end = det.streamTime();
  const findings = det.finish(Number.isFinite(end) ? end + cfg.allowed_lateness_ms + (opts.flushMs ?? 0) : undefined);
  opts.onProgress?.(1, decoded);

  for (const [dev, bs] of buckets) {
    const s = series.get(dev)!;
    s.connections = [...bs.values()]
      .sort((a, b) => a.ts - b.ts)
      .map(({ dst, ...b }) => ({ ...b, distinct_dst: dst.size }));
  }

  const spanDays = Number.isFinite(end) ? Math.max(end - firstTs, 0) / DAY : 0;
  return {
    findings,
    lines,
    decoded,
    rejected,
    rejectedBy,
    duplicates,
    outOfOrder,
    devices: devices.size,
    firstTs: Number.isFinite(firstTs) ? firstTs : 0,
    lastTs: Number.isFinite(end) ? end : 0,
    deviceDays: devices.size * spanDays,
    series,
  };

  function record(ev: M2MEvent): void {
    let s = series.get(ev.device_id);
    if (!s) series.set(ev.device_id, (s = { device_id: ev.device_id, device_class: ev.device_class, metrics: {}, connections: [] }));
    if (ev.type === 'telemetry') {
      for (const [m, v] of Object.entries(ev.metrics)) {
        let ser = s.metrics[m];
        if (!ser) s.metrics[m] = ser = { ts: [], v: [] };
        if (ser.ts.length < MAX_POINTS) {
          ser.ts.push(ev.ts);
          ser.v.push(v);
        }
      }
      return;
    }
    let bs = buckets.get(ev.device_id);
    if (!bs) buckets.set(ev.device_id, (bs = new Map()));
    const b0 = Math.floor(ev.ts / CONN_BUCKET_MS) * CONN_BUCKET_MS;
    let b = bs.get(b0);
    if (!b) bs.set(b0, (b = { ts: b0, connections: 0, distinct_dst: 0, bytes_out: 0, auth_failed: 0, dst: new Set() }));
    b.connections++;
    b.bytes_out += ev.bytes_out ?? 0;
    if (ev.auth === 'failed') b.auth_failed++;
    b.dst.add(`${ev.dst_ip}:${ev.dst_port}`);
  }
}

/** One finding as a line of the findings NDJSON: the contract fields first, ISO times. */
export function findingRecord(f: Finding): Record<string, unknown> {
  return {
    finding_id: f.finding_id,
    device_id: f.device_id,
    ts: new Date(f.first_ts).toISOString(),
    detector: f.detector,
    score: f.score,
    severity: f.severity,
    explanation: f.explanation,
    last_ts: new Date(f.last_ts).toISOString(),
    device_class: f.device_class,
    key: f.key,
    count: f.count,
    observed: f.observed,
    expected: f.expected,
    mitre: f.mitre,
    evidence: f.evidence,
    pipeline: f.pipeline,
    version: f.version,
  };
}
