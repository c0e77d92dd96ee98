import { describe, expect, it } from 'vitest';
import { parseDurationOrMs } from '../../src/lib/duration.js';
import { DETECTORS, detectorSpec } from '../../src/detectors/registry.js';
import type { ParamSpec } from '../../src/detectors/types.js';
import { conn, make, run, seasonalTelemetry, T0, MIN } from './helpers.js';

describe('registry contract', () => {
  it('names are unique and every spec is complete', () => {
    const names = DETECTORS.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of DETECTORS) {
      expect(detectorSpec(d.name)).toBe(d);
      expect(d.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(d.summary.length).toBeGreaterThan(40);
      expect(d.example.length).toBeGreaterThan(40);
      expect(d.mitre.length).toBeGreaterThan(0);
      for (const id of d.mitre) expect(id).toMatch(/^T\d{4}(\.\d{3})?$/);
      for (const [name, p] of Object.entries(d.params as Record<string, ParamSpec>)) {
        expect(name).toMatch(/^[a-z][a-z0-9_]*$/);
        expect(p.description.length, `${d.name}.${name}`).toBeGreaterThan(10);
        expect(p.default, `${d.name}.${name} has a default`).not.toBeUndefined();
        if (p.type === 'duration') expect(parseDurationOrMs(p.default), `${d.name}.${name}`).not.toBeUndefined();
        if (p.enum && p.default !== undefined) expect(p.enum).toContain(p.default);
        if (typeof p.default === 'number') {
          if (p.minimum !== undefined) expect(p.default).toBeGreaterThanOrEqual(p.minimum);
          if (p.maximum !== undefined) expect(p.default).toBeLessThanOrEqual(p.maximum);
          if (p.type === 'integer') expect(Number.isInteger(p.default)).toBe(true);
        }
      }
    }
  });

  it('every detector builds from defaults, declares a state bound, and runs the default set together', () => {
    const dets = DETECTORS.map((d) => make(d));
    for (const d of dets) expect(d.maxStateBytes, d.id).toBeGreaterThan(0);
    const evs = [...seasonalTelemetry({ days: 1, stepMs: 5 * MIN, seq: true, firmware: '1.0.0' })];
    for (let i = 0; i < 200; i++) evs.push(conn('dev-1', T0 + i * 7 * MIN + 1, '10.0.0.1', 502) as never);
    evs.sort((a, b) => a.ts - b.ts);
    const r = run(dets, evs);
    for (const f of r.findings) expect(DETECTORS.some((d) => d.name === f.detector)).toBe(true);
  });
});
