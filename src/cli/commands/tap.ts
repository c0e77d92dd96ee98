/**
 * `m2m-sentinel tap <pipeline>`: what a pipeline sees, live, like `vector tap`. Each message of
 * the pipeline's source topics goes through the pipeline's own decoder (its mapping included)
 * and is printed as the event the detectors get, or as the reason it would be dead-lettered;
 * `--dead-letters` reads the dead-letter topic instead, with the reasons from its headers.
 * Nothing is committed: tapping never moves or takes a pipeline's partitions.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadPipelineFile } from '../../config/load.js';
import { formatConfigError } from '../../config/errors.js';
import { parseDuration } from '../../lib/duration.js';
import { decodeEvent, type DecodeError } from '../../events/decode.js';
import type { M2MEvent } from '../../events/types.js';
import { brokersFromEnv, createKafka } from '../../kafka/client.js';
import { readDeadLetterHeaders } from '../../kafka/dead-letter.js';
import { tap, type TappedMessage } from '../../kafka/tap.js';
import { EXIT } from '../exit.js';
import { interactiveLogging } from '../logging.js';

/** Device text reaches a terminal: control characters (escape sequences) are shown, not obeyed. */
export function safe(s: string, max = 200): string {
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return t.length > max ? `${t.slice(0, max)}…(+${t.length - max})` : t;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function eventText(e: M2MEvent): string {
  const who = `${safe(e.device_id, 80)} (${safe(e.device_class, 40)})`;
  if (e.type === 'telemetry') {
    const m = Object.entries(e.metrics).map(([k, v]) => `${safe(k, 40)}=${v}`).join(' ');
    return `${iso(e.ts)} telemetry  ${who} ${m}${e.firmware ? ` fw=${safe(e.firmware, 40)}` : ''}${e.seq !== undefined ? ` seq=${e.seq}` : ''}`;
  }
  const extra = [
    e.app_protocol ? safe(e.app_protocol, 40) : undefined,
    e.bytes_out !== undefined ? `out=${e.bytes_out}B` : undefined,
    e.bytes_in !== undefined ? `in=${e.bytes_in}B` : undefined,
    e.duration_ms !== undefined ? `${e.duration_ms}ms` : undefined,
    e.tls !== undefined ? (e.tls ? 'tls' : 'plaintext') : undefined,
    e.auth ? `auth=${e.auth}` : undefined,
  ].filter(Boolean);
  return `${iso(e.ts)} connection ${who} ${safe(e.src_ip, 64)} → ${safe(e.dst_ip, 64)}:${e.dst_port}/${safe(e.protocol, 16)}${extra.length ? ' ' + extra.join(' ') : ''}`;
}

function rejectText(err: DecodeError, value: Buffer | null): string {
  return `✗ ${err.code}${err.field ? ` (${safe(err.field, 60)})` : ''}: ${safe(err.message, 160)} | ${safe(value?.toString('utf8') ?? '', 160)}`;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got "${v}"`);
  return n;
}

function duration(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError(`expected a duration such as 30s or 5m, got "${v}"`);
  return ms;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

interface TapFlags {
  device: string[];
  deadLetters?: boolean;
  from: 'latest' | 'earliest';
  last?: number;
  limit?: number;
  for?: number;
  format: 'text' | 'json';
}

export function register(program: Command): void {
  program
    .command('tap')
    .summary("show a pipeline's live events as decoded, or its dead letters with their reasons")
    .description(
      "Read a pipeline's source topics and print every message as the pipeline decodes it (its mapping " +
        'applied): the event the detectors get, or why it would be dead-lettered. With --dead-letters, read ' +
        "the pipeline's dead-letter topic and print each record's reason and original bytes. Uses a throwaway " +
        "consumer group that commits nothing, so the running pipeline is not affected.",
    )
    .argument('<pipeline>', 'pipeline file (YAML)')
    .option('-d, --device <id>', 'only this device (repeatable)', collect, [])
    .option('--dead-letters', "read the dead-letter topic (reasons from its headers) instead of the source topics")
    .addOption(new Option('--from <where>', 'start at new messages or at the oldest retained').choices(['latest', 'earliest']).default('latest'))
    .option('--last <n>', 'start at the last n messages of each partition', positive)
    .option('-n, --limit <n>', 'stop after printing n messages', positive)
    .option('--for <duration>', 'stop after this long (default: until Ctrl-C)', duration)
    .addOption(new Option('--format <format>', 'text lines, or NDJSON with topic, partition and offset').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      `
Examples:
  m2m-sentinel tap pipelines/plant-floor.yaml                       live, as decoded
  m2m-sentinel tap pipelines/plant-floor.yaml -d plc-07 --last 20    one device's recent events
  m2m-sentinel tap pipelines/smart-meters.yaml --dead-letters --from earliest --format json | jq .reason
Exit status: 0 (also on Ctrl-C); 2 for an invalid pipeline; 3 when Kafka cannot be reached.`,
    )
    .action(async (file: string, o: TapFlags) => {
      const loaded = await loadPipelineFile(file);
      if (!loaded.pipeline) {
        for (const e of loaded.errors) process.stderr.write(formatConfigError(e) + '\n');
        process.exitCode = EXIT.usage;
        return;
      }
      interactiveLogging();
      const cfg = loaded.pipeline;
      const src = cfg.source.kafka;
      const kafka = createKafka({ brokers: src.brokers ?? brokersFromEnv(), clientId: 'm2m-sentinel-tap', retries: 2 });
      const devices = new Set(o.device);
      const decodeOpts = cfg.mapping ? { mapping: cfg.mapping } : {};
      const topics = o.deadLetters ? [src.dead_letter_topic] : src.topics;
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const timer = o.for ? setTimeout(() => ac.abort(), o.for) : undefined;
      timer?.unref();
      let printed = 0;
      let seen = 0;
      const write = (line: string) => process.stdout.write(line + '\n');
      process.stderr.write(`tapping ${topics.join(', ')} of pipeline ${cfg.name}${devices.size ? ` for ${[...devices].join(', ')}` : ''} (Ctrl-C to stop)\n`);

      const handle = (m: TappedMessage): boolean => {
        seen++;
        const where = { topic: m.topic, partition: m.partition, offset: m.offset };
        const key = m.key?.toString('utf8') ?? null;
        if (o.deadLetters) {
          if (devices.size && (key === null || !devices.has(key))) return true;
          const h = readDeadLetterHeaders(m.headers);
          const reason = { code: h['x-m2m-reason-code'] ?? 'unknown', message: h['x-m2m-reason'] ?? '', field: h['x-m2m-field'], source: { topic: h['x-m2m-source-topic'], partition: h['x-m2m-source-partition'], offset: h['x-m2m-source-offset'] } };
          if (o.format === 'json') write(JSON.stringify({ ...where, key, reason, value: m.value?.toString('utf8') ?? null }));
          else write(`${new Date(Number(m.timestamp)).toISOString()} ✗ ${safe(reason.code, 40)}${reason.field ? ` (${safe(reason.field, 60)})` : ''}: ${safe(reason.message, 160)} ← ${safe(reason.source.topic ?? '?', 120)}[${reason.source.partition ?? '?'}]@${reason.source.offset ?? '?'} | ${safe(m.value?.toString('utf8') ?? '', 160)}`);
        } else {
          const r = decodeEvent(m.value ?? Buffer.alloc(0), decodeOpts);
          const device = r.ok ? r.event.device_id : key;
          if (devices.size && (device === null || !devices.has(device))) return true;
          if (o.format === 'json') write(JSON.stringify(r.ok ? { ...where, event: { ...r.event, ts: iso(r.event.ts) } } : { ...where, key, error: r.error, value: m.value?.toString('utf8') ?? null }));
          else write(r.ok ? eventText(r.event) : rejectText(r.error, m.value));
        }
        printed++;
        return o.limit === undefined || printed < o.limit;
      };
      try {
        await tap(kafka, { topics, from: o.last !== undefined ? { last: o.last } : o.from, onMessage: handle, signal: ac.signal });
      } finally {
        if (timer) clearTimeout(timer);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      process.stderr.write(`tap: ${printed} printed of ${seen} read\n`);
      process.exitCode = EXIT.ok;
    });
}
