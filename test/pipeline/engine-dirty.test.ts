/**
 * What a delta checkpoint writes: devices that a silence-style tick left unchanged are not
 * rewritten (a ticker without nextTick is visited at every tick), devices it changed are.
 * (The changelog's device encoding is tested in test/state/changelog.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/pipeline/engine.js';
import { jsonReplacer } from '../../src/state/changelog.js';
import type { DetectorInstance } from '../../src/detectors/types.js';
import type { M2MEvent } from '../../src/events/types.js';

interface Quiet {
  last: number;
  alarms: number;
}

/** Raises nothing; a tick bumps `alarms` in place once the device is silent for 5 minutes. */
const quiet: DetectorInstance<Quiet> = {
  id: 'quiet',
  spec: { name: 'quiet' } as DetectorInstance['spec'],
  applies: () => true,
  init: (ev) => ({ last: ev.ts, alarms: 0 }),
  step: (s, ev) => {
    s.last = ev.ts;
    return { state: s, findings: [] };
  },
  tick: (s, _id, _cls, ctx) => {
    if (ctx.watermark - s.last >= 5 * 60_000) s.alarms++;
    return { state: s, findings: [] };
  },
};

const T = Date.UTC(2026, 2, 1);
const ev = (d: string, ts: number): M2MEvent => ({ type: 'telemetry', device_id: d, device_class: 'x', ts, metrics: { v: 1 } });

describe('engine dirty set with ticking detectors', () => {
  it('names a ticked device only when the tick changed its state', () => {
    const e = createEngine({ pipeline: 'p', detectors: [quiet], allowedLatenessMs: 0, idleEvictionMs: 86_400_000 });
    e.process(ev('a', T));
    e.process(ev('b', T));
    expect(e.takeDirty().sort()).toEqual(['a', 'b']);
    // Two minutes on, only b reports: a is ticked but not yet silent long enough to change.
    e.process(ev('b', T + 120_000));
    expect(e.takeDirty()).toEqual(['b']);
    // Six minutes on: a's tick changes its state in place, so it must be written.
    e.process(ev('b', T + 360_000));
    expect(e.takeDirty().sort()).toEqual(['a', 'b']);
    expect((e.device('a')!.d.quiet as Quiet).alarms).toBeGreaterThan(0);
  });

  it('compares ticked devices against the restored state after a restore', () => {
    const e = createEngine({ pipeline: 'p', detectors: [quiet], allowedLatenessMs: 0, idleEvictionMs: 86_400_000 });
    e.process(ev('a', T));
    e.process(ev('b', T));
    const snap = JSON.parse(JSON.stringify(e.snapshot(), jsonReplacer)) as ReturnType<typeof e.snapshot>;
    const r = createEngine({ pipeline: 'p', detectors: [quiet], allowedLatenessMs: 0, idleEvictionMs: 86_400_000 });
    r.restore(snap);
    r.process(ev('b', T + 120_000));
    expect(r.takeDirty()).toEqual(['b']);
    r.process(ev('b', T + 600_000));
    expect(r.takeDirty().sort()).toEqual(['a', 'b']);
  });

  it('returns no shared state between events that raise nothing', () => {
    const e = createEngine({ pipeline: 'p', detectors: [quiet], allowedLatenessMs: 0, idleEvictionMs: 86_400_000 });
    const a = e.process(ev('a', T));
    expect(a).toEqual([]);
    expect(() => (a as unknown[]).push(1)).toThrow();
    expect(e.process(ev('a', T + 1))).toEqual([]);
  });
});
