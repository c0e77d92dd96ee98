/** The bench's topics on the broker: the preloaded fleet, and each run's own topics and pipeline. */
import type { Kafka, Message } from 'kafkajs';
import type { PipelineConfig } from '../src/config/types.js';
import { FleetGen, type GenOptions } from '../src/sim/bench-fleet.js';
import { sleep } from './orchestrate.js';

/** The pipeline under test with bench topics, group and outbox; everything else as configured. */
export function benchPipeline(base: PipelineConfig, topic: string, group: string, runId: string, tag: string): PipelineConfig {
  return {
    ...base,
    name: `bench_${tag}`,
    source: { kafka: { ...base.source.kafka, topics: [topic], group, start: 'earliest', dead_letter_topic: `bench.${runId}.${tag}.dlq` } },
    alerts: { ...base.alerts, routes: [{ type: 'kafka', name: 'kafka', options: { topic: `bench.${runId}.${tag}.alerts` } }] },
  };
}

export async function topicEvents(kafka: Kafka, topic: string): Promise<{ partitions: number; events: number } | null> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return null;
    const offs = await admin.fetchTopicOffsets(topic);
    return { partitions: offs.length, events: offs.reduce((n, o) => n + Number(o.high) - Number(o.low), 0) };
  } finally {
    await admin.disconnect();
  }
}

export async function recreateTopic(kafka: Kafka, topic: string, partitions: number, exists: boolean): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (exists) {
      await admin.deleteTopics({ topics: [topic] });
      await sleep(2_000);
    }
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }] });
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

/** Produce the generated fleet as fast as the broker takes it, several batches in flight. */
export async function preload(kafka: Kafka, topic: string, g: GenOptions, log: (s: string) => void): Promise<{ seconds: number; bytes: number }> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const gen = new FleetGen(g);
  const t0 = Date.now();
  let sent = 0;
  let bytes = 0;
  const inflight = new Set<Promise<unknown>>();
  let lastLog = 0;
  for (;;) {
    const raws = gen.take(5_000);
    if (!raws.length) break;
    const messages: Message[] = raws.map((value) => {
      bytes += value.length;
      // The key is the device id, as devices (and replay) send it, so partitioning is real.
      const i = value.indexOf('"device_id":"') + 13;
      return { key: value.slice(i, value.indexOf('"', i)), value };
    });
    const p = producer.send({ topic, messages, acks: 1 }).then(() => {
      sent += messages.length;
      inflight.delete(p);
    });
    inflight.add(p);
    if (inflight.size >= 4) await Promise.race(inflight);
    if (Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      log(`  preload ${sent.toLocaleString('en')} / ${g.events.toLocaleString('en')}`);
    }
  }
  await Promise.all(inflight);
  await producer.disconnect();
  return { seconds: (Date.now() - t0) / 1000, bytes };
}
