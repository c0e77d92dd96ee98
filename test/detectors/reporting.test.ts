/**
 * reporting: silence reported from the watermark, rate changes, and silence judged against the
 * device's own week: devices that sleep on a schedule, or without one, raise nothing for their
 * sleep, and a device that fails to wake when it always does is found. Always-on companions drive
 * the watermark, as the rest of a fleet does in production.
 */
import { describe, expect, it } from 'vitest';
import { reporting } from '../../src/detectors/reporting.js';
import type { Finding } from '../../src/detectors/types.js';
import type { M2MEvent, TelemetryEvent } from '../../src/events/types.js';
import { DAY, HOUR, MIN, T0, assertWellFormed, byTs, make, reading, rng, run } from './helpers.js';

const tele = (device: string, ts: number): TelemetryEvent => ({ type: 'telemetry', device_id: device, device_class: 'x', ts, metrics: { v: 1 } });
const alertWorthy = (fs: Finding[]) => fs.filter((f) => f.severity !== 'low' && f.severity !== 'info');
const of = (fs: Finding[], device: string) => fs.filter((f) => f.device_id === device);

/** Devices that report every minute, always: the fleet around the device under test. */
function companions(days: number): TelemetryEvent[] {
  const out: TelemetryEvent[] = [];
  for (const d of ['c1', 'c2', 'c3']) for (let t = T0; t < T0 + days * DAY; t += MIN) out.push(tele(d, t + d.charCodeAt(1)));
  return out;
}

/**
 * Reports every minute while awake. `awake(day)` gives the day's [from, to] in hours (UTC), or
 * null for a day it sleeps through.
 */
function scheduled(device: string, days: number, awake: (day: number) => Array<[number, number]> | null): TelemetryEvent[] {
  const out: TelemetryEvent[] = [];
  for (let d = 0; d < days; d++) {
    for (const [a, b] of awake(d) ?? []) for (let t = T0 + d * DAY + a * HOUR; t < T0 + d * DAY + b * HOUR; t += MIN) out.push(tele(device, t));
  }
  return out;
}

describe('reporting', () => {
  const steady = (days: number, seed = 1, device = 'dev-1') => {
    const r0 = rng(seed);
    const out: TelemetryEvent[] = [];
    for (let t = T0; t < T0 + days * DAY; t += 60_000 + Math.round((r0() - 0.5) * 10_000)) out.push(reading(t, { v: 1 }, { device_id: device }));
    return out;
  };

  it('reports silence from the watermark although the device sends nothing, low first then medium', () => {
    const quiet = steady(2, 1, 'quiet');
    const other = steady(3, 2, 'other');
    const cut = T0 + DAY + 3 * HOUR;
    const evs = [...quiet.filter((e) => e.ts < cut), ...other].sort((a, b) => a.ts - b.ts);
    const r = run([make(reporting)], evs);
    const sil = r.latest.filter((f) => f.device_id === 'quiet' && f.key === 'silence');
    expect(sil.length).toBe(1);
    assertWellFormed(sil[0]!);
    expect(sil[0]!.severity).toBe('medium');
    const first = r.findings.find((f) => f.device_id === 'quiet')!;
    expect(first.severity).toBe('low');
    expect(first.first_ts - cut).toBeLessThan(20 * MIN);
    expect(r.latest.filter((f) => f.device_id === 'other')).toEqual([]);
  });

  it('a short fleet-wide outage stays low and closes when devices return with a catch-up burst', () => {
    const devs = ['a', 'b', 'c'].map((d, i) => steady(3, 10 + i, d));
    const outFrom = T0 + 2 * DAY;
    const outTo = outFrom + 40 * MIN;
    const evs = devs.flat().filter((e) => e.ts < outFrom || e.ts >= outTo);
    // Buffered readings arrive after the outage, with their original timestamps, all at once.
    const backlog = devs.flat().filter((e) => e.ts >= outFrom && e.ts < outTo);
    const ordered = [...evs.filter((e) => e.ts < outTo), ...backlog, ...evs.filter((e) => e.ts >= outTo)];
    ordered.sort((a, b) => (a.ts < outTo && b.ts < outTo ? a.ts - b.ts : 0));
    const r = run([make(reporting)], ordered.sort((a, b) => a.ts - b.ts));
    expect(r.latest.filter((f) => f.score >= 0.5)).toEqual([]);
  });

  it('a device with two rhythms (10 s on trips, hourly when parked) missing one heartbeat is not a sustained silence', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let d = 0; d < 4; d++) {
      // Two trips a day at 10 s, hourly heartbeats otherwise.
      const day = T0 + d * DAY;
      for (t = Math.max(t, day); t < day + 8 * HOUR; t += HOUR) evs.push(reading(t, { v: 1 }));
      for (; t < day + 9 * HOUR; t += 10_000) evs.push(reading(t, { v: 1 }));
      for (; t < day + 17 * HOUR; t += HOUR) evs.push(reading(t, { v: 1 }));
      for (; t < day + 18 * HOUR; t += 10_000) evs.push(reading(t, { v: 1 }));
      // One heartbeat lost on the last evening (a reboot for a rollout): 2 h between reports.
      for (; t < day + DAY; t += d === 3 && t > day + 20 * HOUR && t < day + 21.5 * HOUR ? 2 * HOUR : HOUR) evs.push(reading(t, { v: 1 }));
    }
    const r = run([make(reporting)], evs);
    expect(r.latest.filter((f) => f.score >= 0.5)).toEqual([]);
  });

  it('fires on a 10× faster reporting rate', () => {
    const evs = steady(2);
    const t1 = T0 + 2 * DAY;
    for (let k = 0; k < 600; k++) evs.push(reading(t1 + k * 6000, { v: 1 }));
    const r = run([make(reporting)], evs);
    const f = r.latest.find((x) => x.key === 'rate');
    expect(f).toBeDefined();
    expect(f!.evidence.direction).toBe('faster');
  });
});

describe('reporting: rhythms of silence', () => {
  // The hours a shop or a commuter's unit is awake drift by up to half an hour from day to day.
  const r0 = rng(5);
  const jitter = Array.from({ length: 30 }, () => [(r0() - 0.5), (r0() - 0.5)] as const);
  const nightly = (day: number): Array<[number, number]> => [[6 + jitter[day]![0], 22 + jitter[day]![1]]];

  it('a device that sleeps every night raises nothing alert-worthy, and nothing at all once its nights are learned', () => {
    const days = 14;
    const evs = byTs([...companions(days), ...scheduled('sleeper', days, nightly)]);
    const r = run([make(reporting)], evs);
    const mine = of(r.latest, 'sleeper');
    expect(alertWorthy(mine)).toEqual([]);
    expect(mine.filter((f) => f.first_ts > T0 + 4 * DAY)).toEqual([]);
  });

  it('the morning it does not wake is one alert-worthy finding, raised within hours of its usual wake-up', () => {
    const days = 14;
    const failDay = 10;
    const evs = byTs([...companions(days), ...scheduled('sleeper', days, (d) => (d === failDay ? null : nightly(d)))]);
    const r = run([make(reporting)], evs);
    const found = alertWorthy(of(r.latest, 'sleeper'));
    expect(found).toHaveLength(1);
    expect(found[0]!.key).toBe('silence');
    // The first report at medium comes a few hours after the usual 06:00, not a day later.
    const firstAlert = r.findings.find((f) => f.device_id === 'sleeper' && f.severity === 'medium')!;
    const wake = T0 + failDay * DAY + 6 * HOUR;
    expect(firstAlert.last_ts).toBeGreaterThan(wake);
    expect(firstAlert.last_ts - wake).toBeLessThan(4 * HOUR);
  });

  it('a line that runs weekdays only is quiet through its weekends, and a weekday it stays off is found', () => {
    const days = 21; // T0 is a Monday
    const weekday = (d: number) => d % 7 < 5;
    const quiet = byTs([...companions(days), ...scheduled('line', days, (d) => (weekday(d) ? [[7, 19]] : null))]);
    expect(alertWorthy(of(run([make(reporting)], quiet).latest, 'line'))).toEqual([]);
    const dead = byTs([...companions(days), ...scheduled('line', days, (d) => (weekday(d) && d !== 16 ? [[7, 19]] : null))]);
    const found = alertWorthy(of(run([make(reporting)], dead).latest, 'line'));
    expect(found).toHaveLength(1);
    expect(found[0]!.first_ts).toBeGreaterThan(T0 + 15 * DAY + 19 * HOUR);
    expect(found[0]!.first_ts).toBeLessThan(T0 + 16 * DAY + 12 * HOUR);
  });

  it('a battery sensor that wakes every 4 h for a short burst is quiet, and found once it misses a few wake-ups', () => {
    const days = 10;
    const burst = (device: string, until: number) => {
      const out: TelemetryEvent[] = [];
      for (let t = T0 + 17 * MIN; t < until; t += 4 * HOUR) for (let k = 0; k < 5; k++) out.push(tele(device, t + k * 20_000));
      return out;
    };
    const fine = byTs([...companions(days), ...burst('lora', T0 + days * DAY)]);
    expect(of(run([make(reporting)], fine).latest, 'lora').filter((f) => f.first_ts > T0 + 2 * DAY)).toEqual([]);
    const deadAt = T0 + 7 * DAY;
    const dies = byTs([...companions(days), ...burst('lora', deadAt)]);
    const r = run([make(reporting)], dies);
    expect(alertWorthy(of(r.latest, 'lora'))).toHaveLength(1);
    const lastBurst = T0 + 17 * MIN + Math.floor((deadAt - T0 - 17 * MIN) / (4 * HOUR)) * 4 * HOUR;
    const firstAlert = r.findings.find((f) => f.device_id === 'lora' && f.severity === 'medium')!;
    expect(firstAlert.last_ts - lastBurst).toBeLessThan(16 * HOUR);
  });

  it('a van parked at any hour for up to half a day raises nothing alert-worthy after its first days', () => {
    const days = 14;
    const r1 = rng(9);
    const out: TelemetryEvent[] = [];
    let t = T0 + 7 * HOUR;
    while (t < T0 + days * DAY) {
      const trip = (20 + 70 * r1()) * MIN;
      for (const end = t + trip; t < end; t += 10_000) out.push(tele('van', t));
      t += (0.5 + 11.5 * r1() * r1()) * HOUR; // mostly short stops, now and then most of a day
    }
    const r = run([make(reporting)], byTs([...companions(days), ...out]));
    expect(alertWorthy(of(r.latest, 'van')).filter((f) => f.first_ts > T0 + 3 * DAY)).toEqual([]);
  });
});

describe('reporting: devices delivered late', () => {
  /**
   * A meter reading every 15 minutes and uploading what it buffered every 4 hours (at its own
   * minute past), in arrival order among always-on companions. `stopAt`: it is switched off then.
   */
  function batched(days: number, stopAt = Number.POSITIVE_INFINITY): TelemetryEvent[] {
    const arrivals: Array<{ at: number; ev: TelemetryEvent }> = [];
    for (const ev of companions(days)) arrivals.push({ at: ev.ts, ev });
    const every = 4 * HOUR;
    for (let t = T0; t < Math.min(T0 + days * DAY, stopAt); t += 15 * MIN) {
      const upload = T0 + Math.ceil((t - T0 + 1) / every) * every + 7 * MIN;
      arrivals.push({ at: upload, ev: tele('meter', t) });
    }
    return arrivals.sort((a, b) => a.at - b.at || a.ev.ts - b.ev.ts).map((a) => a.ev);
  }

  it('a meter that uploads every 4 hours is late, not silent: nothing alert-worthy', () => {
    const r = run([make(reporting)], batched(7));
    expect(alertWorthy(of(r.latest, 'meter'))).toEqual([]);
    // It learned why: its evidence would carry the delivery gap, had anything been raised.
    expect(of(r.latest, 'meter').filter((f) => f.first_ts > T0 + DAY)).toEqual([]);
  });

  it('nor is one whose connections keep arriving in real time while its readings come in batches', () => {
    const conns: M2MEvent[] = [];
    for (let t = T0 + 2 * MIN; t < T0 + 7 * DAY; t += 10 * MIN) conns.push({ type: 'connection', device_id: 'meter', device_class: 'x', ts: t, src_ip: '10.0.0.2', dst_ip: '10.0.0.1', dst_port: 123, protocol: 'udp' });
    // Merge in arrival order: each connection arrives at its own time, between the batches.
    const arrival = new Map<M2MEvent, number>();
    const evs = batched(7);
    for (const ev of evs) arrival.set(ev, ev.device_id === 'meter' ? T0 + Math.ceil((ev.ts - T0 + 1) / (4 * HOUR)) * 4 * HOUR + 7 * MIN : ev.ts);
    for (const c of conns) arrival.set(c, c.ts);
    const merged = [...evs, ...conns].sort((a, b) => arrival.get(a)! - arrival.get(b)! || a.ts - b.ts);
    const r = run([make(reporting)], merged);
    expect(alertWorthy(of(r.latest, 'meter'))).toEqual([]);
  });

  it('a meter whose link drops once for 8 hours and then forwards its backlog: silent while it lasts, late (low) once its readings show no gap; switched off instead, it stays alert-worthy', () => {
    const from = T0 + 3 * DAY + 8 * HOUR;
    const to = from + 8 * HOUR;
    // Real time every 15 minutes, except that what is read during the outage arrives at its end.
    const forwarded = (): TelemetryEvent[] => {
      const arrivals: Array<{ at: number; ev: TelemetryEvent }> = [];
      for (const ev of companions(5)) arrivals.push({ at: ev.ts, ev });
      for (let t = T0; t < T0 + 5 * DAY; t += 15 * MIN) arrivals.push({ at: t >= from && t < to ? to : t, ev: tele('meter', t) });
      return arrivals.sort((a, b) => a.at - b.at || a.ev.ts - b.ev.ts).map((a) => a.ev);
    };
    const late = of(run([make(reporting)], forwarded()).latest, 'meter').filter((f) => f.key === 'silence');
    expect(late).toHaveLength(1);
    expect(late[0]!.score).toBeLessThan(0.5);
    expect(late[0]!.evidence.delivered_late).toBe(true);
    expect(late[0]!.explanation).toContain('delivered late');
    // The same 8 hours switched off: its readings resume with a gap of their own.
    const off = companions(5).concat([]);
    for (let t = T0; t < T0 + 5 * DAY; t += 15 * MIN) if (t < from || t >= to) off.push(tele('meter', t));
    const silent = of(run([make(reporting)], off.sort((a, b) => a.ts - b.ts)).latest, 'meter').filter((f) => f.key === 'silence');
    expect(silent).toHaveLength(1);
    expect(silent[0]!.score).toBeGreaterThanOrEqual(0.5);
    expect(silent[0]!.evidence.delivered_late).toBeUndefined();
  });

  it('the same meter switched off is found, once its usual upload is well overdue', () => {
    const stop = T0 + 4 * DAY + 2 * HOUR;
    const r = run([make(reporting)], batched(7, stop));
    const found = alertWorthy(of(r.latest, 'meter'));
    expect(found).toHaveLength(1);
    expect(found[0]!.key).toBe('silence');
    expect(found[0]!.evidence.longest_delivery_gap_ms).toBeGreaterThan(3 * HOUR);
    const first = r.findings.find((f) => f.device_id === 'meter' && f.key === 'silence')!;
    // Raised past 1.5× its 4-hour upload rhythm after the last upload, and within a day.
    expect(first.last_ts - stop).toBeGreaterThan(4 * HOUR);
    expect(first.last_ts - stop).toBeLessThan(DAY);
  });
});
