/**
 * What device transports do to time (issue #20, item 4): a store-and-forward backlog uploaded
 * after a connectivity gap, in order or newest first after a live reading; the future gate at a
 * cold start, on a replay dated after the wall clock and across a recording's gap; and the same
 * dead letters and duplicate counts from the service's detection code as from a backtest.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../src/config/types.js';
import { runBacktest } from '../../src/eval/backtest.js';
import { createDetection } from '../../src/pipeline/detection.js';
import { HOUR, T0, defaultPipeline, dev, drive, fleet, notOf, of, order, silences, text, type Delivery } from '../support/time-fleet.js';

let cfg: PipelineConfig;
beforeAll(async () => {
  cfg = await defaultPipeline();
});

const ids = (fs: { finding_id: string }[]) => [...new Set(fs.map((f) => f.finding_id))].sort();

describe('a store-and-forward backlog', () => {
  const id = dev(5);
  const off = T0 + 18 * HOUR;
  const back = T0 + 22 * HOUR;
  /** The device's messages while it was offline, and the rest of the fleet as delivered. */
  function split(): { held: Delivery[]; rest: Delivery[]; first: Delivery } {
    const all = fleet();
    const held = all.filter((d) => d.ev.device_id === id && d.at >= off && d.at < back);
    const rest = all.filter((d) => !held.includes(d));
    const first = rest.find((d) => d.ev.device_id === id && d.at >= back)!;
    return { held, rest, first };
  }
  /** Uploaded in a burst from reconnection, half a second apart, while the fleet goes on (a tick runs meanwhile). */
  const burst = (held: Delivery[], from: number) => held.map((d, i) => ({ at: from + i * 500, ev: d.ev }));

  // What the connectivity gap itself justifies: the device lost its uplink for 4 h, so it is
  // silent for 4 h (medium: longer than `sustained`), and its counter moved on by 120 while no
  // message arrived (a low sequence gap). That is what the same device raises when its backlog
  // is lost; a backlog that does arrive may spare the gap, and must add nothing.
  it('lost: the gap raises its silence and its sequence gap, nothing else', () => {
    const lossy = drive(cfg, split().rest);
    expect(of(lossy.findings, id).map((f) => `${f.detector}:${f.key}`).filter((k, i, a) => a.indexOf(k) === i).sort()).toEqual(['reporting:silence', 'sequence:gap']);
    expect(ids(silences(of(lossy.findings, id)))).toHaveLength(1);
  });

  for (const how of ['in order', 'newest first after a live reading'] as const) {
    it(`uploaded ${how}: late, not silent twice, and nothing beyond what the gap justifies`, () => {
      const { held, rest, first } = split();
      const lossy = drive(cfg, rest);
      const ds =
        how === 'in order'
          ? order([...rest.map((d) => (d === first ? { at: back + held.length * 500, ev: d.ev } : d)), ...burst(held, back)])
          : order([...rest, ...burst([...held].reverse(), first.at + 1)]);
      const run = drive(cfg, ds);
      expect(run.outcomes.filter((o) => o !== 'scored')).toEqual([]);
      const mine = of(run.findings, id);
      expect(ids(silences(mine))).toHaveLength(1);
      expect(ids(mine).filter((f) => !ids(of(lossy.findings, id)).includes(f))).toEqual([]);
      expect(mine.filter((f) => f.detector === 'sequence').map((f) => f.evidence.kind)).not.toContain('rollback');
      // The burst is behind stream time: it moves no clock, so the fleet raises exactly the same.
      expect(text(notOf(run.findings, id))).toEqual(text(notOf(lossy.findings, id)));
    });
  }
});

describe('the future gate', () => {
  const FAR = Date.UTC(2099, 0, 1);
  const shift = (ds: Delivery[], by: number) => ds.map((d) => ({ at: d.at + by, ev: { ...d.ev, ts: d.ev.ts + by } }));

  it('judges by the wall clock before a partition has a time of its own', () => {
    const ds = fleet({ devices: 10, hours: 4 });
    const liar = { at: ds[0]!.at - 1, ev: { ...ds[0]!.ev, ts: FAR } };
    const run = drive(cfg, [liar, ...ds], { wall: (at) => at });
    expect(run.outcomes[0]).toBe('future');
    expect(run.outcomes.slice(1).every((o) => o === 'scored')).toBe(true);
    expect(run.engine.clock().max_ts).toBeLessThan(T0 + 5 * HOUR);
  });

  it('lets a replay dated after the wall clock through once devices agree on its time', () => {
    // The fleet is dated 90 days after the service's clock (a simulated future, replayed now).
    // Into a fresh partition: the wall clock is the one witness against, so a second device is enough.
    const ds = shift(fleet({ devices: 10, hours: 4 }), 90 * 24 * HOUR);
    const run = drive(cfg, ds, { wall: () => T0 });
    expect(run.outcomes[0]).toBe('future');
    expect(run.outcomes.slice(1).every((o) => o === 'scored')).toBe(true);
    // Into a partition that has a time of its own (ten devices on today's clock), it takes two others.
    const live = fleet({ devices: 10, hours: 4, seed: 9 });
    const both = drive(cfg, [...live, ...shift(fleet({ devices: 10, hours: 4 }), 90 * 24 * HOUR).map((d) => ({ at: live.at(-1)!.at + 1, ev: d.ev }))], { wall: () => T0 });
    expect(both.outcomes.filter((o) => o === 'future')).toHaveLength(2);
  });

  it('in a backtest, believes a device that is the whole stream', () => {
    // One device, back after two days: nothing else to judge it by, so its time is the stream's.
    const ds = fleet({ devices: 1, hours: 4 });
    const run = drive(cfg, [...ds, ...shift(ds, 2 * 24 * HOUR)]);
    expect(run.outcomes.every((o) => o === 'scored')).toBe(true);
  });

  it('never believes one device alone, however often it says so', () => {
    const ds = fleet({ devices: 10, hours: 4 });
    // (After the stream has a time: a backtest's very first event has nothing to be judged by.)
    const liar = ds.filter((_, i) => i > 0 && i % 37 === 0).map((d) => ({ at: d.at, ev: { ...d.ev, device_id: dev(3), ts: d.ev.ts + 40 * 24 * HOUR } }));
    for (const wall of [undefined, (at: number) => at]) {
      const run = drive(cfg, order([...ds, ...liar]), { wall });
      expect(run.outcomes.filter((o) => o === 'future')).toHaveLength(liar.length);
    }
  });

  it('in a backtest, follows a whole fleet across a recording gap longer than the skew, at the price of two events', () => {
    const a = fleet({ devices: 10, hours: 4 });
    const b = shift(fleet({ devices: 10, hours: 4, seed: 8 }), 3 * 24 * HOUR);
    const run = drive(cfg, [...a, ...b]);
    expect(run.outcomes.filter((o) => o === 'future')).toHaveLength(2);
    expect(run.engine.clock().max_ts).toBeGreaterThan(T0 + 3 * 24 * HOUR + 3 * HOUR);
  });
});

describe('dead letters and duplicates', () => {
  it('flow the same through the service detection code and the backtest', async () => {
    const ds = fleet({ devices: 10, hours: 6, stops: { [dev(2)]: T0 + 3 * HOUR } });
    const lines = ds.map((d) => JSON.stringify({ ...d.ev, ts: new Date(d.ev.ts).toISOString() }));
    // A broken clock, and three messages delivered again a few messages later.
    lines.splice(200, 0, lines[150]!.replace(/"ts":"[^"]+"/, '"ts":"2099-01-01T00:00:00.000Z"'));
    for (const at of [300, 400, 500]) lines.splice(at + 5, 0, lines[at]!);
    const file = join(mkdtempSync(join(tmpdir(), 'time-')), 'fleet.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');

    const bt = await runBacktest({ pipeline: cfg, inputs: [file] });
    expect(bt.rejected).toBe(1);
    expect(bt.rejectedBy['future_timestamp:ts']).toMatchObject({ count: 1, example: { file, line: 201 } });
    expect(bt.duplicates).toBe(3);

    const det = createDetection(cfg);
    det.open('p0', null);
    const out = det.process('p0', lines.map((l) => Buffer.from(l)));
    expect(out.errors.filter((e) => e !== undefined).map((e) => `${e!.code}:${e!.field}`)).toEqual(['future_timestamp:ts']);
    expect(out.at[out.errors.findIndex((e) => e !== undefined)]).toBe(200);
    expect(out.duplicates).toBe(3);
    expect(out.decoded).toBe(bt.decoded);
    // The same findings (the service sees every version, the backtest keeps the last).
    const versions = out.findings.flatMap((f) => f ?? []);
    expect(ids(versions)).toEqual(ids(bt.findings));
    expect(silences(bt.findings).map((f) => f.device_id)).toContain(dev(2));
  });
});
