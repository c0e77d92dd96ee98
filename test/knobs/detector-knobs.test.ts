/**
 * The detector-entry knobs through the same path production uses (YAML → PipelineConfig →
 * buildDetectors → engine): sensitivity moves a threshold, direction and min_deviation drop
 * metric findings the user does not want, allow-lists keep known connections away from the
 * detectors that judge destinations. Each case also shows the finding without the knob, so a
 * knob that did nothing would fail.
 */
import { describe, expect, it } from 'vitest';
import { formatConfigError, loadPipelineText } from '../../src/config/load.js';
import type { PipelineConfig } from '../../src/config/types.js';
import { DETECTORS } from '../../src/detectors/registry.js';
import { applySensitivity, THRESHOLDS } from '../../src/detectors/thresholds.js';
import type { Finding, ParamSpec } from '../../src/detectors/types.js';
import type { M2MEvent } from '../../src/events/types.js';
import { buildDetectors } from '../../src/pipeline/build.js';
import { createEngine } from '../../src/pipeline/engine.js';
import { allowRulesFor } from '../../src/pipeline/knobs.js';

const HEAD = 'name: k\nsource: { kafka: { topics: [t], group: g } }\n';

function pipeline(yaml: string): PipelineConfig {
  const r = loadPipelineText(HEAD + yaml, 'k.yaml', {});
  expect(r.errors.map(formatConfigError)).toEqual([]);
  return r.pipeline!;
}

function run(cfg: PipelineConfig, events: M2MEvent[]): Finding[] {
  const e = createEngine({ pipeline: cfg.name, detectors: buildDetectors(cfg), allowedLatenessMs: cfg.allowed_lateness_ms, idleEvictionMs: cfg.entities.idle_eviction_ms });
  const out: Finding[] = [];
  for (const ev of events) out.push(...e.process(ev));
  return out;
}

const T0 = Date.UTC(2026, 2, 2);

/** Two days of a noisy temperature every 5 min, then a rise of +40 and later a drop of −40. */
function temperatures(): M2MEvent[] {
  const out: M2MEvent[] = [];
  let s = 7;
  const r = () => ((s = (s * 48271) % 2147483647) / 2147483647 - 0.5);
  for (let i = 0; i < 700; i++) {
    const jump = i >= 600 && i < 606 ? 40 : i >= 650 && i < 656 ? -40 : 0;
    out.push({ type: 'telemetry', device_id: 'oven-1', device_class: 'sensor', ts: T0 + i * 300_000, metrics: { temp_c: 200 + Math.sin(i / 40) + r() + jump, hum: 40 + r() } });
  }
  return out;
}

const dirs = (fs: Finding[]) => [...new Set(fs.filter((f) => f.detector === 'metric_baseline' && f.key === 'temp_c').map((f) => (f.evidence as { direction: string }).direction))].sort();

describe('direction and min_deviation', () => {
  const evs = temperatures();

  it('without them, the rise and the drop are both findings', () => {
    expect(dirs(run(pipeline('detectors:\n  - metric_baseline: {}\n'), evs))).toEqual(['above', 'below']);
  });

  it('direction: up keeps the rise only; a per-metric map applies to the metric named', () => {
    expect(dirs(run(pipeline('detectors:\n  - metric_baseline: {}\n    direction: up\n'), evs))).toEqual(['above']);
    expect(dirs(run(pipeline('detectors:\n  - metric_baseline: {}\n    direction: { temp_c: down, hum: up }\n'), evs))).toEqual(['below']);
  });

  it('min_deviation drops deviations smaller than an absolute or relative amount, per metric', () => {
    // The jumps are 40 °C on a level of 200: 20%.
    expect(dirs(run(pipeline('detectors:\n  - metric_baseline: {}\n    min_deviation: { temp_c: { abs: 30 } }\n'), evs))).toEqual(['above', 'below']);
    expect(dirs(run(pipeline('detectors:\n  - metric_baseline: {}\n    min_deviation: { temp_c: { abs: 50 } }\n'), evs))).toEqual([]);
    expect(dirs(run(pipeline('detectors:\n  - metric_baseline: {}\n    min_deviation: { "*": { rel: 0.25 } }\n'), evs))).toEqual([]);
    expect(dirs(run(pipeline('detectors:\n  - metric_baseline: {}\n    min_deviation: { hum: { abs: 1000 } }\n'), evs))).toEqual(['above', 'below']);
  });
});

describe('sensitivity', () => {
  /** auth failures one minute apart: 12 of them, under the default threshold of 20 in 10m. */
  const failures: M2MEvent[] = Array.from({ length: 12 }, (_, i) => ({ type: 'connection', device_id: 'pos-1', device_class: 'pos_terminal', ts: T0 + i * 30_000, src_ip: '10.40.1.9', dst_ip: '10.40.1.1', dst_port: 22, protocol: 'tcp', auth: 'failed' }) as M2MEvent);

  it('2 fires at half the threshold; the default does not', () => {
    expect(run(pipeline('detectors:\n  - auth_failures: {}\n'), failures)).toEqual([]);
    const hot = run(pipeline('detectors:\n  - auth_failures: {}\n    sensitivity: 2\n'), failures);
    expect(hot.map((f) => f.detector)).toContain('auth_failures');
  });

  it('scales every threshold of the table in its direction, clamped and rounded, and only those', () => {
    const fanout = DETECTORS.find((d) => d.name === 'fanout')!;
    const base = { window: 300_000, min_distinct_dst: 40, min_distinct_ports: 20, baseline_factor: 3, learning: 3_600_000, max_tracked: 512, incident_gap: 1_800_000 };
    const hot = applySensitivity(fanout, base, 3);
    expect(hot).toMatchObject({ min_distinct_dst: 13, min_distinct_ports: 7, baseline_factor: 1, window: 300_000, max_tracked: 512 });
    const beacon = DETECTORS.find((d) => d.name === 'beaconing')!;
    // 0.85 / 2 is below min_score's own minimum (0.5): clamped there.
    expect(applySensitivity(beacon, { min_score: 0.85, max_jitter: 0.1 } as never, 2)).toMatchObject({ min_score: 0.5, max_jitter: 0.2 });
    expect(applySensitivity(beacon, { min_score: 0.85, max_jitter: 0.1 } as never, 0.5)).toMatchObject({ min_score: 1, max_jitter: 0.05 });
  });

  it('every registered detector declares its threshold parameters, and each is a number it has', () => {
    for (const d of DETECTORS) {
      const ts = THRESHOLDS[d.name];
      expect(ts, `${d.name} is missing from detectors/thresholds.ts`).toBeDefined();
      for (const t of ts!) {
        const p = (d.params as Record<string, ParamSpec>)[t.param];
        expect(p?.type, `${d.name}.${t.param}`).toMatch(/^(number|integer)$/);
      }
    }
  });
});

describe('allow', () => {
  /** A PLC polled by its SCADA master for two days, then one connection to a new host. */
  const flows: M2MEvent[] = [
    ...Array.from({ length: 300 }, (_, i) => ({ type: 'connection', device_id: 'plc-1', device_class: 'plc', ts: T0 + i * 600_000, src_ip: '10.20.0.7', dst_ip: '10.20.0.1', dst_port: 502, protocol: 'tcp' }) as M2MEvent),
    { type: 'connection', device_id: 'plc-1', device_class: 'plc', ts: T0 + 300 * 600_000, src_ip: '10.20.0.7', dst_ip: '10.9.9.9', dst_port: 4840, protocol: 'tcp' },
  ];
  const newPeers = (fs: Finding[]) => fs.filter((f) => f.detector === 'new_peer').map((f) => (f.evidence as { dst_ip: string }).dst_ip);

  it('a matching entry keeps the connection from new_peer; class, port or detectors that do not match do not', () => {
    expect(newPeers(run(pipeline('detectors:\n  - new_peer: {}\n'), flows))).toEqual(['10.9.9.9']);
    expect(newPeers(run(pipeline('detectors:\n  - new_peer: {}\nallow:\n  - { cidrs: [10.9.0.0/16] }\n'), flows))).toEqual([]);
    expect(newPeers(run(pipeline('detectors:\n  - new_peer: {}\nallow:\n  - { classes: [plc], peers: [10.9.9.9], ports: [4840] }\n'), flows))).toEqual([]);
    expect(newPeers(run(pipeline('detectors:\n  - new_peer: {}\nallow:\n  - { classes: [camera], cidrs: [10.9.0.0/16] }\n'), flows))).toEqual(['10.9.9.9']);
    expect(newPeers(run(pipeline('detectors:\n  - new_peer: {}\nallow:\n  - { cidrs: [10.9.0.0/16], ports: [502] }\n'), flows))).toEqual(['10.9.9.9']);
    expect(newPeers(run(pipeline('detectors:\n  - new_peer: {}\n  - fanout: {}\nallow:\n  - { cidrs: [10.9.0.0/16], detectors: [fanout] }\n'), flows))).toEqual(['10.9.9.9']);
  });

  it('does not apply to scans, brute force or cloning unless an entry names them', () => {
    const rules = [{ name: 'a', cidrs: ['10.0.0.0/8'] }];
    for (const t of ['fanout', 'auth_failures', 'device_cloning', 'unusual_hour']) expect(allowRulesFor({ id: t, type: t }, rules), t).toEqual([]);
    for (const t of ['new_peer', 'beaconing', 'policy', 'tls_downgrade']) expect(allowRulesFor({ id: t, type: t }, rules), t).toHaveLength(1);
    expect(allowRulesFor({ id: 'fanout', type: 'fanout' }, [{ name: 'b', ports: [53], detectors: ['fanout'] }])).toHaveLength(1);
  });
});
