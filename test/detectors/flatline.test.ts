import { describe, expect, it } from 'vitest';
import { flatline } from '../../src/detectors/flatline.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, make, reading, rng, run, seasonalTelemetry } from './helpers.js';

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

  it('keeps a charger that idles for the first time low (power and current rest at 0 together), and still reports current frozen at 0 while power flows', () => {
    // Learned busy: a car on the charger around the clock for two days, readings every 2 minutes.
    const r0 = rng(9);
    const evs: TelemetryEvent[] = [];
    const idle = (ts: number): boolean => ts >= T0 + 2 * DAY + 8 * HOUR && ts < T0 + 2 * DAY + 16 * HOUR;
    const frozen = (ts: number): boolean => ts >= T0 + 3 * DAY + 8 * HOUR && ts < T0 + 3 * DAY + 12 * HOUR;
    for (let ts = T0; ts < T0 + 4 * DAY; ts += 2 * MIN) {
      const kw = idle(ts) ? 0 : Math.round((7.2 + 0.3 * (r0() - 0.5)) * 100) / 100;
      const amps = idle(ts) || frozen(ts) ? 0 : Math.round(((kw * 1000) / 230) * 10) / 10;
      evs.push(reading(ts, { power_kw: kw, current_a: amps, connector_temp_c: Math.round((30 + 3 * (r0() - 0.5)) * 10) / 10 }, { device_id: 'evse-1', device_class: 'ev_charger' }));
    }
    const r = run([make(flatline)], evs);
    const during = (f: { first_ts: number }, inside: (ts: number) => boolean): boolean => inside(f.first_ts);
    const idleFindings = r.latest.filter((f) => during(f, idle));
    expect(idleFindings.length).toBeGreaterThan(0);
    for (const f of idleFindings) {
      expect(f.score).toBeLessThan(0.5);
      expect(f.evidence.resting_with).not.toBeNull();
    }
    const frozenFindings = r.latest.filter((f) => during(f, frozen));
    expect(frozenFindings.map((f) => [f.key, f.score >= 0.5])).toEqual([['current_a', true]]);
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
