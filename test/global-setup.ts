/**
 * Start the real local Apache Kafka broker for the suite (or reuse one already listening), so
 * `npm test` works on its own on a clean machine. A broker we did not start is never stopped.
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';

const port = Number(process.env.KAFKA_PORT ?? 9092);

function listening(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

let startedHere = false;

export async function setup(): Promise<void> {
  process.env.KAFKA_BROKERS ??= `127.0.0.1:${port}`;
  if (await listening()) return;
  execFileSync('bash', ['scripts/kafka.sh', 'start'], { stdio: 'inherit', env: { ...process.env, KAFKA_PORT: String(port) } });
  startedHere = true;
}

export async function teardown(): Promise<void> {
  if (startedHere) execFileSync('bash', ['scripts/kafka.sh', 'stop'], { stdio: 'inherit', env: { ...process.env, KAFKA_PORT: String(port) } });
}
