/**
 * The device stage's side of the fleet view: what a source partition sends the fleet stage
 * (fleet-stage.ts) through the fleet topic, and when.
 *
 * After a batch, the findings of detectors whose fleet role is `change` are not written or
 * routed by the device stage: they go to the fleet topic, where the fleet stage judges them
 * against their class. Findings of `attack` detectors are written and routed at once as always
 * and also go there, as marks; the engine's fleet facts go there too. Items keep the order they
 * were raised in and carry the watermark after their event (their tag, see fleet/sequencer.ts).
 * Findings go to the partition that owns their class; facts to every partition, since rarity is
 * also judged fleet-wide.
 *
 * Frames are outputs of the source offsets that raised them, like alerts and dead letters: the
 * runner publishes them in the same transactions (with "outputs below offset X are published"),
 * and a replay after a restore suppresses those already published. So every item reaches the
 * fleet topic exactly once, in order. A frame also carries the source's watermark as of the
 * publication's offset: every item of an earlier offset is in this or an earlier frame, every
 * later one is tagged at least that. A source sends its watermark to every fleet partition as it
 * crosses a step (a minute of event time), at most once a second, so each fleet partition knows
 * how far every source has come. (A source that is caught up and quiet is declared idle by the
 * fleet stage, which sees every source's lag: see fleet-stage.ts.)
 */
import type { Kafka, Message } from 'kafkajs';
import type { PipelineConfig } from '../config/types.js';
import type { Finding } from '../detectors/types.js';
import { buildDetectors } from './build.js';
import type { BatchOutcome } from './detection.js';
import type { TopicSpec } from '../kafka/topics.js';
import { classPartition, encodeFrame, encodeItem, sourceId } from '../fleet/frames.js';
import { FLEET_STEP } from '../fleet/sequencer.js';

/** The fleet topic of a pipeline (the fleet stage's consumer group has the same name). */
export const fleetTopic = (cfg: PipelineConfig): string => `${cfg.source.kafka.group}.fleet`;

/** How long the fleet view keeps judgements, marks and fleet events (fleet.ts, KEEP). */
const KEEP_MS = 14 * 86_400_000;
const DAY = 86_400_000;

/**
 * The fleet topic: one partition unless an operator created it with more (each fleet partition
 * keeps the fleet-wide profile, so more partitions split the judging but not that memory).
 * Retention covers what a replay must rebuild: the profiles (`memory`), judgements kept for 14
 * days after their last use, the hold, and a day for segments deleted whole.
 */
export function fleetTopicSpec(cfg: PipelineConfig): TopicSpec {
  const retention = cfg.fleet.memory_ms + KEEP_MS + cfg.fleet.hold_ms + DAY;
  return {
    topic: fleetTopic(cfg),
    partitions: 1,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(retention), 'segment.ms': String(DAY), 'max.message.bytes': String(1_048_588) },
  };
}

/** Encoded items per frame, so that a frame stays well under the broker's record limit. */
const MAX_FRAME_BYTES = 256 * 1024;
/** Least wall time between two watermark-only frames of one source. */
const WATERMARK_GAP_MS = 1_000;

interface Chunk {
  items: string[];
  bytes: number;
  /** Tag of the newest item: the watermark a full chunk is sent with (later items are tagged at least that). */
  t: number;
}

/** One source partition's pending frames. */
export interface ForwardState {
  src: string;
  topic: string;
  partition: number;
  /** Per fleet partition: chunks of encoded items, the last one still open. */
  chunks: Chunk[][];
  count: number;
  /** Per fleet partition: the watermark last sent. */
  sent: number[];
  lastWatermarkFrame: number;
}

export interface FleetForward {
  readonly topic: string;
  /** Read the fleet topic's partition count (once it exists). */
  init(kafka: Kafka): Promise<void>;
  open(topic: string, partition: number): ForwardState;
  /** Whether the fleet stage, not the device stage, writes and routes this finding. */
  leaves(f: Finding): boolean;
  /**
   * Queue a batch's items (facts, then findings with a fleet role, message by message);
   * `replayed(i)`: message i's outputs are published already.
   */
  collect(st: ForwardState, out: BatchOutcome, offsets: readonly string[], replayed: (i: number) => boolean): void;
  /** Outputs waiting: items, plus one for a watermark frame that is due. */
  pending(st: ForwardState, w: number, now: number): number;
  /** Take what is due as frames, with the source's watermark `w` as of the publication's offset. */
  frames(st: ForwardState, w: number, now: number): Message[];
}

export function createFleetForward(cfg: PipelineConfig): FleetForward {
  const topic = fleetTopic(cfg);
  const roles = new Map(buildDetectors(cfg).map((d) => [d.id, d.spec.fleet?.role]));
  let partitions = 1;
  /** Source topic → partitions, sent with every frame (the fleet stage waits for every source). */
  let topics: Record<string, number> = {};
  const step = (w: number): number => Math.floor(w / FLEET_STEP);

  function push(st: ForwardState, p: number, enc: string, t: number): void {
    const cs = st.chunks[p]!;
    let c = cs[cs.length - 1];
    if (c === undefined || c.bytes + enc.length > MAX_FRAME_BYTES) cs.push((c = { items: [], bytes: 0, t }));
    c.items.push(enc);
    c.bytes += enc.length + 1;
    c.t = t;
  }

  function watermarkDue(st: ForwardState, w: number, now: number): boolean {
    if (!Number.isFinite(w) || now - st.lastWatermarkFrame < WATERMARK_GAP_MS) return false;
    return st.sent.some((s) => !Number.isFinite(s) || step(w) > step(s));
  }

  return {
    topic,
    async init(kafka) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const [t] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
        partitions = Math.max(1, t?.partitions.length ?? 1);
        const src = await admin.fetchTopicMetadata({ topics: cfg.source.kafka.topics });
        topics = Object.fromEntries(src.topics.map((x) => [x.name, x.partitions.length]));
      } finally {
        await admin.disconnect();
      }
    },
    open(t, p) {
      return {
        src: sourceId(t, p),
        topic: t,
        partition: p,
        chunks: Array.from({ length: partitions }, () => []),
        count: 0,
        sent: new Array<number>(partitions).fill(Number.NEGATIVE_INFINITY),
        lastWatermarkFrame: 0,
      };
    },
    leaves: (f) => roles.get(f.detector) === 'change',
    collect(st, out, offsets, replayed) {
      const wm = out.wm ?? [];
      const factsAt = out.factsAt ?? [];
      let j = 0;
      let k = 0;
      // Both lists are in message order: merge them so a message's facts go before its findings.
      while (j < out.at.length || k < factsAt.length) {
        const i = Math.min(out.at[j] ?? Number.POSITIVE_INFINITY, factsAt[k] ?? Number.POSITIVE_INFINITY);
        if (factsAt[k] === i) {
          if (!replayed(i)) {
            const t = out.factsWm![k]!;
            for (const fact of out.facts![k]!) {
              const enc = encodeItem({ t, fact });
              for (let p = 0; p < partitions; p++) push(st, p, enc, t);
              st.count++;
            }
          }
          k++;
        }
        if (out.at[j] === i) {
          const fs = out.findings[j];
          if (fs !== undefined && !replayed(i)) {
            const t = wm[j]!;
            for (const f of fs) {
              if (roles.get(f.detector) === undefined) continue;
              push(st, classPartition(f.device_class, partitions), encodeItem({ t, finding: f, at: { topic: st.topic, partition: st.partition, offset: offsets[i]! } }), t);
              st.count++;
            }
          }
          j++;
        }
      }
    },
    pending(st, w, now) {
      return st.count + (watermarkDue(st, w, now) ? 1 : 0);
    },
    frames(st, w, now) {
      const wmDue = watermarkDue(st, w, now);
      const out: Message[] = [];
      const frame = (p: number, fw: number, items: string[]): void => {
        out.push({ key: st.src, partition: p, value: encodeFrame({ src: st.src, w: fw, topics }, items) });
      };
      for (let p = 0; p < partitions; p++) {
        const cs = st.chunks[p]!;
        // Full chunks first, each with its newest tag as watermark; the last with the source's.
        for (let c = 0; c < cs.length - 1; c++) frame(p, cs[c]!.t, cs[c]!.items);
        const last = cs[cs.length - 1];
        if (last !== undefined || (wmDue && (!Number.isFinite(st.sent[p]!) || step(w) > step(st.sent[p]!)))) {
          frame(p, w, last?.items ?? []);
          if (w > st.sent[p]! || !Number.isFinite(st.sent[p]!)) st.sent[p] = w;
        }
        st.chunks[p] = [];
      }
      st.count = 0;
      if (out.length) st.lastWatermarkFrame = now;
      return out;
    },
  };
}
