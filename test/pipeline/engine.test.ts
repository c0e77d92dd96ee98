import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/pipeline/engine.js';
import { metricBaseline } from '../../src/detectors/metric_baseline/detector.js';
import { withDefaults } from '../../src/detectors/params.js';
import { decodeDevice, encodeDevice } from '../../src/state/changelog.js';
import { latestVersions } from '../../src/storage/findings.js';
import type { M2MEvent } from '../../src/events/types.js';
import type { Finding } from '../../src/detectors/types.js';

const T0 = Date.UTC(2026, 2, 1);
function stream(): M2MEvent[] {
  const out: M2MEvent[] = [];
  let s = 11;
  const r = () => ((s = (s * 48271) % 2147483647) / 2147483647 - 0.5);
  for (let i = 0; i < 2000; i++) {
    for (const d of ['a', 'b', 'c']) {
      const spike = d === 'b' && i > 1500 && i < 1510 ? 40 : 0;
      out.push({ type: 'telemetry', device_id: d, device_class: 'sensor', ts: T0 + i * 60_000, metrics: { t: 20 + Math.sin(i / 100) + r() + spike, h: 50 + r() * 3 } });
    }
  }
  return out;
}
const engine = () => createEngine({ pipeline: 'p', detectors: [metricBaseline.create(withDefaults(metricBaseline, {}), 'metric_baseline')], allowedLatenessMs: 60_000, idleEvictionMs: 7 * 86_400_000 });

describe('engine', () => {
  it('gives the same findings straight through as across a checkpoint and restore', () => {
    const evs = stream();
    const straight: Finding[] = [];
    const e1 = engine();
    for (const ev of evs) straight.push(...e1.process(ev));
    expect(straight.length).toBeGreaterThan(0);

    const resumed: Finding[] = [];
    const e2 = engine();
    const cut = 3 * 1400;
    for (const ev of evs.slice(0, cut)) resumed.push(...e2.process(ev));
    // Each device through the changelog's codec, as a checkpoint writes it and a restore reads it.
    const cp = e2.snapshot();
    const snap = { ...cp, devices: Object.fromEntries(Object.entries(cp.devices).map(([id, st]) => [id, decodeDevice(encodeDevice(st))])) };
    const e3 = engine();
    e3.restore(snap);
    for (const ev of evs.slice(cut)) resumed.push(...e3.process(ev));
    expect(resumed).toEqual(straight);
  });

  it('extends one incident into one finding id with rising versions', () => {
    const out: Finding[] = [];
    const e = engine();
    for (const ev of stream()) out.push(...e.process(ev));
    const b = out.filter((f) => f.device_id === 'b');
    expect(b.length).toBeGreaterThan(1);
    const latest = latestVersions(b);
    expect(latest.length).toBeLessThan(b.length);
    for (const f of latest) expect(f.version).toBe(Math.max(...b.filter((x) => x.finding_id === f.finding_id).map((x) => x.version)));
  });

  it('evicts devices idle past idle_eviction as the watermark advances', () => {
    const e = createEngine({ pipeline: 'p', detectors: [], allowedLatenessMs: 0, idleEvictionMs: 3_600_000 });
    e.process({ type: 'telemetry', device_id: 'old', device_class: 'x', ts: T0, metrics: { v: 1 } });
    e.process({ type: 'telemetry', device_id: 'new', device_class: 'x', ts: T0 + 2 * 3_600_000, metrics: { v: 1 } });
    e.advanceTo(T0 + 2 * 3_600_000 + 120_000);
    expect(e.deviceCount()).toBe(1);
  });
});
