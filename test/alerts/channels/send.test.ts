/**
 * What the senders put on the wire: the stdout route prints OCSF JSON lines (not text) that a
 * device cannot break into two, and webhooks are signed.
 */
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toOcsf } from '../../../src/alerts/ocsf.js';
import { emptyRouterState, route } from '../../../src/alerts/router.js';
import { channelFor, signBody } from '../../../src/alerts/channels/send.js';
import { finalize } from '../../../src/pipeline/engine.js';

const finding = finalize('meters', {
  detector: 'fanout', key: 'dst', device_id: 'cam-1', device_class: 'camera', first_ts: 1_000_000, last_ts: 1_000_000, count: 1,
  score: 0.6, severity: 'medium', observed: '57 hosts', expected: '≤ 3', explanation: 'cam-1 contacted 57 hosts\nnext line', evidence: {}, mitre: ['T0846'],
});

afterEach(() => vi.restoreAllMocks());

describe('stdout route', () => {
  it('writes one OCSF Detection Finding JSON document per line', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((s: string, cb?: (e?: Error) => void) => {
      lines.push(String(s));
      cb?.();
      return true;
    }) as typeof process.stdout.write);
    const send = channelFor({ type: 'stdout', name: 'stdout', options: {} })!;
    const [change] = route(emptyRouterState(), finding, { minSeverity: 'medium', suppressMs: 1_800_000 });
    await send(toOcsf({ alert: change!.alert, finding, change: { activity: 'create', seq: 1, time: 1, alertable: true }, productVersion: '0.1.0' }));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(lines[0]!.slice(0, -1)).not.toContain('\n');
    const doc = JSON.parse(lines[0]!);
    expect(doc.class_uid).toBe(2004);
    expect(doc.device.uid).toBe('cam-1');
    expect(doc.message).toContain('next line');
  });

  it('a device cannot forge a second line: every line break a reader may split on is escaped', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((s: string, cb?: (e?: Error) => void) => {
      lines.push(String(s));
      cb?.();
      return true;
    }) as typeof process.stdout.write);
    const forged = finalize('meters', { ...finding, device_id: 'cam-1\u2028{"class_uid":2004}\u0085x\u2029y\r' });
    const [change] = route(emptyRouterState(), forged, { minSeverity: 'medium', suppressMs: 1_800_000 });
    await channelFor({ type: 'stdout', name: 'stdout', options: {} })!(toOcsf({ alert: change!.alert, finding: forged, change: { activity: 'create', seq: 1, time: 1, alertable: true }, productVersion: '0.1.0' }));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.slice(0, -1).split(/\r\n|\r|\n|\u2028|\u2029|\u0085/)).toHaveLength(1);
    expect(JSON.parse(lines[0]!).device.uid).toBe(forged.device_id);
  });
});

describe('OCSF and renderings', () => {
  it('signs webhook timestamp and body with HMAC-SHA256', () => {
    const body = '{"a":1}';
    expect(signBody(body, 's3cret', 1_700_000_000)).toBe('t=1700000000,v1=' + createHmac('sha256', 's3cret').update(`1700000000.${body}`).digest('hex'));
  });
});
