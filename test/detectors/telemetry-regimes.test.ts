/**
 * Operating modes are not anomalies: a process that switches between running and stopped at
 * irregular hours returns to levels it has occupied for real time, and the telemetry detectors
 * must stay low on it, while a level it has never occupied (a spoofed offset) and a reading frozen
 * at an arbitrary value (a stuck sensor) still fire.
 */
import { describe, expect, it } from 'vitest';
import { flatline } from '../../src/detectors/flatline.js';
import { levelShift } from '../../src/detectors/level_shift/detector.js';
import { metricBaseline } from '../../src/detectors/metric_baseline/detector.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, gauss, make, rng, run } from './helpers.js';

/** A line that runs or stops for 2–14 h at a time, whatever the hour, every minute for `days`. */
function modal(days: number, seed = 5): TelemetryEvent[] {
  const r = rng(seed);
  const out: TelemetryEvent[] = [];
  let running = true;
  // The first stop comes during warm-up: both modes are known before anything may fire.
  let until = T0 + 2 * HOUR;
  for (let ts = T0; ts < T0 + days * DAY; ts += MIN) {
    if (ts >= until) {
      running = !running;
      until = ts + (2 + 12 * r()) * HOUR;
    }
    const rpm = running ? Math.round((1500 + 15 * gauss(r)) * 10) / 10 : 0;
    const pressure = Math.round((running ? 6.8 + 0.05 * gauss(r) : 1.0 + 0.02 * gauss(r)) * 1000) / 1000;
    out.push({ type: 'telemetry', device_id: 'plc-1', device_class: 'plc', ts, metrics: { rpm, pressure } });
  }
  return out;
}

const DETS = () => [make(metricBaseline), make(levelShift), make(flatline)];

describe('operating modes (regimes)', () => {
  it('running/stopped at irregular hours for 9 days stays below medium', () => {
    const r = run(DETS(), modal(9));
    expect(r.latest.filter((f) => f.score >= 0.5).map((f) => `${f.detector} ${f.key} ${f.explanation}`)).toEqual([]);
  });

  it('a spoofed offset of 8σ while running still fires', () => {
    const evs = modal(9);
    const from = T0 + 7 * DAY;
    let i0 = evs.findIndex((e) => e.ts >= from && e.metrics.rpm! > 0 && evs[evs.indexOf(e) + 180]?.metrics.rpm! > 0);
    expect(i0).toBeGreaterThan(0);
    for (let i = i0; i < i0 + 180 && evs[i]!.metrics.rpm! > 0; i++) evs[i]!.metrics.pressure = Math.round((evs[i]!.metrics.pressure! + 0.4) * 1000) / 1000;
    const hits = run(DETS(), evs).latest.filter((f) => f.key === 'pressure' && f.score >= 0.5 && f.first_ts >= evs[i0]!.ts);
    expect(hits.length).toBeGreaterThan(0);
    hits.forEach(assertWellFormed);
  });

  it('a sensor frozen at an arbitrary running value fires; a long stop at 0 does not', () => {
    const evs = modal(9);
    const from = T0 + 7 * DAY;
    const i0 = evs.findIndex((e) => e.ts >= from && e.metrics.rpm! > 0 && evs[evs.indexOf(e) + 120]?.metrics.rpm! > 0);
    const frozen = evs[i0]!.metrics.rpm!;
    for (let i = i0; i < i0 + 120; i++) evs[i]!.metrics.rpm = frozen;
    // A stop three times longer than any before it, at the value the line always stops at.
    const j0 = evs.findIndex((e) => e.ts >= T0 + 8 * DAY);
    for (let i = j0; i < evs.length; i++) evs[i]!.metrics.rpm = 0;
    const r = run([make(flatline)], evs);
    const stuck = r.latest.filter((f) => f.key === 'rpm' && f.score >= 0.5);
    expect(stuck.length).toBe(1);
    expect(stuck[0]!.evidence.value).toBe(frozen);
    expect(stuck[0]!.first_ts - evs[i0]!.ts).toBeLessThan(60 * MIN);
    expect(r.latest.filter((f) => f.key === 'rpm' && f.evidence.value === 0 && f.score >= 0.5)).toEqual([]);
  });
});
