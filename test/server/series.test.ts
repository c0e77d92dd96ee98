import { describe, expect, it } from 'vitest';
import { connectionSeries, metricSeries } from '../../src/server/series.js';
import type { FindingView } from '../../src/storage/finding-queries.js';
import type { M2MEvent } from '../../src/events/types.js';

const T = Date.UTC(2026, 2, 1, 12);
const reading = (i: number, v: number): M2MEvent => ({ type: 'telemetry', device_id: 'm1', device_class: 'meter', ts: T + i * 60_000, metrics: { voltage: v } });
const finding = (over: Partial<FindingView>): FindingView => ({
  finding_id: 'f', pipeline: 'p', detector: 'metric_baseline', device_id: 'm1', device_class: 'meter', key: 'voltage', first_ts: T, last_ts: T, count: 1, score: 0.8, severity: 'high',
  observed: '0', expected: '', explanation: '', evidence: {}, mitre: [], src_ip: '', dst_ip: '', dst_port: null, metric: 'voltage', observed_value: null, expected_value: null, expected_spread: null, ...over,
});

describe('alert chart series', () => {
  it('draws the band exactly as each finding stated it, from that finding on, and marks the findings', () => {
    const events = Array.from({ length: 10 }, (_, i) => reading(i, i === 4 || i === 8 ? 250 : 230));
    const f1 = finding({ finding_id: 'a', first_ts: T + 4 * 60_000, last_ts: T + 4 * 60_000, observed_value: 250, expected_value: 230, expected_spread: 1.5, expected: '230 ± 1.5' });
    const f2 = finding({ finding_id: 'b', first_ts: T + 8 * 60_000, last_ts: T + 8 * 60_000, observed_value: 250, expected_value: 231, expected_spread: 2, expected: '231 ± 2' });
    const s = metricSeries('voltage', events, [f2, f1]);
    expect(s.x).toEqual(events.map((e) => e.ts / 1000));
    expect(s.observed).toEqual(events.map((e) => (e.type === 'telemetry' ? e.metrics.voltage : null)));
    // Before the first finding its band is shown (the baseline it compared with); from the second on, the second's.
    expect(s.center).toEqual([230, 230, 230, 230, 230, 230, 230, 230, 231, 231]);
    expect(s.low).toEqual([228.5, 228.5, 228.5, 228.5, 228.5, 228.5, 228.5, 228.5, 229, 229]);
    expect(s.high).toEqual([231.5, 231.5, 231.5, 231.5, 231.5, 231.5, 231.5, 231.5, 233, 233]);
    expect(s.marks).toEqual([null, null, null, null, 250, null, null, null, 250, null]);
    expect(s.findings.map((f) => f.finding_id)).toEqual(['a', 'b']);
  });

  it('draws no band where the detector stated no expected value', () => {
    const s = metricSeries('voltage', [reading(0, 1), reading(1, 2)], [finding({ first_ts: T, last_ts: T + 60_000, observed_value: 2 })]);
    expect(s.center).toEqual([null, null]);
    expect(s.low).toEqual([null, null]);
  });

  it('breaks connections down by peer and port, flagged peers first, bytes for volume anomalies', () => {
    const conn = (i: number, dst: string, port: number, bytes: number): M2MEvent => ({ type: 'connection', device_id: 'd', device_class: 'plc', ts: T + i * 60_000, src_ip: '10.0.0.7', dst_ip: dst, dst_port: port, protocol: 'tcp', bytes_out: bytes });
    const events = [conn(0, '10.0.0.1', 502, 100), conn(1, '10.0.0.1', 502, 100), conn(2, '203.0.113.9', 443, 5_000_000), conn(3, '10.0.0.1', 502, 100)];
    const flagged = [finding({ detector: 'exfiltration', metric: '', dst_ip: '203.0.113.9', dst_port: 443 })];
    const c = connectionSeries(events, flagged);
    expect(c.series.map((s) => [s.label, s.flagged, s.counts.reduce((a, b) => a + b, 0)])).toEqual([
      ['203.0.113.9:443', true, 1],
      ['10.0.0.1:502', false, 3],
    ]);
    const b = connectionSeries(events, flagged, 'bytes_out');
    expect(b.measure).toBe('bytes_out');
    expect(b.series[0]!.counts.reduce((a, x) => a + x, 0)).toBe(5_000_000);
  });
});
