/** `m2m-sentinel replay`: recorded events into Kafka, in event-time order, keyed by device. */
import { access, constants, stat } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { createKafka, brokersFromEnv } from '../../kafka/client.js';
import { ensureTopics } from '../../kafka/topics.js';
import { replay } from '../../kafka/replay.js';
import { createProgress } from '../progress.js';
import { countLines } from '../../events/files.js';
import { UsageError } from '../exit.js';
import { interactiveLogging } from '../logging.js';

/** Commander parser for --speed (a refused value is a usage error, exit 2, no stack). */
export function parseSpeed(s: string): number {
  if (s === 'max') return Number.POSITIVE_INFINITY;
  const n = Number(s);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a positive number or "max", got "${s}"`);
  return n;
}

function partitionCount(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got "${s}"`);
  return n;
}

/** Every input file readable and not a directory, before anything connects to Kafka. */
export async function checkInputFiles(files: string[]): Promise<void> {
  for (const f of files) {
    try {
      await access(f, constants.R_OK);
      if ((await stat(f)).isDirectory()) throw new UsageError(`${f}: is a directory, expected an NDJSON file`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot read it'}`);
    }
  }
}

/** "telemetry=a,connection=b" → chooser; unknown types go to the fallback topic. */
export function topicChooser(topic: string | undefined, byType: string | undefined): string | ((t: string | undefined) => string) {
  if (!byType) {
    if (!topic) throw new UsageError('say where events go: --topic T, or --by-type telemetry=T1,connection=T2');
    return topic;
  }
  const map = new Map(byType.split(',').map((kv) => kv.split('=') as [string, string]));
  for (const [k, v] of map) if (!k || !v) throw new UsageError(`--by-type expects type=topic pairs, got "${byType}"`);
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
    .option('-s, --speed <factor>', 'event-time speed-up factor (60 = one hour per minute) or "max" (default: max)', parseSpeed)
    .option('--partitions <n>', 'partitions for topics that do not exist yet', partitionCount, 4)
    .addHelpText(
      'after',
      `
Lines that are not valid events are sent unchanged, so a recording's bad input reaches the
pipeline's dead-letter topic exactly as it would in production.

Examples:
  m2m-sentinel replay fixtures/demo-fleet.ndjson.gz --by-type telemetry=m2m.telemetry,connection=m2m.connections
  m2m-sentinel replay plant.ndjson --topic m2m.connections --speed 60`,
    )
    .action(async (files: string[], o: { topic?: string; byType?: string; speed?: number; partitions: number }) => {
      // Everything the user typed is checked before the first connection attempt.
      const topic = topicChooser(o.topic, o.byType);
      const speed = o.speed ?? Number.POSITIVE_INFINITY;
      await checkInputFiles(files);
      interactiveLogging();
      const kafka = createKafka({ brokers: brokersFromEnv(), retries: 2 });
      const topics = typeof topic === 'string' ? [topic] : [...new Set([...(o.byType ?? '').split(',').map((kv) => kv.split('=')[1]!), ...(o.topic ? [o.topic] : [])])];
      await ensureTopics(kafka, topics.map((t) => ({ topic: t, partitions: o.partitions })));
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
