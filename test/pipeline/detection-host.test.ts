/**
 * Detection in worker threads is the same detection: for the same batches, the workers' outcomes
 * (findings, dead-letter reasons) and encoded device states are byte for byte those of the
 * consumer's own thread, a partition restored into a worker from a checkpoint goes on exactly as
 * the engine that wrote it, and a partition the host no longer holds fails loudly.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadPipelineFile } from '../../src/config/load.js';
import { FleetGen } from '../../src/sim/bench-fleet.js';
import { startDetection, packValues, unpackValues, type DetectionHost } from '../../src/pipeline/detection-host.js';
import type { BatchOutcome, StateDelta } from '../../src/pipeline/detection.js';
import type { EngineSnapshot } from '../../src/pipeline/engine.js';
import { decodeDevice } from '../../src/state/changelog.js';
import { threadCpuTimes } from '../../src/obs/proc.js';

const r = await loadPipelineFile('pipelines/default.yaml');
if (!r.pipeline) throw new Error(JSON.stringify(r.errors));
const cfg = r.pipeline;

// 30k events of 1,500 devices: telemetry and connections, port scans raising findings, malformed
// events; plus an empty (tombstone-like) value, which must dead-letter like any bad input.
const events: (Buffer | null)[] = new FleetGen({ events: 30_000, devices: 1_500, seed: 11, intervalMs: 60_000 }).take(30_000).map((s) => Buffer.from(s));
events.splice(777, 0, null, Buffer.from('{"type":"telemetry"'));
const batches = (from: number, to: number, size = 700): (Buffer | null)[][] => {
  const out: (Buffer | null)[][] = [];
  for (let i = from; i < to; i += size) out.push(events.slice(i, Math.min(to, i + size)));
  return out;
};
const plain = (o: BatchOutcome): unknown => JSON.parse(JSON.stringify(o));
const hosts: DetectionHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
});
const host = (workers: number): DetectionHost => {
  const h = startDetection(cfg, workers);
  hosts.push(h);
  return h;
};
const snapshotOf = (d: StateDelta): EngineSnapshot => ({
  v: 1,
  max_ts: d.clock.max_ts,
  last_tick: d.clock.last_tick,
  devices: Object.fromEntries(d.ids.map((id, i) => [id, decodeDevice(d.values[i]!)])),
});

describe('detection host', () => {
  it('packs values end to end and back, tombstones included', () => {
    const vals = [Buffer.from('ab'), null, Buffer.alloc(0), Buffer.from('xyz')];
    const { data, ends } = packValues(vals);
    expect([...ends]).toEqual([2, -1, 2, 5]);
    expect(unpackValues(data, ends).map((v) => (v === null ? null : v.toString()))).toEqual(['ab', null, '', 'xyz']);
  });

  it('gives the same outcomes and state in worker threads as in the calling thread, and restores into a worker', async () => {
    const local = host(0);
    const workers = host(2);
    expect([local.workers, workers.workers]).toEqual([0, 2]);
    // Two partitions per host, so both workers hold one.
    for (const h of [local, workers]) {
      await h.open('a', null);
      await h.open('b', null);
    }
    const half = 16_000;
    let findings = 0;
    let errors = 0;
    for (const [i, batch] of batches(0, half).entries()) {
      const k = i % 2 ? 'b' : 'a';
      const [x, y] = await Promise.all([local.process(k, batch), workers.process(k, batch)]);
      expect(plain(y)).toEqual(plain(x));
      findings += x.findings.reduce((n, f) => n + (f?.length ?? 0), 0);
      errors += x.errors.filter((e) => e !== undefined).length;
    }
    // The comparison means something only if the batches raised findings and dead letters.
    expect(findings).toBeGreaterThan(50);
    expect(errors).toBeGreaterThanOrEqual(3);

    const [sx, sy] = await Promise.all([local.takeState('a').then((t) => t.delta), workers.takeState('a').then((t) => t.delta)]);
    expect(sy.ids).toEqual(sx.ids);
    expect(sx.ids.length).toBeGreaterThan(500);
    expect(sy.values.map((v) => v?.toString('base64'))).toEqual(sx.values.map((v) => v?.toString('base64')));
    expect(sy.clock).toEqual(sx.clock);
    expect(sy.stats).toEqual(sx.stats);
    // Nothing changed since: the next take is empty.
    expect((await (await workers.takeState('a')).delta).ids).toEqual([]);

    // 'a' restored from its checkpoint into a worker goes on exactly as the engine that wrote it.
    await workers.open('a2', snapshotOf(sx));
    for (const batch of batches(half, events.length)) {
      const [x, y] = await Promise.all([local.process('a', batch), workers.process('a2', batch)]);
      expect(plain(y)).toEqual(plain(x));
    }
  });

  // A checkpoint's point is the call: the batches processed while its devices are encoded change
  // nothing in it, whether they step taken devices or evict them all (readings 40 days later, from
  // three devices: stream time follows several devices, never one).
  const first = JSON.parse(String(events[0])) as { ts: string };
  const far = [1, 2, 3].map((i) => Buffer.from(JSON.stringify({ ...first, device_id: `late-meter-${i}`, ts: new Date(Date.parse(first.ts) + 40 * 86_400_000).toISOString() })));
  for (const workers of [0, 1]) {
    for (const later of ['step', 'evict'] as const) {
      it(`writes a checkpoint as of its point while later batches ${later} its devices (${workers} workers)`, async () => {
        const h = host(workers);
        const ref = host(workers);
        await h.open('a', null);
        await ref.open('a', null);
        for (const b of batches(0, 12_000, 1_000)) await Promise.all([h.process('a', b), ref.process('a', b)]);
        const taking = h.takeState('a');
        const late = later === 'step' ? [events.slice(12_000, 16_000), events.slice(16_000, 20_000)] : [far];
        // Sent right behind the take, without waiting for it: the encoding runs between them.
        const going = late.map((b) => h.process('a', b));
        const taken = await taking;
        const [got, want] = await Promise.all([taken.delta, ref.takeState('a').then((t) => t.delta)]);
        await Promise.all(going);
        expect(got.ids.length).toBeGreaterThan(1_000);
        expect(got.ids).toEqual(want.ids);
        expect(got.values.map((v) => v?.toString('base64'))).toEqual(want.values.map((v) => v?.toString('base64')));
        expect([taken.clock, taken.stats, got.clock]).toEqual([want.clock, want.stats, want.clock]);
        // The later batches did what they were meant to: the next take lists the devices changed.
        const after = await (await h.takeState('a')).delta;
        const changed = new Set(after.ids.filter((_id, i) => (later === 'evict') === (after.values[i] === null)));
        expect(got.ids.filter((id) => changed.has(id)).length).toBeGreaterThan(later === 'evict' ? got.ids.length - 1 : 500);
      });
    }
  }

  it('has each worker report its heap and OS thread id, so its CPU time can be told apart', async () => {
    const h = host(1);
    await h.open('p', null);
    const deadline = Date.now() + 10_000;
    while (h.heaps().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const [heap] = h.heaps();
    expect(heap!.used).toBeGreaterThan(0);
    expect(heap!.total).toBeGreaterThanOrEqual(heap!.used);
    const threads = threadCpuTimes();
    if (threads === undefined) return; // no /proc: no thread ids either
    expect(heap!.tid).not.toBe(process.pid);
    expect(threads.has(heap!.tid!)).toBe(true);
  });

  it('fails the encoding of a checkpoint whose partition is dropped', async () => {
    const h = host(0);
    await h.open('p', null);
    await h.process('p', events.slice(0, 6_000));
    const taken = await h.takeState('p');
    h.drop('p');
    await expect(taken.delta).rejects.toThrow(/partition p was dropped while its checkpoint was encoded/);
  });

  it('fails loudly for a partition it does not hold', async () => {
    const h = host(1);
    await h.open('p', null);
    await h.process('p', events.slice(0, 10));
    h.drop('p');
    await expect(h.process('p', events.slice(10, 20))).rejects.toThrow(/no detection state for partition p/);
    await expect(h.takeState('q')).rejects.toThrow(/no detection state for partition q/);
    const l = host(0);
    await expect(l.process('p', events.slice(0, 1))).rejects.toThrow(/no detection state for partition p/);
  });

  it('fails the calls of a worker that died and starts a new one for the next partition opened', async () => {
    const h = host(1);
    await h.open('p', null);
    const [w] = h.threads();
    const pending = h.process('p', events.slice(0, 5_000));
    await w!.terminate();
    await expect(pending).rejects.toThrow(/detection worker (exited|is gone)/);
    await expect(h.process('p', events.slice(0, 10))).rejects.toThrow(/no detection state for partition p/);
    // The runner's answer to that: drop the partition and restore it, which opens it again.
    await h.open('p', null);
    expect(h.threads()).toHaveLength(1);
    expect(h.threads()[0]).not.toBe(w);
    const out = await h.process('p', events.slice(0, 2_000));
    expect(out.decoded).toBeGreaterThan(1_900);
  });
});
