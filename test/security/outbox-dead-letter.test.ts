/**
 * One record on the alert outbox that is not an alert (forged, truncated, another tool's) used
 * to stall its delivery route for good: JSON.parse threw inside the batch and kafkajs retried the
 * batch forever. Now it is dead-lettered with its reason and the alerts behind it are delivered.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDelivery } from '../../src/alerts/delivery.js';
import { readDeadLetterHeaders } from '../../src/kafka/dead-letter.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { registry } from '../../src/obs/metrics.js';
import { alertFor } from '../support/alerts.js';
import { consumeAll, kafka, produce, testPipeline, uid, waitFor } from '../support/kafka.js';

const k = kafka();
const got: string[] = [];
const hook = createServer((req, res) => {
  let b = '';
  req.on('data', (d: Buffer) => (b += d.toString()));
  req.on('end', () => {
    got.push((JSON.parse(b) as { metadata: { uid: string } }).metadata.uid);
    res.writeHead(204).end();
  });
});
afterAll(() => hook.close());

describe('outbox records that are not alerts', () => {
  it('are dead-lettered with a reason and a metric; the route goes on delivering', async () => {
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const name = uid('obx');
    const cfg = testPipeline(name, [['fanout', {}]]);
    const outbox = `${name}.alerts`;
    await ensureTopics(k, [{ topic: outbox, partitions: 1 }, { topic: cfg.source.kafka.dead_letter_topic, partitions: 1 }]);
    const good = alertFor({ device_id: 'cam-7' });
    const hdr = { 'x-m2m-pipeline': name };
    await produce(k, outbox, [
      { key: 'x', value: '{"class_uid": 2004, "metadata": ', headers: hdr },
      { key: 'y', value: JSON.stringify({ hello: 'world' }), headers: hdr },
      { key: 'cam-7', value: JSON.stringify(good), headers: hdr },
    ] as never);
    const route = { type: 'webhook' as const, name: 'hook', options: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`, timeout: 2_000 } };
    const d = await startDelivery(k, cfg, route);
    try {
      await waitFor(async () => got.includes(good.metadata.uid), 30_000);
      const dead = await consumeAll(k, cfg.source.kafka.dead_letter_topic, 2, 20_000);
      expect(dead).toHaveLength(2);
      const h = dead.map((m) => readDeadLetterHeaders(m.headers));
      expect(h.map((x) => x['x-m2m-reason-code'])).toEqual(['bad_alert_record', 'bad_alert_record']);
      expect(h[0]!['x-m2m-reason']).toMatch(/^not JSON/);
      expect(h[1]!['x-m2m-reason']).toMatch(/not an OCSF Detection Finding/);
      expect(h[0]!).toMatchObject({ 'x-m2m-source-topic': outbox, 'x-m2m-route': 'hook', 'x-m2m-pipeline': name });
      expect(dead[0]!.value!.toString()).toBe('{"class_uid": 2004, "metadata": ');
      expect(await registry.getSingleMetricAsString('m2m_outbox_dead_letters_total')).toContain(`m2m_outbox_dead_letters_total{pipeline="${name}",route="hook"} 2`);
    } finally {
      await d?.stop();
    }
  });
});
