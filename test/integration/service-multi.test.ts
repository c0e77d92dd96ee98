/**
 * Several pipelines in one process are isolated: one that cannot start is reported (health
 * says down) and the others run on, each in its own consumer group.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { kafka, produce, tempDir, testPipeline, uid, waitFor } from '../support/kafka.js';
import { startService, type Service } from '../../src/pipeline/service.js';
import { queryRows } from '../../src/storage/clickhouse.js';
import { snapshot } from '../../src/server/health.js';

const k = kafka();
let svc: Service | undefined;
afterAll(async () => {
  await svc?.stop();
});

const T0 = Date.UTC(2026, 2, 1);
const scan = (device: string) =>
  Array.from({ length: 60 }, (_, i) =>
    JSON.stringify({ type: 'connection', device_id: device, device_class: 'camera', ts: new Date(T0 + i * 1000).toISOString(), src_ip: '10.1.0.5', dst_ip: `10.9.${i}.1`, dst_port: 23, protocol: 'tcp' }),
  );

describe('several pipelines in one process', () => {
  it('reports a pipeline that fails to start and keeps the others running', async () => {
    const good1 = testPipeline(uid('multi-a'), [['fanout', { min_distinct_dst: 20 }]]);
    const good2 = testPipeline(uid('multi-b'), [['fanout', { min_distinct_dst: 20 }]]);
    // Kafka refuses this topic name, so this pipeline cannot start.
    const broken = testPipeline(uid('multi-x'), [['fanout', {}]]);
    broken.source.kafka.topics = ['not a valid topic!'];
    svc = await startService([good1, broken, good2], { clickhouse: { dataDir: join(tempDir('m2m-multi'), 'ch') }, deliver: false, checkpointEveryMs: 200 });

    expect(svc.pipelines.map((p) => p.name)).toEqual([good1.name, good2.name]);
    expect(svc.failed.map((f) => f.name)).toEqual([broken.name]);
    expect(snapshot()[`pipeline:${broken.name}`]?.status).toBe('down');
    expect(snapshot()[`pipeline:${good1.name}`]?.status).toBe('ok');

    await produce(k, good1.source.kafka.topics[0]!, scan('cam-a').map((value) => ({ key: 'cam-a', value })));
    await produce(k, good2.source.kafka.topics[0]!, scan('cam-b').map((value) => ({ key: 'cam-b', value })));
    const client = svc.clickhouse.client;
    for (const [cfg, device] of [[good1, 'cam-a'], [good2, 'cam-b']] as const) {
      await waitFor(async () => {
        const rows = await queryRows<{ device_id: string }>(client, 'SELECT device_id FROM m2m.findings FINAL WHERE pipeline = {p:String}', { p: cfg.name });
        return rows.some((r) => r.device_id === device);
      }, 60_000);
    }
  });
});
