/**
 * What operators read: the stdout route prints OCSF JSON lines (not text), and the metrics use
 * the names stock dashboards expect, with a pipeline label wherever a route name could repeat.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toOcsf } from '../../src/alerts/ocsf.js';
import { emptyRouterState, route } from '../../src/alerts/router.js';
import { channelFor } from '../../src/alerts/channels/send.js';
import { finalize } from '../../src/pipeline/engine.js';
import { emit } from '../../src/obs/events.js';
import { metrics, registry } from '../../src/obs/metrics.js';

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

describe('metrics', () => {
  it('default process and Node.js series are unprefixed', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
    expect(text).not.toMatch(/^m2m_process_|^m2m_nodejs_/m);
  });

  it('deliveries and outbox depth carry the pipeline, so two pipelines with a route "soc" stay apart', async () => {
    emit.alertDelivered('meters', 'soc');
    emit.alertDelivered('plant', 'soc');
    emit.alertDelivered('plant', 'soc');
    const text = await registry.metrics();
    expect(text).toContain('m2m_alert_deliveries_total{pipeline="meters",route="soc",outcome="ok"} 1');
    expect(text).toContain('m2m_alert_deliveries_total{pipeline="plant",route="soc",outcome="ok"} 2');
    metrics.outboxDepth.set({ pipeline: 'plant', route: 'soc' }, 3);
    expect(await registry.metrics()).toContain('m2m_outbox_depth{pipeline="plant",route="soc"} 3');
  });
});
