/**
 * The fleet view's input order (src/fleet/sequencer.ts): what the fleet view decides must not
 * depend on how the sources' frames interleave on the way or how they were batched, only on the
 * items; a quiet source declared idle must not hold the others back; one that is behind must.
 * Real parts: the engine of each source partition and the fleet view over a small fleet with a
 * class-wide migration and a worm (test/support/fleet-scenario.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../src/detectors/types.js';
import { buildDetectors, engineOptions } from '../../src/pipeline/build.js';
import { createEngine } from '../../src/pipeline/engine.js';
import { fleetFor } from '../../src/fleet/options.js';
import { createSequencer, type FleetItem } from '../../src/fleet/sequencer.js';
import { classPartition, decodeFrame, encodeFrame, encodeItem } from '../../src/fleet/frames.js';
import { fleetEvents, fleetPipeline } from '../support/fleet-scenario.js';

const cfg = fleetPipeline('seq');
const SOURCES = ['events:0', 'events:1', 'events:2'];

interface SourceFrame {
  src: string;
  w: number;
  items: FleetItem[];
}

/** Each source partition's frames, one per event, as the device stage would raise them. */
function perSource(): SourceFrame[][] {
  const detectors = buildDetectors(cfg);
  const roles = new Map(detectors.map((d) => [d.id, d.spec.fleet]));
  const engines = SOURCES.map(() => createEngine(engineOptions(cfg, buildDetectors(cfg))));
  const out: SourceFrame[][] = SOURCES.map(() => []);
  for (const e of fleetEvents()) {
    const s = classPartition(e.device_id, SOURCES.length);
    const fs = engines[s]!.process(e);
    const w = engines[s]!.watermark();
    const items: FleetItem[] = engines[s]!.takeFacts().map((fact) => ({ t: w, fact }));
    for (const f of fs) if (roles.get(f.detector) !== undefined) items.push({ t: w, finding: f });
    out[s]!.push({ src: SOURCES[s]!, w, items });
  }
  return out;
}

/** Feed frames in the given order; the fleet view's outputs, in the order emitted. */
function judge(frames: SourceFrame[], idle: (f: SourceFrame) => boolean = () => false, end = true): { out: string[]; queued: number; held: number } {
  const fleet = fleetFor(cfg, buildDetectors(cfg))!;
  const out: string[] = [];
  const verdict = (f: Finding) => (f.evidence.fleet as { verdict?: string } | undefined)?.verdict ?? '-';
  const seq = createSequencer(fleet, { output: (f) => out.push(`${f.finding_id} v${f.version} ${f.severity} ${verdict(f)}`), step: (t) => out.push(`step ${t}`) });
  for (const fr of frames) seq.frame(fr.src, fr.w, idle(fr), fr.items, SOURCES);
  const queued = seq.queued();
  const held = fleet.held();
  if (end) seq.end();
  return { out, queued, held };
}

/** Consecutive frames of a source merged into one (as a publication carries many events). */
function batched(frames: SourceFrame[], size: number): SourceFrame[] {
  const out: SourceFrame[] = [];
  for (let i = 0; i < frames.length; i += size) {
    const part = frames.slice(i, i + size);
    out.push({ src: part[0]!.src, w: part[part.length - 1]!.w, items: part.flatMap((f) => f.items) });
  }
  return out;
}

/** Round robin over the sources' frame lists, taking `take(i)` frames from each in turn. */
function interleave(lists: SourceFrame[][], take: (i: number) => number): SourceFrame[] {
  const at = lists.map(() => 0);
  const out: SourceFrame[] = [];
  for (let round = 0; at.some((a, s) => a < lists[s]!.length); round++) {
    lists.forEach((l, s) => {
      const n = take(round * lists.length + s);
      out.push(...l.slice(at[s], at[s]! + n));
      at[s]! += n;
    });
  }
  return out;
}

describe('fleet sequencer', { timeout: 120_000 }, () => {
  const sources = perSource();
  const reference = judge(interleave(sources, () => 1)).out;

  it('judges alike however the sources interleave and however their frames are batched', () => {
    // The reference is not trivial: folds, a fleet change, passed attacks and clock steps.
    expect(reference.some((l) => l.endsWith(' folded'))).toBe(true);
    expect(reference.filter((l) => l.startsWith('step ')).length).toBeGreaterThan(400);
    // One source entirely before the next: the others, announced by every frame, hold it back.
    expect(judge(sources.flat()).out).toEqual(reference);
    expect(judge([...sources].reverse().flat()).out).toEqual(reference);
    // Uneven, seeded interleavings of batches of many events.
    let s = 7;
    const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
    for (const size of [5, 40, 300]) {
      const lists = sources.map((l) => batched(l, Math.max(1, Math.floor(size * (0.5 + rnd())))));
      expect(judge(interleave(lists, () => 1 + Math.floor(rnd() * 4))).out).toEqual(reference);
    }
  });

  it('a source that is behind holds the fleet back; declared idle, it does not', () => {
    // Source 2 stops halfway (its consumer is behind): everything after waits for it.
    const cut = Math.floor(sources[2]!.length / 2);
    const behind = [...sources[0]!, ...sources[1]!, ...sources[2]!.slice(0, cut)];
    const waiting = judge(behind, () => false, false);
    expect(waiting.queued).toBeGreaterThan(100);
    // Declared idle at that point, it no longer does; its late items, once they come, are applied where they arrive.
    const idleAt = { ...sources[2]![cut - 1]!, items: [] };
    const resumed = judge([...behind, idleAt, ...sources[2]!.slice(cut)], (f) => f === idleAt, false);
    const idle = judge([...behind, idleAt], (f) => f === idleAt, false);
    // What still waits is only what the two active sources hold back from each other: the items
    // tagged at or past the slower one's last watermark (stream time is robust, not the newest
    // event, so their last watermarks need not be equal).
    const lo = Math.min(sources[0]!.at(-1)!.w, sources[1]!.at(-1)!.w);
    const heldByActive = [...sources[0]!, ...sources[1]!].reduce((n, f) => n + f.items.filter((it) => it.t >= lo).length, 0);
    expect(heldByActive).toBeLessThan(waiting.queued / 10);
    expect(idle.queued).toBeLessThanOrEqual(heldByActive);
    // Once they too are caught up and quiet (declared idle, as the fleet stage does), nothing waits.
    const quiet: SourceFrame[] = [0, 1].map((i) => ({ ...sources[i]!.at(-1)!, items: [] }));
    const allIdle = judge([...behind, idleAt, ...quiet], (f) => f === idleAt || quiet.includes(f), false);
    expect(allIdle.queued).toBe(0);
    const resumedQuiet = judge([...behind, idleAt, ...sources[2]!.slice(cut), ...quiet], (f) => f === idleAt || quiet.includes(f), false);
    expect(resumedQuiet.queued).toBe(0);
    expect(resumed.queued).toBeLessThanOrEqual(waiting.queued);
    // With the quiet source idle, the others' held findings are judged as their time passes.
    expect(idle.held).toBeLessThan(waiting.held + waiting.queued);
  });

  it('frames survive the wire as they were sent', () => {
    const fr = batched(sources[0]!, 50)[3]!;
    const back = decodeFrame(Buffer.from(encodeFrame({ src: fr.src, w: fr.w, topics: { events: 3 } }, fr.items.map(encodeItem))));
    expect(typeof back).toBe('object');
    if (typeof back === 'string') return;
    expect(back.src).toBe(fr.src);
    expect(back.w).toBe(fr.w);
    expect(back.expected).toEqual(SOURCES);
    expect(back.items).toEqual(fr.items.map((it) => ({ t: it.t, ...(it.fact ? { fact: it.fact } : { finding: JSON.parse(JSON.stringify(it.finding)) }) })));
    expect(decodeFrame(Buffer.from('{"v":2}'))).toMatch(/version/);
  });
});
