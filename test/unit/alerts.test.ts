import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { emptyRouterState, route, routeTime } from '../../src/alerts/router.js';
import { pipelineChangeDoc, toOcsf, type OcsfDetectionFinding } from '../../src/alerts/ocsf.js';
import type { AlertChange } from '../../src/alerts/lifecycle.js';
import { renderCef, renderLine, renderSlack } from '../../src/alerts/channels/render.js';
import { signBody } from '../../src/alerts/channels/send.js';
import { finalize } from '../../src/pipeline/engine.js';
import type { Finding, FindingDraft } from '../../src/detectors/types.js';
import { severityOf } from '../../src/detectors/score.js';

function finding(over: Partial<FindingDraft> = {}): Finding {
  const score = over.score ?? 0.6;
  return finalize('p', {
    detector: 'fanout', key: 'dst', device_id: 'cam-1', device_class: 'camera', first_ts: 1_000_000, last_ts: 1_000_000, count: 1,
    score, severity: severityOf(score), observed: '57 distinct hosts', expected: '≤ 3', explanation: 'cam-1 contacted 57 hosts | on port 23=x', evidence: {}, mitre: ['T0846'],
    ...over,
  });
}
const opts = { minSeverity: 'medium' as const, suppressMs: 30 * 60_000, autoCloseMs: 2 * 3_600_000 };
const docOf = (ch: AlertChange): OcsfDetectionFinding => pipelineChangeDoc({ ...ch, kind: ch.kind as 'create' }, { productVersion: '1.0.0', autoCloseMs: opts.autoCloseMs });

const schema = JSON.parse(readFileSync(new URL('../../schemas/ocsf/detection_finding-1.6.subset.json', import.meta.url), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const validate = ajv.compile(schema);
function expectValid(doc: unknown): void {
  const ok = validate(doc);
  expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
  expect(ok).toBe(true);
}

describe('alert router', () => {
  it('drops findings below min_severity', () => {
    expect(route(emptyRouterState(), finding({ score: 0.35 }), opts)).toEqual([]);
  });

  it('groups one device + detector + key into one alert, escalates, folds and updates after the window', () => {
    const st = emptyRouterState();
    const f1 = finding();
    const [c1] = route(st, f1, opts);
    expect(c1).toMatchObject({ kind: 'create', publish: true, alert: { seq: 1, count: 1, findings: 1, severity: 'medium' } });
    const id = c1!.alert.alert_id;
    // The same finding extended: folded into the alert, not sent.
    const [c2] = route(st, { ...f1, count: 2, version: 2, last_ts: f1.last_ts + 1000 }, opts);
    expect(c2).toMatchObject({ kind: 'fold', publish: false, alert: { alert_id: id, seq: 2, count: 2, findings: 1 } });
    // A rise in severity band is an escalation, sent at once.
    const [c3] = route(st, { ...f1, score: 0.95, severity: 'critical', count: 3, version: 3, last_ts: f1.last_ts + 2000 }, opts);
    expect(c3).toMatchObject({ kind: 'escalate', publish: true, from: 'medium', alert: { alert_id: id, severity: 'critical', initial_severity: 'medium', count: 3 } });
    // Another finding of the same key inside the window: folded, counted.
    const f2 = finding({ first_ts: 1_060_000, last_ts: 1_060_000 });
    const [c4] = route(st, f2, opts);
    expect(c4).toMatchObject({ kind: 'fold', alert: { alert_id: id, findings: 2, count: 4 } });
    // The first repeat after the suppression window goes out as an update with the count.
    const f3 = finding({ first_ts: 1_000_000 + 31 * 60_000, last_ts: 1_000_000 + 31 * 60_000 });
    const [c5] = route(st, f3, opts);
    expect(c5).toMatchObject({ kind: 'update', publish: true, folded: 1, alert: { alert_id: id, findings: 3, count: 5, severity: 'critical' } });
    // Another key or device is another alert.
    expect(route(st, finding({ key: 'ports', first_ts: 1_060_000, last_ts: 1_060_000 }), opts)[0]?.kind).toBe('create');
    expect(route(st, finding({ device_id: 'cam-2', first_ts: 1_060_000, last_ts: 1_060_000 }), opts)[0]?.kind).toBe('create');
  });

  it('closes an alert once its group has been quiet for auto_close in event time, and opens a new one after', () => {
    const st = emptyRouterState();
    const [c1] = route(st, finding(), opts);
    const id = c1!.alert.alert_id;
    expect(routeTime(st, 1_000_000 + opts.autoCloseMs - 1, opts)).toEqual([]);
    const [close] = routeTime(st, 1_000_000 + opts.autoCloseMs, opts);
    expect(close).toMatchObject({ kind: 'close', publish: true, alert: { alert_id: id, seq: 2, closed_ts: 1_000_000 + opts.autoCloseMs } });
    expect(routeTime(st, 1_000_000 + 3 * opts.autoCloseMs, opts)).toEqual([]);
    const later = finding({ first_ts: 1_000_000 + 3 * opts.autoCloseMs, last_ts: 1_000_000 + 3 * opts.autoCloseMs });
    const [c2] = route(st, later, opts);
    expect(c2?.kind).toBe('create');
    expect(c2?.alert.alert_id).not.toBe(id);
  });

  it('reaches the same alerts whether the watermark closes an alert before a late finding or the finding does', () => {
    // Batches end in different places on a replay: the close must not depend on it.
    const quietEnd = 1_000_000 + opts.autoCloseMs;
    const next = finding({ first_ts: quietEnd + 60_000, last_ts: quietEnd + 60_000 });
    const a = emptyRouterState();
    route(a, finding(), opts);
    const viaClock = [...routeTime(a, quietEnd + 60_000, opts), ...route(a, next, opts)];
    const b = emptyRouterState();
    route(b, finding(), opts);
    const viaFinding = route(b, next, opts);
    expect(viaFinding.map((c) => [c.kind, c.alert.alert_id, c.alert.seq, c.alert.closed_ts])).toEqual(viaClock.map((c) => [c.kind, c.alert.alert_id, c.alert.seq, c.alert.closed_ts]));
    expect(b).toEqual(a);
  });
});

describe('OCSF and renderings', () => {
  const connection = finding({
    detector: 'new_peer', key: '203.0.113.9:4444', score: 0.8,
    evidence: { src_ip: '10.20.0.7', dst_ip: '203.0.113.9', dst_port: 4444, peer: '203.0.113.9:4444' }, mitre: ['T1071', 'T0869', 'T0886'],
  });
  const telemetry = finding({
    detector: 'metric_baseline', key: 'voltage', score: 0.92, observed: 262.1, expected: '229.9 ± 1.2',
    evidence: { metric: 'voltage', value: 262.1, baseline_center: 229.9, baseline_sigma: 1.2 }, mitre: ['T0831'],
  });

  it('documents every change as a valid OCSF 1.6 Detection Finding (Create, Update, Close)', () => {
    const st = emptyRouterState();
    const changes = [
      ...route(st, connection, opts),
      ...route(st, { ...connection, score: 0.95, severity: 'critical', version: 2, count: 2, last_ts: connection.last_ts + 10 }, opts),
      ...routeTime(st, connection.last_ts + 10 + opts.autoCloseMs, opts),
    ];
    const docs = changes.map(docOf);
    expect(docs.map((d) => [d.activity_id, d.activity_name, d.type_uid, d.status_id, d.is_alert])).toEqual([
      [1, 'Create', 200401, 1, true],
      [2, 'Update', 200402, undefined, true],
      [3, 'Close', 200403, 4, false],
    ]);
    for (const d of docs) expectValid(d);
    expect(new Set(docs.map((d) => d.finding_info.uid)).size).toBe(1);
    expect(new Set(docs.map((d) => d.metadata.uid)).size).toBe(3);
    expect(docs[1]!.status_detail).toBe('Escalated from High to Critical');
    expect(docs[2]!.status_detail).toMatch(/back to baseline, no finding for 2 h/);
  });

  it('carries observables, the IoT device, the analytic type, anomaly analyses and ATT&CK per matrix', () => {
    const d = docOf(route(emptyRouterState(), connection, opts)[0]!);
    expect(d.device).toMatchObject({ uid: 'cam-1', type_id: 7, type: 'IOT', ip: '10.20.0.7', groups: [{ name: 'camera', type: 'device_class' }] });
    expect(d.observables).toEqual([
      { name: 'device.uid', type_id: 47, type: 'Device uid', value: 'cam-1' },
      { name: 'device.ip', type_id: 2, type: 'IP Address', value: '10.20.0.7' },
      { name: 'evidences.dst_endpoint.ip', type_id: 2, type: 'IP Address', value: '203.0.113.9' },
      { name: 'evidences.dst_endpoint.port', type_id: 11, type: 'Port', value: '4444' },
    ]);
    expect(d.finding_info.analytic).toMatchObject({ name: 'new_peer', type_id: 2, type: 'Behavioral' });
    expect(d.confidence_id).toBe(3);
    // ICS first, each technique with its own matrix's tactic; never an ICS technique under an Enterprise tactic.
    expect(d.finding_info.attacks.map((a) => [a.technique.uid, a.tactic?.uid, a.version])).toEqual([
      ['T0869', 'TA0101', '15.1'],
      ['T0886', 'TA0108', '15.1'],
      ['T1071', 'TA0011', '15.1'],
    ]);
    for (const a of d.finding_info.attacks) expect(a.technique.uid.startsWith('T0')).toBe(a.tactic!.uid.startsWith('TA01'));
    const t = docOf(route(emptyRouterState(), telemetry, opts)[0]!);
    expectValid(t);
    expect(t.finding_info.analytic).toMatchObject({ type_id: 3, type: 'Statistical' });
    expect(t.anomaly_analyses[0]!.anomalies[0]).toMatchObject({ observation_parameter: 'voltage', observations: [{ value: '262.1' }] });
    expect(t.anomaly_analyses[0]!.baselines[0]!.observations[0]!.value).toBe('229.9 ± 1.2');
    expect(t.unmapped).toMatchObject({ expected_value: 229.9, expected_spread: 1.2 });
    expect(JSON.stringify(t.unmapped)).not.toMatch(/observed|"expected"/);
    expect(t.observables.find((o) => o.type_id === 99)?.value).toBe('voltage');
  });

  it('the schema subset rejects what OCSF does not define', () => {
    const d = docOf(route(emptyRouterState(), connection, opts)[0]!) as unknown as Record<string, unknown>;
    expect(validate({ ...d, device: { ...(d.device as object), type_id: 42 } })).toBe(false);
    expect(validate({ ...d, invented: 1 })).toBe(false);
    expect(validate({ ...d, finding_info: { ...(d.finding_info as object), analytic: { type_id: 3, typo: 1 } } })).toBe(false);
  });

  it('CEF names the affected device as source, the peer as destination, severity in ArcSight bands', () => {
    const d = docOf(route(emptyRouterState(), connection, opts)[0]!);
    const cef = renderCef(d);
    expect(cef.split('|')[6]).toBe('8'); // high → 7–8 band
    expect(cef).toContain(' shost=cam-1 src=10.20.0.7 dst=203.0.113.9 dpt=4444 ');
    expect(cef).not.toContain('dvchost');
    const crit = renderCef(docOf(route(emptyRouterState(), telemetry, opts)[0]!));
    expect(crit.split('|')[6]).toBe('10');
    expect(crit).not.toMatch(/ src=| dst=/);
    const med = renderCef(docOf(route(emptyRouterState(), finding(), opts)[0]!));
    expect(med.split('|')[6]).toBe('5');
  });

  it('escapes CEF header pipes and extension equals signs', () => {
    const doc = toOcsf({ alert: route(emptyRouterState(), finding(), opts)[0]!.alert, finding: finding(), change: { activity: 'create', seq: 1, time: 1, alertable: true }, productVersion: '1.0|x' });
    const cef = renderCef(doc);
    expect(cef.startsWith('CEF:0|m2m-sentinel|m2m-sentinel|1.0\\|x|fanout|')).toBe(true);
    expect(cef).toContain('msg=cam-1 contacted 57 hosts | on port 23\\=x');
    expect(renderLine(doc)).toContain('cam-1');
    expect(JSON.stringify(renderSlack(doc))).toContain('57 distinct hosts');
  });

  it('signs webhook timestamp and body with HMAC-SHA256', () => {
    const body = '{"a":1}';
    expect(signBody(body, 's3cret', 1_700_000_000)).toBe('t=1700000000,v1=' + createHmac('sha256', 's3cret').update(`1700000000.${body}`).digest('hex'));
  });
});

describe('route selection', () => {
  it('honours a route severity floor and a detector routes list', async () => {
    const { wants } = await import('../../src/alerts/delivery.js');
    const { testPipeline } = await import('../support/kafka.js');
    const cfg = testPipeline('p', [['fanout', {}], ['new_peer', {}]]);
    cfg.detectors[1]!.routes = ['pager'];
    const pager = { type: 'webhook' as const, name: 'pager', min_severity: 'high' as const, options: { url: 'http://127.0.0.1:1' } };
    const soc = { type: 'webhook' as const, name: 'soc', options: { url: 'http://127.0.0.1:1' } };
    const first = (f: Finding) => docOf(route(emptyRouterState(), f, opts)[0]!);
    const medium = first(finding());
    const high = first(finding({ score: 0.8 }));
    const peer = first(finding({ detector: 'new_peer', score: 0.8 }));
    expect(wants(cfg, pager, medium)).toBe(false);
    expect(wants(cfg, pager, high)).toBe(true);
    expect(wants(cfg, soc, medium)).toBe(true);
    expect(wants(cfg, soc, peer)).toBe(false);
    expect(wants(cfg, pager, peer)).toBe(true);
  });
});
