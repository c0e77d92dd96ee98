/**
 * Start the real local Apache Kafka broker for the suite (or reuse one already listening), so
 * `npm test` works on its own on a clean machine. A broker we did not start is never stopped.
 */
import { ensureLocalBroker, stopLocalBroker } from '../src/cli/local-broker.js';

const port = Number(process.env.KAFKA_PORT ?? 9092);
let startedHere = false;

export async function setup(): Promise<void> {
  process.env.KAFKA_BROKERS ??= `127.0.0.1:${port}`;
  startedHere = await ensureLocalBroker(port);
}

export async function teardown(): Promise<void> {
  if (startedHere) stopLocalBroker(port);
}
