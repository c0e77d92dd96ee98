/** Alerts and a syslog receiver for the alert-channel tests. */
import { toOcsf, type OcsfDetectionFinding } from '../../src/alerts/ocsf.js';
import type { AlertRecord } from '../../src/alerts/record.js';
import { finalize } from '../../src/pipeline/engine.js';
import type { Finding, FindingDraft } from '../../src/detectors/types.js';

/** The document a new alert for `f` is delivered as (one finding, first change). */
export function ocsfOf(f: Finding, productVersion = '1.0.0'): OcsfDetectionFinding {
  const alert: AlertRecord = {
    alert_id: `${f.finding_id}-a`, pipeline: f.pipeline, device_id: f.device_id, device_class: f.device_class, detector: f.detector, key: f.key,
    first_ts: f.first_ts, last_ts: f.last_ts, count: f.count, findings: 1, severity: f.severity, initial_severity: f.severity, score: f.score,
    finding_id: f.finding_id, seq: 1, closed_ts: null,
  };
  return toOcsf({ alert, finding: f, change: { activity: 'create', seq: 1, time: f.last_ts, status: 'new', alertable: true }, productVersion });
}

export function alertFor(over: Partial<FindingDraft> = {}): OcsfDetectionFinding {
  const f = finalize('p', {
    detector: 'fanout', key: 'dst', device_id: 'cam-1', device_class: 'camera', first_ts: 1_000_000, last_ts: 1_000_000, count: 1,
    score: 0.8, severity: 'high', observed: '57 distinct hosts', expected: '≤ 3', explanation: 'cam-1 contacted 57 hosts', evidence: {}, mitre: ['T0846'],
    ...over,
  });
  return ocsfOf(f);
}

/** An RFC 6587 octet-counting receiver: "<byte count> <message>" frames, back to back. */
export function readFrames(buf: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < buf.length) {
    const sp = buf.indexOf(0x20, at);
    if (sp < 0) throw new Error(`no frame length at byte ${at}`);
    const len = Number(buf.subarray(at, sp).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0) throw new Error(`bad frame length "${buf.subarray(at, sp).toString('latin1').slice(0, 20)}"`);
    out.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
    at = sp + 1 + len;
  }
  return out;
}

