/** kafkajs wiring: one Kafka instance per process, logging through pino. */
import kafkajs, { Kafka, logLevel, type KafkaConfig, type logCreator } from 'kafkajs';
import { promisify } from 'node:util';
import { gzip, unzip } from 'node:zlib';
import { logger } from '../obs/log.js';
import { kafkajsSecurity, kafkaSecurityFromEnv, type KafkaSecurity } from './security.js';

export function brokersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean);
}

const toPino: logCreator = () => ({ namespace, level, log }) => {
  const { message, ...extra } = log;
  const l = logger().child({ component: 'kafkajs', namespace });
  // Our transactional producers bound their retries on purpose (the transaction keeps a retried
  // checkpoint safe), so kafkajs' warning about it is noise.
  if (message.startsWith('Limiting retries for the idempotent producer')) return l.debug(extra, message);
  // kafkajs logs expected, retried conditions (coordinator moving, rebalances) as ERROR.
  if (level === logLevel.ERROR || level === logLevel.WARN) l.warn(extra, message);
  else if (level === logLevel.INFO) l.debug(extra, message);
  else l.trace(extra, message);
};

// kafkajs' gzip runs zlib at its default level (6). Checkpoints compress tens of MB of device
// state per partition and hold that partition (and kafkajs' fetch round) until they commit; level
// 1 compresses ~3× faster for a slightly larger output (bench: 44k → 51k events/s), and every
// gzip reader decodes it alike.
const GZIP_LEVEL = 1;
const gzipAsync = promisify(gzip);
const unzipAsync = promisify(unzip);

/**
 * Largest size a compressed record batch may expand to. Whoever can write to a topic chooses the
 * ratio: 255 KiB of gzip became 256 MiB in memory before this. Legitimate batches are far below
 * it (our own produce requests hold at most 512 KiB; device producers batch 16 KiB to 1 MiB).
 * Only gzip is registered: batches in snappy, lz4 or zstd are refused by kafkajs unread.
 */
export const MAX_DECOMPRESSED_BYTES = Number(process.env.KAFKA_MAX_DECOMPRESSED_BYTES ?? 32 * 1024 * 1024);

/**
 * Non-retriable to kafkajs, so the consumer stops with this reason (reported, the pipeline down)
 * instead of fetching the same batch again and again.
 */
class DecompressionLimit extends kafkajs.KafkaJSNonRetriableError {
  override name = 'DecompressionLimit';
}

kafkajs.CompressionCodecs[kafkajs.CompressionTypes.GZIP] = () => ({
  compress: (encoder: { buffer: Buffer }) => gzipAsync(encoder.buffer, { level: GZIP_LEVEL }),
  // zlib stops at the limit instead of allocating whatever the stream says.
  decompress: (buffer: Buffer) =>
    unzipAsync(buffer, { maxOutputLength: MAX_DECOMPRESSED_BYTES }).catch((e: NodeJS.ErrnoException) => {
      if (e?.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw new DecompressionLimit(`a gzip record batch of ${buffer.length} bytes expands beyond ${MAX_DECOMPRESSED_BYTES} bytes (KAFKA_MAX_DECOMPRESSED_BYTES): refused as a decompression bomb`);
      }
      throw e;
    }),
});

export interface KafkaClientOptions {
  brokers?: string[];
  clientId?: string;
  /** TLS and SASL; default: from the environment (KAFKA_SSL_*, KAFKA_SASL_*). */
  security?: KafkaSecurity;
  /** Commands a person waits on pass fewer retries, so a wrong address fails in seconds. */
  retries?: number;
}

export function createKafka(opts: KafkaClientOptions = {}): Kafka {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  const cfg: KafkaConfig = {
    clientId: opts.clientId ?? 'm2m-sentinel',
    brokers: opts.brokers ?? brokersFromEnv(),
    ...kafkajsSecurity(opts.security ?? kafkaSecurityFromEnv()),
    logLevel: logLevel.WARN,
    logCreator: toPino,
    connectionTimeout: 5_000,
    // A broker that is down is retried with backoff, not skipped; the runner reports degraded.
    // (Commands a person waits on pass fewer retries, so a wrong address fails in seconds.)
    retry: { initialRetryTime: 300, retries: opts.retries ?? 10, maxRetryTime: 10_000 },
  };
  return new Kafka(cfg);
}

/**
 * Whether a kafkajs error can go away by itself (a broker restarting, a coordinator moving) or
 * is a refusal that retrying cannot change (an invalid topic name, an authorisation failure).
 */
export function isRetriable(e: unknown): boolean {
  const err = e as { retriable?: boolean; errors?: unknown[]; type?: string; name?: string };
  if (Array.isArray(err?.errors) && err.errors.length > 0) return err.errors.some(isRetriable);
  if (err?.type === 'INVALID_TOPIC_EXCEPTION' || /_AUTHORIZATION_FAILED$|^SASL_AUTHENTICATION_FAILED$/.test(err?.type ?? '')) return false;
  if (err?.name === 'KafkaJSSASLAuthenticationError' || e instanceof DecompressionLimit) return false;
  if (err?.name === 'AccessDenied' || err?.name === 'KafkaSecurityError') return false;
  return err?.retriable !== false;
}
