import { describe, expect, it } from 'vitest';
import { levelShift } from '../../src/detectors/level_shift.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, TELEMETRY_CHURN_END, assertWellFormed, expectDeterministicAndBounded, make, run, seasonalTelemetry, telemetryChurn } from './helpers.js';

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

describe('telemetry detectors: determinism and bounded state', () => {
  it('level_shift', () => {
    expectDeterministicAndBounded(levelShift, {}, telemetryChurn(), { endTs: TELEMETRY_CHURN_END });
  });
});
