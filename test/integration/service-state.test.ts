/**
 * The state changelog against the real broker: deltas and tombstones fold into the restored
 * state, a checkpoint is all-or-nothing, a new owner fences the old one (its open transaction
 * is discarded and its next commit fails), and a checkpoint of many devices is split into
 * requests the broker accepts.
 */
import { describe, expect, it } from 'vitest';
import { kafka, uid } from '../support/kafka.js';
import { changelogTopic, chunks, deviceKey, ensureChangelog, PartitionStore, StoreFenced, type Checkpoint } from '../../src/state/changelog.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { createEngine, type DeviceState } from '../../src/pipeline/engine.js';

const k = kafka();

const dev = (n: number, pad = 0): DeviceState => ({ device_class: 'sensor', first_ts: 1, last_ts: n, d: { metric_baseline: { n, pad: 'x'.repeat(pad) } } });
const cp = (next: number, devices: Checkpoint['devices'], processed = next): Checkpoint => ({
  devices,
  marker: { next_offset: String(next), max_ts: next * 1000, last_tick: null, router: { groups: {} }, processed, dead_lettered: 0, devices: devices.length },
});

async function setup(): Promise<{ group: string; topic: string }> {
  const group = uid('state');
  const topic = `${group}.events`;
  await ensureTopics(k, [{ topic, partitions: 2 }]);
  await ensureChangelog(k, group, [topic]);
  return { group, topic };
}

describe('engine dirty set (what a delta checkpoint writes)', () => {
  it('names devices stepped or evicted since the last take, and only those', () => {
    const e = createEngine({ pipeline: 'p', detectors: [], allowedLatenessMs: 0, idleEvictionMs: 3_600_000 });
    const T = Date.UTC(2026, 2, 1);
    const ev = (d: string, ts: number) => ({ type: 'telemetry' as const, device_id: d, device_class: 'x', ts, metrics: { v: 1 } });
    e.process(ev('a', T));
    e.process(ev('b', T + 1));
    expect(e.takeDirty().sort()).toEqual(['a', 'b']);
    expect(e.takeDirty()).toEqual([]);
    e.process(ev('b', T + 2 * 3_600_000));
    e.advanceTo(T + 2 * 3_600_000 + 120_000); // a idles out: a tombstone
    expect(e.takeDirty().sort()).toEqual(['a', 'b']);
    expect(e.device('a')).toBeUndefined();
    expect(e.device('b')?.last_ts).toBe(T + 2 * 3_600_000);
    e.restore(e.snapshot());
    expect(e.takeDirty()).toEqual([]);
  });
});

describe('state changelog', () => {
  it('is compacted, partitioned like its source, and folds deltas and tombstones into the restored state', async () => {
    const { group, topic } = await setup();
    const admin = k.admin();
    await admin.connect();
    const [cl] = (await admin.fetchTopicMetadata({ topics: [changelogTopic(group)] })).topics;
    const cfg = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: changelogTopic(group), configNames: ['cleanup.policy'] }] });
    await admin.disconnect();
    expect(cl!.partitions.length).toBe(2);
    expect(cfg.resources[0]!.configEntries[0]!.configValue).toBe('compact');

    const s = new PartitionStore(k, group, topic, 1);
    await s.open();
    expect(await s.read()).toBeNull();
    await s.commit(cp(10, [['a', dev(1)], ['b', dev(2)], ['c', dev(3)]]));
    await s.commit(cp(20, [['b', dev(22)], ['c', undefined]]));
    await s.close();

    // Opened before reading, as a restore does (commit markers land asynchronously).
    const s2 = new PartitionStore(k, group, topic, 1);
    await s2.open();
    const r = await s2.read();
    await s2.close();
    expect(r!.next_offset).toBe(20n);
    expect(Object.keys(r!.engine.devices).sort()).toEqual(['a', 'b']);
    expect(r!.engine.devices.b).toEqual(dev(22));
    expect(r!.engine.max_ts).toBe(20_000);
    expect(r!.engine.last_tick).toBe(Number.NEGATIVE_INFINITY);
    // The other source partition's slice is untouched.
    expect(await new PartitionStore(k, group, topic, 0).read()).toBeNull();
  });

  it('fences the previous owner: its open transaction is discarded and its next commit fails', async () => {
    const { group, topic } = await setup();
    const a = new PartitionStore(k, group, topic, 0);
    await a.open();
    await a.commit(cp(5, [['a', dev(1)]]));

    // The old owner is mid-checkpoint (records sent, not committed) when a new owner opens.
    const zombie = k.producer({ transactionalId: `${group}.state.${topic}.0`, idempotent: true, maxInFlightRequests: 1 });
    await zombie.connect();
    const txn = await zombie.transaction();
    await txn.send({ topic: changelogTopic(group), messages: [{ key: deviceKey(topic, 'a'), value: JSON.stringify({ v: 1, s: dev(999) }), partition: 0 }] });

    const b = new PartitionStore(k, group, topic, 0);
    await b.open();
    const r = await b.read();
    expect(r!.next_offset).toBe(5n);
    expect(r!.engine.devices.a).toEqual(dev(1));
    await expect(txn.commit()).rejects.toThrow();
    await expect(a.commit(cp(9, [['a', dev(9)]]))).rejects.toBeInstanceOf(StoreFenced);
    await b.commit(cp(7, [['a', dev(7)]]));
    await Promise.all([a.close(), b.close(), zombie.disconnect()]);

    // Read as a restore does: open (InitProducerId waits until b's commit markers are written,
    // so the last stable offset covers them) before reading. A bare read right after commit()
    // returns may still see the previous checkpoint, since commit markers are written
    // asynchronously (seen once under load: 5n).
    const s3 = new PartitionStore(k, group, topic, 0);
    await s3.open();
    const r2 = await s3.read();
    await s3.close();
    expect(r2!.next_offset).toBe(7n);
    expect(r2!.engine.devices.a).toEqual(dev(7));
  });

  it('splits a checkpoint of many devices into requests the broker accepts, in one transaction', async () => {
    const { group, topic } = await setup();
    const devices: Checkpoint['devices'] = [];
    for (let i = 0; i < 3000; i++) devices.push([`dev-${i}`, dev(i, 600)]);
    expect(chunks([{ topic: 't', messages: devices.map(([id]) => ({ key: id, value: 'x'.repeat(700) })) }], 512 * 1024).length).toBeGreaterThan(3);
    const s = new PartitionStore(k, group, topic, 0);
    await s.open();
    await s.commit(cp(3000, devices));
    await s.close();
    // Opened before reading, as a restore does (see above: commit markers land asynchronously).
    const s2 = new PartitionStore(k, group, topic, 0);
    await s2.open();
    const r = await s2.read();
    await s2.close();
    expect(Object.keys(r!.engine.devices).length).toBe(3000);
    expect(r!.engine.devices['dev-2999']).toEqual(dev(2999, 600));
  });
});
