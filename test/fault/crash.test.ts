/**
 * SIGKILL the service at random points while a replay runs, restart it each time, and check
 * that nothing was lost or doubled: every event accounted for once, the dead-letter and alert
 * topics without duplicates, and the findings identical to a clean run's.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { accounting, committedToEnd, dumpFindings, kafkaAt, produceEvents, prngDelay, ready, scenario, sleep, startChild, waitFor, type Child } from './support/harness.js';
import { cleanRun, expectSameResults } from './support/runs.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const k = kafkaAt(brokers);

describe('fault: process killed mid-stream', () => {
  it('SIGKILL at random points, restarted each time: same results as a clean run', async () => {
    const ref = await cleanRun(k, brokers);

    const s = scenario('sigkill');
    const chDir = join(s.dir, 'ch');
    const delay = prngDelay(20260302);
    let child: Child = await startChild(s, { brokers, chDir, checkpointEveryMs: 300 });
    let kills = 0;
    const killAndRestart = async () => {
      // Once it runs, let it get somewhere (restores, batches, perhaps a checkpoint), then kill
      // it without warning.
      await ready(child);
      await sleep(delay(200, 1_500));
      child.proc.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      kills++;
      child = await startChild(s, { brokers, chDir, checkpointEveryMs: 300 });
    };
    // The replay: small chunks with pauses, so kills land while events are flowing.
    const chunk = 60;
    const killAt = new Set([4, 10, 16].map((n) => n * chunk));
    await produceEvents(k, s.topic, s.events, chunk, async (sent) => {
      await sleep(250);
      if (killAt.has(sent)) await killAndRestart();
    });
    await waitFor('committed to the end after the last restart', () => committedToEnd(k, s.group, s.topic), 120_000);
    child.proc.kill('SIGTERM');
    expect((await child.exited).code, `log: ${child.log}`).toBe(0);
    expect(kills).toBe(3);

    expectSameResults(ref, s, await accounting(k, s), await dumpFindings(chDir));
  }, 300_000);
});
