/** Start/stop the bundled local Apache Kafka broker (scripts/kafka.sh) from the CLI. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';

const script = fileURLToPath(new URL('../../scripts/kafka.sh', import.meta.url));

export function brokerAnswers(host: string, port: number): Promise<boolean> {
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
  return true;
}

export function stopLocalBroker(port = 9092): void {
  execFileSync('bash', [script, 'stop'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, KAFKA_PORT: String(port) } });
}

export function brokerVersion(): string {
  return execFileSync('bash', [script, 'version'], { encoding: 'utf8' }).trim();
}
