/**
 * Start the real local Apache Kafka broker for the suite (or reuse one already listening), so
 * `npm test` works on its own on a clean machine. A broker we did not start is never stopped.
 *
 * A broker started here gets a throwaway data directory: the suite creates hundreds of uniquely
 * named topics per run, and a persistent directory grows with every run until the broker spends
 * its first seconds loading thousands of partitions, answering "coordinator is loading" to the
 * first consumer groups. A fresh directory makes every run start from the same broker.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLocalBroker, stopLocalBroker } from '../src/cli/local-broker.js';
import { ensureBuilt } from './support/build.js';

const port = Number(process.env.KAFKA_PORT ?? 9092);
let startedHere = false;
let dataDir: string | undefined;

export async function setup(): Promise<void> {
  ensureBuilt(fileURLToPath(new URL('../', import.meta.url)));
  process.env.KAFKA_BROKERS ??= `127.0.0.1:${port}`;
  if (!process.env.KAFKA_DATA_DIR) {
    dataDir = mkdtempSync(join(tmpdir(), 'm2m-test-kafka-'));
    process.env.KAFKA_DATA_DIR = dataDir;
  }
  startedHere = await ensureLocalBroker(port);
  if (!startedHere && dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
    delete process.env.KAFKA_DATA_DIR;
    dataDir = undefined;
  }
}

export async function teardown(): Promise<void> {
  if (startedHere) stopLocalBroker(port);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
