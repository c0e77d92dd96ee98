import { describe, expect, it } from 'vitest';
import { sequence } from '../../src/detectors/sequence.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { MIN, T0, assertWellFormed, make, reading, run } from './helpers.js';

const tele = (ts: number, seq: number, firmware = '4.2.1'): TelemetryEvent => ({ type: 'telemetry', device_id: 'm1', device_class: 'smart_meter', ts, metrics: { v: 1 }, seq, firmware });

describe('sequence', () => {
  it('ignores duplicates, small gaps and late fills; flags replay, rollback and big gaps', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let s = 0; s < 500; s++) {
      if (s % 50 === 7) continue; // lossy link: single drops
      evs.push(reading((t += MIN), { v: 1 }, { seq: s }));
    }
    evs.push(reading(evs[evs.length - 1]!.ts, { v: 1 }, { seq: 499 })); // duplicate delivery
    expect(run([make(sequence)], evs).latest).toEqual([]);
    evs.push(reading((t += MIN), { v: 1 }, { seq: 480 })); // replay of a recent seq
    evs.push(reading((t += MIN), { v: 1 }, { seq: 100 })); // rollback
    evs.push(reading((t += MIN), { v: 1 }, { seq: 5000 })); // gap
    const r = run([make(sequence)], evs);
    // Replay and rollback are one story (two counters under one identity): one finding.
    expect(r.latest.map((f) => f.key).sort()).toEqual(['gap', 'identity']);
    const id = r.latest.find((f) => f.key === 'identity')!;
    expect(id.count).toBe(2);
    expect(id.severity).toBe('high');
    expect(id.evidence.kind).toBe('rollback');
    for (const f of r.latest) assertWellFormed(f);
  });

  it('a clone that stops: the real device resurfacing below its counter an hour later extends the same finding', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    let real = 0;
    // The real device: hourly heartbeats while parked.
    for (let h = 0; h < 48; h++) evs.push(reading((t += 60 * MIN), { v: 1 }, { seq: real++ }));
    // A clone with its own, higher counter reports every minute for two hours, interleaved.
    let clone = real + 100;
    for (let k = 0; k < 120; k++) {
      if (k % 60 === 30) evs.push(reading((t += 20_000), { v: 1 }, { seq: real++ }));
      evs.push(reading((t += MIN), { v: 1 }, { seq: clone++ }));
    }
    // The clone is gone; the real device's next heartbeats an hour apart.
    for (let h = 0; h < 3; h++) evs.push(reading((t += 60 * MIN), { v: 1 }, { seq: real++ }));
    const r = run([make(sequence)], evs);
    const alerts = r.latest.filter((f) => f.severity !== 'low' && f.severity !== 'info');
    expect(alerts.map((f) => f.key)).toEqual(['identity']);
  });

  it('a reboot resets quietly; a reboot loop fires', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let boot = 0; boot < 6; boot++) for (let s = 0; s < 100; s++) evs.push(reading((t += MIN), { v: 1 }, { seq: s }));
    const r = run([make(sequence)], evs);
    expect(r.latest.map((f) => f.key)).toEqual(['resets']);
    expect(run([make(sequence)], evs.slice(0, 300)).latest).toEqual([]);
  });
});

describe('sequence across counter epochs', () => {
  it('a reboot of a young counter (seq 0..38, then 0..60) is a new epoch, not a replay', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let s = 0; s <= 38; s++) evs.push(tele((t += 15 * MIN), s));
    for (let s = 0; s <= 60; s++) evs.push(tele((t += 15 * MIN), s, '4.3.0'));
    expect(run([make(sequence)], evs).latest).toEqual([]);
  });

  it('two reboots within a couple of sparse heartbeats (a downgrade and its re-flash) are two epochs, not a replay', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let s = 0; s <= 200; s++) evs.push(tele((t += 15 * MIN), s));
    evs.push(tele((t += 60 * MIN), 0, '4.1.0'));
    evs.push(tele((t += 60 * MIN), 1, '4.1.0'));
    evs.push(tele((t += 60 * MIN), 0));
    evs.push(tele((t += 60 * MIN), 1));
    expect(run([make(sequence)], evs).latest).toEqual([]);
  });

  it('after a reboot, a replay within the new epoch still fires', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let s = 0; s <= 38; s++) evs.push(tele((t += 15 * MIN), s));
    for (let s = 0; s <= 30; s++) evs.push(tele((t += 15 * MIN), s));
    evs.push(tele((t += 15 * MIN), 25)); // seq 25 of this epoch again, with a new time
    const latest = run([make(sequence)], evs).latest;
    expect(latest.map((f) => f.key)).toEqual(['identity']);
    expect(latest[0]!.evidence.kind).toBe('replay');
  });

  it('a replayed low seq number in the middle of a long count surfaces as a gap when the real device continues', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let s = 0; s < 400; s++) evs.push(tele((t += MIN), s));
    evs.push(tele((t += MIN), 3)); // looks like a reboot …
    evs.push(tele((t += MIN), 400)); // … but the genuine counter goes on
    expect(run([make(sequence)], evs).latest.map((f) => f.key)).toEqual(['gap']);
  });

  it('a backlog uploaded newest first after a live reading is late delivery, not a rollback; an old seq with a new ts still is one', () => {
    const evs: TelemetryEvent[] = [];
    let t = T0;
    for (let s = 0; s < 300; s++) evs.push(tele((t += 2 * MIN), s));
    // Offline for 4 h (120 readings buffered), then a live reading, then the backlog newest first.
    const backlog: TelemetryEvent[] = [];
    for (let s = 300; s < 420; s++) backlog.push(tele((t += 2 * MIN), s));
    evs.push(tele((t += 2 * MIN), 420), ...backlog.reverse());
    for (let s = 421; s < 450; s++) evs.push(tele((t += 2 * MIN), s));
    expect(run([make(sequence)], evs).latest.map((f) => f.evidence.kind)).toEqual(['gap']);
    // The same old numbers sent again now, with current times: replayed traffic (a replay of
    // numbers still remembered, a rollback beyond them: one identity incident either way).
    for (let s = 300; s < 310; s++) evs.push(tele((t += 2 * MIN), s));
    const found = run([make(sequence)], evs).latest;
    expect(found.map((f) => f.key).sort()).toEqual(['gap', 'identity']);
    expect(['replay', 'rollback']).toContain(found.find((f) => f.key === 'identity')!.evidence.kind);
  });
});
