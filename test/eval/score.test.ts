import { describe, expect, it } from 'vitest';
import type { Incident } from '../../src/eval/labels.js';
import { countAlertsAfterSuppression, f1, median, percentile, scoreFindings, type ScoredFinding } from '../../src/eval/score.js';

const MIN = 60_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const at = (m: number): number => T0 + m * MIN;

const incidents: Incident[] = [
  { id: 'a', device_id: 'd1', kind: 'scan', start: at(100), end: at(130) },
  { id: 'b', device_id: 'd2', kind: 'scan', start: at(200), end: at(210) },
  { id: 'c', device_id: 'd3', kind: 'stuck', start: at(300), end: at(400) },
  { id: 'd', device_id: 'd4', kind: 'stuck', start: at(500), end: at(520) },
];

function f(id: string, device: string, detector: string, m: number, severity: ScoredFinding['severity'] = 'high'): ScoredFinding {
  return { finding_id: id, device_id: device, detector, first_ts: at(m), severity };
}

const findings: ScoredFinding[] = [
  f('f1', 'd1', 'fanout', 103), // detects a, ttd 3 min
  f('f2', 'd1', 'new_peer', 97), // inside the 5-min slack before a: ttd 0
  f('f3', 'd2', 'fanout', 214), // inside slack after b: ttd 14 min
  f('f4', 'd3', 'flatline', 330), // detects c, ttd 30 min
  f('f5', 'd4', 'flatline', 530), // 10 min after d ends: outside slack -> false
  f('f6', 'd9', 'fanout', 50), // false
  f('f7', 'd9', 'new_peer', 60, 'low'), // false, below medium
  f('f8', 'd1', 'fanout', 90), // 10 min before a: false
];

describe('scoreFindings', () => {
  const r = scoreFindings(incidents, findings, { slackMs: 5 * MIN, minSeverity: 'info', deviceDays: 4 });

  it('matches findings to incidents with the slack', () => {
    const byId = Object.fromEntries(r.incidents.map((o) => [o.id, o]));
    expect(byId.a!.detected).toBe(true);
    expect(byId.a!.ttd_ms).toBe(0);
    expect(byId.a!.first_detector).toBe('new_peer');
    expect(byId.a!.detectors).toEqual(['fanout', 'new_peer']);
    expect(byId.b!.ttd_ms).toBe(14 * MIN);
    expect(byId.c!.ttd_ms).toBe(30 * MIN);
    expect(byId.d!.detected).toBe(false);
  });

  it('computes overall precision, recall, F1 and the false-alert rate', () => {
    expect(r.overall.findings).toBe(8);
    expect(r.overall.matched).toBe(4);
    expect(r.overall.precision).toBe(0.5);
    expect(r.overall.recall).toBe(0.75);
    expect(r.overall.f1).toBeCloseTo(0.6, 10);
    expect(r.overall.false_findings).toBe(4);
    expect(r.overall.false_per_1k_device_days).toBe(1000);
    // ttds: 0, 14, 30 -> median 14, p90 30
    expect(r.overall.ttd.median_ms).toBe(14 * MIN);
    expect(r.overall.ttd.p90_ms).toBe(30 * MIN);
  });

  it('scores kinds and detectors', () => {
    const scan = r.kinds.find((k) => k.kind === 'scan')!;
    expect(scan.recall).toBe(1);
    expect(scan.by_detector).toEqual({ fanout: 2, new_peer: 1 });
    // tp = f1, f2, f3 = 3; detectors catching scans: fanout (false f6, f8) + new_peer (false f7) = 3
    expect(scan.precision).toBe(0.5);
    expect(scan.false_per_1k_device_days).toBe(750);
    const stuck = r.kinds.find((k) => k.kind === 'stuck')!;
    expect(stuck.recall).toBe(0.5);
    expect(stuck.missed).toEqual(['d']);
    // tp = f4; flatline false = f5 -> 0.5
    expect(stuck.precision).toBe(0.5);
    const fanout = r.detectors.find((d) => d.detector === 'fanout')!;
    expect(fanout.findings).toBe(4);
    expect(fanout.matched).toBe(2);
    expect(fanout.recall).toBe(0.5);
    expect(fanout.ttd.median_ms).toBe(8.5 * MIN); // a: 3, b: 14
    expect(fanout.by_kind).toEqual({ scan: 2 });
  });

  it('filters by severity', () => {
    const hi = scoreFindings(incidents, findings, { slackMs: 5 * MIN, minSeverity: 'medium', deviceDays: 4 });
    expect(hi.overall.findings).toBe(7);
    expect(hi.overall.false_findings).toBe(3);
    expect(hi.overall.false_per_1k_device_days).toBe(750);
  });

  it('handles no findings and no incidents', () => {
    const none = scoreFindings(incidents, [], { slackMs: 0, minSeverity: 'info', deviceDays: 1 });
    expect(none.overall.precision).toBeNull();
    expect(none.overall.recall).toBe(0);
    expect(none.overall.f1).toBe(0);
    const noInc = scoreFindings([], findings, { slackMs: 0, minSeverity: 'info', deviceDays: 1 });
    expect(noInc.overall.precision).toBe(0);
    expect(noInc.kinds).toEqual([]);
  });
});

describe('statistics helpers', () => {
  it('median and nearest-rank p90', () => {
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(percentile([5], 0.9)).toBe(5);
    expect(f1(0.5, 1)).toBeCloseTo(2 / 3, 10);
    expect(f1(null, 1)).toBe(0);
  });

  it('folds repeats into alerts like the router', () => {
    const xs = [f('1', 'd', 'x', 0), f('2', 'd', 'x', 10), f('3', 'd', 'x', 40), f('4', 'd', 'y', 10), f('5', 'e', 'x', 0)];
    expect(countAlertsAfterSuppression(xs, 30 * MIN)).toBe(4);
    expect(countAlertsAfterSuppression(xs, 0)).toBe(5);
  });
});
