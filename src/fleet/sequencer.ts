/**
 * The order in which the fleet view (fleet.ts) sees its inputs, and when its clock moves: one
 * function of the inputs, so that the backtest (one engine, eval/detect.ts) and the service (an
 * engine per source partition, a fleet stage per fleet partition) judge alike, and a fleet stage
 * that replays its topic after a restart rebuilds exactly the state it had.
 *
 * Inputs come from sources (the device stage's partitions), each a sequence of items — a fleet
 * fact or a device finding — tagged with the source's watermark when the item was raised, so a
 * source's tags never decrease. A source also states its watermark `w` with every frame: a
 * promise that it raises nothing tagged below `w` any more. Items are applied in the order of
 * (tag, source id), each as soon as no source can still send one that sorts before it, which is
 * the same order however the sources' frames interleave on the way. A source that says it is
 * idle (caught up and quiet: its partition has no lag) does not hold the others back; what it
 * sends after is applied where it arrives (late), which is still one function of the topic.
 *
 * The clock moves in aligned steps of `stepMs` of event time, and visits every step on its way
 * (fleet.advanceTo(B) for each boundary B in turn, before the items tagged B or later): when
 * held findings are judged and when profiles are pruned then depend on the tags alone, not on
 * how the items were batched.
 */
import type { FleetFact, Finding } from '../detectors/types.js';
import type { Fleet } from './fleet.js';

/** Where a finding's event is in the source (topic, partition, offset), for the alert it may raise. */
export interface SourceAt {
  topic: string;
  partition: number;
  offset: string;
}

export interface FleetItem {
  /** The source's watermark when the item was raised. */
  t: number;
  fact?: FleetFact;
  finding?: Finding;
  at?: SourceAt;
}

export interface SequencerSink {
  /**
   * A finding the fleet view emits. `input` is the item whose offer() emitted it (undefined for
   * findings released by the clock); an attack finding comes back as its own input.
   */
  output(f: Finding, input: FleetItem | undefined): void;
  /** The clock reached the step boundary `t` (after the fleet view's own advance). */
  step?(t: number): void;
}

export interface Sequencer {
  /**
   * One frame of a source: its items, in the order raised, then its watermark and whether it is
   * idle. `expected` names the other sources there are (the partitions of the source topics):
   * one not heard of yet holds the fleet watermark until it reports or is declared idle, so that
   * a source which starts first does not run ahead of the others.
   */
  frame(source: string, w: number, idle: boolean, items: readonly FleetItem[], expected?: readonly string[]): void;
  /** The sources heard of, with their watermark and whether they are idle. */
  sources(): Array<{ id: string; w: number; idle: boolean }>;
  /** End of input: apply everything queued, advance to the newest watermark, judge what is held. */
  end(): void;
  /** The fleet watermark: the oldest watermark among active sources (the newest if all are idle). */
  watermark(): number;
  /** The newest watermark any source stated (what the fleet watermark lags behind). */
  newest(): number;
  /** The fleet view's clock (a step boundary; -Infinity before the first). */
  clock(): number;
  /** Items received and not yet applied (waiting for the slower sources). */
  queued(): number;
  /** Items applied so far, by kind. */
  applied(): { facts: number; findings: number };
}

/** The default step: the fleet view judges per hold (an hour by default), not per event. */
export const FLEET_STEP = 60_000;
/** A clock jump longer than this many steps skips ahead first (a gap of years is not walked minute by minute). */
const MAX_WALK = 1_000_000;

interface Source {
  id: string;
  w: number;
  idle: boolean;
  q: FleetItem[];
  head: number;
}

export function createSequencer(fleet: Fleet, sink: SequencerSink, stepMs = FLEET_STEP): Sequencer {
  const sources = new Map<string, Source>();
  /** Sources in id order, so that ties are broken the same way everywhere. */
  let ordered: Source[] = [];
  let clock = Number.NEGATIVE_INFINITY;
  let queued = 0;
  const applied = { facts: 0, findings: 0 };

  const boundary = (t: number): number => Math.floor(t / stepMs) * stepMs;

  function advance(b: number): void {
    for (const f of fleet.advanceTo(b)) sink.output(f, undefined);
    clock = b;
    sink.step?.(b);
  }

  /** Walk the clock through every boundary up to `t`'s. */
  function advanceTo(t: number): void {
    if (!Number.isFinite(t)) return;
    const target = boundary(t);
    if (!(target > clock)) return;
    if (!Number.isFinite(clock) || (target - clock) / stepMs > MAX_WALK) {
      advance(Number.isFinite(clock) ? target - MAX_WALK * stepMs : target);
    }
    for (let b = clock + stepMs; b <= target; b += stepMs) advance(b);
  }

  function apply(it: FleetItem): void {
    advanceTo(it.t);
    if (it.fact !== undefined) {
      fleet.facts([it.fact]);
      applied.facts++;
    }
    if (it.finding !== undefined) {
      for (const f of fleet.offer(it.finding)) sink.output(f, it);
      applied.findings++;
    }
  }

  function fleetWatermark(): number {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let any = false;
    for (const s of ordered) {
      if (s.w > max) max = s.w;
      if (s.idle) continue;
      any = true;
      if (s.w < min) min = s.w;
    }
    return any ? min : max;
  }

  /** The source whose next item sorts first, by (tag, source id). */
  function first(): Source | undefined {
    let best: Source | undefined;
    for (const s of ordered) {
      if (s.head >= s.q.length) continue;
      if (best === undefined || s.q[s.head]!.t < best.q[best.head]!.t) best = s;
    }
    return best;
  }

  function pop(s: Source): FleetItem {
    const it = s.q[s.head++]!;
    queued--;
    if (s.head > 1024 && s.head * 2 > s.q.length) {
      s.q = s.q.slice(s.head);
      s.head = 0;
    }
    return it;
  }

  /** Apply every item no active source can still precede; then move the clock to the fleet watermark. */
  function drain(): void {
    for (;;) {
      const s = first();
      if (s === undefined) break;
      const t = s.q[s.head]!.t;
      // Another active source may still send an item tagged from its watermark on: one that
      // would sort before this one must be waited for.
      let safe = true;
      for (const o of ordered) {
        if (o !== s && !o.idle && (o.w < t || (o.w === t && o.id < s.id))) {
          safe = false;
          break;
        }
      }
      if (!safe) break;
      apply(pop(s));
    }
    advanceTo(fleetWatermark());
  }

  function source(id: string): Source {
    let s = sources.get(id);
    if (s === undefined) {
      s = { id, w: Number.NEGATIVE_INFINITY, idle: false, q: [], head: 0 };
      sources.set(id, s);
      ordered = [...sources.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    return s;
  }

  return {
    frame(id, w, idle, items, expected) {
      if (expected !== undefined) for (const e of expected) if (!sources.has(e)) source(e);
      const s = source(id);
      for (const it of items) {
        s.q.push(it);
        queued++;
        // An item tagged above the source's watermark says the watermark was there.
        if (it.t > s.w) s.w = it.t;
      }
      if (w > s.w) s.w = w;
      s.idle = idle;
      drain();
    },
    end() {
      for (let s = first(); s !== undefined; s = first()) apply(pop(s));
      let max = Number.NEGATIVE_INFINITY;
      for (const s of ordered) if (s.w > max) max = s.w;
      advanceTo(max);
      for (const f of fleet.flush()) sink.output(f, undefined);
    },
    sources: () => ordered.map((s) => ({ id: s.id, w: s.w, idle: s.idle })),
    watermark: fleetWatermark,
    newest() {
      let max = Number.NEGATIVE_INFINITY;
      for (const s of ordered) if (s.w > max) max = s.w;
      return max;
    },
    clock: () => clock,
    queued: () => queued,
    applied: () => ({ ...applied }),
  };
}
