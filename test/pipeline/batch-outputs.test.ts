/**
 * From a scored batch to findings, rows, dead letters and alert documents (batch-outputs.ts),
 * without Kafka: which outputs a replay suppresses, what the fleet stage takes over, where
 * watermark steps close alerts, and what routing holds back.
 */
import { describe, expect, it } from 'vitest';
import { holdPolicy } from '../../src/alerts/hold.js';
import { emptyRouterState, type RouterOptions } from '../../src/alerts/router.js';
import { formatConfigError, loadPipelineText } from '../../src/config/load.js';
import type { PipelineConfig } from '../../src/config/types.js';
import { severityOf } from '../../src/detectors/score.js';
import type { Finding, FindingDraft } from '../../src/detectors/types.js';
import { createAlertOutputs } from '../../src/pipeline/alert-outputs.js';
import { batchOutputs, type BatchInput } from '../../src/pipeline/batch-outputs.js';
import type { BatchOutcome } from '../../src/pipeline/detection.js';
import { finalize } from '../../src/pipeline/engine.js';

const HEAD = 'name: b\nsource: { kafka: { topics: [t], group: g } }\n';
function pipeline(yaml: string): PipelineConfig {
  const r = loadPipelineText(HEAD + yaml, 'b.yaml', {});
  expect(r.errors.map(formatConfigError)).toEqual([]);
  return r.pipeline!;
}
const T0 = Date.parse('2026-03-10T12:00:00Z');
function finding(over: Partial<FindingDraft> = {}): Finding {
  const score = over.score ?? 0.8;
  return finalize('b', { detector: 'fanout', key: 'k', device_id: 'plc-1', device_class: 'plc', first_ts: T0, last_ts: T0, count: 1, score, severity: severityOf(score), observed: 'x', expected: 'y', explanation: 'e', evidence: {}, mitre: [], ...over });
}
const cfg = pipeline('detectors:\n  - fanout: {}\n  - policy: {}\n    min_severity: critical\n');
const routerOpts: RouterOptions = { minSeverity: cfg.alerts.min_severity, suppressMs: cfg.alerts.suppress_ms, hold: holdPolicy(cfg) };
const msgs = [100, 101, 102, 103].map((o) => ({ key: Buffer.from('plc-1'), value: Buffer.from(`{"n":${o}}`), offset: String(o) }));
const stats = { changed: 0, devices: 1, watermark: T0 };

/** Message 0 undecodable, 1 an alerting finding, 2 a finding its detector's min_severity holds, 3 nothing; after message 3 the watermark is a day and more later. */
function outcome(): BatchOutcome {
  return {
    decoded: 3,
    duplicates: 0,
    at: [0, 1, 2],
    errors: [{ code: 'bad_json', message: 'not JSON' }, undefined, undefined],
    findings: [undefined, [finding()], [finding({ detector: 'policy', key: 'p', score: 0.8 })]],
    clockAt: [3],
    clockWm: [T0 + 25 * 3_600_000],
    stats,
  };
}
const input = (over: Partial<BatchInput> = {}): BatchInput => ({
  pipeline: 'b',
  topic: 't',
  partition: 2,
  msgs,
  outcome: outcome(),
  router: emptyRouterState(),
  routerOpts,
  alertOutputs: createAlertOutputs(cfg, 'test'),
  publishedBelow: -1n,
  ...over,
});

describe('batchOutputs', () => {
  it('turns a fresh batch into findings, rows, a dead letter and the alert documents, in message order', () => {
    const r = batchOutputs(input());
    expect(r.findings.map((f) => f.detector)).toEqual(['fanout', 'policy']);
    expect(r.stored.filter((x) => 'finding_id' in x)).toHaveLength(2);
    expect(r.stored.filter((x) => 'alert' in x).length).toBeGreaterThanOrEqual(2);
    expect(r.rejected).toEqual([{ offset: '100', error: { code: 'bad_json', message: 'not JSON' } }]);
    expect(r.deadLetters).toHaveLength(1);
    expect(r.deadLetters[0]!.headers).toMatchObject({ 'x-m2m-reason-code': 'bad_json', 'x-m2m-source-topic': 't', 'x-m2m-source-partition': '2' });
    // The fanout alert opens at message 1 and closes, quiet for a day, at the watermark step after message 3.
    expect(r.alerts.map((a) => a.activity_name)).toEqual(['Create', 'Close']);
    expect(r.withheld).toEqual(['detector_min_severity']);
  });

  it('suppresses the dead letters and documents of offsets already published, and reaches the same router state', () => {
    const fresh = input();
    const a = batchOutputs(fresh);
    const replay = input({ publishedBelow: 102n });
    const b = batchOutputs(replay);
    expect(b.deadLetters).toEqual([]);
    expect(b.rejected).toEqual(a.rejected);
    // The create (message 1) was published; the close (message 3) was not, so it goes out.
    expect(b.alerts.map((x) => x.activity_name)).toEqual(['Close']);
    expect(b.findings).toEqual(a.findings);
    expect(b.stored).toEqual(a.stored);
    expect(replay.router).toEqual(fresh.router);
    expect(batchOutputs(input({ publishedBelow: 104n })).alerts).toEqual([]);
  });

  it('leaves the fleet stage\'s findings unstored and unrouted, yet reported', () => {
    const r = batchOutputs(input({ leaves: (f) => f.detector === 'fanout' }));
    expect(r.findings).toHaveLength(2);
    expect(r.stored.filter((x) => 'finding_id' in x).map((f) => (f as Finding).detector)).toEqual(['policy']);
    expect(r.alerts).toEqual([]);
  });
});
