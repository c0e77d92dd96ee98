/**
 * The fleet topic's records. A device-stage partition (a *source*) sends each fleet partition
 * frames: the items it raised for the classes that partition owns (facts go to every partition,
 * because rarity is also judged fleet-wide), in the order raised, each tagged with the source's
 * watermark when raised, and the source's watermark now (see sequencer.ts). A frame marked
 * `end` (the demo's end of input) judges everything held, as the backtest does at the end.
 *
 * JSON, one frame per record, version 1:
 *   { v: 1, src: "<topic>:<partition>", w: <ms|null>, idle?: true, end?: true,
 *     topics?: { "<source topic>": <partitions> },
 *     items: [ { t, x: <FleetFact> } | { t, f: <Finding>, o?: "<source offset>" } ] }
 * `w` null is a source that has no watermark yet. `topics` lists the sources there are. Idle
 * frames are written by the fleet stage itself, for sources it sees caught up and quiet.
 */
import type { FleetFact, Finding } from '../detectors/types.js';
import type { FleetItem } from './sequencer.js';

export interface Frame {
  src: string;
  w: number;
  idle: boolean;
  end: boolean;
  /** Every source there is, as the sender knows the source topics (see Sequencer.frame). */
  expected: string[];
  items: FleetItem[];
}

interface WireItem {
  t: number;
  x?: FleetFact;
  f?: Finding;
  o?: string;
}

interface WireFrame {
  v: 1;
  src: string;
  w: number | null;
  idle?: true;
  end?: true;
  /** Source topic → its partition count. */
  topics?: Record<string, number>;
  items: WireItem[];
}

/** One item as it goes into a frame (encoded once, though a fact goes to every partition). */
export function encodeItem(it: FleetItem): string {
  const w: WireItem = it.fact !== undefined ? { t: it.t, x: it.fact } : { t: it.t, f: it.finding!, ...(it.at ? { o: it.at.offset } : {}) };
  return JSON.stringify(w);
}

/** A frame of items already encoded by encodeItem, in the order raised. */
export function encodeFrame(fr: { src: string; w: number; idle?: boolean; end?: boolean; topics?: Record<string, number> }, items: readonly string[]): string {
  const head: Omit<WireFrame, 'items'> = {
    v: 1,
    src: fr.src,
    w: Number.isFinite(fr.w) ? fr.w : null,
    ...(fr.idle ? { idle: true as const } : {}),
    ...(fr.end ? { end: true as const } : {}),
    ...(fr.topics ? { topics: fr.topics } : {}),
  };
  const h = JSON.stringify(head);
  return `${h.slice(0, -1)},"items":[${items.join(',')}]}`;
}

/** The source id of a device-stage partition, and back. */
export const sourceId = (topic: string, partition: number): string => `${topic}:${partition}`;
function sourceOf(src: string): { topic: string; partition: number } | undefined {
  const i = src.lastIndexOf(':');
  const partition = Number(src.slice(i + 1));
  return i > 0 && Number.isInteger(partition) ? { topic: src.slice(0, i), partition } : undefined;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * A frame read back, or a reason it is unusable. The topic has one writer (the device stage), so
 * a bad frame is a bug or a foreign producer; it is skipped, the same way on every replay.
 */
export function decodeFrame(value: Buffer | null): Frame | string {
  if (value === null) return 'empty record';
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const w = raw as Partial<WireFrame>;
  if (typeof w !== 'object' || w === null || w.v !== 1) return 'not a version 1 frame';
  if (typeof w.src !== 'string' || !(w.w === null || isNum(w.w)) || !Array.isArray(w.items)) return 'frame without src, w or items';
  const at = sourceOf(w.src);
  const items: FleetItem[] = [];
  for (const it of w.items as WireItem[]) {
    if (typeof it !== 'object' || it === null || !isNum(it.t)) return 'item without a tag';
    if (it.x !== undefined && typeof it.x === 'object' && it.x !== null) items.push({ t: it.t, fact: it.x });
    else if (it.f !== undefined && typeof it.f === 'object' && it.f !== null && typeof it.f.finding_id === 'string') {
      items.push({ t: it.t, finding: it.f, ...(at && typeof it.o === 'string' ? { at: { ...at, offset: it.o } } : {}) });
    } else return 'item neither a fact nor a finding';
  }
  const expected: string[] = [];
  if (typeof w.topics === 'object' && w.topics !== null) {
    for (const [topic, n] of Object.entries(w.topics)) if (Number.isInteger(n) && n > 0 && n <= 100_000) for (let p = 0; p < n; p++) expected.push(sourceId(topic, p));
  }
  return { src: w.src, w: w.w ?? Number.NEGATIVE_INFINITY, idle: w.idle === true, end: w.end === true, expected, items };
}

/**
 * The fleet partition that owns a device class (FNV-1a of the class name): stable across
 * processes and versions, as it must be, since a class's history lives in its partition.
 */
export function classPartition(deviceClass: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < deviceClass.length; i++) {
    h ^= deviceClass.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % Math.max(1, partitions);
}
