/**
 * What a delta checkpoint writes: devices that a silence-style tick left unchanged are not
 * rewritten (a ticker without nextTick is visited at every tick), devices it changed are; and
 * the changelog's device encoding is the JSON the store has always written.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, type DeviceState } from '../../src/pipeline/engine.js';
import { decodeDevice, encodeDevice, jsonReplacer } from '../../src/state/changelog.js';
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

describe('changelog device encoding', () => {
  const st: DeviceState = {
    device_class: 'meter',
    first_ts: 1,
    last_ts: 2,
    d: { a: { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY, nan: Number.NaN, xs: [1.5, 0, 1e300, 1772323200123, 0.1 + 0.2], s: 'é"\n', n: null } },
  };

  // (-0 reads back as 0, as it did from JSON.)
  it('round-trips every number exactly, NaN and ±Infinity included (JSON cannot)', () => {
    expect(decodeDevice(encodeDevice(st))).toEqual(st);
  });

  it('keeps earlier records intact while later ones are encoded (no shared buffer reuse)', () => {
    const many = Array.from({ length: 5_000 }, (_, i) => ({ ...st, last_ts: i, d: { a: { xs: Array.from({ length: 50 }, (_v, j) => i * 1000 + j + 0.5) } } }));
    const encoded = many.map((x) => encodeDevice(x));
    encoded.forEach((b, i) => expect(decodeDevice(b)).toEqual(many[i]));
  });

  it('still reads the JSON records (v1) written before MessagePack', () => {
    const v1 = Buffer.from(JSON.stringify({ v: 1, s: st }, jsonReplacer));
    expect(decodeDevice(v1).d.a).toEqual({ lo: null, hi: null, nan: null, xs: [1.5, 0, 1e300, 1772323200123, 0.1 + 0.2], s: 'é"\n', n: null });
  });

  it('refuses a record it does not know instead of restoring garbage', () => {
    expect(() => decodeDevice(Buffer.from([0x92, 0x07, 0xc0]))).toThrow(/unknown device state record format/);
  });
});
