/**
 * The alert budget of one delivery route: at most `maxPerMinute` alerts are delivered one by one
 * in a minute (wall clock, the SOC's time); the rest of that minute is folded into one digest
 * alert sent when the minute ends. An id flood that raises 50,000 alerts then reaches the SOC as
 * a few hundred alerts and one digest per minute that counts everything else, instead of burying
 * the channel; nothing is dropped silently (the digest counts every folded alert, and each of
 * them is still in the outbox topic and in ClickHouse).
 *
 * Deduplication and suppression (router.ts) decide which findings are alerts at all and are
 * event-time based and replayable; this is a delivery-side rate limit, per route, and does not
 * change what is stored.
 */
import type { Finding, Severity } from '../detectors/types.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import { severityOfId, toOcsf, type OcsfDetectionFinding } from './ocsf.js';
import { newAlertRecord } from './lifecycle.js';

export const DEFAULT_MAX_PER_MINUTE = 120;
const WINDOW_MS = 60_000;
/** What a digest lists by name; the counts cover everything. */
const MAX_DEVICES_LISTED = 50;
const MAX_IDS_LISTED = 200;

export interface BudgetOptions {
  pipeline: string;
  route: string;
  maxPerMinute: number;
  productVersion: string;
}

interface Window {
  start: number;
  sent: number;
  folded: number;
  bySeverity: Record<string, number>;
  byDetector: Record<string, number>;
  devices: Map<string, number>;
  alertIds: string[];
  peak: number;
  worst: Severity;
  firstTs: number;
  lastTs: number;
}

const fresh = (start: number): Window => ({
  start,
  sent: 0,
  folded: 0,
  bySeverity: Object.create(null) as Record<string, number>,
  byDetector: Object.create(null) as Record<string, number>,
  devices: new Map(),
  alertIds: [],
  peak: 0,
  worst: 'info',
  firstTs: Number.POSITIVE_INFINITY,
  lastTs: Number.NEGATIVE_INFINITY,
});

export interface AlertBudget {
  /** True: deliver this alert now. False: it was folded into the current minute's digest. */
  admit(a: OcsfDetectionFinding, nowMs: number): boolean;
  /** The digest of a minute that has ended (or of the current one with `force`), once; else null. */
  flush(nowMs: number, force?: boolean): OcsfDetectionFinding | null;
  /** Alerts folded and not yet in a flushed digest. */
  pending(): number;
}

export function createBudget(o: BudgetOptions): AlertBudget {
  let w: Window | undefined;
  const digestOf = (x: Window, end: number): OcsfDetectionFinding => {
    const list = (r: Record<string, number>) =>
      Object.entries(r)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
    const devices = [...x.devices.entries()].sort((a, b) => b[1] - a[1]);
    const shown = devices.slice(0, MAX_DEVICES_LISTED).map(([d, n]) => (n > 1 ? `${d} (${n})` : d));
    const more = devices.length > shown.length ? ` and ${devices.length - shown.length} more` : '';
    const f: Finding = {
      detector: 'alert_digest',
      key: o.route,
      device_id: devices.length === 1 ? devices[0]![0] : '*',
      device_class: devices.length === 1 ? 'device' : 'fleet',
      first_ts: Number.isFinite(x.firstTs) ? x.firstTs : x.start,
      last_ts: Number.isFinite(x.lastTs) ? x.lastTs : end,
      count: x.folded,
      score: x.peak,
      severity: x.worst,
      observed: `${x.folded + x.sent} alerts in a minute`,
      expected: `at most ${o.maxPerMinute} per minute on route ${o.route}`,
      explanation: `${x.folded} alerts over route ${o.route}'s budget of ${o.maxPerMinute} a minute were folded into this digest (by detector: ${list(x.byDetector)}; by severity: ${list(x.bySeverity)}) from ${devices.length} devices: ${shown.join(', ')}${more}. A burst like this is itself worth a look (an id flood, a misconfigured fleet); every folded alert is in the outbox topic and the findings table.`,
      evidence: {
        folded: x.folded,
        delivered: x.sent,
        window_start: new Date(x.start).toISOString(),
        window_end: new Date(end).toISOString(),
        by_detector: x.byDetector,
        by_severity: x.bySeverity,
        devices: Object.fromEntries(devices.slice(0, MAX_DEVICES_LISTED)),
        devices_total: devices.length,
        alert_ids: x.alertIds,
      },
      mitre: [],
      finding_id: `digest-${o.pipeline}-${o.route}-${x.start}`,
      pipeline: o.pipeline,
      version: 1,
    };
    // The digest is an alert of its own (one per route and minute), in the same OCSF shape; it
    // stands for every folded alert.
    const alert = { ...newAlertRecord(f, f.finding_id), findings: f.count };
    return toOcsf({ alert, finding: f, change: { activity: 'create', seq: 1, time: end, status: 'new', alertable: true }, productVersion: o.productVersion });
  };
  const flush = (now: number, force = false): OcsfDetectionFinding | null => {
    if (!w || (!force && now - w.start < WINDOW_MS)) return null;
    const x = w;
    w = undefined;
    return x.folded > 0 ? digestOf(x, Math.max(now, x.start)) : null;
  };
  return {
    admit(a, now) {
      if (!w || now - w.start >= WINDOW_MS) w = fresh(now);
      if (w.sent < o.maxPerMinute) {
        w.sent++;
        return true;
      }
      const sev = severityOfId(a.severity_id);
      w.folded++;
      w.bySeverity[sev] = (w.bySeverity[sev] ?? 0) + 1;
      const det = a.finding_info.analytic.name;
      w.byDetector[det] = (w.byDetector[det] ?? 0) + 1;
      // Bounded: past the listing cap only already-listed devices are counted by name.
      const dev = a.device.uid;
      const had = w.devices.get(dev);
      if (had !== undefined) w.devices.set(dev, had + 1);
      else if (w.devices.size < MAX_DEVICES_LISTED * 20) w.devices.set(dev, 1);
      if (w.alertIds.length < MAX_IDS_LISTED) w.alertIds.push(a.metadata.uid);
      const score = a.confidence_score / 100;
      if (score > w.peak) w.peak = score;
      if (SEVERITY_RANK[sev] > SEVERITY_RANK[w.worst]) w.worst = sev;
      if (a.time < w.firstTs) w.firstTs = a.time;
      if (a.time > w.lastTs) w.lastTs = a.time;
      return false;
    },
    flush,
    pending: () => w?.folded ?? 0,
  };
}
