/**
 * Alerts as records with a lifecycle, decided in event time so a replay raises the same alerts.
 *
 * An alert groups the findings of one device + detector + key. While it is open, every finding
 * of its group folds into it (count, first and last seen, peak score); it *escalates* when a
 * finding's severity band is above every band it had; it closes by itself once the group has
 * been quiet (no finding, i.e. the behaviour is back to the detector's baseline) for
 * `autoCloseMs` of event time. Repeats are published at most once per suppression window: the
 * first finding creates the alert (published), folds inside the window are recorded but not
 * sent, and the first fold after the window is sent as an update carrying the count.
 *
 * Everything here is pure: (state, finding | watermark) → (state, changes). The runner stores
 * every change in ClickHouse and publishes those marked `publish` to the alert outbox; the
 * analyst's side of the lifecycle (acknowledge, resolve, comment) lives in the console
 * (src/server) and is merged with these records there (src/storage/alerts.ts).
 */
import * as crypto from 'node:crypto';
import type { Finding, Severity } from '../detectors/types.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import type { AlertRecord, LifecycleState, OpenAlert, SourcePosition } from './record.js';

export type ChangeKind = 'create' | 'fold' | 'update' | 'escalate' | 'close';

export interface AlertChange {
  kind: ChangeKind;
  /** A copy of the alert as of this change. */
  alert: AlertRecord;
  /** The finding that caused it; for a close, the alert's latest finding. */
  finding: Finding;
  /** Whether this change goes to the outbox (every route); folds inside the window do not. */
  publish: boolean;
  /** Changes folded since the previous published one (for update messages). */
  folded: number;
  /** For escalations: the band before. */
  from?: Severity;
}

export interface LifecycleOptions {
  suppressMs: number;
  autoCloseMs: number;
}

/** Findings remembered per alert for counting; a group with more is one long story anyway. */
const MAX_TRACKED_FINDINGS = 64;

/** Evidence keys a close document needs (finding-facts.ts); the rest stays out of the checkpoint. */
const KEPT_EVIDENCE = ['metric', 'src_ip', 'dst_ip', 'dst_port', 'peer', 'baseline_center', 'baseline_sigma', 'implied', 'typical_error'];

/** The finding as the router keeps it: small, since every open alert rides in each checkpoint marker. */
function slim(f: Finding): Finding {
  const evidence: Record<string, unknown> = {};
  for (const k of KEPT_EVIDENCE) if (f.evidence[k] !== undefined) evidence[k] = f.evidence[k];
  return { ...f, evidence };
}

const groupOf = (f: Pick<Finding, 'device_id' | 'detector' | 'key'>): string => `${f.device_id}\u0000${f.detector}\u0000${f.key}`;

function alertId(pipeline: string, f: Pick<Finding, 'device_id' | 'detector' | 'key'>, openedTs: number): string {
  return crypto.createHash('sha256').update(`alert\u0000${pipeline}\u0000${f.device_id}\u0000${f.detector}\u0000${f.key}\u0000${openedTs}`).digest('hex').slice(0, 32);
}

/**
 * The record of an alert that finding `f` opens: its one finding, severity and score, version 1,
 * open. Every alert record starts here (the lifecycle's, and the budget's digest alerts).
 */
export function newAlertRecord(f: Finding, alertId: string, source?: SourcePosition): AlertRecord {
  return {
    alert_id: alertId,
    pipeline: f.pipeline,
    device_id: f.device_id,
    device_class: f.device_class,
    detector: f.detector,
    key: f.key,
    first_ts: f.first_ts,
    last_ts: f.last_ts,
    count: f.count,
    findings: 1,
    severity: f.severity,
    initial_severity: f.severity,
    score: f.score,
    finding_id: f.finding_id,
    seq: 1,
    closed_ts: null,
    ...(source ? { source } : {}),
  };
}

const maxSeverity = (a: Severity, b: Severity): Severity => (SEVERITY_RANK[a] >= SEVERITY_RANK[b] ? a : b);

function close(state: LifecycleState, g: string, o: OpenAlert, autoCloseMs: number): AlertChange {
  o.a.seq += 1;
  o.a.closed_ts = o.a.last_ts + autoCloseMs;
  delete state.open[g];
  return { kind: 'close', alert: { ...o.a }, finding: o.f, publish: true, folded: o.folded };
}

/** Fold one alert-worthy finding into its group's alert: the changes it makes, in order. */
export function observe(state: LifecycleState, f: Finding, opts: LifecycleOptions, at?: { topic: string; partition: number; offset: string }): AlertChange[] {
  const g = groupOf(f);
  const out: AlertChange[] = [];
  let o = state.open[g];
  // Quiet for the auto-close time before this finding: that alert is over (the watermark may
  // not have closed it yet, depending on where batches end; deciding it here keeps the outcome
  // the same either way), and this finding opens the next one.
  if (o && f.last_ts - o.a.last_ts >= opts.autoCloseMs) {
    out.push(close(state, g, o, opts.autoCloseMs));
    o = undefined;
  }
  if (!o) {
    const a = newAlertRecord(f, alertId(f.pipeline, f, f.last_ts), at && { topic: at.topic, partition: at.partition, first_offset: at.offset, last_offset: at.offset });
    state.open[g] = { a, sent: f.last_ts, folded: 0, fc: { [f.finding_id]: f.count }, f: slim(f) };
    out.push({ kind: 'create', alert: { ...a }, finding: f, publish: true, folded: 0 });
    return out;
  }
  const a = o.a;
  const prevCount = o.fc[f.finding_id];
  if (prevCount === undefined) {
    a.findings += 1;
    a.count += f.count;
    const ids = Object.keys(o.fc);
    if (ids.length >= MAX_TRACKED_FINDINGS) delete o.fc[ids[0]!];
  } else a.count += Math.max(0, f.count - prevCount);
  o.fc[f.finding_id] = Math.max(prevCount ?? 0, f.count);
  a.first_ts = Math.min(a.first_ts, f.first_ts);
  a.last_ts = Math.max(a.last_ts, f.last_ts);
  a.score = Math.max(a.score, f.score);
  a.finding_id = f.finding_id;
  a.device_class = f.device_class;
  o.f = slim(f);
  a.seq += 1;
  if (at) a.source = a.source && a.source.topic === at.topic ? { ...a.source, last_offset: at.offset } : { topic: at.topic, partition: at.partition, first_offset: at.offset, last_offset: at.offset };
  const from = a.severity;
  if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[a.severity]) {
    a.severity = maxSeverity(a.severity, f.severity);
    const folded = o.folded;
    o.sent = f.last_ts;
    o.folded = 0;
    out.push({ kind: 'escalate', alert: { ...a }, finding: f, publish: true, folded, from });
  } else if (f.last_ts - o.sent >= opts.suppressMs) {
    const folded = o.folded;
    o.sent = f.last_ts;
    o.folded = 0;
    out.push({ kind: 'update', alert: { ...a }, finding: f, publish: true, folded });
  } else {
    o.folded += 1;
    out.push({ kind: 'fold', alert: { ...a }, finding: f, publish: false, folded: o.folded });
  }
  return out;
}

/**
 * The watermark moved to `watermark`: close every alert whose group has been quiet for the
 * auto-close time. Alerts close in the order they were opened (the state's insertion order,
 * which a checkpoint keeps), so a replay closes them in the same order.
 */
export function closeQuiet(state: LifecycleState, watermark: number, opts: LifecycleOptions): AlertChange[] {
  const out: AlertChange[] = [];
  for (const g in state.open) {
    const o = state.open[g]!;
    if (watermark - o.a.last_ts >= opts.autoCloseMs) out.push(close(state, g, o, opts.autoCloseMs));
  }
  return out;
}

/** The earliest watermark at which closeQuiet can close something (+Infinity: nothing open). */
export function nextClose(state: LifecycleState, opts: LifecycleOptions): number {
  let t = Number.POSITIVE_INFINITY;
  for (const g in state.open) t = Math.min(t, state.open[g]!.a.last_ts + opts.autoCloseMs);
  return t;
}

