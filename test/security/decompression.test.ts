/**
 * A gzip "bomb" on a topic the service reads: 256 KiB of gzip that expands to 256 MiB used to be
 * inflated in full. The codec now stops at the limit, and a pipeline reading such a batch stops
 * with the reason instead of running out of memory or refetching the batch forever.
 */
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import kafkajs from 'kafkajs';
import { MAX_DECOMPRESSED_BYTES } from '../../src/kafka/client.js';
import { startPipeline } from '../../src/pipeline/runner.js';
import { openClickHouse } from '../../src/storage/clickhouse.js';
import { snapshot } from '../../src/server/health.js';
import { kafka, tempDir, testPipeline, uid, waitFor } from '../support/kafka.js';
import { join } from 'node:path';

const codec = () => kafkajs.CompressionCodecs[kafkajs.CompressionTypes.GZIP]!() as unknown as { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };

describe('gzip from Kafka', () => {
  it('refuses to expand a batch past the limit, and still reads ordinary batches', async () => {
    const bomb = gzipSync(Buffer.alloc(MAX_DECOMPRESSED_BYTES * 2), { level: 9 });
    expect(bomb.length).toBeLessThan(256 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    await expect(codec().decompress(bomb)).rejects.toThrow(/expands beyond 33554432 bytes .* decompression bomb/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MAX_DECOMPRESSED_BYTES * 1.5);
    const ok = Buffer.from('{"type":"telemetry"}'.repeat(10_000));
    expect((await codec().decompress(await codec().compress({ buffer: ok }))).equals(ok)).toBe(true);
  });

  it('a pipeline that meets a bomb on its topic stops with the reason, once', async () => {
    const k = kafka();
    const cfg = testPipeline(uid('bomb'), [['fanout', {}]]);
    const p = k.producer();
    await p.connect();
    // Our own producer compresses with the same codec: one record that inflates to 64 MiB.
    await p.send({ topic: cfg.source.kafka.topics[0]!, compression: kafkajs.CompressionTypes.GZIP, messages: [{ key: 'x', value: Buffer.alloc(MAX_DECOMPRESSED_BYTES * 2) }] });
    await p.disconnect();
    const ch = openClickHouse({ dataDir: join(tempDir('m2m-bomb'), 'ch') });
    const handle = await startPipeline(cfg, { kafka: k, clickhouse: ch.client, productVersion: 't' }, { detectWorkers: 0 });
    try {
      const h = await waitFor(async () => {
        const s = snapshot()[`pipeline:${cfg.name}`];
        return s?.status === 'down' ? s : undefined;
      }, 60_000);
      expect(h.detail).toMatch(/decompression bomb/);
      expect(process.memoryUsage().rss).toBeLessThan(3 * 1024 ** 3);
    } finally {
      await handle.stop();
      await ch.client.close();
    }
  }, 90_000);
});
