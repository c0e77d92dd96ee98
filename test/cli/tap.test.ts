/**
 * `m2m-sentinel tap` against the real broker, as a data engineer runs it: a pipeline's messages
 * decoded through its own mapping, filtered by device, the rejects with their reason, and the
 * dead-letter topic with the reasons from its headers. It commits nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deadLetterMessage } from '../../src/kafka/dead-letter.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { kafka, produce, tempDir, uid } from '../support/kafka.js';
import { bin, DEAD_BROKER, STACK_FRAME } from '../support/bin.js';
import { eventText, safe } from '../../src/cli/commands/tap.js';

const k = kafka();
const name = uid('tap');
const topic = `${name}.flows`;
const dlq = `${name}.dlq`;
const dir = tempDir('m2m-tap');
const pipeline = join(dir, 'p.yaml');

beforeAll(async () => {
  // A mapping, so what tap prints is visibly the pipeline's decoding, not the raw message.
  writeFileSync(pipeline, `name: ${name}\nsource:\n  kafka: { topics: [${topic}], group: ${name}-g, dead_letter_topic: ${dlq} }\nmapping:\n  fields: { device_id: $.asset.name, ts: { path: $.t, format: epoch_s } }\n  constants: { type: telemetry, device_class: plc }\ndetectors:\n  - metric_baseline: {}\n`);
  await ensureTopics(k, [{ topic, partitions: 2 }, { topic: dlq, partitions: 1 }]);
  const t = 1_772_366_400; // 2026-03-01T12:00:00Z
  await produce(k, topic, [
    { key: 'plc-1', value: JSON.stringify({ asset: { name: 'plc-1' }, t, metrics: { temp: 41.5 } }) },
    { key: 'plc-2', value: JSON.stringify({ asset: { name: 'plc-2' }, t: t + 1, metrics: { temp: 20 } }) },
    { key: 'plc-1', value: JSON.stringify({ asset: { name: 'plc-1' }, t: t + 2, metrics: { temp: 42 } }) },
    { key: 'plc-1', value: 'not json \u001b[31m' },
  ]);
  const p = k.producer();
  await p.connect();
  await p.send({ topic: dlq, acks: -1, messages: [deadLetterMessage(Buffer.from('plc-9'), Buffer.from('{"asset":{}}'), { code: 'missing_field', field: 'device_id', message: 'device_id is missing' }, { pipeline: name, topic, partition: 0, offset: '17' })] });
  await p.disconnect();
}, 60_000);

describe('m2m-sentinel tap', () => {
  it('prints one device\'s events as the pipeline decodes them, and its rejects with the reason', async () => {
    const r = await bin(['tap', pipeline, '--from', 'earliest', '-d', 'plc-1', '--limit', '3', '--format', 'json', '--for', '40s']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    const events = lines.filter((l) => l.event).map((l) => l.event);
    expect(events.map((e) => [e.device_id, e.type, e.device_class, e.metrics.temp, e.ts])).toEqual([
      ['plc-1', 'telemetry', 'plc', 41.5, '2026-03-01T12:00:00.000Z'],
      ['plc-1', 'telemetry', 'plc', 42, '2026-03-01T12:00:02.000Z'],
    ]);
    const reject = lines.find((l) => l.error);
    expect(reject.error.code).toBe('bad_json');
    expect(reject.topic).toBe(topic);
    expect(r.stderr).toMatch(/tap: 3 printed/);
  }, 60_000);

  it('--dead-letters shows the reason, the field and where the record came from', async () => {
    const r = await bin(['tap', pipeline, '--dead-letters', '--from', 'earliest', '--limit', '1', '--for', '40s']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/✗ missing_field \(device_id\): device_id is missing ← .*\.flows\[0\]@17 \| \{"asset":\{\}\}/);
  }, 60_000);

  it('an invalid pipeline is exit 2, an unreachable broker exit 3, both in one line', async () => {
    const bad = await bin(['tap', 'test/fixtures/broken-pipelines/unknown-detector.yaml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).not.toMatch(STACK_FRAME);
    const down = await bin(['tap', pipeline, '--for', '20s'], { env: { KAFKA_BROKERS: DEAD_BROKER } });
    expect(down.code, down.stderr).toBe(3);
    expect(down.stderr).toContain(`Kafka at ${DEAD_BROKER}`);
    expect(down.stderr).not.toMatch(STACK_FRAME);
  }, 60_000);
});

describe('tap text', () => {
  it('shows control characters from devices instead of sending them to the terminal', () => {
    expect(safe('a\u001b[31mb\nc')).toBe('a\\u001b[31mb\\u000ac');
    const line = eventText({ type: 'connection', device_id: 'cam\u0007', device_class: 'camera', ts: 0, src_ip: '10.0.0.2', dst_ip: '1.2.3.4', dst_port: 23, protocol: 'tcp', tls: false, auth: 'failed' });
    expect(line).toBe('1970-01-01T00:00:00.000Z connection cam\\u0007 (camera) 10.0.0.2 → 1.2.3.4:23/tcp plaintext auth=failed');
  });
});
