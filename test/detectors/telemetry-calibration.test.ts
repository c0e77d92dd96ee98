/**
 * The telemetry detectors judge each metric against its own behaviour: routine large swings,
 * first cycles, reboots and firmware changes, and naturally repeating values stay quiet, while
 * sustained and out-of-envelope deviations still fire. (flatline's calibration is in flatline.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { metricBaseline } from '../../src/detectors/metric_baseline.js';
import { levelShift } from '../../src/detectors/level_shift.js';
import { scoreFromP } from '../../src/detectors/score.js';
import { tailNew, tailP, tailUpdate } from '../../src/detectors/lib/tail.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, gauss, make, rng, run, seasonalTelemetry } from './helpers.js';

const alertWorthy = <F extends { score: number }>(fs: F[]): F[] => fs.filter((f) => f.score >= 0.5);

function tel(ts: number, metrics: Record<string, number>, extra: Partial<TelemetryEvent> = {}): TelemetryEvent {
  return { type: 'telemetry', device_id: 'dev-1', device_class: 'sensor', ts, metrics, ...extra };
}

describe('tail model (POT/GPD)', () => {
  it('learns that large z are routine for a bimodal series and rare for a Gaussian one', () => {
    const r = rng(5);
    const gaussian = tailNew();
    const bimodal = tailNew();
    for (let i = 0; i < 20_000; i++) {
      tailUpdate(gaussian, gauss(r), 20_000);
      tailUpdate(bimodal, r() < 0.2 ? -15 + gauss(r) : gauss(r), 20_000);
    }
    expect(scoreFromP(tailP(gaussian, -8))).toBeGreaterThan(0.7);
    expect(scoreFromP(tailP(bimodal, -15))).toBeLessThan(0.2);
    // Beyond the routine mode it is still a tail, not an impossibility.
    expect(tailP(bimodal, -18)).toBeGreaterThan(1e-4);
  });
});

describe('metric_baseline calibration', () => {
  // The first drive comes 7h into the first day: before a full cycle a new mode within a
  // fraction of the level beyond the envelope is not gross, so it stays low.
  it('stays quiet on a metric with routine large jumps (charging vs resting battery)', () => {
    const r = rng(9);
    const evs: TelemetryEvent[] = [];
    for (let t = T0; t < T0 + 6 * DAY; t += 2 * MIN) {
      const h = ((t - T0) % DAY) / HOUR;
      // Driving (charging, 14.1 V) in irregular stretches, resting (12.6 V) otherwise.
      const driving = (h > 7 && h < 9 + r()) || (h > 16 + r() && h < 18.5);
      evs.push(tel(t, { battery_v: (driving ? 14.1 : 12.6) + 0.05 * gauss(r) }));
    }
    const res = run([make(metricBaseline)], evs);
    expect(alertWorthy(res.latest)).toEqual([]);
  });

  function battery(seed: number, days: number, extra: (day: number, h: number) => number | undefined): TelemetryEvent[] {
    const r = rng(seed);
    const evs: TelemetryEvent[] = [];
    for (let t = T0; t < T0 + days * DAY; t += 2 * MIN) {
      const h = ((t - T0) % DAY) / HOUR;
      const day = Math.floor((t - T0) / DAY);
      const driving = (h > 7 && h < 9 + r()) || (h > 16 + r() && h < 18.5);
      evs.push(tel(t, { battery_v: extra(day, h) ?? (driving ? 14.1 : 12.6) + 0.05 * gauss(r) }));
    }
    return evs;
  }

  it('a known mode at an hour whose bucket has never seen it is judged by the global tail', () => {
    // Thursday, a drive at noon: the noon bucket has only seen resting.
    const evs = battery(9, 5, (day, h) => (day === 3 && h > 12 && h < 13.5 ? 14.1 : undefined));
    const res = run([make(metricBaseline)], evs);
    expect(res.latest.filter((f) => f.first_ts >= T0 + DAY)).toEqual([]);
  });

  it('a reading far beyond every mode of a bimodal metric still fires', () => {
    // The fitted tail of a bimodal series is heavy; 20 V is still far past anything it shows.
    const evs = battery(9, 5, (day, h) => (day === 3 && h >= 3 && h < 3.05 ? 20 : undefined));
    const hits = alertWorthy(run([make(metricBaseline)], evs).latest.filter((f) => f.first_ts >= T0 + 3 * DAY));
    expect(hits.length).toBe(1);
    expect(hits[0]!.observed).toBe(20);
  });

  it('stays quiet on Poisson counts with a daily cycle', () => {
    const r = rng(21);
    const evs: TelemetryEvent[] = [];
    const poisson = (lam: number) => {
      let k = 0;
      let p = Math.exp(-lam);
      let c = p;
      const u = r();
      while (u > c && k < 200) {
        k++;
        p *= lam / k;
        c += p;
      }
      return k;
    };
    for (let t = T0; t < T0 + 7 * DAY; t += 5 * MIN) {
      const h = ((t - T0) % DAY) / HOUR;
      evs.push(tel(t, { txn_count: poisson(h > 8 && h < 20 ? 1.5 : 0.05) }));
    }
    expect(alertWorthy(run([make(metricBaseline)], evs).latest)).toEqual([]);
  });

  it('a sustained 6σ offset out of the envelope still fires medium or worse', () => {
    const evs = seasonalTelemetry({ days: 5, stepMs: 5 * MIN, metrics: { pressure: [5, 0, 0.05] } });
    const start = evs.findIndex((e) => e.ts >= T0 + 4 * DAY);
    for (let k = 0; k < 36; k++) (evs[start + k] as TelemetryEvent).metrics.pressure! += 0.3 + 0.05 * Math.sin(k);
    const hits = alertWorthy(run([make(metricBaseline)], evs).latest.filter((f) => f.key === 'pressure'));
    expect(hits.length).toBe(1);
    expect(hits[0]!.first_ts).toBeGreaterThanOrEqual(evs[start]!.ts);
    expect(hits[0]!.first_ts).toBeLessThanOrEqual(evs[start + 16]!.ts);
  });

  it('before a full daily cycle nothing is more than low: the operating modes are not known yet', () => {
    const evs = seasonalTelemetry({ days: 1, stepMs: 5 * MIN, metrics: { load: [50, 30, 1] } });
    const i = evs.findIndex((e) => e.ts >= T0 + 14 * HOUR);
    (evs[i] as TelemetryEvent).metrics.load = 85; // just past what the morning showed
    // A line that starts production on the first morning: a level twice anything seen so far.
    const j = evs.findIndex((e) => e.ts >= T0 + 20 * HOUR);
    for (let k = j; k < j + 30; k++) (evs[k] as TelemetryEvent).metrics.load = 200 + (k % 3);
    const res = run([make(metricBaseline)], evs);
    expect(alertWorthy(res.latest)).toEqual([]);
    // Still on record, below the alert line.
    expect(res.latest.some((f) => f.first_ts >= evs[j]!.ts && f.severity === 'low')).toBe(true);
  });

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
    expect(alertWorthy(res.latest)).toEqual([]);
  });
});

describe('level_shift calibration', () => {
  it('ignores cumulative counters', () => {
    const r = rng(4);
    const evs: TelemetryEvent[] = [];
    let kwh = 1000;
    for (let t = T0; t < T0 + 7 * DAY; t += 15 * MIN) {
      kwh += 0.2 + 0.1 * r();
      evs.push(tel(t, { energy_kwh: kwh }));
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
      evs.push(tel(t, { pressure: 3 + 0.05 * wander + 0.02 * gauss(r) + step(t) }));
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
