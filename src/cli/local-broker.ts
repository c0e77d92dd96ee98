/** Start/stop the bundled local Apache Kafka broker (scripts/kafka.sh) from the CLI. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';

const script = fileURLToPath(new URL('../../scripts/kafka.sh', import.meta.url));

function brokerAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Ensure a broker on 127.0.0.1:port; returns true when this call started it. */
export async function ensureLocalBroker(port = 9092): Promise<boolean> {
  if (await brokerAnswers('127.0.0.1', port)) return false;
  execFileSync('bash', [script, 'start'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, KAFKA_PORT: String(port) } });
  await untilServing(port);
  return true;
}

/**
 * "Kafka Server started" is logged before a broker with many partitions on disk has loaded them:
 * for a while it answers metadata with "does not host this topic-partition" and group requests
 * with "coordinator is loading". Wait until a probe topic has a leader, takes a record and its
 * group coordinator answers, so the first real client does not meet a half-ready broker.
 */
async function untilServing(port: number, timeoutMs = 180_000): Promise<void> {
  const kafka = new Kafka({ clientId: 'm2m-ready-probe', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const topic = 'm2m-sentinel.ready-probe';
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const admin = kafka.admin();
    const producer = kafka.producer();
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await admin.fetchTopicMetadata({ topics: [topic] });
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'ready' }] });
      await admin.fetchOffsets({ groupId: 'm2m-sentinel.ready-probe', topics: [topic] });
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
  }
  throw new Error(`the local broker on port ${port} started but is not serving after ${timeoutMs / 1000}s: ${String(last)}`);
}

export function stopLocalBroker(port = 9092): void {
  execFileSync('bash', [script, 'stop'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, KAFKA_PORT: String(port) } });
}

export function brokerVersion(): string {
  return execFileSync('bash', [script, 'version'], { encoding: 'utf8' }).trim();
}

/** Pid of the broker scripts/kafka.sh started on this port (its bash wrapper), or undefined. */
export function localBrokerPid(port = 9092): number | undefined {
  try {
    const pid = Number(execFileSync('bash', [script, 'pid'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, KAFKA_PORT: String(port) } }).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
