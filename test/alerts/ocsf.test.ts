/** Alert changes as OCSF 1.6 Detection Findings, checked against the schema subset the project ships. */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { emptyRouterState, route, routeTime } from '../../src/alerts/router.js';
import { connectionFinding, docOf, routerOpts, telemetryFinding } from './helpers.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/ocsf/detection_finding-1.6.subset.json', import.meta.url), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const validate = ajv.compile(schema);
function expectValid(doc: unknown): void {
  const ok = validate(doc);
  expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
  expect(ok).toBe(true);
}

describe('OCSF and renderings', () => {
  it('documents every change as a valid OCSF 1.6 Detection Finding (Create, Update, Close)', () => {
    const st = emptyRouterState();
    const changes = [
      ...route(st, connectionFinding, routerOpts),
      ...route(st, { ...connectionFinding, score: 0.95, severity: 'critical', version: 2, count: 2, last_ts: connectionFinding.last_ts + 10 }, routerOpts),
      ...routeTime(st, connectionFinding.last_ts + 10 + routerOpts.autoCloseMs, routerOpts),
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
    const d = docOf(route(emptyRouterState(), connectionFinding, routerOpts)[0]!);
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
    const t = docOf(route(emptyRouterState(), telemetryFinding, routerOpts)[0]!);
    expectValid(t);
    expect(t.finding_info.analytic).toMatchObject({ type_id: 3, type: 'Statistical' });
    expect(t.anomaly_analyses[0]!.anomalies[0]).toMatchObject({ observation_parameter: 'voltage', observations: [{ value: '262.1' }] });
    expect(t.anomaly_analyses[0]!.baselines[0]!.observations[0]!.value).toBe('229.9 ± 1.2');
    expect(t.unmapped).toMatchObject({ expected_value: 229.9, expected_spread: 1.2 });
    expect(JSON.stringify(t.unmapped)).not.toMatch(/observed|"expected"/);
    expect(t.observables.find((o) => o.type_id === 99)?.value).toBe('voltage');
  });

  it('the schema subset rejects what OCSF does not define', () => {
    const d = docOf(route(emptyRouterState(), connectionFinding, routerOpts)[0]!) as unknown as Record<string, unknown>;
    expect(validate({ ...d, device: { ...(d.device as object), type_id: 42 } })).toBe(false);
    expect(validate({ ...d, invented: 1 })).toBe(false);
    expect(validate({ ...d, finding_info: { ...(d.finding_info as object), analytic: { type_id: 3, typo: 1 } } })).toBe(false);
  });
});
