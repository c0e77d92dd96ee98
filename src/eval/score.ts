/**
 * Incident-level scoring of findings against ground-truth labels. Pure functions: no I/O, no
 * clock, so the numbers in docs/quality.md can be checked by hand on small inputs.
 *
 * How we count (also printed in every report):
 * - A finding *matches* an incident when it is on the incident's device and its first_ts (the
 *   event time at which it was first raised) lies in [start − slack, end + slack].
 * - An incident is *detected* when at least one finding matches it. Its time to detect is
 *   (earliest matching first_ts − start), floored at 0 (a finding raised inside the slack before
 *   the labeled start counts as immediate).
 * - Precision = matching findings / all findings. A finding that matches no incident is a false
 *   finding (false alert when its severity is alert-worthy).
 * - Per kind, precision is that of the alarm stream that catches the kind: findings matching an
 *   incident of the kind / (those + false findings of the detectors that matched at least one
 *   incident of the kind). A false finding has no kind, so this charges each kind with the noise
 *   of the detectors it relies on.
 * - Per detector: precision over its own findings, recall over all incidents (and per kind).
 * - False alerts per 1,000 device-days = false findings / device-days × 1,000 (per kind: the
 *   false findings of the detectors that caught the kind).
 * - Median is the middle value (mean of the two middle ones for even counts); p90 is the
 *   nearest-rank 90th percentile.
 */
import { SEVERITY_RANK } from '../detectors/score.js';
import type { Severity } from '../detectors/types.js';
import type { Incident } from './labels.js';

export interface ScoredFinding {
  finding_id: string;
  device_id: string;
  detector: string;
  /** Epoch ms of first raise. */
  first_ts: number;
  severity: Severity;
}

export interface ScoreOptions {
  slackMs: number;
  /** Findings below this severity are left out (use 'info' for all). */
  minSeverity: Severity;
  /** Device-days observed, the denominator of the false-alert rate. */
  deviceDays: number;
  /** Alert suppression window (device + detector); 0 = count every false finding as an alert. */
  suppressMs?: number;
}

export interface Latency {
  n: number;
  median_ms: number | null;
  p90_ms: number | null;
}

export interface IncidentOutcome {
  id: string;
  device_id: string;
  kind: string;
  start: number;
  end: number;
  detected: boolean;
  ttd_ms: number | null;
  /** Detector of the earliest matching finding. */
  first_detector: string | null;
  /** Every detector that matched. */
  detectors: string[];
  findings: string[];
}

export interface KindScore {
  kind: string;
  incidents: number;
  detected: number;
  recall: number;
  precision: number | null;
  f1: number;
  ttd: Latency;
  /** False findings of the detectors that caught this kind, per 1,000 device-days. */
  false_per_1k_device_days: number;
  /** Incidents of this kind detected, per detector. */
  by_detector: Record<string, number>;
  missed: string[];
}

export interface DetectorScore {
  detector: string;
  findings: number;
  matched: number;
  false_findings: number;
  precision: number | null;
  /** Incidents (any kind) with at least one matching finding from this detector / all incidents. */
  recall: number;
  f1: number;
  ttd: Latency;
  false_per_1k_device_days: number;
  by_kind: Record<string, number>;
}

export interface Overall {
  findings: number;
  matched: number;
  false_findings: number;
  /** False findings folded like the alert router would (device + detector within suppressMs). */
  false_alerts_after_suppression: number;
  precision: number | null;
  incidents: number;
  detected: number;
  recall: number;
  f1: number;
  ttd: Latency;
  false_per_1k_device_days: number;
  device_days: number;
}

export interface ScoreResult {
  min_severity: Severity;
  slack_ms: number;
  overall: Overall;
  kinds: KindScore[];
  detectors: DetectorScore[];
  incidents: IncidentOutcome[];
  false_findings: ScoredFinding[];
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile, q in (0, 1]. */
export function percentile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil(q * s.length))) - 1]!;
}

function latency(xs: number[]): Latency {
  return { n: xs.length, median_ms: median(xs), p90_ms: percentile(xs, 0.9) };
}

export function f1(precision: number | null, recall: number): number {
  if (precision === null || precision + recall === 0) return 0;
  return (2 * precision * recall) / (precision + recall);
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

/**
 * How many alerts a set of findings becomes once the router folds repeats of one device +
 * detector that start within `suppressMs` of the alert they would join.
 */
export function countAlertsAfterSuppression(findings: readonly ScoredFinding[], suppressMs: number): number {
  if (suppressMs <= 0) return findings.length;
  const groups = new Map<string, number[]>();
  for (const f of findings) {
    const k = `${f.device_id}\u0000${f.detector}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(f.first_ts);
  }
  let n = 0;
  for (const ts of groups.values()) {
    ts.sort((a, b) => a - b);
    let open = Number.NEGATIVE_INFINITY;
    for (const t of ts) {
      if (t - open >= suppressMs) {
        n++;
        open = t;
      }
    }
  }
  return n;
}

export function scoreFindings(incidents: readonly Incident[], allFindings: readonly ScoredFinding[], opts: ScoreOptions): ScoreResult {
  const minRank = SEVERITY_RANK[opts.minSeverity];
  const findings = allFindings.filter((f) => SEVERITY_RANK[f.severity] >= minRank);

  const byDevice = new Map<string, ScoredFinding[]>();
  for (const f of findings) {
    let l = byDevice.get(f.device_id);
    if (!l) byDevice.set(f.device_id, (l = []));
    l.push(f);
  }
  for (const l of byDevice.values()) l.sort((a, b) => a.first_ts - b.first_ts || (a.finding_id < b.finding_id ? -1 : 1));

  /** finding id → kinds of the incidents it matches */
  const matchedKinds = new Map<string, Set<string>>();
  const outcomes: IncidentOutcome[] = [];
  for (const inc of incidents) {
    const lo = inc.start - opts.slackMs;
    const hi = inc.end + opts.slackMs;
    const list = byDevice.get(inc.device_id) ?? [];
    const hits: ScoredFinding[] = [];
    // Lists are sorted by first_ts: binary search for the window's start.
    let a = 0;
    let b = list.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (list[m]!.first_ts < lo) a = m + 1;
      else b = m;
    }
    for (let i = a; i < list.length && list[i]!.first_ts <= hi; i++) hits.push(list[i]!);
    for (const h of hits) {
      let s = matchedKinds.get(h.finding_id);
      if (!s) matchedKinds.set(h.finding_id, (s = new Set()));
      s.add(inc.kind);
    }
    const first = hits[0];
    outcomes.push({
      id: inc.id,
      device_id: inc.device_id,
      kind: inc.kind,
      start: inc.start,
      end: inc.end,
      detected: hits.length > 0,
      ttd_ms: first ? Math.max(0, first.first_ts - inc.start) : null,
      first_detector: first ? first.detector : null,
      detectors: [...new Set(hits.map((h) => h.detector))].sort(),
      findings: hits.map((h) => h.finding_id),
    });
  }

  const falseFindings = findings.filter((f) => !matchedKinds.has(f.finding_id));
  const per1k = (n: number): number => (opts.deviceDays > 0 ? (n / opts.deviceDays) * 1000 : 0);

  // ---- per detector
  const detNames = [...new Set(findings.map((f) => f.detector))].sort();
  const detectors: DetectorScore[] = detNames.map((d) => {
    const own = findings.filter((f) => f.detector === d);
    const matched = own.filter((f) => matchedKinds.has(f.finding_id)).length;
    const caught = outcomes.filter((o) => o.detectors.includes(d));
    const ttds: number[] = [];
    const byKind: Record<string, number> = {};
    for (const o of caught) {
      byKind[o.kind] = (byKind[o.kind] ?? 0) + 1;
      const inc = incidents.find((i) => i.id === o.id)!;
      let best = Number.POSITIVE_INFINITY;
      for (const f of own) {
        if (f.device_id !== inc.device_id) continue;
        if (f.first_ts >= inc.start - opts.slackMs && f.first_ts <= inc.end + opts.slackMs) best = Math.min(best, Math.max(0, f.first_ts - inc.start));
      }
      if (Number.isFinite(best)) ttds.push(best);
    }
    const precision = ratio(matched, own.length);
    const recall = incidents.length ? caught.length / incidents.length : 0;
    return {
      detector: d,
      findings: own.length,
      matched,
      false_findings: own.length - matched,
      precision,
      recall,
      f1: f1(precision, recall),
      ttd: latency(ttds),
      false_per_1k_device_days: per1k(own.length - matched),
      by_kind: byKind,
    };
  });
  const falseByDetector = new Map(detectors.map((d) => [d.detector, d.false_findings]));

  // ---- per kind
  const kindNames = [...new Set(incidents.map((i) => i.kind))].sort();
  const kinds: KindScore[] = kindNames.map((k) => {
    const outs = outcomes.filter((o) => o.kind === k);
    const detected = outs.filter((o) => o.detected);
    const byDet: Record<string, number> = {};
    for (const o of detected) for (const d of o.detectors) byDet[d] = (byDet[d] ?? 0) + 1;
    const tp = findings.filter((f) => matchedKinds.get(f.finding_id)?.has(k)).length;
    let fp = 0;
    for (const d of Object.keys(byDet)) fp += falseByDetector.get(d) ?? 0;
    const precision = ratio(tp, tp + fp);
    const recall = outs.length ? detected.length / outs.length : 0;
    return {
      kind: k,
      incidents: outs.length,
      detected: detected.length,
      recall,
      precision,
      f1: f1(precision, recall),
      ttd: latency(detected.map((o) => o.ttd_ms!)),
      false_per_1k_device_days: per1k(fp),
      by_detector: byDet,
      missed: outs.filter((o) => !o.detected).map((o) => o.id),
    };
  });

  const matchedCount = findings.length - falseFindings.length;
  const detectedAll = outcomes.filter((o) => o.detected);
  const precision = ratio(matchedCount, findings.length);
  const recall = incidents.length ? detectedAll.length / incidents.length : 0;
  return {
    min_severity: opts.minSeverity,
    slack_ms: opts.slackMs,
    overall: {
      findings: findings.length,
      matched: matchedCount,
      false_findings: falseFindings.length,
      false_alerts_after_suppression: countAlertsAfterSuppression(falseFindings, opts.suppressMs ?? 0),
      precision,
      incidents: incidents.length,
      detected: detectedAll.length,
      recall,
      f1: f1(precision, recall),
      ttd: latency(detectedAll.map((o) => o.ttd_ms!)),
      false_per_1k_device_days: per1k(falseFindings.length),
      device_days: opts.deviceDays,
    },
    kinds,
    detectors,
    incidents: outcomes,
    false_findings: falseFindings,
  };
}
