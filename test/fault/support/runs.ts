/** Runs shared by the fault scenarios: the clean reference run and the final comparison. */
import { expect } from 'vitest';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { accounting, committedToEnd, dumpFindings, produceEvents, scenario, startChild, waitFor, type FindingRow, type Scenario } from './harness.js';

export interface Reference {
  s: Scenario;
  findings: FindingRow[];
  acc: Awaited<ReturnType<typeof accounting>>;
}

/** One clean run: produce everything, run one instance until committed, stop it gracefully. */
export async function cleanRun(k: Kafka, brokers: string): Promise<Reference> {
  const s = scenario('clean');
  const chDir = join(s.dir, 'ch');
  await produceEvents(k, s.topic, s.events, 500);
  const c = await startChild(s, { brokers, chDir });
  await waitFor('clean run committed to the end', () => committedToEnd(k, s.group, s.topic), 90_000);
  c.proc.kill('SIGTERM');
  const ex = await c.exited;
  expect(ex.code, `clean run exit (log: ${c.log})`).toBe(0);
  const findings = await dumpFindings(chDir);
  const acc = await accounting(k, s);
  return { s, findings, acc };
}

/** The faulty run's results must equal the clean run's, event for event and row for row. */
export function expectSameResults(ref: Reference, s: Scenario, acc: Reference['acc'], findings: FindingRow[]): void {
  const bad = s.events.filter((e) => e.bad).length;
  const good = s.events.length - bad;
  // The reference itself must be what the fleet implies, or the comparison proves little.
  expect(ref.acc.processed).toBe(good);
  expect(ref.acc.deadLettered).toBe(bad);
  expect(ref.findings.length).toBeGreaterThanOrEqual(6);
  expect(new Set(ref.findings.map((f) => f.detector))).toEqual(new Set(['metric_baseline', 'new_peer', 'fanout']));

  expect(acc.perPartitionOk, 'each partition: processed + dead-lettered = end offset = checkpoint offset').toBe(true);
  expect(acc.processed).toBe(good);
  expect(acc.deadLettered).toBe(bad);
  expect(acc.dlqOffsets.length, 'each bad record dead-lettered exactly once').toBe(bad);
  expect(new Set(acc.dlqOffsets).size).toBe(bad);
  expect(acc.dlqOffsets).toEqual(ref.acc.dlqOffsets);
  expect(acc.alertIds, 'the alert outbox holds the clean run alerts, each once').toEqual(ref.acc.alertIds);
  expect(findings).toEqual(ref.findings);
}
