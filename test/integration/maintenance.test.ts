/**
 * An ad hoc maintenance window through the whole service: written to the maintenance topic as
 * `m2m-sentinel maintenance add` does, read by the running service before it routes, and the
 * device in the window gets its findings stored but no alert, while another device alerts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OcsfDetectionFinding } from '../../src/alerts/ocsf.js';
import { putWindow } from '../../src/alerts/maintenance-topic.js';
import { startService } from '../../src/pipeline/service.js';
import { queryRows } from '../../src/storage/clickhouse.js';
import { kafka, produce, tempDir, testPipeline, uid, waitFor } from '../support/kafka.js';

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

describe('ad hoc maintenance in a running service', () => {
  it('holds the alerts of the device in the window and keeps its findings', async () => {
    const k = kafka();
    const topic = uid('maint-svc');
    process.env.M2M_MAINTENANCE_TOPIC = topic;
    await putWindow(k, 'w-pos-1', { id: 'w-pos-1', devices: ['pos-1'], start_ms: T0 - 60_000, end_ms: T0 + 3_600_000, reason: 'till swap' }, topic);
    const name = uid('maint');
    const cfg = testPipeline(name, [['auth_failures', { threshold: 5 }]]);
    const alerts: OcsfDetectionFinding[] = [];
    const svc = await startService([cfg], { clickhouse: { dataDir: join(tempDir('m2m-maint'), 'ch') }, deliver: false, checkpointEveryMs: 300, onAlert: (a) => alerts.push(a) });
    try {
      const lines = ['pos-1', 'pos-2'].flatMap((d) =>
        Array.from({ length: 6 }, (_, i) => ({ key: d, value: JSON.stringify({ type: 'connection', device_id: d, device_class: 'pos_terminal', ts: new Date(T0 + i * 60_000).toISOString(), src_ip: '10.40.1.9', dst_ip: '10.40.1.1', dst_port: 22, protocol: 'tcp', auth: 'failed' }) })),
      );
      await produce(k, cfg.source.kafka.topics[0]!, lines);
      const h = svc.pipelines[0]!;
      await waitFor(async () => [...h.positions().values()].reduce((a, b) => a + (b > 0n ? b : 0n), 0n) >= BigInt(lines.length), 60_000);
      await h.stop();
      const rows = await queryRows<{ device_id: string }>(svc.clickhouse.client, `SELECT device_id FROM m2m.findings FINAL WHERE pipeline = {p:String} ORDER BY device_id`, { p: name });
      expect(rows.map((r) => r.device_id)).toEqual(['pos-1', 'pos-2']);
      expect(alerts.map((a) => a.device.uid)).toEqual(['pos-2']);
    } finally {
      await svc.stop();
      delete process.env.M2M_MAINTENANCE_TOPIC;
    }
  }, 120_000);
});
