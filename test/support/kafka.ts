/** Helpers for tests that talk to the real local broker and the embedded ClickHouse. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { createKafka } from '../../src/kafka/client.js';
import type { PipelineConfig } from '../../src/config/types.js';
import { detectorSpec } from '../../src/detectors/registry.js';
import { withDefaults } from '../../src/detectors/params.js';
import { defaultFleet } from '../../src/config/fleet.js';

export const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export const kafka = (): Kafka => createKafka({ clientId: 'm2m-test' });

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `${prefix}-`));

/** A pipeline in code, so integration tests do not depend on the YAML layer. */
export function testPipeline(name: string, detectors: Array<[string, Record<string, unknown>]>, over: Partial<PipelineConfig> = {}): PipelineConfig {
  return {
    name,
    source: { kafka: { topics: [`${name}.events`], group: `${name}-group`, start: 'earliest', format: 'json', dead_letter_topic: `${name}.dlq` } },
    entities: { key: 'device_id', idle_eviction_ms: 7 * 86_400_000 },
    allowed_lateness_ms: 60_000,
    detectors: detectors.map(([type, params]) => {
      const spec = detectorSpec(type);
      if (!spec) throw new Error(`no detector ${type}`);
      return { type, id: type, params: withDefaults(spec, params) };
    }),
    // The device stage alone: these tests pin down its own outputs.
    fleet: defaultFleet(false),
    findings: { clickhouse: { database: 'm2m', table: 'findings', ttl_days: 30 } },
    alerts: { min_severity: 'medium', suppress_ms: 30 * 60_000, routes: [{ type: 'kafka', name: 'kafka', options: { topic: `${name}.alerts` } }] },
    ...over,
  };
}

export async function produce(k: Kafka, topic: string, messages: Array<{ key: string | null; value: string | Buffer }>): Promise<void> {
  const p = k.producer();
  await p.connect();
  for (let i = 0; i < messages.length; i += 1000) await p.send({ topic, messages: messages.slice(i, i + 1000), acks: -1 });
  await p.disconnect();
}

/** Read everything currently in a topic (from the beginning) until `count` messages or timeout. */
export async function consumeAll(k: Kafka, topic: string, count: number, timeoutMs = 30_000): Promise<KafkaMessage[]> {
  const c = k.consumer({ groupId: uid('reader') });
  const out: KafkaMessage[] = [];
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    void c.run({
      eachMessage: async ({ message }) => {
        out.push(message);
        if (out.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await c.disconnect();
  return out;
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
