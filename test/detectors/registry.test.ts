import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, withDefaults } from '../../src/detectors/params.js';
import { DETECTORS, detectorSpec } from '../../src/detectors/registry.js';
import type { ParamSpec } from '../../src/detectors/types.js';
import { inCidr, isInternalIp, parseCidr } from '../../src/detectors/lib/ip.js';
import { compareVersions } from '../../src/detectors/lib/versions.js';
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
        if (p.type === 'duration') expect(parseDuration(p.default), `${d.name}.${name}`).not.toBeUndefined();
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

describe('params', () => {
  it('parses durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration(250)).toBe(250);
    for (const bad of ['', '5', 'm5', '5 m', '-5m', '5x', '5m junk', null, {}]) {
      if (bad === '5') continue; // bare numbers are milliseconds
      expect(parseDuration(bad), String(bad)).toBeUndefined();
    }
    expect(parseDuration('5')).toBe(5);
    expect(formatDuration(5_400_000)).toBe('90m');
  });

  it('withDefaults applies defaults, converts durations and rejects unknown keys', () => {
    const spec = detectorSpec('fanout')!;
    const p = withDefaults(spec, { window: '1m' });
    expect(p.window).toBe(60_000);
    expect(p.min_distinct_dst).toBe(40);
    expect(p.incident_gap).toBe(30 * 60_000);
    expect(() => withDefaults(spec, { windw: '1m' } as never)).toThrow(/unknown param/);
    expect(() => withDefaults(spec, { window: 'soon' })).toThrow(/duration/);
  });
});

describe('utils', () => {
  it('compares versions semver-style', () => {
    expect(compareVersions('4.10.0', '4.2.1')).toBeGreaterThan(0);
    expect(compareVersions('v4.2.1', '4.2.1')).toBe(0);
    expect(compareVersions('4.2', '4.2.0')).toBe(0);
    expect(compareVersions('4.2.0-rc1', '4.2.0')).toBeLessThan(0);
    expect(compareVersions('4.2.0+build7', '4.2.0')).toBe(0);
    expect(compareVersions('1.0.0-alpha', '1.0.0-beta')).toBeLessThan(0);
  });

  it('matches CIDRs for IPv4 and IPv6 and knows internal ranges', () => {
    expect(inCidr('10.20.3.4', parseCidr('10.20.0.0/16')!)).toBe(true);
    expect(inCidr('10.21.3.4', parseCidr('10.20.0.0/16')!)).toBe(false);
    expect(inCidr('2001:db8::1', parseCidr('2001:db8::/32')!)).toBe(true);
    expect(inCidr('2001:db9::1', parseCidr('2001:db8::/32')!)).toBe(false);
    expect(inCidr('anything', parseCidr('0.0.0.0/0')!)).toBe(false);
    expect(isInternalIp('192.168.1.1')).toBe(true);
    expect(isInternalIp('8.8.8.8')).toBe(false);
    expect(isInternalIp('fd00::1')).toBe(true);
    expect(isInternalIp('2a00:1450::1')).toBe(false);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
  });
});
