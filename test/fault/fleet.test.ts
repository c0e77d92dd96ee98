/**
 * The fleet stage under SIGKILL: the service (`m2m-sentinel run`, a child process) is killed at
 * random points while the fleet with a class-wide migration and a worm (fleet-scenario.ts) is
 * replayed into it, and restarted each time. Its fleet partition is then rebuilt by replaying the
 * fleet topic; the findings in ClickHouse and the alerts on the outbox must be those of a clean
 * run, each alert once.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrame } from '../../src/fleet/frames.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { committedToEnd, dumpFindings, endOffsets, kafkaAt, produceEvents, prngDelay, readTopic, ready, scenario, sleep, startChild, waitFor, type Child, type FindingRow, type Scenario } from './support/harness.js';
import { fleetEvents, IMPLANTED, toJson, VEHICLES } from '../support/fleet-scenario.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const k = kafkaAt(brokers);
const events = fleetEvents().map((e) => ({ key: e.device_id, value: toJson(e), bad: false }));

function fleetScenario(label: string): Scenario {
  const s = scenario(label, events);
  writeFileSync(
    s.yaml,
    `name: fault-fleet
source:
  kafka: { topics: [${s.topic}], group: ${s.group}, start: earliest, dead_letter_topic: ${s.dlq} }
detectors:
  - new_peer: { learning: 2h, min_connections: 10 }
  - beaconing: { learning: 2h, min_events: 8 }
  - fanout: { window: 5m, min_distinct_dst: 30 }
findings: { clickhouse: { table: findings } }
alerts:
  min_severity: medium
  routes:
    - kafka: { topic: ${s.alerts} }
`,
  );
  return s;
}

const fleetTopic = (s: Scenario) => `${s.group}.fleet`;

/** Once every event is checkpointed (so every fleet input is published): the end of input, consumed. */
async function finish(s: Scenario): Promise<void> {
  await waitFor('source committed to the end', () => committedToEnd(k, s.group, s.topic), 120_000);
  const p = k.producer();
  await p.connect();
  // The service creates its fleet topic at start; a busy broker may not list it in its metadata
  // at once ("does not host this topic-partition"), so ask until it does.
  const parts = [...(await waitFor('the fleet topic in the metadata', async () => endOffsets(k, fleetTopic(s)), 60_000)).keys()];
  await p.send({ topic: fleetTopic(s), acks: -1, messages: parts.map((partition) => ({ partition, key: 'end', value: encodeFrame({ src: 'end', w: Number.NEGATIVE_INFINITY, end: true }, []) })) });
  await p.disconnect();
  await waitFor('fleet stage committed to the end', () => committedToEnd(k, fleetTopic(s), fleetTopic(s)), 120_000);
}

/** The fleet group's committed offset (its one partition; -1 before its first commit). */
async function fleetCommitted(s: Scenario): Promise<bigint> {
  const admin = k.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: fleetTopic(s), topics: [fleetTopic(s)] });
    return (t?.partitions ?? []).reduce((n, p) => n + BigInt(p.offset), 0n);
  } finally {
    await admin.disconnect();
  }
}

async function results(s: Scenario, chDir: string): Promise<{ findings: FindingRow[]; alertIds: string[]; devices: string[] }> {
  const alerts = await waitFor('the outbox readable', async () => readTopic(k, s.alerts), 60_000);
  return { findings: await dumpFindings(chDir), alertIds: alerts.map((m) => m.headers['x-m2m-alert-id'] ?? '').sort(), devices: alerts.map((m) => m.key) };
}

async function stop(c: Child): Promise<void> {
  c.proc.kill('SIGTERM');
  expect((await c.exited).code, `log: ${c.log}`).toBe(0);
}

describe('fault: the fleet stage killed mid-stream', () => {
  it('SIGKILL at random points, restarted each time: the clean run\'s findings and alerts, each alert once', async () => {
    const clean = fleetScenario('fleet-clean');
    await ensureTopics(k, [{ topic: clean.topic, partitions: 2 }]);
    await produceEvents(k, clean.topic, clean.events, 500);
    const cleanCh = join(clean.dir, 'ch');
    const c0 = await startChild(clean, { brokers, chDir: cleanCh });
    await ready(c0, 120_000);
    await finish(clean);
    await stop(c0);
    const ref = await results(clean, cleanCh);
    // The reference must show the fleet view at work, or the comparison proves little.
    expect(ref.findings.filter((f) => f.detector === 'fleet_change').map((f) => f.device_id)).toEqual(['fleet:vehicle']);
    expect(ref.findings.filter((f) => String(f.evidence).includes('"verdict":"folded"')).length).toBeGreaterThanOrEqual(VEHICLES.length);
    // The fleet stage's own alerts (the implant's beacon, passed on; its updates), not only the device stage's.
    expect(ref.devices.filter((d) => d === IMPLANTED).length).toBeGreaterThan(1);

    const s = fleetScenario('fleet-sigkill');
    await ensureTopics(k, [{ topic: s.topic, partitions: 2 }]);
    const chDir = join(s.dir, 'ch');
    const delay = prngDelay(20260304);
    const logs: string[] = [];
    let child = await startChild(s, { brokers, chDir });
    logs.push(child.log);
    let kills = 0;
    const chunk = 150;
    const killAt = new Set([5, 9, 13].map((n) => n * chunk));
    await produceEvents(k, s.topic, s.events, chunk, async (sent) => {
      await sleep(300);
      if (!killAt.has(sent)) return;
      // Once it runs and its fleet stage has judged and committed something, kill it without warning.
      await ready(child, 120_000);
      // The fleet stage creates its topic and group as it starts; ask until the broker knows them.
      const { before } = await waitFor('the fleet group readable', async () => ({ before: await fleetCommitted(s) }), 120_000);
      await waitFor('the fleet stage commits', async () => (await fleetCommitted(s)) > before, 120_000);
      await sleep(delay(200, 2_000));
      child.proc.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      kills++;
      child = await startChild(s, { brokers, chDir });
      logs.push(child.log);
    });
    await ready(child, 120_000);
    await finish(s);
    await stop(child);
    expect(kills).toBe(3);

    const got = await results(s, chDir);
    expect(new Set(got.alertIds).size, 'each alert once on the outbox').toBe(got.alertIds.length);
    expect(got.alertIds).toEqual(ref.alertIds);
    expect(got.findings).toEqual(ref.findings);
    // The restarts did rebuild the fleet partition from its topic.
    const rebuilt = logs.slice(1).map((f) => readFileSync(f, 'utf8')).join('\n').match(/fleet partition rebuilt from its topic/g) ?? [];
    expect(rebuilt.length, `logs: ${logs.join(', ')}`).toBeGreaterThan(0);
  }, 600_000);
});
