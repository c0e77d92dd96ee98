import { describe, expect, it } from 'vitest';
import { sequence } from '../../src/detectors/sequence.js';
import type { TelemetryEvent } from '../../src/events/types.js';
import { MIN, T0, make, run } from './helpers.js';

const tele = (ts: number, seq: number, firmware = '4.2.1'): TelemetryEvent => ({ type: 'telemetry', device_id: 'm1', device_class: 'smart_meter', ts, metrics: { v: 1 }, seq, firmware });

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
