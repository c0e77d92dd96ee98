import { describe, expect, it } from 'vitest';
import { flatline } from '../../src/detectors/flatline.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, TELEMETRY_CHURN_END, assertWellFormed, expectDeterministicAndBounded, make, reading, rng, run, seasonalTelemetry, telemetryChurn } from './helpers.js';

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

describe('flatline calibration', () => {
  it('a run that began while learning (the first closed night) does not fire', () => {
    const r = rng(2);
    const evs: TelemetryEvent[] = [];
    for (let t = T0; t < T0 + 4 * DAY; t += 5 * MIN) {
      const h = ((t - T0) % DAY) / HOUR;
      // Open 06:00-18:00 on day 0, then closed until 06:00 on day 2 (past the 24h learning).
      const open = h >= 6 && h < 18 && (t < T0 + 18 * HOUR || t >= T0 + 2 * DAY);
      evs.push(reading(t, { txn: open ? Math.floor(r() * 6) + 1 : 0 }));
    }
    expect(run([make(flatline)], evs).latest.filter((f) => f.first_ts < T0 + 2 * DAY)).toEqual([]);
  });
});

describe('telemetry detectors: determinism and bounded state', () => {
  it('flatline', () => {
    expectDeterministicAndBounded(flatline, {}, telemetryChurn(), { endTs: TELEMETRY_CHURN_END });
  });
});
