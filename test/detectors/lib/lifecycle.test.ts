/**
 * The telemetry lifecycle (lib/lifecycle.ts): restarts and silences make metric_baseline and
 * level_shift relearn rather than report, learning rates are floored while they do, and the
 * rules themselves.
 */
import { describe, expect, it } from 'vitest';
import { levelShift } from '../../../src/detectors/level_shift/detector.js';
import { metricBaseline } from '../../../src/detectors/metric_baseline/detector.js';
import { RELEARN_ALPHA, intervalAfter, learnRate, relearnFloor, restarted, silenceGraceEnd } from '../../../src/detectors/lib/lifecycle.js';
import type { DeviceMarks } from '../../../src/detectors/lib/lifecycle.js';
import type { TelemetryEvent } from '../../../src/events/types.js';
import { DAY, HOUR, MIN, T0, alertWorthy, gauss, make, rng, run, seasonalTelemetry } from '../helpers.js';

/**
 * A vehicle: fuel is only reported on trips (every 10 s), two trips a day; it drains while driving
 * and is refuelled to near full when low, which happens at the start of a trip, after the vehicle
 * was parked and silent. `jumpAt` moves the fuel level at that time, wherever it falls.
 */
function vehicle(days: number, refuelDay: number, jumpAt?: number): TelemetryEvent[] {
  const r = rng(7);
  const out: TelemetryEvent[] = [];
  let fuel = 60;
  for (let d = 0; d < days; d++) {
    for (const [h, mins] of [
      [7.5, 45],
      [17, 50],
    ] as const) {
      const start = T0 + d * DAY + h * HOUR;
      if (d === refuelDay && h === 17) fuel = 96; // refuelled while parked
      for (let t = start; t < start + mins * MIN; t += 10_000) {
        if (jumpAt !== undefined && t >= jumpAt && t < jumpAt + 10_000) fuel = 96;
        fuel = Math.max(0, fuel - 0.004);
        const speed = Math.max(0, 60 + 15 * gauss(r));
        out.push({ type: 'telemetry', device_id: 'veh-1', device_class: 'vehicle', ts: t, metrics: { fuel_pct: Math.round((fuel + 0.3 * gauss(r)) * 10) / 10, speed_kmh: Math.round(speed * 10) / 10 } });
      }
    }
  }
  return out;
}

describe('a metric that comes back from a silence', () => {
  it('a refuel while parked (a jump above every earlier level, across a silence) is not alert-worthy', () => {
    const evs = vehicle(8, 5);
    expect(alertWorthy(run([make(metricBaseline), make(levelShift)], evs).latest)).toEqual([]);
  });

  it('the same jump in the middle of a trip, with no silence before it, still fires', () => {
    const evs = vehicle(8, -1, T0 + 5 * DAY + 17 * HOUR + 20 * MIN);
    const hits = alertWorthy(run([make(metricBaseline)], evs).latest).filter((f) => f.key === 'fuel_pct');
    expect(hits.length).toBeGreaterThan(0);
  });
});

describe('a restart', () => {
  it('relearns quietly after a firmware change that moves a level', () => {
    const evs = seasonalTelemetry({ days: 5, stepMs: 5 * MIN, metrics: { temp: [40, 0, 0.2] }, firmware: '1.0.0', seq: true });
    const from = evs.findIndex((e) => e.ts >= T0 + 3 * DAY);
    for (let k = from; k < evs.length; k++) {
      const e = evs[k] as TelemetryEvent;
      e.firmware = '1.1.0';
      e.seq = k - from;
      e.metrics.temp! += 1.2; // a new calibration table: 6σ, for good
    }
    const res = run([make(metricBaseline), make(levelShift)], evs);
    expect(res.latest.filter((f) => f.score >= 0.5)).toEqual([]);
  });

  const ev = (extra: Partial<TelemetryEvent>): TelemetryEvent => ({ type: 'telemetry', device_id: 'd', device_class: 'c', ts: T0, metrics: {}, ...extra });

  it('is a firmware change or a seq that falls back to near zero from well above; nothing else', () => {
    const dev: DeviceMarks = {};
    expect(restarted(dev, ev({ firmware: '1.0', seq: 100 }))).toBe(false);
    expect(dev).toEqual({ fw: '1.0', sq: 100 });
    expect(restarted(dev, ev({ firmware: '1.0', seq: 90 }))).toBe(false); // reordering
    expect(restarted(dev, ev({ seq: 3 }))).toBe(true);
    expect(restarted(dev, ev({ seq: 2 }))).toBe(false); // from 3: not from well above
    expect(restarted(dev, ev({ firmware: '1.1' }))).toBe(true);
    expect(dev).toEqual({ fw: '1.1', sq: 2 });
    // A state that writes "no seq yet" as NaN (metric_baseline) never restarts on its first seq.
    expect(restarted({ fw: undefined, sq: NaN }, ev({ seq: 0 }))).toBe(false);
  });
});

describe('lifecycle rules', () => {
  it('a gap of 20 typical intervals (and 2 minutes) is a silence, relearned for 20 intervals within [5 min, relearn]', () => {
    expect(silenceGraceEnd(T0, 20 * MIN, MIN, 2 * HOUR)).toBe(-1);
    expect(silenceGraceEnd(T0, 21 * MIN, MIN, 2 * HOUR)).toBe(T0 + 20 * MIN);
    expect(silenceGraceEnd(T0, 21 * MIN, MIN, 10 * MIN)).toBe(T0 + 10 * MIN);
    expect(silenceGraceEnd(T0, 100_000, 1000, 2 * HOUR)).toBe(-1); // under two minutes
    expect(silenceGraceEnd(T0, 200_000, 1000, 2 * HOUR)).toBe(T0 + 5 * MIN);
    expect(silenceGraceEnd(T0, DAY, NaN, 2 * HOUR)).toBe(-1); // no interval known yet
  });

  it('the typical interval starts at the first gap and learns gaps clipped at 4× itself', () => {
    expect(intervalAfter(NaN, 5000, 0, 0.01)).toBe(5000);
    expect(intervalAfter(1000, 2000, 0, 0.01)).toBe(2000); // weight 1 after no readings
    expect(intervalAfter(1000, 1_000_000, 0, 0.01)).toBe(4000);
    expect(intervalAfter(1000, 2000, 1e6, 0.01)).toBe(1010);
  });

  it('learning rates go from 1/(n + 1) to the memory, floored while relearning', () => {
    expect(learnRate(0, 0.001, false)).toBe(1);
    expect(learnRate(1e6, 0.001, false)).toBe(0.001);
    expect(learnRate(1e6, 0.001, true)).toBe(RELEARN_ALPHA);
    expect(learnRate(3, 0.001, true)).toBe(0.25);
    expect(relearnFloor(0.01, false)).toBe(0.01);
    expect(relearnFloor(0.01, true)).toBe(RELEARN_ALPHA);
  });
});
