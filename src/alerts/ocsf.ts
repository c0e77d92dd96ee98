/**
 * The canonical alert payload: an OCSF Detection Finding (class_uid 2004), so SIEMs take it
 * without glue. Channels render this document; they never re-derive facts from the finding.
 */
import type { Finding, Severity } from '../detectors/types.js';

const SEVERITY_ID: Record<Severity, number> = { info: 1, low: 2, medium: 3, high: 4, critical: 5 };

/** Our severity of an OCSF severity_id (readers of the outbox see only the document). */
export function severityOfId(id: number): Severity {
  for (const [sev, n] of Object.entries(SEVERITY_ID) as Array<[Severity, number]>) if (n === id) return sev;
  return 'info';
}
const SEVERITY_NAME: Record<Severity, string> = { info: 'Informational', low: 'Low', medium: 'Medium', high: 'High', critical: 'Critical' };

export interface AlertContext {
  alert_id: string;
  /** Findings of the same device+detector folded into the previous alert window. */
  suppressed_before: number;
  product_version: string;
}

export interface OcsfDetectionFinding {
  class_uid: 2004;
  class_name: 'Detection Finding';
  category_uid: 2;
  category_name: 'Findings';
  activity_id: 1 | 2;
  activity_name: 'Create' | 'Update';
  type_uid: number;
  severity_id: number;
  severity: string;
  status_id: 1;
  status: 'New';
  time: number;
  message: string;
  confidence_score: number;
  risk_score: number;
  metadata: { version: string; uid: string; product: { name: string; vendor_name: string; version: string }; correlation_uid: string };
  finding_info: {
    uid: string;
    title: string;
    desc: string;
    created_time: number;
    first_seen_time: number;
    last_seen_time: number;
    types: string[];
    analytic: { name: string; type_id: 1; type: 'Rule'; uid: string };
    attacks: Array<{ technique: { uid: string } }>;
  };
  device: { uid: string; name: string; type: string; type_id: 99 };
  evidences: Array<{ data: Record<string, unknown> }>;
  unmapped: {
    pipeline: string;
    observed: number | string;
    expected: number | string;
    count: number;
    suppressed_before: number;
    key: string;
  };
}

export function titleOf(f: Finding): string {
  return `${f.detector.replace(/_/g, ' ')} on ${f.device_id}${f.key && f.key !== f.detector ? ` (${f.key})` : ''}`;
}

export function toOcsf(f: Finding, ctx: AlertContext): OcsfDetectionFinding {
  const activity = f.version === 1 ? 1 : 2;
  return {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: activity,
    activity_name: activity === 1 ? 'Create' : 'Update',
    type_uid: 2004 * 100 + activity,
    severity_id: SEVERITY_ID[f.severity],
    severity: SEVERITY_NAME[f.severity],
    status_id: 1,
    status: 'New',
    time: f.last_ts,
    message: f.explanation,
    confidence_score: Math.round(f.score * 100),
    risk_score: Math.round(f.score * 100),
    metadata: {
      version: '1.3.0',
      uid: ctx.alert_id,
      correlation_uid: f.finding_id,
      product: { name: 'm2m-sentinel', vendor_name: 'm2m-sentinel', version: ctx.product_version },
    },
    finding_info: {
      uid: f.finding_id,
      title: titleOf(f),
      desc: f.explanation,
      created_time: f.first_ts,
      first_seen_time: f.first_ts,
      last_seen_time: f.last_ts,
      types: [f.detector],
      analytic: { name: f.detector, type_id: 1, type: 'Rule', uid: `${f.pipeline}/${f.detector}` },
      attacks: f.mitre.map((uid) => ({ technique: { uid } })),
    },
    device: { uid: f.device_id, name: f.device_id, type: f.device_class, type_id: 99 },
    evidences: [{ data: f.evidence }],
    unmapped: {
      pipeline: f.pipeline,
      observed: f.observed,
      expected: f.expected,
      count: f.count,
      suppressed_before: ctx.suppressed_before,
      key: f.key,
    },
  };
}
