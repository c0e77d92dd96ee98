/**
 * level_shift: sustained shifts fire, seasonal noise, counters and a level that wanders from day
 * to day do not.
 */
import { describe, expect, it } from 'vitest';
import { levelShift } from '../../../src/detectors/level_shift/detector.js';
import type { TelemetryEvent } from '../../../src/events/types.js';
import { DAY, HOUR, MIN, T0, alertWorthy, assertWellFormed, gauss, make, reading, rng, run, seasonalTelemetry } from '../helpers.js';

describe('level_shift', () => {
  it('is quiet on clean seasonal noise for two weeks, including weekends at lower load', () => {
    const evs = seasonalTelemetry({ days: 14, stepMs: 5 * MIN, weekendFactor: 0.6 });
    const r = run([make(levelShift)], evs);
    expect(r.latest.filter((f) => f.score >= 0.5)).toEqual([]);
    expect(r.latest.length).toBeLessThanOrEqual(1);
  });

  it('fires on a sustained 4σ shift that metric_baseline would not see as spikes', () => {
    const evs = seasonalTelemetry({ days: 5, stepMs: 5 * MIN, metrics: { flow: [120, 0, 2] } });
    const start = evs.findIndex((e) => e.ts >= T0 + 4 * DAY);
    for (let i = start; i < evs.length; i++) (evs[i] as TelemetryEvent).metrics.flow! += 8;
    const r = run([make(levelShift)], evs);
    expect(r.latest.length).toBe(1);
    const f = r.latest[0]!;
    assertWellFormed(f);
    expect(f.evidence.direction).toBe('above');
    expect(f.first_ts - evs[start]!.ts).toBeLessThan(2 * HOUR);
    expect(f.score).toBeGreaterThanOrEqual(0.5);
  });

  it('a shift must also last min_duration of event time before it fires', () => {
    const evs = seasonalTelemetry({ days: 5, stepMs: 5 * MIN, metrics: { flow: [120, 0, 2] } });
    const start = evs.findIndex((e) => e.ts >= T0 + 4 * DAY);
    for (let i = start; i < evs.length; i++) (evs[i] as TelemetryEvent).metrics.flow! += 8;
    const first = (params: Record<string, unknown>) => run([make(levelShift, params)], evs).latest.filter((f) => f.score >= 0.5)[0]!.first_ts - evs[start]!.ts;
    expect(first({})).toBeGreaterThanOrEqual(30 * MIN);
    expect(first({ min_duration: '3h' })).toBeGreaterThanOrEqual(3 * HOUR);
  });

  it('does not fire during warm-up', () => {
    const evs = seasonalTelemetry({ days: 0.4, stepMs: MIN, metrics: { flow: [120, 0, 2] } });
    for (let i = 200; i < evs.length; i++) (evs[i] as TelemetryEvent).metrics.flow! += 20;
    expect(run([make(levelShift)], evs).latest).toEqual([]);
  });
});

describe('level_shift calibration', () => {
  it('ignores cumulative counters', () => {
    const r = rng(4);
    const evs: TelemetryEvent[] = [];
    let kwh = 1000;
    for (let t = T0; t < T0 + 7 * DAY; t += 15 * MIN) {
      kwh += 0.2 + 0.1 * r();
      evs.push(reading(t, { energy_kwh: kwh }));
    }
    expect(run([make(levelShift)], evs).latest).toEqual([]);
  });

  // An AR(1) wander with a ~3h time constant: its readings are autocorrelated over hours, so it is
  // judged against the day-to-day spread of hourly means, not the reading-to-reading noise.
  function wandering(seed: number, days: number, step: (t: number) => number): TelemetryEvent[] {
    const r = rng(seed);
    const evs: TelemetryEvent[] = [];
    let wander = 0;
    for (let t = T0; t < T0 + days * DAY; t += MIN) {
      wander = 0.995 * wander + 0.3 * gauss(r); // a slowly drifting transmitter, σ ≈ 0.15
      evs.push(reading(t, { pressure: 3 + 0.05 * wander + 0.02 * gauss(r) + step(t) }));
    }
    return evs;
  }

  it('a level that wanders from day to day needs a proportionally larger shift', () => {
    const evs = wandering(17, 10, () => 0);
    expect(alertWorthy(run([make(levelShift)], evs).latest)).toEqual([]);
  });

  it.each([
    [17, 1.2],
    [5, -1.2],
  ])('on that wandering level a sustained step of several day-to-day spreads still fires (seed %i, %d)', (seed, size) => {
    const at = T0 + 8 * DAY;
    const evs = wandering(seed, 9, (t) => (t >= at ? size : 0));
    const hits = alertWorthy(run([make(levelShift)], evs).latest);
    expect(hits.length).toBeGreaterThanOrEqual(1);
    const first = hits.reduce((a, b) => (a.first_ts <= b.first_ts ? a : b));
    expect(first.first_ts).toBeGreaterThanOrEqual(at);
    expect(first.first_ts - at).toBeLessThan(HOUR);
    expect(first.evidence.direction).toBe(size > 0 ? 'above' : 'below');
  });

  it('a slow drift on a clean level fires within hours', () => {
    const evs = seasonalTelemetry({ days: 6, stepMs: 5 * MIN, metrics: { flow: [120, 0, 2] } });
    const start = evs.findIndex((e) => e.ts >= T0 + 4 * DAY);
    // 1σ per hour, up to 6σ.
    for (let i = start; i < evs.length; i++) (evs[i] as TelemetryEvent).metrics.flow! += Math.min(12, (2 * (evs[i]!.ts - evs[start]!.ts)) / HOUR);
    const hits = alertWorthy(run([make(levelShift)], evs).latest);
    expect(hits.length).toBe(1);
    expect(hits[0]!.evidence.direction).toBe('above');
    expect(hits[0]!.first_ts - evs[start]!.ts).toBeLessThan(5 * HOUR);
  });
});
