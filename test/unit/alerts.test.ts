import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { emptyRouterState, route } from '../../src/alerts/router.js';
import { toOcsf } from '../../src/alerts/ocsf.js';
import { renderCef, renderLine } from '../../src/alerts/channels/render.js';
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
const opts = { minSeverity: 'medium' as const, suppressMs: 30 * 60_000 };

describe('alert router', () => {
  it('drops findings below min_severity', () => {
    expect(route(emptyRouterState(), finding({ score: 0.35 }), opts)).toBeNull();
  });

  it('alerts once per finding in a band, again when it escalates, and folds repeats of device+detector', () => {
    const st = emptyRouterState();
    const f1 = finding();
    expect(route(st, f1, opts)?.alert_id).toBe(`${f1.finding_id}-medium`);
    expect(route(st, { ...f1, count: 2, version: 2, last_ts: f1.last_ts + 1000 }, opts)).toBeNull();
    const up = route(st, { ...f1, score: 0.95, severity: 'critical', version: 3, last_ts: f1.last_ts + 2000 }, opts);
    expect(up?.alert_id).toBe(`${f1.finding_id}-critical`);
    // A different finding of the same device+detector inside the window is folded.
    const f2 = finding({ key: 'ports', first_ts: 1_060_000, last_ts: 1_060_000 });
    expect(route(st, f2, opts)).toBeNull();
    // After the window the next one is sent and says how many were folded.
    const f3 = finding({ key: 'ports2', first_ts: 1_000_000 + 31 * 60_000, last_ts: 1_000_000 + 31 * 60_000 });
    expect(route(st, f3, opts)?.suppressed_before).toBe(1);
    // The first finding, extended past the window in the same band, is not alerted again.
    expect(route(st, { ...f1, score: 0.95, severity: 'critical', version: 9, last_ts: f1.last_ts + 40 * 60_000 }, opts)).toBeNull();
    // Another device is independent.
    expect(route(st, finding({ device_id: 'cam-2', first_ts: 1_060_000, last_ts: 1_060_000 }), opts)).not.toBeNull();
  });
});

describe('OCSF and renderings', () => {
  it('maps a finding to an OCSF Detection Finding', () => {
    const f = finding();
    const a = toOcsf(f, { alert_id: 'a1', suppressed_before: 0, product_version: '1.0.0' });
    expect(a).toMatchObject({ class_uid: 2004, category_uid: 2, activity_id: 1, type_uid: 200401, severity_id: 3, severity: 'Medium' });
    expect(a.finding_info.uid).toBe(f.finding_id);
    expect(a.finding_info.attacks).toEqual([{ technique: { uid: 'T0846' } }]);
    expect(a.device.uid).toBe('cam-1');
    expect(toOcsf({ ...f, version: 2 }, { alert_id: 'a1', suppressed_before: 0, product_version: '1' }).activity_name).toBe('Update');
  });

  it('escapes CEF header pipes and extension equals signs', () => {
    const a = toOcsf(finding(), { alert_id: 'a1', suppressed_before: 0, product_version: '1.0|x' });
    const cef = renderCef(a);
    expect(cef.startsWith('CEF:0|m2m-sentinel|m2m-sentinel|1.0\\|x|fanout|')).toBe(true);
    expect(cef).toContain('msg=cam-1 contacted 57 hosts | on port 23\\=x');
    expect(renderLine(a)).toContain('cam-1');
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
    const medium = toOcsf(finding(), { alert_id: 'a', suppressed_before: 0, product_version: '1' });
    const high = toOcsf(finding({ score: 0.8 }), { alert_id: 'a', suppressed_before: 0, product_version: '1' });
    const peer = toOcsf(finding({ detector: 'new_peer', score: 0.8 }), { alert_id: 'a', suppressed_before: 0, product_version: '1' });
    expect(wants(cfg, pager, medium)).toBe(false);
    expect(wants(cfg, pager, high)).toBe(true);
    expect(wants(cfg, soc, medium)).toBe(true);
    expect(wants(cfg, soc, peer)).toBe(false);
    expect(wants(cfg, pager, peer)).toBe(true);
  });
});
