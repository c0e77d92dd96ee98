/** `m2m-sentinel replay`: recorded events into Kafka, in event-time order, keyed by device. */
import type { Command } from 'commander';
import { createKafka, brokersFromEnv } from '../../kafka/client.js';
import { ensureTopics } from '../../kafka/topics.js';
import { replay } from '../../kafka/replay.js';
import { createProgress } from '../progress.js';
import { countLines } from '../../events/files.js';

export function parseSpeed(s: string): number {
  if (s === 'max') return Number.POSITIVE_INFINITY;
  const n = Number(s);
  if (!(n > 0)) throw new Error(`--speed must be a positive number or "max", got ${s}`);
  return n;
}

/** "telemetry=a,connection=b" → chooser; unknown types go to the fallback topic. */
export function topicChooser(topic: string | undefined, byType: string | undefined): string | ((t: string | undefined) => string) {
  if (!byType) {
    if (!topic) throw new Error('give --topic, or --by-type telemetry=T1,connection=T2');
    return topic;
  }
  const map = new Map(byType.split(',').map((kv) => kv.split('=') as [string, string]));
  for (const [k, v] of map) if (!k || !v) throw new Error(`--by-type expects type=topic pairs, got ${byType}`);
  const fallback = topic ?? [...map.values()][0]!;
  return (t) => (t ? map.get(t) ?? fallback : fallback);
}

export function register(program: Command): void {
  program
    .command('replay')
    .description('Replay NDJSON event files into Kafka in event-time order, keyed by device_id')
    .argument('<files...>', 'NDJSON files (optionally .gz), in event-time order')
    .option('-t, --topic <topic>', 'destination topic (or the fallback with --by-type)')
    .option('--by-type <map>', 'route by event type, e.g. telemetry=m2m.telemetry,connection=m2m.connections')
    .option('-s, --speed <factor>', 'event-time speed-up factor (60 = one hour per minute) or "max"', 'max')
    .option('--partitions <n>', 'partitions for topics that do not exist yet', '4')
    .addHelpText(
      'after',
      `
Lines that are not valid events are sent unchanged, so a recording's bad input reaches the
pipeline's dead-letter topic exactly as it would in production.

Examples:
  m2m-sentinel replay fixtures/demo-fleet.ndjson.gz --by-type telemetry=m2m.telemetry,connection=m2m.connections
  m2m-sentinel replay plant.ndjson --topic m2m.connections --speed 60`,
    )
    .action(async (files: string[], o: { topic?: string; byType?: string; speed: string; partitions: string }) => {
      const topic = topicChooser(o.topic, o.byType);
      const speed = parseSpeed(o.speed);
      const kafka = createKafka({ brokers: brokersFromEnv() });
      const topics = typeof topic === 'string' ? [topic] : [...new Set([...(o.byType ?? '').split(',').map((kv) => kv.split('=')[1]!), ...(o.topic ? [o.topic] : [])])];
      await ensureTopics(kafka, topics.map((t) => ({ topic: t, partitions: Number(o.partitions) })));
      let total = 0;
      for (const f of files) total += await countLines(f);
      const bar = createProgress({ label: 'replay', unit: 'events' });
      const res = await replay(kafka, { files, topic, speed, onProgress: (p) => bar.update(p.sent / Math.max(total, 1), p.sent) });
      bar.done();
      process.stdout.write(
        `replayed ${res.sent} events (${(res.bytes / 1e6).toFixed(1)} MB) → ${Object.entries(res.topics).map(([t, n]) => `${t}: ${n}`).join(', ')}\n`,
      );
    });
}
