import { describe, expect, it } from 'vitest';
import { metricRelation } from '../../../src/detectors/metric_relation/detector.js';
import type { TelemetryEvent } from '../../../src/events/types.js';
import { DAY, HOUR, MIN, T0, alertWorthy, assertWellFormed, gauss, make, maxStateSize, rng, run } from '../helpers.js';

const STEP = 5 * MIN;

interface MeterOpts {
  days?: number;
  seed?: number;
  /** Called with (ts, true load kW) before the readings are formed; may change the true load. */
  load?: (ts: number, kw: number) => number;
  /** Falsify the readings after they are formed (the meter reports these). */
  tamper?: (ts: number, m: Record<string, number>) => void;
}

/**
 * A smart meter: household load with a daily curve and heavy day-to-day variation, voltage with
 * an evening sag, current = P / (V · pf), an energy counter, and an enclosure temperature that
 * has nothing to do with the others at this cadence (independent noise around a daily cycle).
 */
function meter(o: MeterOpts = {}): TelemetryEvent[] {
  const r = rng(o.seed ?? 7);
  const out: TelemetryEvent[] = [];
  const n = Math.floor(((o.days ?? 7) * DAY) / STEP);
  let energy = 1234.5;
  const pf = 0.93;
  for (let i = 0; i < n; i++) {
    const ts = T0 + i * STEP + Math.floor(r() * 2000);
    const h = (ts / HOUR) % 24;
    let kw = (0.3 + 1.2 * Math.exp(-((h - 19) ** 2) / 4) + 0.5 * Math.exp(-((h - 7.5) ** 2) / 1.5)) * Math.exp(0.25 * gauss(r));
    if (o.load) kw = o.load(ts, kw);
    const v = 231 - 2 * Math.exp(-((h - 19.5) ** 2) / 8) + 0.7 * gauss(r);
    energy += (kw * STEP) / HOUR;
    const m: Record<string, number> = {
      voltage: Math.round(v * 10) / 10,
      current_a: Math.round(((kw * 1000) / (v * pf)) * 100) / 100,
      power_kw: Math.round(kw * 1000) / 1000,
      energy_kwh: Math.round(energy * 100) / 100,
      temperature_c: Math.round((12 + 4 * Math.sin(((h - 9) / 24) * 2 * Math.PI) + 0.8 * gauss(r)) * 10) / 10,
    };
    o.tamper?.(ts, m);
    out.push({ type: 'telemetry', device_id: 'meter-1', device_class: 'smart_meter', ts, metrics: m, seq: i });
  }
  return out;
}

const within = (a: number, b: number) => (ts: number) => ts >= a && ts < b;

describe('metric_relation', () => {
  it('stays quiet on a week of clean meter readings whose load varies widely', () => {
    const r = run([make(metricRelation)], meter({ days: 7 }));
    expect(alertWorthy(r.latest)).toEqual([]);
  });

  it('catches energy theft that scales the power reading by 0.6, and names the power and what V·I implies', () => {
    const on = within(T0 + 5 * DAY + 2 * HOUR, T0 + 5 * DAY + 6 * HOUR);
    const evs = meter({
      tamper: (ts, m) => {
        if (on(ts)) m.power_kw = Math.round(m.power_kw! * 0.6 * 1000) / 1000;
      },
    });
    const r = run([make(metricRelation)], evs);
    const hits = alertWorthy(r.latest);
    expect(hits.length).toBe(1);
    const f = hits[0]!;
    assertWellFormed(f);
    expect(f.first_ts).toBeGreaterThanOrEqual(T0 + 5 * DAY + 2 * HOUR);
    expect(f.first_ts - (T0 + 5 * DAY + 2 * HOUR)).toBeLessThan(HOUR);
    // Power and current are a coupled pair here (the 5-minute energy increments are too coarse
    // to be a third witness), so either may be named; the explanation names both, and the
    // ratio of reading to implied value is the falsification factor (or its inverse).
    expect(['power_kw', 'current_a']).toContain(f.evidence.metric);
    expect(f.explanation).toMatch(/(power_kw|current_a) reads .* while its usual relation to .*(current_a|power_kw).* implies/);
    const ratio = (f.evidence.value as number) / (f.evidence.implied as number);
    const factor = f.evidence.metric === 'power_kw' ? ratio : 1 / ratio;
    expect(factor).toBeGreaterThan(0.5);
    expect(factor).toBeLessThan(0.75);
  });

  it('catches an offset on the current transformer (+3 A for 3 h) that stays inside the usual range', () => {
    const on = within(T0 + 4 * DAY + 10 * HOUR, T0 + 4 * DAY + 13 * HOUR);
    const evs = meter({
      tamper: (ts, m) => {
        if (on(ts)) m.current_a = Math.round((m.current_a! + 3) * 100) / 100;
      },
    });
    const r = run([make(metricRelation)], evs);
    const hits = alertWorthy(r.latest);
    expect(hits.length).toBe(1);
    expect(['current_a', 'power_kw']).toContain(hits[0]!.evidence.metric);
    expect(hits[0]!.explanation).toContain('current_a');
    expect(on(hits[0]!.first_ts)).toBe(true);
  });

  it('does not judge a metric no other metric explains (an offset on the enclosure temperature)', () => {
    const on = within(T0 + 5 * DAY, T0 + 5 * DAY + 6 * HOUR);
    const evs = meter({
      tamper: (ts, m) => {
        if (on(ts)) m.temperature_c = Math.round((m.temperature_c! + 5) * 10) / 10;
      },
    });
    const r = run([make(metricRelation)], evs);
    expect(alertWorthy(r.latest)).toEqual([]);
  });

  it('stays quiet on two unrelated metrics, whatever one of them does', () => {
    const r0 = rng(3);
    const evs: TelemetryEvent[] = [];
    for (let i = 0; i < (7 * DAY) / STEP; i++) {
      const ts = T0 + i * STEP;
      const shifted = ts >= T0 + 5 * DAY && ts < T0 + 5 * DAY + 5 * HOUR;
      evs.push({ type: 'telemetry', device_id: 'd', device_class: 'sensor', ts, metrics: { a: 50 + 2 * gauss(r0) + (shifted ? 12 : 0), b: 20 + gauss(r0) } });
    }
    const r = run([make(metricRelation)], evs);
    expect(alertWorthy(r.latest)).toEqual([]);
  });

  it('stays quiet when the load really doubles for a day (every metric moves together)', () => {
    const on = within(T0 + 4 * DAY, T0 + 5 * DAY);
    const evs = meter({ load: (ts, kw) => (on(ts) ? kw * 2 : kw) });
    const r = run([make(metricRelation)], evs);
    expect(alertWorthy(r.latest)).toEqual([]);
  });

  it('says nothing while it is still learning the relations', () => {
    // Power halved from day 2.5 to day 3: caught once the relations are learned (default
    // learning 1d), silent while the device is still within its learning period (4d).
    const on = within(T0 + 2.5 * DAY, T0 + 3 * DAY);
    const evs = meter({
      days: 3,
      tamper: (ts, m) => {
        if (on(ts)) m.power_kw = Math.round(m.power_kw! * 0.5 * 1000) / 1000;
      },
    });
    expect(alertWorthy(run([make(metricRelation)], evs).latest).length).toBe(1);
    expect(run([make(metricRelation, { learning: '4d' })], evs).latest).toEqual([]);
  });

  it('is deterministic, and its state stays under maxStateBytes with many metrics', () => {
    const r0 = rng(11);
    const evs: TelemetryEvent[] = [];
    for (let i = 0; i < 6000; i++) {
      const base = r0() * 100;
      const m: Record<string, number> = {};
      for (let k = 0; k < 40; k++) m[`metric_with_a_long_name_${k}`] = Math.round((base * (k % 3) + r0() * 20) * 100) / 100;
      evs.push({ type: 'telemetry', device_id: 'd', device_class: 'sensor', ts: T0 + i * 60_000, metrics: m });
    }
    // Beside it, a meter whose power reading halves on day 5 (the others do not): a finding.
    const on = within(T0 + 4 * DAY, T0 + 5 * DAY);
    const tamper = (ts: number, m: Record<string, number>): void => {
      if (on(ts)) m.power_kw = Math.round(m.power_kw! * 0.5 * 1000) / 1000;
    };
    evs.push(...meter({ tamper }));
    evs.sort((x, y) => x.ts - y.ts);
    const det = make(metricRelation);
    const a = run([det], evs);
    const b = run([make(metricRelation)], evs);
    expect(a.findings.length, 'determinism is shown on findings, not on silence').toBeGreaterThan(0);
    expect(JSON.stringify(a.findings)).toBe(JSON.stringify(b.findings));
    expect(maxStateSize(a, 'metric_relation')).toBeLessThanOrEqual(det.maxStateBytes!);
  });
});

/**
 * A PLC on two shifts (06–22 h): motor speed, flow and pressure follow production at once, the
 * motor temperature follows it with a 30-minute lag (so every start-up and stop breaks the
 * linear relation for a while), all with sensor noise; one reading a minute.
 */
function plc(o: { days?: number; seed?: number; tamper?: (ts: number, m: Record<string, number>) => void; speed?: (ts: number) => number } = {}): TelemetryEvent[] {
  const r = rng(o.seed ?? 5);
  const out: TelemetryEvent[] = [];
  const n = Math.floor(((o.days ?? 5) * DAY) / MIN);
  let temp = 33;
  for (let i = 0; i < n; i++) {
    const ts = T0 + i * MIN;
    const h = (ts / HOUR) % 24;
    const running = h >= 6 && h < 22 ? 1 : 0;
    const rpm = o.speed ? o.speed(ts) : running * 1480;
    temp += ((33 + (28 * rpm) / 1480 - temp) * MIN) / (30 * MIN);
    const m: Record<string, number> = {
      motor_rpm: Math.round(rpm + (rpm > 0 ? 4 * gauss(r) : 0)),
      flow_m3h: Math.round((rpm / 1480) * 40 * 100 + 30 * gauss(r)) / 100,
      pressure_bar: Math.round(((1.2 * rpm) / 1480 + 0.3 + 0.02 * gauss(r)) * 1000) / 1000,
      temperature_c: Math.round((temp + 0.6 * gauss(r)) * 100) / 100,
    };
    o.tamper?.(ts, m);
    out.push({ type: 'telemetry', device_id: 'plc-1', device_class: 'plc', ts, metrics: m, seq: i });
  }
  return out;
}

describe('metric_relation on a line whose relations slip at every start-up', () => {
  it('finds an offset on the temperature held for hours while the line stands still, though it is smaller than the daily start-up slip', () => {
    // +7 °C (about 12σ of the sensor) from 23:00 to 05:00 of the fourth night.
    const on = within(T0 + 3 * DAY + 23 * HOUR, T0 + 4 * DAY + 5 * HOUR);
    const clean = run([make(metricRelation)], plc());
    expect(alertWorthy(clean.latest)).toEqual([]);
    const r = run([make(metricRelation)], plc({ tamper: (ts, m) => void (on(ts) && (m.temperature_c! += 7)) }));
    const hits = alertWorthy(r.latest);
    expect(hits.length).toBe(1);
    expect(hits[0]!.key).toBe('temperature_c');
    expect(on(hits[0]!.first_ts)).toBe(true);
    // The start-ups made the usual daily peak larger than this offset's: the length of the run found it.
    expect(Number(hits[0]!.evidence.daily_peak_sigma) * 1.5).toBeGreaterThan(Math.abs(Number(hits[0]!.evidence.recent_mean_sigma)));
  });

  it('does not report a disagreement at an operating point the fit never saw (full speed after learning at half speed, pressure rising with the square of speed)', () => {
    const shift = (ts: number): boolean => (ts / HOUR) % 24 >= 6 && (ts / HOUR) % 24 < 22;
    const evs = plc({
      days: 5,
      speed: (ts) => (shift(ts) ? (ts >= T0 + 3 * DAY ? 1480 : 740) : 0),
      // A pump's pressure follows the square of its speed: a line fitted on 0 and half speed
      // undershoots full speed by half the range, everywhere beyond what it has seen.
      tamper: (_ts, m) => void (m.pressure_bar = Math.round((0.3 + 1.2 * (m.motor_rpm! / 1480) ** 2 + (m.pressure_bar! - 0.3 - (1.2 * m.motor_rpm!) / 1480)) * 1000) / 1000),
    });
    const r = run([make(metricRelation)], evs);
    expect(alertWorthy(r.latest).filter((f) => f.first_ts >= T0 + 3 * DAY)).toEqual([]);
  });
});
