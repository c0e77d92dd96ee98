/**
 * Time the engine can trust (issue #20, item 4): a far-future timestamp is a dead letter and
 * moves nothing; a device whose clock is ahead within the skew cannot move stream time; devices
 * whose clocks are off by minutes or an hour are judged in their own frame; exact repeats are
 * dropped; and a checkpoint carries the robust clock. Default pipeline, in-process engine.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../src/config/types.js';
import { streamRank } from '../../src/pipeline/time.js';
import { Rng } from '../../src/sim/prng.js';
import { HOUR, MIN, T0, defaultPipeline, dev, drive, fleet, notOf, of, order, silences, skewClock, summary, text, type Delivery } from '../support/time-fleet.js';

let cfg: PipelineConfig;
beforeAll(async () => {
  cfg = await defaultPipeline();
});

const Y2099 = Date.UTC(2099, 0, 1);
/** Three devices go quiet for good, one spikes. */
const stops = { [dev(3)]: T0 + 20 * HOUR, [dev(17)]: T0 + 24 * HOUR, [dev(31)]: T0 + 26 * HOUR };
const spikes = { [dev(7)]: T0 + 30 * HOUR };

/** The deliveries with one more message inserted at arrival time `at`. */
function withOne(ds: Delivery[], at: number, id: string, ts: number): Delivery[] {
  const like = ds.find((d) => d.ev.device_id === id)!.ev;
  return order([...ds, { at, ev: { ...like, ts, seq: 999_999 } }]);
}

describe('a far-future timestamp', () => {
  const clean = () => fleet({ stops, spikes });
  const poisoned = () => withOne(clean(), T0 + 12 * HOUR, dev(11), Y2099);

  for (const mode of ['backtest (no wall clock)', 'service (wall clock)'] as const) {
    it(`is dead-lettered and changes nothing for anyone: ${mode}`, () => {
      const wall = mode.startsWith('service') ? (at: number) => at + 5_000 : undefined;
      const base = drive(cfg, clean(), { wall });
      const bad = drive(cfg, poisoned(), { wall });
      // The scenario has something to lose: silence of the three quiet devices, and the spike.
      const quiet = new Set(silences(base.findings).map((f) => f.device_id));
      expect([...quiet].sort()).toEqual(Object.keys(stops).sort());
      expect(of(base.findings, dev(7)).some((f) => f.detector === 'metric_baseline' && f.severity === 'critical')).toBe(true);

      expect(bad.outcomes.filter((o) => o === 'future')).toHaveLength(1);
      expect(text(bad.findings)).toEqual(text(base.findings));
      expect(bad.engine.deviceCount()).toBe(base.engine.deviceCount());
      // The checkpoint carries the stream's clock, not the bad one.
      expect(bad.engine.snapshot().max_ts).toBe(base.engine.snapshot().max_ts);
      expect(bad.engine.futureError(poisoned().find((d) => d.ev.ts === Y2099)!.ev)).toMatchObject({ code: 'future_timestamp', field: 'ts' });
    });
  }
});

describe('stream time', () => {
  it('is not moved by one device ahead within the skew: the others raise what they did', () => {
    // 20 h ahead is inside the default day of skew, so the event is admitted and scored.
    const base = drive(cfg, fleet({ stops, spikes }));
    const glitch = drive(cfg, withOne(fleet({ stops, spikes }), T0 + 12 * HOUR, dev(11), T0 + 32 * HOUR));
    expect(glitch.outcomes.filter((o) => o !== 'scored')).toEqual([]);
    // (The glitching device now holds one of the ranks, so stream time is its neighbour's newest
    // timestamp, seconds from before: ticks land on other events, hence no exact times here.)
    expect(summary(notOf(glitch.findings, dev(11)))).toEqual(summary(notOf(base.findings, dev(11))));
    expect(Math.abs(glitch.engine.snapshot().max_ts - base.engine.snapshot().max_ts)).toBeLessThan(MIN);
  });

  it('waits for fewer devices in a small partition, so that it still advances when most go quiet', () => {
    expect([1, 4, 5, 8, 9, 5000].map(streamRank)).toEqual([1, 1, 2, 2, 3, 3]);
    // Four devices, three of which stop: the one left still drives time, and the three are found.
    const small = drive(cfg, fleet({ devices: 4, stops: { [dev(0)]: T0 + 20 * HOUR, [dev(1)]: T0 + 20 * HOUR, [dev(2)]: T0 + 20 * HOUR } }));
    expect(new Set(silences(small.findings).map((f) => f.device_id))).toEqual(new Set([dev(0), dev(1), dev(2)]));
  });
});

describe('devices whose clock is off', () => {
  const late = dev(21);
  const ahead = dev(22);
  const skewed = (ds: Delivery[]) => skewClock(skewClock(ds, late, -HOUR), ahead, 10 * MIN);
  /** From minutes to hours, both ways (within the default day of max_future_skew). */
  const offsets: Record<string, number> = { [dev(24)]: -5 * HOUR, [dev(25)]: -7 * MIN, [dev(26)]: 3 * MIN, [dev(27)]: 3 * HOUR };

  it('an hour behind or ten minutes ahead: they raise nothing, and the fleet raises what it did', () => {
    const base = drive(cfg, fleet({ stops, spikes }));
    const run = drive(cfg, skewed(fleet({ stops, spikes })));
    expect(of(run.findings, late)).toEqual([]);
    expect(of(run.findings, ahead)).toEqual([]);
    expect(summary(notOf(run.findings, late, ahead))).toEqual(summary(notOf(base.findings, late, ahead)));
  });

  it('off by minutes to hours, behind or ahead: each raises nothing, and the fleet raises what it did', () => {
    const ids = Object.keys(offsets);
    const base = drive(cfg, fleet({ stops, spikes }));
    const run = drive(cfg, Object.entries(offsets).reduce((ds, [id, off]) => skewClock(ds, id, off), fleet({ stops, spikes })));
    expect(run.outcomes.filter((o) => o !== 'scored')).toEqual([]);
    for (const id of ids) expect(of(run.findings, id)).toEqual([]);
    expect(summary(notOf(run.findings, ...ids))).toEqual(summary(notOf(base.findings, ...ids)));
  });

  it('a skewed device that really goes silent is found, about as soon as an honest one', () => {
    const stop = T0 + 22 * HOUR;
    const quiet = { [late]: stop, [ahead]: stop, [dev(23)]: stop };
    const run = drive(cfg, skewed(fleet({ stops: quiet })));
    // When each was first found, in true (stream) time: its finding's time is in its own frame.
    const found = (id: string, offset: number) => Math.min(...silences(of(run.findings, id)).map((f) => f.first_ts - offset));
    const honest = found(dev(23), 0);
    expect(honest).toBeGreaterThan(stop);
    expect(Math.abs(found(late, -HOUR) - honest)).toBeLessThanOrEqual(5 * MIN);
    expect(Math.abs(found(ahead, 10 * MIN) - honest)).toBeLessThanOrEqual(5 * MIN);
  });
});

describe('duplicate deliveries', () => {
  it('a fleet with 5% of its messages delivered twice (some minutes later, re-serialised) scores exactly as the clean fleet', () => {
    const clean = fleet({ stops, spikes });
    const rng = new Rng(11);
    const extra: Delivery[] = [];
    const byDevice = new Map<string, Delivery[]>();
    for (const d of clean) byDevice.set(d.ev.device_id, [...(byDevice.get(d.ev.device_id) ?? []), d]);
    for (const ds of byDevice.values()) {
      ds.forEach((d, i) => {
        if (!rng.chance(0.05)) return;
        // Redelivered after up to ten newer messages of the device, keys in another order.
        const after = ds[Math.min(ds.length - 1, i + rng.int(0, 10))]!;
        const metrics = Object.fromEntries(Object.entries(d.ev.metrics).reverse());
        extra.push({ at: after.at + rng.int(0, 1_000), ev: { ...d.ev, metrics } });
      });
    }
    expect(extra.length).toBeGreaterThan(0.04 * clean.length);
    const base = drive(cfg, clean);
    const dup = drive(cfg, order([...clean, ...extra]));
    expect(dup.outcomes.filter((o) => o === 'duplicate')).toHaveLength(extra.length);
    expect(text(dup.findings)).toEqual(text(base.findings));
    // Nothing of them reached any detector's state either.
    expect(JSON.stringify(dup.engine.snapshot())).toBe(JSON.stringify(base.engine.snapshot()));
  });

  it('a message with the same time but other content is not a duplicate', () => {
    const ds = fleet({ devices: 3, hours: 2 });
    const d = ds[10]!;
    const split = order([...ds, { at: d.at, ev: { ...d.ev, metrics: { humidity: 40 } } }, { at: d.at + 1, ev: { ...d.ev, metrics: { temperature_c: d.ev.metrics.voltage!, voltage: d.ev.metrics.temperature_c! } } }]);
    expect(drive(cfg, split).outcomes.filter((o) => o !== 'scored')).toEqual([]);
  });
});

describe('checkpoints', () => {
  it('carry the robust clock, heard times and recent fingerprints: a restore mid-stream goes on exactly', () => {
    const ds = skewClock(withOne(fleet({ stops, spikes }), T0 + 12 * HOUR, dev(11), T0 + 32 * HOUR), dev(21), -HOUR);
    const straight = drive(cfg, ds);
    const cut = ds.findIndex((d) => d.at > T0 + 12 * HOUR + 10 * MIN);
    // A message from before the cut delivered again just after it.
    const resumed = drive(cfg, order([...ds, { at: ds[cut + 1]!.at, ev: { ...ds[cut - 1]!.ev } }]), { restoreAt: cut });
    // The repeat of the message right after the cut is recognised from the restored fingerprints.
    expect(resumed.outcomes.filter((o) => o === 'duplicate')).toHaveLength(1);
    expect(text(resumed.findings)).toEqual(text(straight.findings));
    expect(straight.engine.snapshot().max_ts).toBeLessThan(T0 + 37 * HOUR);
  });
});
