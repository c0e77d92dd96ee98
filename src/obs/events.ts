/**
 * Typed internal events: one function per occurrence that both logs (structured) and counts.
 * The hot path calls these instead of ad-hoc log lines, so what operators see in logs and in
 * metrics always agrees. A few of them can also be subscribed to in-process (`onEvent`): the
 * bench counts checkpoints and publications this way rather than by reading log lines.
 */
import type { DecodeError } from '../events/decode.js';
import type { Finding } from '../detectors/types.js';
import { logger } from './log.js';
import { countForRate, metrics } from './metrics.js';
import { excerpt, MAX_DETAIL, skippedSince, throttle } from './throttle.js';

/** The occurrences that can be subscribed to, with what a listener receives. */
export interface Observed {
  checkpointWritten: { pipeline: string; topic: string; partition: number; devices: number; delta: number; bytes: number; outputs: number; ms: number };
  outputsPublished: { pipeline: string; topic: string; partition: number; outputs: number; ms: number };
}

const listeners = new Map<keyof Observed, Set<(e: never) => void>>();

/** Call `f` on every such occurrence in this process (this thread) until the returned function is called. */
export function onEvent<K extends keyof Observed>(name: K, f: (e: Observed[K]) => void): () => void {
  let set = listeners.get(name);
  if (!set) listeners.set(name, (set = new Set()));
  set.add(f);
  return () => set.delete(f);
}

function notify<K extends keyof Observed>(name: K, e: Observed[K]): void {
  const set = listeners.get(name) as Set<(e: Observed[K]) => void> | undefined;
  if (set) for (const f of set) f(e);
}

export const emit = {
  eventDecoded(pipeline: string, type: string, n = 1): void {
    metrics.eventsDecoded.inc({ pipeline, type }, n);
  },
  /** One batch's events: decoded and scored, or dead-lettered (counted per reason already). */
  eventsProcessed(pipeline: string, decoded: number, deadLettered: number): void {
    if (decoded) metrics.eventsDecoded.inc({ pipeline, type: 'any' }, decoded);
    countForRate(pipeline, decoded + deadLettered);
  },
  /** Exact repeats dropped before the detectors: counted, not logged one by one (redelivery comes in bursts). */
  duplicatesSuppressed(pipeline: string, n: number): void {
    if (n) metrics.duplicates.inc({ pipeline }, n);
  },
  batchProcessed(pipeline: string, seconds: number): void {
    metrics.batchSeconds.observe({ pipeline }, seconds);
  },
  eventDeadLettered(pipeline: string, err: DecodeError, where: { topic: string; partition: number; offset: string }): void {
    metrics.deadLetters.inc({ pipeline, reason: err.code });
    // Counted always; logged within a budget, with the device's text cut short (throttle.ts).
    if (!throttle('event_dead_lettered')) return;
    const skipped = skippedSince('event_dead_lettered');
    logger().warn({ pipeline, reason: err.code, field: excerpt(err.field), ...where, msg_detail: excerpt(err.message), ...(skipped ? { similar_not_logged: skipped } : {}) }, 'event dead-lettered');
  },
  findingRaised(f: Finding): void {
    metrics.findings.inc({ pipeline: f.pipeline, detector: f.detector, severity: f.severity });
    if (f.version === 1) {
      logger().debug({ pipeline: f.pipeline, finding_id: f.finding_id, detector: f.detector, device_id: f.device_id, score: f.score }, 'finding raised');
    }
  },
  batchWritten(pipeline: string, rows: number, ms: number): void {
    metrics.findingsWritten.inc({ pipeline }, rows);
    logger().debug({ pipeline, rows, ms }, 'findings written');
  },
  writeFailed(pipeline: string, err: unknown, attempt: number): void {
    metrics.writeErrors.inc({ pipeline });
    logger().warn({ pipeline, attempt, err: String(err) }, 'ClickHouse write failed; retrying');
  },
  offsetsCommitted(pipeline: string, offsets: Array<{ topic: string; partition: number; offset: string }>): void {
    metrics.offsetsCommitted.inc({ pipeline });
    logger().debug({ pipeline, offsets }, 'offsets committed');
  },
  checkpointWritten(pipeline: string, topic: string, partition: number, c: { devices: number; delta: number; bytes: number; outputs: number; ms: number }): void {
    metrics.checkpoints.inc({ pipeline, outcome: 'ok' });
    metrics.checkpointRecords.inc({ pipeline }, c.delta);
    metrics.checkpointSeconds.observe({ pipeline }, c.ms / 1000);
    logger().debug({ pipeline, topic, partition, ...c }, 'state checkpointed');
    notify('checkpointWritten', { pipeline, topic, partition, ...c });
  },
  /** Dead letters and alerts published between checkpoints, in a transaction of their own. */
  outputsPublished(pipeline: string, topic: string, partition: number, c: { outputs: number; upTo: bigint; ms: number }): void {
    logger().debug({ pipeline, topic, partition, outputs: c.outputs, upTo: c.upTo.toString(), ms: c.ms }, 'outputs published');
    notify('outputsPublished', { pipeline, topic, partition, outputs: c.outputs, ms: c.ms });
  },
  checkpointFailed(pipeline: string, topic: string, partition: number, err: unknown, fenced: boolean): void {
    metrics.checkpoints.inc({ pipeline, outcome: fenced ? 'fenced' : 'failed' });
    const msg = fenced ? 'partition taken over by another instance; dropping its state' : 'checkpoint failed; state dropped, will restore and redo from the last checkpoint';
    logger().warn({ pipeline, topic, partition, err: String(err) }, msg);
  },
  stateRestored(pipeline: string, topic: string, partition: number, r: { devices: number; records: number; nextOffset: bigint; ms: number }): void {
    metrics.restores.inc({ pipeline });
    logger().info({ pipeline, topic, partition, devices: r.devices, records: r.records, next_offset: r.nextOffset.toString(), ms: r.ms }, r.nextOffset >= 0n ? 'state restored from changelog' : 'no checkpoint yet; starting with empty state');
  },
  alertEmitted(pipeline: string, severity: string): void {
    metrics.alerts.inc({ pipeline, severity });
  },
  alertWithheld(pipeline: string, reason: string): void {
    metrics.alertsWithheld.inc({ pipeline, reason });
  },
  alertSuppressed(pipeline: string): void {
    metrics.alertsSuppressed.inc({ pipeline });
  },
  alertDelivered(pipeline: string, route: string): void {
    metrics.deliveries.inc({ pipeline, route, outcome: 'ok' });
  },
  alertDeliveryFailed(pipeline: string, route: string, err: unknown, attempt: number): void {
    metrics.deliveries.inc({ pipeline, route, outcome: 'error' });
    logger().warn({ pipeline, route, attempt, err: String(err) }, 'alert delivery failed; will retry');
  },
  fleetInputs(pipeline: string, facts: number, findings: number): void {
    if (facts) metrics.fleetInputs.inc({ pipeline, kind: 'fact' }, facts);
    if (findings) metrics.fleetInputs.inc({ pipeline, kind: 'finding' }, findings);
  },
  fleetJudged(pipeline: string, verdict: string): void {
    metrics.fleetVerdicts.inc({ pipeline, verdict });
  },
  fleetRestored(pipeline: string, partition: number, r: { records: number; items: number; replayedUpTo: bigint; ms: number }): void {
    metrics.fleetRestores.inc({ pipeline });
    logger().info({ pipeline, partition, records: r.records, items: r.items, replayed_up_to: r.replayedUpTo.toString(), ms: r.ms }, 'fleet partition rebuilt from its topic');
  },
  fleetBadFrame(pipeline: string, partition: number, offset: string, reason: string): void {
    if (throttle('fleet_bad_frame')) logger().warn({ pipeline, partition, offset, reason: reason.slice(0, MAX_DETAIL) }, 'fleet frame skipped');
  },
  devicesEvictedByCap(pipeline: string, n: number): void {
    metrics.devicesEvicted.inc({ pipeline, reason: 'cap' }, n);
  },
  alertFolded(pipeline: string, route: string): void {
    metrics.alertsFolded.inc({ pipeline, route });
  },
  outboxRecordDeadLettered(pipeline: string, route: string, reason: string): void {
    metrics.outboxDeadLetters.inc({ pipeline, route });
    if (throttle('outbox_dead_letter')) logger().warn({ pipeline, route, reason: reason.slice(0, MAX_DETAIL) }, 'outbox record is not an alert; dead-lettered');
  },
  pipelineFailed(pipeline: string, err: unknown): void {
    logger().error({ pipeline, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'pipeline failed');
  },
};
