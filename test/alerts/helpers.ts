/** Findings and router options shared by the tests of the alert path (router, OCSF, renderings, delivery). */
import { pipelineChangeDoc, type OcsfDetectionFinding } from '../../src/alerts/ocsf.js';
import type { AlertChange } from '../../src/alerts/lifecycle.js';
import { finalize } from '../../src/pipeline/engine.js';
import type { Finding, FindingDraft } from '../../src/detectors/types.js';
import { severityOf } from '../../src/detectors/score.js';

/** A medium fanout finding on cam-1 (its explanation holds a pipe and an equals sign for CEF). */
export function finding(over: Partial<FindingDraft> = {}): Finding {
  const score = over.score ?? 0.6;
  return finalize('p', {
    detector: 'fanout', key: 'dst', device_id: 'cam-1', device_class: 'camera', first_ts: 1_000_000, last_ts: 1_000_000, count: 1,
    score, severity: severityOf(score), observed: '57 distinct hosts', expected: '≤ 3', explanation: 'cam-1 contacted 57 hosts | on port 23=x', evidence: {}, mitre: ['T0846'],
    ...over,
  });
}

export const routerOpts = { minSeverity: 'medium' as const, suppressMs: 30 * 60_000, autoCloseMs: 2 * 3_600_000 };

/** The OCSF document a router change is published as. */
export const docOf = (ch: AlertChange): OcsfDetectionFinding => pipelineChangeDoc({ ...ch, kind: ch.kind as 'create' }, { productVersion: '1.0.0', autoCloseMs: routerOpts.autoCloseMs });

/** A high new_peer finding with both endpoints and ATT&CK techniques of two matrices. */
export const connectionFinding = finding({
  detector: 'new_peer', key: '203.0.113.9:4444', score: 0.8,
  evidence: { src_ip: '10.20.0.7', dst_ip: '203.0.113.9', dst_port: 4444, peer: '203.0.113.9:4444' }, mitre: ['T1071', 'T0869', 'T0886'],
});

/** A critical metric_baseline finding with an expected value and spread. */
export const telemetryFinding = finding({
  detector: 'metric_baseline', key: 'voltage', score: 0.92, observed: 262.1, expected: '229.9 ± 1.2',
  evidence: { metric: 'voltage', value: 262.1, baseline_center: 229.9, baseline_sigma: 1.2 }, mitre: ['T0831'],
});
