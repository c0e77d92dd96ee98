import { describe, expect, it } from 'vitest';
import { firmwareChange } from '../../src/detectors/firmware.js';
import { flatline } from '../../src/detectors/flatline.js';
import { levelShift } from '../../src/detectors/level_shift/detector.js';
import { rangeLimits } from '../../src/detectors/range_limits.js';
import { reporting } from '../../src/detectors/reporting.js';
import { sequence } from '../../src/detectors/sequence.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, gauss, make, maxStateSize, rng, run, seasonalTelemetry } from './helpers.js';

const tele = (ts: number, metrics: Record<string, number>, extra: Partial<TelemetryEvent> = {}): TelemetryEvent => ({
  type: 'telemetry',
  device_id: extra.device_id ?? 'dev-1',
  device_class: 'sensor',
  ts,
  metrics,
  ...extra,
});

describe('flatline', () => {
  it('fires on a stuck sensor and not on a naturally constant metric', () => {
    const evs = seasonalTelemetry({ days: 3, stepMs: MIN, metrics: { level_cm: [140, 5, 0.5] } });
    for (const e of evs) (e as TelemetryEvent).metrics.valve_open = 1; // constant by nature
    const start = evs.findIndex((e) => e.ts >= T0 + 2 * DAY + 6 * HOUR);
    for (let i = start; i < start + 240; i++) (evs[i] as TelemetryEvent).metrics.level_cm = 143.2;
    const r = run([make(flatline)], evs);
    expect(r.latest.length).toBe(1);
    const f = r.latest[0]!;
    assertWellFormed(f);
    expect(f.key).toBe('level_cm');
    expect(f.first_ts - evs[start]!.ts).toBeLessThanOrEqual(30 * MIN);
  });

  it('a stuck sensor with a slow cadence fires on duration, not on a fixed count of readings', () => {
    // A terminal's CPU temperature every 5 minutes, stuck for 50 minutes: 10 readings.
    const evs = seasonalTelemetry({ days: 3, stepMs: 5 * MIN, metrics: { cpu_temp_c: [48, 4, 0.6] } });
    for (const e of evs) (e as TelemetryEvent).metrics.cpu_temp_c = Math.round((e as TelemetryEvent).metrics.cpu_temp_c! * 10) / 10;
    const start = evs.findIndex((e) => e.ts >= T0 + 2 * DAY + 10 * HOUR);
    for (let i = start; i < start + 10; i++) (evs[i] as TelemetryEvent).metrics.cpu_temp_c = 47.3;
    const r = run([make(flatline)], evs);
    expect(r.latest.map((f) => [f.key, f.severity !== 'low' && f.severity !== 'info'])).toEqual([['cpu_temp_c', true]]);
    // The same 10 readings at a 10-second cadence are 100 s: too short to mean anything.
    const fast = seasonalTelemetry({ days: 2, stepMs: 10_000, metrics: { t: [48, 4, 0.6] } });
    const s2 = fast.findIndex((e) => e.ts >= T0 + 36 * HOUR);
    for (let i = s2; i < s2 + 10; i++) (fast[i] as TelemetryEvent).metrics.t = 47.3;
    expect(run([make(flatline)], fast).latest).toEqual([]);
  });

  it('is quiet on a slow, quantised sensor', () => {
    const evs = seasonalTelemetry({ days: 4, stepMs: 30_000, metrics: { t: [21, 3, 0.05] } });
    for (const e of evs) (e as TelemetryEvent).metrics.t = Math.round((e as TelemetryEvent).metrics.t! * 2) / 2;
    expect(run([make(flatline)], evs).latest).toEqual([]);
  });
});

describe('range_limits', () => {
  it('fires on values outside limits with class overrides, from the first reading', () => {
    const det = make(rangeLimits, { limits: { voltage: { min: 0, max: 480 } }, class_limits: { smart_meter: { voltage: { min: 180, max: 260 } } } });
    const evs = [
      tele(T0, { voltage: 300 }), // fine for a generic sensor
      tele(T0 + 1, { voltage: 300 }, { device_id: 'm', device_class: 'smart_meter' }),
      tele(T0 + 2, { voltage: 900 }, { device_id: 'm', device_class: 'smart_meter' }),
      tele(T0 + 3, { voltage: -5 }),
    ];
    const r = run([det], evs);
    const m = r.latest.filter((f) => f.device_id === 'm');
    expect(m.length).toBe(1);
    expect(m[0]!.count).toBe(2);
    expect(m[0]!.score).toBe(0.8);
    expect(r.latest.filter((f) => f.device_id === 'dev-1').length).toBe(1);
    for (const f of r.latest) assertWellFormed(f);
  });
});

describe('reporting', () => {
  const steady = (days: number, seed = 1, device = 'dev-1') => {
    const r0 = rng(seed);
    const out: TelemetryEvent[] = [];
    for (let t = T0; t < T0 + days * DAY; t += 60_000 + Math.round((r0() - 0.5) * 10_000)) out.push(tele(t, { v: 1 }, { device_id: device }));
    return out;
  };

  it('reports silence from the watermark although the device sends nothing, low first then medium', () => {
    const quiet = steady(2, 1, 'quiet');
    const other = steady(3, 2, 'other');
    const cut = T0 + DAY + 3 * HOUR;
    const evs = [...quiet.filter((e) => e.ts < cut), ...other].sort((a, b) => a.ts - b.ts);
    const r = run([make(reporting)], evs);
    const sil = r.latest.filter((f) => f.device_id === 'quiet' && f.key === 'silence');
    expect(sil.length).toBe(1);
    assertWellFormed(sil[0]!);
    expect(sil[0]!.severity).toBe('medium');
    const first = r.findings.find((f) => f.device_id === 'quiet')!;
    expect(first.severity).toBe('low');
    expect(first.first_ts - cut).toBeLessThan(20 * MIN);
    expect(r.latest.filter((f) => f.device_id === 'other')).toEqual([]);
  });

  it('a short fleet-wide outage stays low and closes when devices return with a catch-up burst', () => {
    const devs = ['a', 'b', 'c'].map((d, i) => steady(3, 10 + i, d));
    const outFrom = T0 + 2 * DAY;
    const outTo = outFrom + 40 * MIN;
    const evs = devs.flat().filter((e) => e.ts < outFrom || e.ts >= outTo);
    // Buffered readings arrive after the outage, with their original timestamps, all at once.
    const backlog = devs.flat().filter((e) => e.ts >= outFrom && e.ts < outTo);
    const ordered = [...evs.filter((e) => e.ts < outTo), ...backlog, ...evs.filter((e) => e.ts >= outTo)];
    ordered.sort((a, b) => (a.ts < outTo && b.ts < outTo ? a.ts - b.ts : 0));
    const r = run([make(reporting)], ordered.sort((a, b) => a.ts - b.ts));
    expect(r.latest.filter((f) => f.score >= 0.5)).toEqual([]);
  });

  it('a device with two rhythms (10 s on trips, hourly when parked) missing one heartbeat is not a sustained silence', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let d = 0; d < 4; d++) {
      // Two trips a day at 10 s, hourly heartbeats otherwise.
      const day = T0 + d * DAY;
      for (t = Math.max(t, day); t < day + 8 * HOUR; t += HOUR) evs.push(tele(t, { v: 1 }));
      for (; t < day + 9 * HOUR; t += 10_000) evs.push(tele(t, { v: 1 }));
      for (; t < day + 17 * HOUR; t += HOUR) evs.push(tele(t, { v: 1 }));
      for (; t < day + 18 * HOUR; t += 10_000) evs.push(tele(t, { v: 1 }));
      // One heartbeat lost on the last evening (a reboot for a rollout): 2 h between reports.
      for (; t < day + DAY; t += d === 3 && t > day + 20 * HOUR && t < day + 21.5 * HOUR ? 2 * HOUR : HOUR) evs.push(tele(t, { v: 1 }));
    }
    const r = run([make(reporting)], evs);
    expect(r.latest.filter((f) => f.score >= 0.5)).toEqual([]);
  });

  it('fires on a 10× faster reporting rate', () => {
    const evs = steady(2);
    const t1 = T0 + 2 * DAY;
    for (let k = 0; k < 600; k++) evs.push(tele(t1 + k * 6000, { v: 1 }));
    const r = run([make(reporting)], evs);
    const f = r.latest.find((x) => x.key === 'rate');
    expect(f).toBeDefined();
    expect(f!.evidence.direction).toBe('faster');
  });
});

describe('sequence', () => {
  it('ignores duplicates, small gaps and late fills; flags replay, rollback and big gaps', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let s = 0; s < 500; s++) {
      if (s % 50 === 7) continue; // lossy link: single drops
      evs.push(tele((t += MIN), { v: 1 }, { seq: s }));
    }
    evs.push(tele(evs[evs.length - 1]!.ts, { v: 1 }, { seq: 499 })); // duplicate delivery
    expect(run([make(sequence)], evs).latest).toEqual([]);
    evs.push(tele((t += MIN), { v: 1 }, { seq: 480 })); // replay of a recent seq
    evs.push(tele((t += MIN), { v: 1 }, { seq: 100 })); // rollback
    evs.push(tele((t += MIN), { v: 1 }, { seq: 5000 })); // gap
    const r = run([make(sequence)], evs);
    // Replay and rollback are one story (two counters under one identity): one finding.
    expect(r.latest.map((f) => f.key).sort()).toEqual(['gap', 'identity']);
    const id = r.latest.find((f) => f.key === 'identity')!;
    expect(id.count).toBe(2);
    expect(id.severity).toBe('high');
    expect(id.evidence.kind).toBe('rollback');
    for (const f of r.latest) assertWellFormed(f);
  });

  it('a clone that stops: the real device resurfacing below its counter an hour later extends the same finding', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    let real = 0;
    // The real device: hourly heartbeats while parked.
    for (let h = 0; h < 48; h++) evs.push(tele((t += 60 * MIN), { v: 1 }, { seq: real++ }));
    // A clone with its own, higher counter reports every minute for two hours, interleaved.
    let clone = real + 100;
    for (let k = 0; k < 120; k++) {
      if (k % 60 === 30) evs.push(tele((t += 20_000), { v: 1 }, { seq: real++ }));
      evs.push(tele((t += MIN), { v: 1 }, { seq: clone++ }));
    }
    // The clone is gone; the real device's next heartbeats an hour apart.
    for (let h = 0; h < 3; h++) evs.push(tele((t += 60 * MIN), { v: 1 }, { seq: real++ }));
    const r = run([make(sequence)], evs);
    const alerts = r.latest.filter((f) => f.severity !== 'low' && f.severity !== 'info');
    expect(alerts.map((f) => f.key)).toEqual(['identity']);
  });

  it('a reboot resets quietly; a reboot loop fires', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let boot = 0; boot < 6; boot++) for (let s = 0; s < 100; s++) evs.push(tele((t += MIN), { v: 1 }, { seq: s }));
    const r = run([make(sequence)], evs);
    expect(r.latest.map((f) => f.key)).toEqual(['resets']);
    expect(run([make(sequence)], evs.slice(0, 300)).latest).toEqual([]);
  });
});

describe('firmware_change', () => {
  it('upgrade is low, downgrade is high, late stale readings are not downgrades', () => {
    const evs = [
      tele(T0, { v: 1 }, { firmware: '4.2.1' }),
      tele(T0 + HOUR, { v: 1 }, { firmware: '4.10.0' }),
      tele(T0 + HOUR - 1000, { v: 1 }, { firmware: '4.2.1' }), // late, from before the upgrade
      tele(T0 + 2 * DAY, { v: 1 }, { firmware: '4.2.1' }),
    ];
    const r = run([make(firmwareChange)], evs);
    const byKey = Object.fromEntries(r.latest.map((f) => [f.key, f]));
    expect(Object.keys(byKey).sort()).toEqual(['change', 'downgrade']);
    expect(byKey.change!.severity).toBe('low');
    expect(byKey.downgrade!.severity).toBe('high');
    expect(byKey.downgrade!.explanation).toContain('4.10.0');
  });

  it('a reported downgrade, its re-flash and the next rollout are not also "flapping" at medium; real flapping is', () => {
    const evs = [
      tele(T0, { v: 1 }, { firmware: '2.9.0' }),
      tele(T0 + 2 * DAY, { v: 1 }, { firmware: '2.5.1' }), // downgrade (high)
      tele(T0 + 2 * DAY + 3 * HOUR, { v: 1 }, { firmware: '2.9.0' }), // re-flashed
      tele(T0 + 2 * DAY + 9 * HOUR, { v: 1 }, { firmware: '3.0.0' }), // the fleet rollout
    ];
    const r = run([make(firmwareChange)], evs);
    const byKey = Object.fromEntries(r.latest.map((f) => [f.key, f]));
    expect(byKey.downgrade!.severity).toBe('high');
    expect(byKey.flapping!.severity).toBe('low');
    // Upgrades back and forth with no downgrade on record: flapping stays medium.
    const flap = [
      tele(T0, { v: 1 }, { firmware: '1.0.0' }),
      tele(T0 + HOUR, { v: 1 }, { firmware: '1.1.0' }),
      tele(T0 + 2 * HOUR, { v: 1 }, { firmware: '1.2.0' }),
      tele(T0 + 3 * HOUR, { v: 1 }, { firmware: '1.3.0' }),
    ];
    expect(run([make(firmwareChange)], flap).latest.find((f) => f.key === 'flapping')!.severity).toBe('medium');
  });
});

describe('telemetry detectors: determinism and bounded state', () => {
  it.each([
    ['level_shift', levelShift],
    ['flatline', flatline],
    ['reporting', reporting],
    ['sequence', sequence],
    ['firmware_change', firmwareChange],
  ] as const)('%s', (id, spec) => {
    const r0 = rng(11);
    const evs: TelemetryEvent[] = [];
    for (let i = 0; i < 8000; i++) {
      const m: Record<string, number> = {};
      for (let k = 0; k < 6; k++) m[`metric_with_a_long_name_${(i * 5 + k * 17) % 300}`] = Math.round(r0() * 20);
      // A steady metric that gets stuck for a while: what flatline is for.
      m.level_cm = i >= 4000 && i < 4400 ? 143.2 : 140 + 0.5 * gauss(r0);
      evs.push(tele(T0 + i * 30_000 + Math.floor(r0() * 20_000), m, { seq: Math.floor(r0() * 1e6), firmware: `1.${Math.floor(r0() * 30)}.${i % 7}` }));
    }
    // Every five minutes for five days, a flow that shifts by 4σ on the fifth: what level_shift is for.
    const flow = seasonalTelemetry({ days: 5, stepMs: 5 * MIN, metrics: { flow: [120, 0, 2] } });
    for (const e of flow) if (e.ts >= T0 + 4 * DAY) e.metrics.flow! += 8;
    evs.push(...flow);
    evs.sort((x, y) => x.ts - y.ts);
    const det = make(spec as never);
    const a = run([det], evs, { endTs: T0 + 10 * DAY });
    const b = run([make(spec as never)], evs, { endTs: T0 + 10 * DAY });
    expect(a.findings.length, 'determinism is shown on findings, not on silence').toBeGreaterThan(0);
    expect(JSON.stringify(a.findings)).toBe(JSON.stringify(b.findings));
    expect(maxStateSize(a, id)).toBeLessThanOrEqual(det.maxStateBytes!);
  });
});
