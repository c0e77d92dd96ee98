/**
 * What one scored batch gives rise to: its findings, the rows for ClickHouse (findings and the
 * alert versions and events they cause), the dead letters and the alert documents to publish.
 * No Kafka and no I/O: the runner hands it the detection outcome and the partition's router
 * (which it advances) and decides what to do with the result.
 *
 * Offsets below `publishedBelow` are a replay of outputs already committed (published after the
 * restored checkpoint): the engine and router re-raise them, and must, to reach the same state,
 * but their dead letters and alert documents are left out so each is committed once.
 */
import type { Message } from 'kafkajs';
import type { Finding } from '../detectors/types.js';
import type { DecodeError } from '../events/decode.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import { route, routeTime, type RouterOptions, type RouterState } from '../alerts/router.js';
import type { HoldReason } from '../alerts/hold.js';
import type { OcsfDetectionFinding } from '../alerts/ocsf.js';
import { deadLetterMessage } from '../kafka/dead-letter.js';
import type { AlertOutputs, Stored } from './alert-outputs.js';
import type { BatchOutcome } from './detection.js';

export interface BatchInput {
  pipeline: string;
  topic: string;
  partition: number;
  /** The messages scored, in order (those the outcome's indices point at). */
  msgs: ReadonlyArray<{ key: Buffer | null; value: Buffer | null; offset: string }>;
  outcome: BatchOutcome;
  /** The partition's router: advanced by this batch's findings and watermark steps. */
  router: RouterState;
  routerOpts: RouterOptions;
  alertOutputs: AlertOutputs;
  /** Outputs of offsets below this are committed already (-1: none). */
  publishedBelow: bigint;
  /** Findings the fleet stage judges, writes and routes (not stored nor routed here). */
  leaves?: (f: Finding) => boolean;
}

export interface BatchOutputs {
  /** Every finding raised, in message order (fleet-bound ones included). */
  findings: Finding[];
  /** Rows for the findings writer: findings and the alert rows they cause. */
  stored: Stored[];
  /** Dead letters to publish (none for replayed offsets). */
  deadLetters: Message[];
  /** Every rejected message, replayed or not (for the dead-letter events). */
  rejected: Array<{ offset: string; error: DecodeError }>;
  /** Alert documents to publish, in order (none for replayed offsets). */
  alerts: OcsfDetectionFinding[];
  /** Alert changes folded into an open alert. */
  folded: number;
  /** Why alert-worthy findings were held back (per-detector min_severity, maintenance). */
  withheld: HoldReason[];
}

export function batchOutputs(b: BatchInput): BatchOutputs {
  const { outcome: out, msgs, routerOpts } = b;
  const res: BatchOutputs = { findings: [], stored: [], deadLetters: [], rejected: [], alerts: [], folded: 0, withheld: [] };
  const replayedAt = (i: number): boolean => BigInt(msgs[i]!.offset) < b.publishedBelow;
  const publishAt = (i: number) => (replayedAt(i) ? null : (doc: OcsfDetectionFinding) => void res.alerts.push(doc));
  // Watermark steps (a new minute of event time) close quiet alerts, in message order with the findings.
  let clock = 0;
  const clockUpTo = (i: number): void => {
    for (; clock < out.clockAt.length && out.clockAt[clock]! <= i; clock++) {
      b.alertOutputs.handle(routeTime(b.router, out.clockWm[clock]!, routerOpts), res.stored, publishAt(out.clockAt[clock]!));
    }
  };
  for (let j = 0; j < out.at.length; j++) {
    const i = out.at[j]!;
    clockUpTo(i - 1);
    const m = msgs[i]!;
    const error = out.errors[j];
    if (error !== undefined) {
      if (!replayedAt(i)) res.deadLetters.push(deadLetterMessage(m.key, m.value, error, { pipeline: b.pipeline, topic: b.topic, partition: b.partition, offset: m.offset }));
      res.rejected.push({ offset: m.offset, error });
      continue;
    }
    for (const f of out.findings[j]!) {
      res.findings.push(f);
      if (b.leaves?.(f)) continue;
      res.stored.push(f);
      const changes = route(b.router, f, routerOpts, { topic: b.topic, partition: b.partition, offset: m.offset });
      b.alertOutputs.handle(changes, res.stored, publishAt(i));
      for (const ch of changes) if (ch.kind === 'fold') res.folded++;
      if (!changes.length && SEVERITY_RANK[f.severity] >= SEVERITY_RANK[routerOpts.minSeverity]) {
        const why = routerOpts.hold?.held(f);
        if (why) res.withheld.push(why);
      }
    }
  }
  clockUpTo(Number.POSITIVE_INFINITY);
  return res;
}
