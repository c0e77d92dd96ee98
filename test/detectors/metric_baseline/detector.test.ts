import { describe, expect, it } from 'vitest';
import { metricBaseline } from '../../../src/detectors/metric_baseline/detector.js';
import type { TelemetryEvent } from '../../../src/events/types.js';
import { DAY, HOUR, MIN, T0, alertWorthy, assertWellFormed, gauss, make, maxStateSize, reading, rng, run, seasonalTelemetry } from '../helpers.js';

describe('metric_baseline', () => {
  it('stays quiet on two weeks of seasonal, heavy-tailed noise with weekends', () => {
    const evs = seasonalTelemetry({ days: 14, stepMs: 5 * MIN, weekendFactor: 0.4, jitterMs: 20_000 });
    const r = run([make(metricBaseline)], evs);
    expect(r.latest.filter((f) => f.severity !== 'info' && f.severity !== 'low')).toEqual([]);
    // A handful of low findings in ~12k readings × 3 metrics would be tolerable; more is noise.
    expect(r.latest.length).toBeLessThanOrEqual(3);
  });

  it('keeps medium+ false positives rare on heavy-tailed noise across many devices', () => {
    let medium = 0;
    let readings = 0;
    for (let d = 0; d < 10; d++) {
      const evs = seasonalTelemetry({ device: `d${d}`, seed: 100 + d, days: 7, stepMs: 2 * MIN, heavy: true });
      readings += evs.length * 3;
      medium += run([make(metricBaseline)], evs).latest.filter((f) => f.score >= 0.5).length;
    }
    // The noise itself has genuine 6σ excursions (a 2% regime at 2.5× spread); what matters is
    // that they stay at the rate of a few per hundred thousand readings.
    expect(readings).toBeGreaterThan(100_000);
    expect(medium / readings).toBeLessThan(3e-5);
  });

  it('fires on an injected spike with the right metric, direction and a medium+ score', () => {
    const evs = seasonalTelemetry({ days: 5, stepMs: 5 * MIN });
    const at = T0 + 4 * DAY + 3 * HOUR;
    const i = evs.findIndex((e) => e.ts >= at);
    (evs[i] as TelemetryEvent).metrics.current = 25;
    const r = run([make(metricBaseline)], evs);
    const hits = r.latest.filter((f) => f.key === 'current');
    expect(hits.length).toBe(1);
    const f = hits[0]!;
    expect(f.first_ts).toBe(evs[i]!.ts);
    expect(f.score).toBeGreaterThanOrEqual(0.5);
    expect(f.evidence.direction).toBe('above');
    expect(f.explanation).toContain('dev-1');
    expect(f.explanation).toContain('current');
    assertWellFormed(f);
    expect(r.latest.filter((f) => f.key !== 'current')).toEqual([]);
  });

  it('uses the hour of day: a midday value at midnight fires once seasonality is learned', () => {
    const evs = seasonalTelemetry({ days: 6, stepMs: 5 * MIN, metrics: { load: [50, 30, 1] } });
    // Friday 00:00 UTC, where the cycle is at its low (~20).
    const at = T0 + 4 * DAY;
    const i = evs.findIndex((e) => e.ts >= at);
    (evs[i] as TelemetryEvent).metrics.load = 78; // normal at noon (~80 peak), absurd at midnight (~20)
    const r = run([make(metricBaseline)], evs);
    const hit = r.latest.find((f) => f.first_ts === evs[i]!.ts);
    expect(hit).toBeDefined();
    expect(hit!.evidence.seasonal_bucket).not.toBeNull();
    // Inside the range the metric shows every day: unusual for the hour only, so it stays low.
    expect(hit!.severity).toBe('low');
  });

  it('says nothing during warm-up', () => {
    const evs = seasonalTelemetry({ days: 0.2, stepMs: MIN });
    (evs[100] as TelemetryEvent).metrics.voltage = 400;
    const r = run([make(metricBaseline)], evs);
    expect(r.latest).toEqual([]);
  });

  it('a sustained anomaly is one finding with a count, and does not widen the baseline', () => {
    const evs = seasonalTelemetry({ days: 4, stepMs: 5 * MIN, metrics: { pressure: [5, 0, 0.05] } });
    const start = evs.findIndex((e) => e.ts >= T0 + 3 * DAY);
    for (let k = 0; k < 12; k++) (evs[start + k] as TelemetryEvent).metrics.pressure = 9 + k * 0.01;
    // Then a normal-sized but clearly anomalous reading right after: the spread must not have grown.
    (evs[start + 30] as TelemetryEvent).metrics.pressure = 5.6;
    const r = run([make(metricBaseline)], evs);
    const sustained = r.latest.filter((f) => f.first_ts === evs[start]!.ts);
    expect(sustained.length).toBe(1);
    expect(sustained[0]!.count).toBe(12);
    expect(r.latest.some((f) => f.first_ts === evs[start + 30]!.ts)).toBe(true);
  });

  it('treats a cumulative counter by its rate', () => {
    const r0 = rng(3);
    const evs: TelemetryEvent[] = [];
    let kwh = 1000;
    for (let i = 0; i < 3 * 24 * 12; i++) {
      kwh += 0.5 + 0.05 * r0();
      evs.push({ type: 'telemetry', device_id: 'm1', device_class: 'meter', ts: T0 + i * 5 * MIN, metrics: { energy_kwh: kwh } });
    }
    expect(run([make(metricBaseline)], evs).latest).toEqual([]);
    const spiked = evs.map((e) => ({ ...e, metrics: { ...e.metrics } }));
    for (let i = 700; i < spiked.length; i++) spiked[i]!.metrics.energy_kwh! += 40;
    const r = run([make(metricBaseline)], spiked);
    expect(r.latest.length).toBe(1);
    expect(r.latest[0]!.evidence.counter).toBe(true);
  });

  it('does not fire on a quantised, nearly constant sensor stepping by its resolution', () => {
    const r0 = rng(9);
    const evs: TelemetryEvent[] = [];
    for (let i = 0; i < 4000; i++) {
      const v = r0() < 0.05 ? 21.5 : r0() < 0.02 ? 20.5 : 21;
      evs.push({ type: 'telemetry', device_id: 'q', device_class: 'thermo', ts: T0 + i * 2 * MIN, metrics: { t: v } });
    }
    expect(run([make(metricBaseline)], evs).latest).toEqual([]);
  });

  it('honours metrics/exclude', () => {
    const evs = seasonalTelemetry({ days: 4, stepMs: 5 * MIN });
    const i = evs.length - 10;
    (evs[i] as TelemetryEvent).metrics.current = 50;
    expect(run([make(metricBaseline, { exclude: ['current'] })], evs).latest).toEqual([]);
    expect(run([make(metricBaseline, { metrics: ['voltage'] })], evs).latest).toEqual([]);
    expect(run([make(metricBaseline, { metrics: ['current'] })], evs).latest.length).toBe(1);
  });

  it('is deterministic and its state stays under maxStateBytes with many metrics', () => {
    const r0 = rng(5);
    const evs: TelemetryEvent[] = [];
    for (let i = 0; i < 6000; i++) {
      const m: Record<string, number> = {};
      // Far more distinct metric names than max_metrics, with long names.
      for (let k = 0; k < 8; k++) m[`some_rather_long_metric_name_${(i * 7 + k * 13) % 200}_${'x'.repeat(20)}`] = r0() * 100;
      evs.push({ type: 'telemetry', device_id: 'many', device_class: 'x', ts: T0 + i * 60_000, metrics: m });
    }
    const det = make(metricBaseline);
    const a = run([det], evs);
    const b = run([make(metricBaseline)], evs);
    expect(a.findings.length, 'determinism is shown on findings, not on silence').toBeGreaterThan(0);
    expect(JSON.stringify(a.findings)).toBe(JSON.stringify(b.findings));
    expect(maxStateSize(a, 'metric_baseline')).toBeLessThanOrEqual(det.maxStateBytes!);
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
      evs.push(reading(t, { battery_v: (driving ? 14.1 : 12.6) + 0.05 * gauss(r) }));
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
      evs.push(reading(t, { battery_v: extra(day, h) ?? (driving ? 14.1 : 12.6) + 0.05 * gauss(r) }));
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
      evs.push(reading(t, { txn_count: poisson(h > 8 && h < 20 ? 1.5 : 0.05) }));
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
});
