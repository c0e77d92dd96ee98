/**
 * Stop and start the Kafka broker under a running service. Uses a broker of its own (separate
 * port and data directory) so the broker the rest of the suite shares is never touched. The
 * service must stay up, report itself degraded while the broker is away, catch up afterwards,
 * and end with exactly a clean run's results.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { accounting, committedToEnd, committedTotal, dumpFindings, freePort, health, kafkaAt, produceEvents, ready, ROOT, scenario, sleep, startChild, waitFor } from './support/harness.js';
import { cleanRun, expectSameResults } from './support/runs.js';
import { tempDir } from '../support/kafka.js';

const mainBrokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
// Ports of its own, picked free at start, so this broker can never be one someone else uses
// (scripts/kafka.sh reuses a broker already answering on its port, and would not stop it).
let brokers = '';
const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_DATA_DIR: tempDir('m2m-fault-kafka'), KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m' };
const broker = (cmd: 'start' | 'stop') => execFileSync('bash', ['scripts/kafka.sh', cmd], { cwd: ROOT, env, stdio: 'inherit', timeout: 150_000 });

beforeAll(async () => {
  const port = await freePort();
  let controller = await freePort();
  while (controller === port) controller = await freePort();
  env.KAFKA_PORT = String(port);
  env.KAFKA_CONTROLLER_PORT = String(controller);
  brokers = `127.0.0.1:${port}`;
  broker('start');
}, 180_000);
afterAll(() => {
  if (env.KAFKA_PORT) broker('stop');
}, 60_000);

describe('fault: broker restart', () => {
  it('keeps running through a broker stop/start mid-run, reports degraded, catches up exactly', async () => {
    const ref = await cleanRun(kafkaAt(mainBrokers), mainBrokers);

    const k = kafkaAt(brokers);
    const s = scenario('broker');
    const chDir = join(s.dir, 'ch');
    const child = await startChild(s, { brokers, chDir, checkpointEveryMs: 400 });
    await ready(child);
    let sawDegraded = false;
    await produceEvents(k, s.topic, s.events, 80, async (sent) => {
      await sleep(150);
      if (sent !== 560) return;
      // The service has checkpointed real progress (a fresh broker first has to create its
      // transaction log), so the outage interrupts work rather than start-up.
      await waitFor('first checkpoints', async () => (await committedTotal(k, s.group, s.topic)) >= 300n, 90_000);
      broker('stop');
      // Down for a while: the service notices, says so, and stays alive.
      const h = await waitFor('degraded while the broker is down', async () => {
        const x = await health(child);
        return x && x.status !== 'ok' ? x : undefined;
      }, 45_000);
      sawDegraded = h.status === 'degraded';
      await sleep(3_000);
      expect(child.proc.exitCode, `log: ${child.log}`).toBeNull();
      broker('start');
    });
    expect(sawDegraded).toBe(true);
    await waitFor('committed to the end after the restart', () => committedToEnd(k, s.group, s.topic), 180_000);
    await waitFor('healthy again', async () => (await health(child))?.status === 'ok', 60_000);
    child.proc.kill('SIGTERM');
    expect((await child.exited).code, `log: ${child.log}`).toBe(0);

    expectSameResults(ref, s, await accounting(k, s), await dumpFindings(chDir));
  }, 400_000);
});
