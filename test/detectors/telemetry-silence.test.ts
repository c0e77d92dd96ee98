import { describe, expect, it } from 'vitest';
import { levelShift } from '../../src/detectors/level_shift/detector.js';
import { metricBaseline } from '../../src/detectors/metric_baseline/detector.js';
import type { Finding } from '../../src/detectors/types.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, gauss, make, rng, run } from './helpers.js';

const alertWorthy = (fs: Finding[]) => fs.filter((f) => f.severity !== 'low' && f.severity !== 'info');

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
