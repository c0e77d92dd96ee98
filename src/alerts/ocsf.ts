/**
 * The canonical alert payload: an OCSF 1.6 Detection Finding (class_uid 2004), so SIEMs take it
 * without glue. Channels render this document; they never re-derive facts from the finding.
 *
 * One document per change of an alert (lifecycle.ts, and the analyst's actions): Create when
 * it opens, Update for escalations, repeats after the suppression window and analyst changes,
 * Close when it is resolved (by an analyst or by itself). finding_info.uid is the alert's id,
 * stable across its changes, so a SIEM updates one record; metadata.uid is the change's own id
 * (alert id + version), the key a receiver deduplicates on.
 *
 * schemas/ocsf/detection_finding-1.6.subset.json is the checked-in subset of the OCSF schema
 * these documents are validated against in the tests.
 */
import type { Finding, Severity } from '../detectors/types.js';
import type { AlertRecord, AlertStatus, Resolution } from './record.js';
import type { AlertAction, AlertEventRow } from '../storage/alerts.js';
import { attacksOf, type OcsfAttack } from './attack.js';
import { factsOf } from '../storage/finding-facts.js';
import { chTime } from '../storage/ch-time.js';

const OCSF_VERSION = '1.6.0';

const SEVERITY_ID: Record<Severity, number> = { info: 1, low: 2, medium: 3, high: 4, critical: 5 };
const SEVERITY_NAME: Record<Severity, string> = { info: 'Informational', low: 'Low', medium: 'Medium', high: 'High', critical: 'Critical' };

/** Our severity of an OCSF severity_id (readers of the outbox see only the document). */
export function severityOfId(id: number): Severity {
  for (const [sev, n] of Object.entries(SEVERITY_ID) as Array<[Severity, number]>) if (n === id) return sev;
  return 'info';
}

/** The analyst's states (record.ts), with their OCSF status ids. */
const STATUS_ID: Record<AlertStatus, 1 | 2 | 4> = { new: 1, acknowledged: 2, resolved: 4 };
const STATUS_NAME: Record<AlertStatus, string> = { new: 'New', acknowledged: 'In Progress', resolved: 'Resolved' };

/** The status a document sets ('' when it sets none, or one we do not use). */
function statusOfId(id: number | undefined): AlertStatus | '' {
  for (const [st, n] of Object.entries(STATUS_ID) as Array<[AlertStatus, number]>) if (n === id) return st;
  return '';
}

/**
 * How each detector decides (OCSF analytic.type_id): fixed rules (1), a learned habit of the
 * device (2, behavioral), or a statistical baseline (3). Unknown kinds are Statistical, as most are.
 */
const ANALYTIC: Record<string, [1 | 2 | 3, 'Rule' | 'Behavioral' | 'Statistical']> = {
  policy: [1, 'Rule'],
  range_limits: [1, 'Rule'],
  firmware_change: [1, 'Rule'],
  sequence: [1, 'Rule'],
  auth_failures: [1, 'Rule'],
  device_cloning: [1, 'Rule'],
  new_peer: [2, 'Behavioral'],
  unusual_hour: [2, 'Behavioral'],
  lateral_movement: [2, 'Behavioral'],
  tls_downgrade: [2, 'Behavioral'],
  fanout: [3, 'Statistical'],
  beaconing: [3, 'Statistical'],
  exfiltration: [3, 'Statistical'],
  flood: [3, 'Statistical'],
  metric_baseline: [3, 'Statistical'],
  level_shift: [3, 'Statistical'],
  metric_relation: [3, 'Statistical'],
  flatline: [3, 'Statistical'],
  reporting: [3, 'Statistical'],
};
// Own keys only: "constructor" or "__proto__" would find Object.prototype's (found by the fuzz test).
export const analyticOf = (kind: string): [1 | 2 | 3, string] => (Object.hasOwn(ANALYTIC, kind) ? ANALYTIC[kind]! : [3, 'Statistical']);

/** OCSF confidence_id from our calibrated score: the same bands as severity (0.5 medium, 0.7 high). */
export function confidenceOf(score: number): [1 | 2 | 3, 'Low' | 'Medium' | 'High'] {
  return score >= 0.7 ? [3, 'High'] : score >= 0.5 ? [2, 'Medium'] : [1, 'Low'];
}

export interface OcsfObservable {
  name: string;
  type_id: number;
  type: string;
  value: string;
}

export interface OcsfDetectionFinding {
  class_uid: 2004;
  class_name: 'Detection Finding';
  category_uid: 2;
  category_name: 'Findings';
  activity_id: 1 | 2 | 3;
  activity_name: 'Create' | 'Update' | 'Close';
  type_uid: number;
  type_name: string;
  severity_id: number;
  severity: string;
  status_id?: number;
  status?: string;
  status_detail?: string;
  time: number;
  start_time: number;
  end_time: number;
  count: number;
  message: string;
  comment?: string;
  is_alert: boolean;
  confidence_id: number;
  confidence: string;
  confidence_score: number;
  risk_score: number;
  metadata: {
    version: string;
    uid: string;
    correlation_uid: string;
    modified_time: number;
    product: { name: string; vendor_name: string; version: string };
  };
  finding_info: {
    uid: string;
    title: string;
    desc: string;
    created_time: number;
    modified_time: number;
    first_seen_time: number;
    last_seen_time: number;
    related_events_count: number;
    types: string[];
    analytic: { name: string; type_id: number; type: string; uid: string };
    attacks: OcsfAttack[];
  };
  device: { uid: string; name: string; type_id: 7; type: 'IOT'; ip?: string; groups: Array<{ name: string; type: string }> };
  observables: OcsfObservable[];
  anomaly_analyses: Array<{
    analysis_targets: Array<{ name: string; type: string }>;
    anomalies: Array<{ observation_parameter: string; observation_type: string; observations: Array<{ value: string; count: number; timespan: { start_time: number; end_time: number; duration: number } }> }>;
    baselines: Array<{ observation_parameter: string; observation_type: string; observations: Array<{ value: string }> }>;
  }>;
  evidences: Array<{ data: Record<string, unknown>; src_endpoint?: { ip: string }; dst_endpoint?: { ip?: string; port?: number } }>;
  unmapped: {
    pipeline: string;
    finding_id: string;
    key: string;
    device_class: string;
    /** Changes folded since the previous document of this alert. */
    folded: number;
    /** The alert's version this document is. */
    seq: number;
    /** Who made the change: "m2m-sentinel" for the pipeline, else the analyst. */
    actor: string;
    resolution?: Resolution;
    expected_value?: number;
    expected_spread?: number;
  };
}

/** One change of an alert, as the document states it. */
export interface AlertChangeInfo {
  activity: 'create' | 'update' | 'close';
  /** The alert's version (AlertRecord.seq for pipeline changes; the console numbers its own). */
  seq: number;
  /** When the change happened: event time for the pipeline's, wall clock for an analyst's. */
  time: number;
  status?: AlertStatus;
  detail?: string;
  comment?: string;
  actor?: string;
  resolution?: Resolution;
  /** Whether the change asks for attention (a new alert, an escalation). */
  alertable: boolean;
  folded?: number;
  /** The change's own id when the version alone does not name it (an analyst's change). */
  uid?: string;
}

export interface OcsfInput {
  alert: AlertRecord;
  /** The alert's latest finding: its explanation, observed and expected values, evidence. */
  finding: Finding;
  /** The detector's kind (registry name) when the instance id differs. */
  detectorKind?: string;
  change: AlertChangeInfo;
  productVersion: string;
}

function titleOf(f: Pick<Finding, 'detector' | 'device_id' | 'key'>): string {
  return `${f.detector.replace(/_/g, ' ')} on ${f.device_id}${f.key && f.key !== f.detector ? ` (${f.key})` : ''}`;
}

const ACTIVITY = { create: [1, 'Create'], update: [2, 'Update'], close: [3, 'Close'] } as const;

/** How the detector family looked at the data, in the words OCSF suggests for observation_type. */
function observationType(kind: string, metric: string | undefined): string {
  if (metric) return 'Distribution Analysis';
  if (['fanout', 'exfiltration', 'flood', 'auth_failures'].includes(kind)) return 'Volume Analysis';
  if (['beaconing', 'reporting', 'unusual_hour'].includes(kind)) return 'Time Pattern Analysis';
  if (['new_peer', 'lateral_movement'].includes(kind)) return 'Frequency Analysis';
  return 'Rule Evaluation';
}

export function toOcsf(input: OcsfInput): OcsfDetectionFinding {
  const { alert: a, finding: f, change: c } = input;
  const kind = input.detectorKind ?? a.detector;
  const facts = factsOf(f);
  const [activityId, activityName] = ACTIVITY[c.activity];
  const [analyticType, analyticName] = analyticOf(kind);
  const [confidenceId, confidence] = confidenceOf(a.score);
  const param = facts.metric ?? (a.key || a.detector);
  const observables: OcsfObservable[] = [{ name: 'device.uid', type_id: 47, type: 'Device uid', value: a.device_id }];
  if (facts.src_ip) observables.push({ name: 'device.ip', type_id: 2, type: 'IP Address', value: facts.src_ip });
  if (facts.dst_ip) observables.push({ name: 'evidences.dst_endpoint.ip', type_id: 2, type: 'IP Address', value: facts.dst_ip });
  if (facts.dst_port !== undefined) observables.push({ name: 'evidences.dst_endpoint.port', type_id: 11, type: 'Port', value: String(facts.dst_port) });
  if (facts.metric) observables.push({ name: 'anomaly_analyses.anomalies.observation_parameter', type_id: 99, type: 'Other', value: facts.metric });
  const evidence: OcsfDetectionFinding['evidences'][number] = { data: f.evidence };
  if (facts.src_ip) evidence.src_endpoint = { ip: facts.src_ip };
  if (facts.dst_ip || facts.dst_port !== undefined) evidence.dst_endpoint = { ...(facts.dst_ip ? { ip: facts.dst_ip } : {}), ...(facts.dst_port !== undefined ? { port: facts.dst_port } : {}) };
  const doc: OcsfDetectionFinding = {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: activityId,
    activity_name: activityName,
    type_uid: 2004 * 100 + activityId,
    type_name: `Detection Finding: ${activityName}`,
    severity_id: SEVERITY_ID[a.severity],
    severity: SEVERITY_NAME[a.severity],
    time: c.time,
    start_time: a.first_ts,
    end_time: a.last_ts,
    count: a.count,
    message: f.explanation,
    is_alert: c.alertable,
    confidence_id: confidenceId,
    confidence,
    confidence_score: Math.round(a.score * 100),
    risk_score: Math.round(a.score * 100),
    metadata: {
      version: OCSF_VERSION,
      uid: c.uid ?? `${a.alert_id}.${c.seq}`,
      correlation_uid: a.alert_id,
      modified_time: c.time,
      product: { name: 'm2m-sentinel', vendor_name: 'm2m-sentinel', version: input.productVersion },
    },
    finding_info: {
      uid: a.alert_id,
      title: titleOf(a),
      desc: f.explanation,
      created_time: a.first_ts,
      modified_time: c.time,
      first_seen_time: a.first_ts,
      last_seen_time: a.last_ts,
      related_events_count: a.findings,
      types: [kind],
      analytic: { name: a.detector, type_id: analyticType, type: analyticName, uid: `${a.pipeline}/${a.detector}` },
      attacks: attacksOf(f.mitre),
    },
    device: {
      uid: a.device_id,
      name: a.device_id,
      type_id: 7,
      type: 'IOT',
      ...(facts.src_ip ? { ip: facts.src_ip } : {}),
      groups: [{ name: a.device_class, type: 'device_class' }],
    },
    observables,
    anomaly_analyses: [
      {
        analysis_targets: [{ name: a.device_id, type: 'Device' }],
        anomalies: [
          {
            observation_parameter: param,
            observation_type: observationType(kind, facts.metric),
            observations: [{ value: String(f.observed), count: f.count, timespan: { start_time: f.first_ts, end_time: f.last_ts, duration: f.last_ts - f.first_ts } }],
          },
        ],
        baselines: [{ observation_parameter: param, observation_type: observationType(kind, facts.metric), observations: [{ value: String(f.expected) }] }],
      },
    ],
    evidences: [evidence],
    unmapped: {
      pipeline: a.pipeline,
      finding_id: f.finding_id,
      key: a.key,
      device_class: a.device_class,
      folded: c.folded ?? 0,
      seq: c.seq,
      actor: c.actor ?? 'm2m-sentinel',
      ...(c.resolution ? { resolution: c.resolution } : {}),
      ...(facts.expected_value !== undefined ? { expected_value: facts.expected_value } : {}),
      ...(facts.expected_spread !== undefined ? { expected_spread: facts.expected_spread } : {}),
    },
  };
  if (c.status) {
    doc.status_id = STATUS_ID[c.status];
    doc.status = STATUS_NAME[c.status];
  }
  if (c.detail) doc.status_detail = c.detail;
  if (c.comment) doc.comment = c.comment;
  return doc;
}

/** The document for one of the router's changes (lifecycle.ts). */
export function pipelineChangeDoc(
  ch: { kind: 'create' | 'update' | 'escalate' | 'close'; alert: AlertRecord; finding: Finding; folded: number; from?: Severity },
  o: { productVersion: string; detectorKind?: string; autoCloseMs: number },
): OcsfDetectionFinding {
  const a = ch.alert;
  const fmtH = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`);
  const change: AlertChangeInfo =
    ch.kind === 'create'
      ? { activity: 'create', seq: a.seq, time: a.last_ts, status: 'new', alertable: true }
      : ch.kind === 'escalate'
        ? { activity: 'update', seq: a.seq, time: a.last_ts, alertable: true, detail: `Escalated from ${SEVERITY_NAME[ch.from ?? a.initial_severity]} to ${SEVERITY_NAME[a.severity]}`, folded: ch.folded }
        : ch.kind === 'update'
          ? { activity: 'update', seq: a.seq, time: a.last_ts, alertable: false, detail: `Still active: ${a.count} anomalous events in ${a.findings} finding(s) so far`, folded: ch.folded }
          : { activity: 'close', seq: a.seq, time: a.closed_ts ?? a.last_ts, status: 'resolved', alertable: false, detail: `Closed automatically: back to baseline, no finding for ${fmtH(o.autoCloseMs)}`, folded: ch.folded };
  return toOcsf({ alert: a, finding: ch.finding, change, productVersion: o.productVersion, ...(o.detectorKind ? { detectorKind: o.detectorKind } : {}) });
}

/** What the document says was observed and expected (channels render these). */
export const observedOf = (a: OcsfDetectionFinding): string => a.anomaly_analyses[0]?.anomalies[0]?.observations[0]?.value ?? '';
export const expectedOf = (a: OcsfDetectionFinding): string => a.anomaly_analyses[0]?.baselines[0]?.observations[0]?.value ?? '';
export const deviceClassOf = (a: OcsfDetectionFinding): string => a.device.groups.find((g) => g.type === 'device_class')?.name ?? a.unmapped.device_class;

/** The audit-trail row of one published document (the pipeline's changes and the analysts'). */
export function eventRow(action: AlertAction, doc: OcsfDetectionFinding, severity: Severity): AlertEventRow {
  return {
    event_uid: doc.metadata.uid,
    alert_id: doc.finding_info.uid,
    pipeline: doc.unmapped.pipeline,
    device_id: doc.device.uid,
    at: chTime(doc.time),
    actor: doc.unmapped.actor,
    action,
    status: statusOfId(doc.status_id),
    resolution: doc.unmapped.resolution ?? '',
    comment: doc.comment ?? '',
    severity,
    seq: doc.unmapped.seq,
    doc: JSON.stringify(doc),
  };
}
