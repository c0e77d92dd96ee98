/**
 * Alert lifecycle through the real runner, broker and embedded ClickHouse: one alert per
 * device + detector + key, an update after the suppression window, an automatic close once the
 * device has been quiet (driven by other devices' event time), each change on the outbox topic
 * once and in ClickHouse (the alert's versions and its audit trail).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { kafka, testPipeline, produce, consumeAll, uid, tempDir, waitFor } from '../support/kafka.js';
import { openClickHouse, queryRows, type ClickHouseHandle } from '../../src/storage/clickhouse.js';
import { startPipeline } from '../../src/pipeline/runner.js';
import type { OcsfDetectionFinding } from '../../src/alerts/ocsf.js';
import { ensureTopics } from '../../src/kafka/topics.js';

const k = kafka();
let ch: ClickHouseHandle;
beforeAll(() => {
  ch = openClickHouse({ dataDir: join(tempDir('m2m-alc'), 'ch') });
});
afterAll(async () => {
  await ch.client.close();
});

const T0 = Date.UTC(2026, 2, 1, 0, 0, 0);
const conn = (device: string, ts: number, port: number, tls: boolean) =>
  JSON.stringify({ type: 'connection', device_id: device, device_class: 'plc', ts: new Date(ts).toISOString(), src_ip: '10.20.0.7', dst_ip: '10.20.0.1', dst_port: port, protocol: 'tcp', tls, auth: 'ok' });

describe('alert lifecycle in the runner', () => {
  it('creates, updates after the window and auto-closes one alert, on the outbox and in ClickHouse', async () => {
    const name = uid('life');
    const cfg = testPipeline(name, [['policy', { require_tls_ports: [8883] }]], {});
    cfg.alerts.auto_close_ms = 2 * 3_600_000;
    const lines: Array<{ key: string; value: string }> = [];
    // plc-1 talks plaintext MQTT-over-TLS port every minute for 10 min, again at +40 min (past
    // the 30 min window), then stops; plc-2 goes on with clean traffic for 3 more hours.
    for (let m = 0; m < 10; m++) lines.push({ key: 'plc-1', value: conn('plc-1', T0 + m * 60_000, 8883, false) });
    lines.push({ key: 'plc-1', value: conn('plc-1', T0 + 40 * 60_000, 8883, false) });
    for (let m = 0; m <= 4 * 60; m += 5) lines.push({ key: 'plc-2', value: conn('plc-2', T0 + m * 60_000, 8883, true) });
    lines.sort((a, b) => JSON.parse(a.value).ts.localeCompare(JSON.parse(b.value).ts));
    // One partition: the quiet device's alert closes on the event time of the other device.
    await ensureTopics(k, [{ topic: cfg.source.kafka.topics[0]!, partitions: 1 }]);
    const alerts: OcsfDetectionFinding[] = [];
    const h = await startPipeline(cfg, { kafka: k, clickhouse: ch.client, productVersion: 'test' }, { checkpointEveryMs: 200, onAlert: (a) => alerts.push(a) });
    await produce(k, cfg.source.kafka.topics[0]!, lines);
    await waitFor(async () => alerts.some((a) => a.activity_name === 'Close'), 60_000);
    await waitFor(async () => {
      let sum = 0n;
      for (const v of h.positions().values()) sum += v > 0n ? v : 0n;
      return sum >= BigInt(lines.length);
    }, 60_000);
    await h.stop();

    const mine = alerts.filter((a) => a.device.uid === 'plc-1');
    expect(mine.map((a) => [a.activity_name, a.status ?? null])).toEqual([
      ['Create', 'New'],
      ['Update', null],
      ['Close', 'Resolved'],
    ]);
    const id = mine[0]!.finding_info.uid;
    expect(new Set(mine.map((a) => a.finding_info.uid))).toEqual(new Set([id]));
    expect(mine[2]!.time).toBe(T0 + 40 * 60_000 + 2 * 3_600_000);
    expect(mine[2]!.count).toBe(11);

    // Each change once on the topic, keyed by device, with its own change id.
    const onTopic = await consumeAll(k, `${name}.alerts`, alerts.length, 20_000);
    expect(onTopic.map((m) => m.headers!['x-m2m-alert-id']!.toString()).sort()).toEqual(alerts.map((a) => a.metadata.uid).sort());
    expect(onTopic.every((m) => m.key!.toString() === JSON.parse(m.value!.toString()).device.uid)).toBe(true);

    // The alert's latest version and its audit trail in ClickHouse.
    const [row] = await queryRows<{ severity: string; count: number; findings: number; closed_ts: string | null; seq: number }>(ch.client, 'SELECT severity, count, findings, toString(closed_ts) AS closed_ts, seq FROM m2m.alerts FINAL WHERE alert_id = {id:String}', { id });
    expect(row).toMatchObject({ severity: 'medium', count: 11, closed_ts: '2026-03-01 02:40:00.000' });
    const trail = await queryRows<{ action: string; actor: string; status: string }>(ch.client, 'SELECT action, actor, status FROM m2m.alert_events FINAL WHERE alert_id = {id:String} ORDER BY seq', { id });
    expect(trail).toEqual([
      { action: 'create', actor: 'm2m-sentinel', status: 'new' },
      { action: 'update', actor: 'm2m-sentinel', status: '' },
      { action: 'close', actor: 'm2m-sentinel', status: 'resolved' },
    ]);
  }, 120_000);
});
