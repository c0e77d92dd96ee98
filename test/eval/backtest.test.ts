import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadPipelineText } from '../../src/config/load.js';
import { runBacktest } from '../../src/eval/backtest.js';
import { parseLabels } from '../../src/eval/labels.js';
import { renderHtmlReport, renderMarkdown } from '../../src/eval/report.js';
import { scoreFindings } from '../../src/eval/score.js';

const PIPELINE = `
name: bt-test
source: { kafka: { topics: [t], group: g } }
detectors:
  - fanout: { window: 5m, min_distinct_dst: 20 }
alerts: { min_severity: low, routes: [ { stdout: {} } ] }
`;

function pipeline() {
  const r = loadPipelineText(PIPELINE, 'bt.yaml', {});
  if (!r.pipeline) throw new Error(JSON.stringify(r.errors));
  return r.pipeline;
}

const T0 = Date.parse('2026-03-01T00:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString();

/** Two hours of one device's ordinary traffic, then a telnet scan of 60 hosts in 2 minutes. */
function events(): string[] {
  const lines: string[] = [];
  for (let t = 0; t < 2 * 3600_000; t += 60_000) {
    lines.push(JSON.stringify({ type: 'connection', device_id: 'd1', device_class: 'smart_meter', ts: iso(T0 + t), src_ip: '10.10.2.5', dst_ip: '10.1.0.10', dst_port: 8883, protocol: 'tcp', tls: true }));
    lines.push(JSON.stringify({ type: 'connection', device_id: 'd2', device_class: 'smart_meter', ts: iso(T0 + t + 10), src_ip: '10.10.2.6', dst_ip: '10.1.0.10', dst_port: 8883, protocol: 'tcp', tls: true }));
  }
  const s = T0 + 2 * 3600_000;
  for (let i = 0; i < 60; i++) {
    lines.push(JSON.stringify({ type: 'connection', device_id: 'd1', device_class: 'smart_meter', ts: iso(s + i * 2000), src_ip: '10.10.2.5', dst_ip: `45.1.${i}.7`, dst_port: 23, protocol: 'tcp' }));
  }
  return lines;
}

describe('runBacktest', () => {
  it('decodes with the consumers decoder, counts rejects and finds the scan', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bt-'));
    const lines = events();
    // Split over two files, one gzipped, to exercise the merge; add bad lines.
    const a = join(dir, 'a.ndjson');
    const b = join(dir, 'b.ndjson.gz');
    writeFileSync(a, lines.filter((_, i) => i % 2 === 0).join('\n') + '\n{"type":"telemetry"\nnot json\n');
    writeFileSync(b, gzipSync(lines.filter((_, i) => i % 2 === 1).join('\n') + '\n{"type":"connection","device_id":"x","ts":"2026-03-01T00:00:00Z","src_ip":"1.2.3.4","dst_ip":"nope","dst_port":1,"protocol":"tcp"}\n'));
    const r = await runBacktest({ pipeline: pipeline(), inputs: [a, b], watchDevices: ['d1'] });
    expect(r.decoded).toBe(lines.length);
    expect(r.rejected).toBe(3);
    expect(r.rejectedBy.bad_json?.count).toBe(2);
    expect(r.rejectedBy['bad_field:dst_ip']?.count).toBe(1);
    expect(r.outOfOrder).toBe(0);
    expect(r.devices).toBe(2);
    const scans = r.findings.filter((f) => f.detector === 'fanout');
    expect(scans.length).toBe(1);
    expect(scans[0]!.device_id).toBe('d1');
    expect(scans[0]!.first_ts).toBeGreaterThanOrEqual(T0 + 2 * 3600_000);
    expect(r.series.get('d1')!.connections.length).toBe(25); // 2 h of 5-min buckets + the scan's

    const labels = parseLabels(JSON.stringify([{ device_id: 'd1', kind: 'mirai_scan', start: iso(T0 + 2 * 3600_000), end: iso(T0 + 2 * 3600_000 + 120_000) }]));
    const scored = scoreFindings(labels.incidents, r.findings, { slackMs: 300_000, minSeverity: 'info', deviceDays: r.deviceDays });
    expect(scored.overall.recall).toBe(1);
    expect(scored.overall.precision).toBe(1);
    expect(scored.overall.ttd.median_ms).toBeLessThan(120_000);
    const html = renderHtmlReport({ title: 't', pipeline: 'bt-test', inputs: [a, b], result: r, labels, alert: scored, all: scored });
    expect(html).toContain('<svg');
    expect(html).toContain('mirai_scan');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(renderMarkdown({ title: 't', pipeline: 'bt-test', inputs: [], result: r, alert: scored, all: scored })).toContain('| mirai_scan | 1 | 1 |');
  });

  it('reads historian CSV with the device from a flag', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bt-'));
    const f = join(dir, 'h.csv');
    const rows = ['time;pressure;temp'];
    for (let i = 0; i < 30; i++) rows.push(`2026-03-01 00:${String(i).padStart(2, '0')}:00;${(4 + i / 100).toFixed(2).replace('.', ',')};21`);
    rows.push('2026-03-01 00:30:00;Bad;21');
    writeFileSync(f, rows.join('\r\n') + '\r\n');
    const r = await runBacktest({ pipeline: pipeline(), inputs: [f], csv: { device: 'plc-07', deviceClass: 'plc' }, watchDevices: ['plc-07'] });
    expect(r.decoded).toBe(30);
    expect(r.rejected).toBe(1);
    expect(r.rejectedBy['bad_field:metrics.pressure']?.example.line).toBe(32);
    expect(r.series.get('plc-07')!.metrics.pressure!.v[1]).toBeCloseTo(4.01, 5);
  });
});

describe('parseLabels', () => {
  it('reads the simulator file, arrays and NDJSON', () => {
    const sim = parseLabels(JSON.stringify({ version: 1, devices: 3, start: '2026-03-01T00:00:00Z', end: '2026-03-02T00:00:00Z', incidents: [{ id: 'i1', device_id: 'a', kind: 'k', start: '2026-03-01T01:00:00Z', end: '2026-03-01T02:00:00Z', detail: { x: 1 } }], benign: [{ id: 'b', kind: 'dst_shift', start: '2026-03-01T01:00:00Z', end: '2026-03-01T02:00:00Z' }] }));
    expect(sim.incidents[0]!.detail).toEqual({ x: 1 });
    expect(sim.benign[0]!.kind).toBe('dst_shift');
    expect(sim.devices).toBe(3);
    const nd = parseLabels('{"device":"a","label":"scan","start":1772326800}\n{"device_id":"b","kind":"x","start":"2026-03-01T00:00:00Z","end":"2026-03-01T00:10:00Z"}\n');
    expect(nd.incidents.map((i) => i.kind)).toEqual(['scan', 'x']);
    expect(nd.incidents[0]!.end).toBe(nd.incidents[0]!.start);
    expect(() => parseLabels('[{"device_id":"a","kind":"k","start":"2026-03-01T02:00:00Z","end":"2026-03-01T01:00:00Z"}]')).toThrow(/end before/);
  });
});
