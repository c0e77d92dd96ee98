/**
 * An id flood against per-device state: 100,000 messages under 50,000 invented ids used to hold
 * every one of them for the idle-eviction time (7 days: +571 MB). With a cap per partition the
 * least recently seen are evicted, a device that keeps reporting keeps its state, the flood is a
 * device_cap finding, and a replay evicts exactly the same devices.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/pipeline/engine.js';
import { buildDetectors } from '../../src/pipeline/build.js';
import { createDetection } from '../../src/pipeline/detection.js';
import { loadPipelineText } from '../../src/config/load.js';
import type { Finding } from '../../src/detectors/types.js';
import type { M2MEvent } from '../../src/events/types.js';
import { testPipeline } from '../support/kafka.js';

const T0 = Date.UTC(2026, 2, 1);
const reading = (id: string, ts: number): M2MEvent => ({ type: 'telemetry', device_id: id, device_class: 'meter', ts, metrics: { v: 230 } });

function flood(cap: number) {
  const cfg = testPipeline('cap', [['metric_baseline', {}], ['reporting', {}]]);
  const engine = createEngine({ pipeline: 'cap', detectors: buildDetectors(cfg), allowedLatenessMs: 60_000, idleEvictionMs: 7 * 86_400_000, maxDevices: cap, scope: 'm2m.telemetry:3' });
  const findings: Finding[] = [];
  let ts = T0;
  // 20 real meters report throughout; 50,000 invented ids arrive twice each, interleaved.
  for (let i = 0; i < 100_000; i++) {
    ts += 100;
    if (i % 50 === 0) for (let m = 0; m < 20; m++) findings.push(...engine.process(reading(`meter-${m}`, ts)));
    findings.push(...engine.process(reading(`ghost-${i % 50_000}`, ts)));
  }
  return { engine, findings };
}

describe('device cap per partition', () => {
  it('bounds the devices held, keeps the devices that keep reporting, and raises a device_cap finding', () => {
    const { engine, findings } = flood(1_000);
    expect(engine.deviceCount()).toBeLessThanOrEqual(1_000);
    for (let m = 0; m < 20; m++) expect(engine.device(`meter-${m}`)).toBeDefined();
    expect(engine.capEvictions()).toBeGreaterThan(98_000);
    const cap = findings.filter((f) => f.detector === 'device_cap');
    // One incident per hour of event time, updated at powers of two: a handful of rows, not one per eviction.
    expect(cap.length).toBeGreaterThan(0);
    expect(cap.length).toBeLessThan(60);
    expect(cap[0]).toMatchObject({ device_id: '*', key: 'm2m.telemetry:3', severity: 'high' });
    expect(cap[0]!.explanation).toMatch(/device cap of 1000 per partition was reached on m2m\.telemetry:3/);
    const ids = new Set(cap.map((f) => f.finding_id));
    expect(ids.size).toBeLessThanOrEqual(Math.ceil((100_000 * 100) / 3_600_000) + 1);
    // Evicted devices are tombstones in the next checkpoint.
    const dirty = engine.takeDirty();
    expect(dirty.filter((id) => engine.device(id) === undefined).length).toBeGreaterThan(1_000);
  });

  it('is deterministic: a replay evicts the same devices and raises the same findings', () => {
    const a = flood(500);
    const b = flood(500);
    expect(b.findings.map((f) => `${f.finding_id}/${f.version}`)).toEqual(a.findings.map((f) => `${f.finding_id}/${f.version}`));
    expect(Object.keys(b.engine.snapshot().devices)).toEqual(Object.keys(a.engine.snapshot().devices));
  });

  it('comes from entities.max_devices_per_partition (default 100,000) through the partition engine', () => {
    expect(loadPipelineText('name: p\nsource: { kafka: { topics: [t], group: g } }\ndetectors: [ { fanout: {} } ]\n', 'p.yaml', {}).pipeline!.entities.max_devices_per_partition).toBe(100_000);
    const cfg = loadPipelineText('name: p\nsource: { kafka: { topics: [t], group: g } }\nentities: { max_devices_per_partition: 50 }\ndetectors: [ { metric_baseline: {} } ]\n', 'p.yaml', {}).pipeline!;
    const d = createDetection(cfg);
    d.open('t:0#1', null);
    const out = d.process('t:0#1', Array.from({ length: 500 }, (_, i) => Buffer.from(JSON.stringify({ type: 'telemetry', device_id: `g${i}`, ts: T0 + i * 1000, metrics: { v: 1 } }))));
    expect(out.stats.devices).toBeLessThanOrEqual(50);
    expect(out.stats.capEvicted).toBeGreaterThanOrEqual(450);
    expect(out.findings.flat().find((f) => f?.detector === 'device_cap')?.key).toBe('t:0');
  });
});
