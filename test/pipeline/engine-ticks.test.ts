/**
 * Tick scheduling: the engine visits only devices whose due time (eviction, or a ticker's
 * nextTick) the watermark has reached. It must give exactly what ticking every device at every
 * tick gave (test/support/engine-reference.ts): the same findings in the same order and the same
 * snapshots, across silences, returns, evictions, late events, re-created devices and a restore
 * from JSON mid-stream; and a ticker without nextTick is still ticked every tick.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptions, type EngineSnapshot } from '../../src/pipeline/engine.js';
import { reporting } from '../../src/detectors/reporting.js';
import { withDefaults } from '../../src/detectors/params.js';
import { Rng } from '../../src/sim/prng.js';
import { jsonReplacer } from '../../src/state/changelog.js';
import type { DetectorInstance, Finding } from '../../src/detectors/types.js';
import type { M2MEvent } from '../../src/events/types.js';
import { createReferenceEngine } from '../support/engine-reference.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 2, 1);

interface Quiet {
  last: number;
  alarms: number;
}
/** A ticker without nextTick: bumps a counter in place while the device is silent ≥ 7 minutes. */
const quiet = (id: string): DetectorInstance<Quiet> => ({
  id,
  spec: { name: 'quiet' } as DetectorInstance['spec'],
  applies: (ev) => ev.type === 'connection',
  init: (ev) => ({ last: ev.ts, alarms: 0 }),
  step: (s, ev) => {
    s.last = Math.max(s.last, ev.ts);
    return { state: s, findings: [] };
  },
  tick: (s, dev, cls, ctx) => {
    if (ctx.watermark - s.last < 7 * MIN) return { state: s, findings: [] };
    s.alarms++;
    if (s.alarms % 5 !== 1) return { state: s, findings: [] };
    const draft = { detector: id, key: 'q', device_id: dev, device_class: cls, first_ts: s.last, last_ts: ctx.watermark, count: s.alarms, score: 0.5, severity: 'medium' as const, observed: s.alarms, expected: 0, explanation: 'quiet', evidence: {}, mitre: [] };
    return { state: s, findings: [draft] };
  },
});

function detectors(): DetectorInstance[] {
  const rep = reporting.create(withDefaults(reporting, { min_samples: 16, min_silence: 10 * MIN }), 'reporting');
  expect(typeof rep.nextTick).toBe('function');
  return [rep, quiet('quiet')];
}

/** A small fleet over ~3 days: regular reporters, flaky ones with long silences, some that stop for good, late joiners, out-of-order events. */
function fleet(seed: number): M2MEvent[] {
  const rng = new Rng(seed);
  const evs: M2MEvent[] = [];
  const span = 3 * 86_400_000;
  for (let i = 0; i < 60; i++) {
    const id = `dev-${i}`;
    const every = rng.int(1, 20) * MIN;
    const start = T0 + (rng.chance(0.2) ? rng.int(0, 36 * 60) * MIN : 0);
    const stop = rng.chance(0.2) ? start + rng.int(60, 24 * 60) * MIN : T0 + span;
    const conn = rng.chance(0.5);
    for (let t = start; t < stop; ) {
      const type = conn && rng.chance(0.3) ? 'connection' : 'telemetry';
      const ts = t + (rng.chance(0.05) ? -rng.int(0, 50_000) : 0);
      if (type === 'telemetry') evs.push({ type, device_id: id, device_class: 'meter', ts, metrics: { v: 1 } });
      else evs.push({ type, device_id: id, device_class: 'meter', ts, src_ip: '10.0.0.1', dst_ip: '10.0.0.2', dst_port: 443, protocol: 'tcp', bytes_out: 1, bytes_in: 1 } as M2MEvent);
      // Silences of up to 10 hours now and then.
      t += rng.chance(0.01) ? rng.int(30, 600) * MIN : Math.max(1_000, Math.round(every * rng.uniform(0.8, 1.2)));
    }
  }
  evs.sort((a, b) => a.ts - b.ts || (a.device_id < b.device_id ? -1 : 1));
  // Mild disorder: swap some neighbours.
  for (let i = 1; i < evs.length; i++) if (rng.chance(0.05)) [evs[i - 1], evs[i]] = [evs[i]!, evs[i - 1]!];
  return evs;
}

const json = (x: unknown) => JSON.stringify(x, jsonReplacer);
// Snapshots compare with each device's detector states in id order: the engine writes them in
// pipeline order, the reference in the order detectors first applied; the content must match.
const sortedD = (_k: string, v: unknown): unknown => {
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  if (v !== null && typeof v === 'object' && 'd' in v && 'device_class' in v) {
    const d = (v as { d: Record<string, unknown> }).d;
    return { ...v, d: Object.fromEntries(Object.keys(d).sort().map((k) => [k, d[k]])) };
  }
  return v;
};
const snapJson = (x: unknown) => JSON.stringify(x, sortedD);

function drive(make: (restored?: EngineSnapshot) => Omit<Engine, 'watch'>, evs: M2MEvent[], restoreAt: number): { findings: string[]; snaps: string[] } {
  let e = make();
  const findings: string[] = [];
  const snaps: string[] = [];
  const keep = (fs: Finding[]) => {
    for (const f of fs) findings.push(json(f));
  };
  for (let i = 0; i < evs.length; i++) {
    if (i === restoreAt) {
      const snap = JSON.parse(json(e.snapshot())) as EngineSnapshot;
      e = make(snap);
    }
    keep(e.process(evs[i]!));
    if (i % 5_000 === 0) snaps.push(snapJson(e.snapshot()));
  }
  keep(e.advanceTo(evs[evs.length - 1]!.ts + 2 * 86_400_000));
  snaps.push(snapJson(e.snapshot()));
  return { findings, snaps };
}

describe('engine tick scheduling', () => {
  for (const seed of [1, 2, 3]) {
    it(`matches ticking every device at every tick (seed ${seed})`, () => {
      const evs = fleet(seed);
      const opts = { pipeline: 'p', allowedLatenessMs: 2 * MIN, idleEvictionMs: 12 * 3_600_000, tickEveryMs: MIN };
      const mk = (factory: (o: EngineOptions) => Omit<Engine, 'watch'>) => (snap?: EngineSnapshot) => {
        const e = factory({ ...opts, detectors: detectors() });
        if (snap) e.restore(snap);
        return e;
      };
      const ref = drive(mk(createReferenceEngine), evs, Math.floor(evs.length / 2));
      const got = drive(mk(createEngine), evs, Math.floor(evs.length / 2));
      expect(ref.findings.filter((f) => f.includes('"key":"silence"')).length).toBeGreaterThan(20);
      expect(ref.findings.filter((f) => f.includes('"key":"q"')).length).toBeGreaterThan(20);
      // First difference only (a full diff of thousands of JSON strings takes minutes).
      const firstDiff = (a: string[], b: string[]) => {
        const i = a.findIndex((x, k) => x !== b[k]);
        return i < 0 ? (a.length === b.length ? null : { at: Math.min(a.length, b.length) }) : { at: i, got: a[i], want: b[i] };
      };
      expect(firstDiff(got.findings, ref.findings)).toBeNull();
      expect(firstDiff(got.snaps, ref.snaps)).toBeNull();
    });
  }

  it('visits only due devices: a quiet fleet of regular reporters is not ticked', () => {
    let ticks = 0;
    const rep = detectors()[0]!;
    const tick = rep.tick!.bind(rep);
    (rep as { tick: typeof tick }).tick = (...a) => {
      ticks++;
      return tick(...a);
    };
    const e = createEngine({ pipeline: 'p', detectors: [rep], allowedLatenessMs: 0, idleEvictionMs: 86_400_000 });
    for (let m = 0; m < 600; m++) for (let d = 0; d < 50; d++) e.process({ type: 'telemetry', device_id: `d${d}`, device_class: 'x', ts: T0 + m * MIN + d, metrics: { v: 1 } });
    // Every device visited every minute would be 30,000 ticks; with nextTick each device is
    // visited about once per silence threshold (10 min here), and never ticked while it reports.
    expect(ticks).toBeLessThan(600 * 50 / 8);
  });
});
