/**
 * The spine against real parts: the local Apache Kafka broker and the embedded ClickHouse
 * engine. A produced event becomes a finding in ClickHouse; a malformed event reaches the
 * dead-letter topic with its reason; restarts neither duplicate nor lose findings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { kafka, testPipeline, produce, consumeAll, uid, tempDir, waitFor } from '../support/kafka.js';
import { openClickHouse, queryRows, type ClickHouseHandle } from '../../src/storage/clickhouse.js';
import { startPipeline, type PipelineHandle } from '../../src/pipeline/runner.js';
import { readDeadLetterHeaders } from '../../src/kafka/dead-letter.js';
import type { OcsfDetectionFinding } from '../../src/alerts/ocsf.js';

const k = kafka();
const dataDir = tempDir('m2m-it');
let ch: ClickHouseHandle;

beforeAll(async () => {
  ch = openClickHouse({ dataDir: join(dataDir, 'ch') });
});
afterAll(async () => {
  await ch.client.close();
});

const T0 = Date.UTC(2026, 2, 1, 0, 0, 0);

/** A steady sensor for 26 h at one reading a minute (past metric_baseline's first full cycle, before which nothing is more than low), then one wild reading. */
function sensorWithSpike(device: string): string[] {
  const out: string[] = [];
  let s = 7;
  const noise = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.8;
  for (let i = 0; i < 1560; i++) {
    out.push(JSON.stringify({ type: 'telemetry', device_id: device, device_class: 'sensor', ts: new Date(T0 + i * 60_000).toISOString(), metrics: { temperature_c: 21 + noise() } }));
  }
  out.push(JSON.stringify({ type: 'telemetry', device_id: device, device_class: 'sensor', ts: new Date(T0 + 1560 * 60_000).toISOString(), metrics: { temperature_c: 85 } }));
  return out;
}

async function findingsOf(pipeline: string) {
  return queryRows<{ finding_id: string; device_id: string; detector: string; severity: string; explanation: string; n: number }>(
    ch.client,
    `SELECT finding_id, any(device_id) AS device_id, any(detector) AS detector, any(severity) AS severity, any(explanation) AS explanation, count() AS n
     FROM m2m.findings FINAL WHERE pipeline = {p:String} GROUP BY finding_id ORDER BY finding_id`,
    { p: pipeline },
  );
}

async function run(cfg: ReturnType<typeof testPipeline>, alerts?: OcsfDetectionFinding[]): Promise<PipelineHandle> {
  return startPipeline(cfg, { kafka: k, clickhouse: ch.client, productVersion: 'test' }, {
    checkpointEveryMs: 200,
    ...(alerts ? { onAlert: (a) => alerts.push(a) } : {}),
  });
}

async function caughtUp(h: PipelineHandle, total: number): Promise<void> {
  await waitFor(async () => {
    let sum = 0n;
    for (const v of h.positions().values()) sum += v > 0n ? v : 0n;
    return sum >= BigInt(total);
  }, 60_000);
}

describe('Kafka → detectors → ClickHouse', () => {
  it('turns a produced anomalous reading into a finding in ClickHouse and an alert on the outbox topic', async () => {
    const name = uid('spike');
    const cfg = testPipeline(name, [['metric_baseline', {}]]);
    const lines = sensorWithSpike('sensor-1');
    await produce(k, cfg.source.kafka.topics[0]!, []); // topic auto-created by the pipeline start below
    const alerts: OcsfDetectionFinding[] = [];
    const h = await run(cfg, alerts);
    await produce(k, cfg.source.kafka.topics[0]!, lines.map((value) => ({ key: 'sensor-1', value })));
    await caughtUp(h, lines.length);
    await h.stop();

    const rows = await findingsOf(name);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    const spike = rows.find((r) => r.detector === 'metric_baseline');
    expect(spike?.device_id).toBe('sensor-1');
    expect(spike?.explanation).toMatch(/temperature_c/);
    expect(alerts.length).toBeGreaterThanOrEqual(1);
    expect(alerts[0]!.class_uid).toBe(2004);
    const onTopic = await consumeAll(k, `${name}.alerts`, alerts.length, 20_000);
    expect(onTopic.length).toBe(alerts.length);
    expect(JSON.parse(onTopic[0]!.value!.toString()).finding_info.uid).toBe(alerts[0]!.finding_info.uid);
  });

  it('sends malformed events to the dead-letter topic with their reason and original bytes, and keeps going', async () => {
    const name = uid('dlq');
    const cfg = testPipeline(name, [['metric_baseline', {}]]);
    const bad = [
      '{not json',
      JSON.stringify({ type: 'telemetry', device_id: 'd1', ts: '2026-03-01T00:00:00Z' }),
      JSON.stringify({ type: 'telemetry', device_id: 'd1', ts: '1970-01-01T00:00:00Z', metrics: { v: 1 } }),
      JSON.stringify({ type: 'connection', device_id: 'd1', ts: '2026-03-01T00:00:00Z', src_ip: '10.0.0.1', dst_ip: 'nope', dst_port: 80, protocol: 'tcp' }),
      JSON.stringify({ type: 'telemetry', device_id: 'd1', ts: '2026-03-01T00:00:00Z', metrics: { v: 1 }, pad: 'x'.repeat(70_000) }),
      // Decodes, but a broken clock: far beyond the wall clock + max_future_skew.
      JSON.stringify({ type: 'telemetry', device_id: 'd1', ts: '2099-01-01T00:00:00Z', metrics: { v: 1 } }),
    ];
    const good = JSON.stringify({ type: 'telemetry', device_id: 'd1', ts: '2026-03-01T00:00:00Z', metrics: { v: 1 } });
    const h = await run(cfg);
    // The good reading delivered twice (at-least-once): one event, one duplicate, no dead letter.
    await produce(k, cfg.source.kafka.topics[0]!, [...bad, good, good].map((value) => ({ key: 'd1', value })));
    await caughtUp(h, bad.length + 2);
    expect(h.stats().deadLetters).toBe(bad.length);
    expect(h.stats().events).toBe(2);
    expect(h.stats().duplicates).toBe(1);
    await h.stop();

    const dl = await consumeAll(k, cfg.source.kafka.dead_letter_topic, bad.length);
    expect(dl.length).toBe(bad.length);
    const byValue = new Map(dl.map((m) => [m.value!.toString(), readDeadLetterHeaders(m.headers)]));
    expect(byValue.get('{not json')?.['x-m2m-reason-code']).toBe('bad_json');
    expect(byValue.get(bad[1]!)?.['x-m2m-reason']).toMatch(/metrics/);
    expect(byValue.get(bad[2]!)?.['x-m2m-reason-code']).toBe('bad_timestamp');
    expect(byValue.get(bad[3]!)?.['x-m2m-field']).toBe('dst_ip');
    expect(byValue.get(bad[4]!)?.['x-m2m-reason-code']).toBe('oversized');
    expect(byValue.get(bad[5]!)?.['x-m2m-reason-code']).toBe('future_timestamp');
    expect(byValue.get(bad[5]!)?.['x-m2m-field']).toBe('ts');
    expect(byValue.get(bad[5]!)?.['x-m2m-reason']).toMatch(/ahead of the wall clock.*max_future_skew/);
    for (const h of byValue.values()) expect(h['x-m2m-source-topic']).toBe(cfg.source.kafka.topics[0]);
  });

  it('neither duplicates nor loses findings across a graceful restart and a crash replay', async () => {
    const name = uid('restart');
    const cfg = testPipeline(name, [['metric_baseline', {}]]);
    const topic = cfg.source.kafka.topics[0]!;
    const a = sensorWithSpike('sensor-a');
    const b = sensorWithSpike('sensor-b');

    // 1. First run processes device a and stops gracefully.
    let h = await run(cfg);
    await produce(k, topic, a.map((value) => ({ key: 'sensor-a', value })));
    await caughtUp(h, a.length);
    await h.stop();
    const afterFirst = await findingsOf(name);
    expect(afterFirst.length).toBeGreaterThanOrEqual(1);

    // 2. The restart restores state and offsets: device b arrives, a's findings stay once.
    h = await run(cfg);
    await produce(k, topic, b.map((value) => ({ key: 'sensor-b', value })));
    await waitFor(async () => (await findingsOf(name)).some((r) => r.device_id === 'sensor-b'), 60_000);
    await h.stop();
    const afterSecond = await findingsOf(name);
    expect(afterSecond.filter((r) => r.device_id === 'sensor-a').map((r) => r.finding_id)).toEqual(afterFirst.map((r) => r.finding_id));
    for (const r of afterSecond) expect(Number(r.n)).toBe(1);

    // 3. A crash replay: a fresh group re-reads everything from the start with fresh state
    //    (as if its checkpoints were lost); deterministic ids collapse the rewritten rows.
    const replayCfg = { ...cfg, source: { kafka: { ...cfg.source.kafka, group: `${cfg.source.kafka.group}-replay` } } };
    h = await run(replayCfg);
    await caughtUp(h, a.length + b.length);
    await h.stop();
    const afterReplay = await findingsOf(name);
    expect(afterReplay.map((r) => r.finding_id)).toEqual(afterSecond.map((r) => r.finding_id));
    for (const r of afterReplay) expect(Number(r.n)).toBe(1);
  });
});
