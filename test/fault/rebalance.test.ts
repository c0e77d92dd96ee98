/**
 * Two instances in one consumer group, each with its own embedded ClickHouse, and rebalances
 * forced mid-stream (an instance joins, one leaves, it comes back). Partitions and their state
 * move between instances through the changelog; the union of both stores must equal a clean
 * single run, and every event must be accounted for once.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { accounting, committedToEnd, dumpFindings, kafkaAt, newest, produceEvents, ready, scenario, sleep, startChild, waitFor } from './support/harness.js';
import { cleanRun, expectSameResults } from './support/runs.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const k = kafkaAt(brokers);

describe('fault: rebalance between two instances', () => {
  it('moves partitions with their state mid-stream: union of findings equals a clean run', async () => {
    const ref = await cleanRun(k, brokers);

    const s = scenario('rebalance');
    const dirA = join(s.dir, 'ch-a');
    const dirB = join(s.dir, 'ch-b');
    let a = await startChild(s, { brokers, chDir: dirA, checkpointEveryMs: 400 });
    await ready(a);
    let b: Awaited<ReturnType<typeof startChild>> | undefined;
    const steps = new Map<number, () => Promise<void>>([
      // B joins: A gives up some partitions, B restores them from the changelog.
      [300, async () => {
        b = await startChild(s, { brokers, chDir: dirB, checkpointEveryMs: 400 });
        await ready(b);
      }],
      // A leaves gracefully: B takes every partition, with A's latest checkpoints.
      [700, async () => {
        a.proc.kill('SIGTERM');
        expect((await a.exited).code, `log: ${a.log}`).toBe(0);
      }],
      // A comes back: another split.
      [1000, async () => {
        a = await startChild(s, { brokers, chDir: dirA, checkpointEveryMs: 400 });
        await ready(a);
      }],
    ]);
    await produceEvents(k, s.topic, s.events, 50, async (sent) => {
      await sleep(200);
      await steps.get(sent)?.();
    });
    await waitFor('committed to the end', () => committedToEnd(k, s.group, s.topic), 120_000);
    a.proc.kill('SIGTERM');
    b!.proc.kill('SIGTERM');
    expect((await a.exited).code, `log: ${a.log}`).toBe(0);
    expect((await b!.exited).code, `log: ${b!.log}`).toBe(0);

    const [fa, fb] = [await dumpFindings(dirA), await dumpFindings(dirB)];
    // Both instances did real work, or this did not test a rebalance.
    expect(fa.length).toBeGreaterThan(0);
    expect(fb.length).toBeGreaterThan(0);
    expectSameResults(ref, s, await accounting(k, s), newest(fa, fb));
  }, 300_000);
});
