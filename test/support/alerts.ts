/** Alerts and a syslog receiver for the alert-channel tests. */
import { toOcsf, type OcsfDetectionFinding } from '../../src/alerts/ocsf.js';
import { finalize } from '../../src/pipeline/engine.js';
import type { FindingDraft } from '../../src/detectors/types.js';

export function alertFor(over: Partial<FindingDraft> = {}): OcsfDetectionFinding {
  const f = finalize('p', {
    detector: 'fanout', key: 'dst', device_id: 'cam-1', device_class: 'camera', first_ts: 1_000_000, last_ts: 1_000_000, count: 1,
    score: 0.8, severity: 'high', observed: '57 distinct hosts', expected: '≤ 3', explanation: 'cam-1 contacted 57 hosts', evidence: {}, mitre: ['T0846'],
    ...over,
  });
  return toOcsf(f, { alert_id: `${f.finding_id}-high`, suppressed_before: 0, product_version: '1.0.0' });
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

