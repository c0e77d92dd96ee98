/**
 * Hostile input to the decoder and to pipeline files, each attack reproduced: prototype keys in
 * metrics, metric floods, values echoed at length, quadratic regular expressions, an alias bomb,
 * credentials echoed in errors, and policy values that passed `validate` and silently switched a
 * rule off.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEvent, DEFAULT_MAX_METRICS } from '../../src/events/decode.js';
import { parseCell } from '../../src/events/csv.js';
import { parseDuration, parseDurationOrMs } from '../../src/lib/duration.js';
import { formatConfigError, loadPipelines, loadPipelineText } from '../../src/config/load.js';
import type { MappingConfig } from '../../src/config/types.js';

const mapping: MappingConfig = { fields: {}, constants: {}, metrics: { temp_k: { rename: 'temperature_c', offset: -273.15 } } };
const tele = (metrics: string) => `{"type":"telemetry","device_id":"d1","ts":"2026-03-01T12:00:00Z","metrics":${metrics}}`;

describe('decoder', () => {
  it('a "__proto__" metric cannot set the metrics object\'s prototype through a mapping', () => {
    const r = decodeEvent(tele('{"__proto__":{"temp_k":5000,"voltage":1},"temp_k":300}'), { mapping });
    // Before: the prototype was set, the inherited temp_k skipped the rename/offset and arrived raw.
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'bad_field', field: 'metrics.__proto__' });
    expect(({} as Record<string, unknown>).temp_k).toBeUndefined();
    const clean = decodeEvent(tele('{"temp_k":300}'), { mapping });
    expect(clean.ok && clean.event.type === 'telemetry' ? Object.entries(clean.event.metrics) : []).toEqual([['temperature_c', 300 - 273.15]]);
    for (const k of ['constructor', 'hasOwnProperty', 'toString']) expect(decodeEvent(tele(`{"${k}":1}`), { mapping }).ok).toBe(false);
  });

  it('a numeric time beyond the Date range is a dead letter, not an exception (found by the fuzz test)', () => {
    // Before: toISOString threw while building the reason, inside the batch: a poison message.
    const r = decodeEvent('{"type":"telemetry","device_id":"d","ts":8640000000000001,"metrics":{"a":1}}');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'bad_timestamp', message: expect.stringContaining('8640000000000001') });
  });

  it('caps metrics per event and the length of metric names', () => {
    const many = (n: number) => `{${Array.from({ length: n }, (_, i) => `"m${i}":${i}`).join(',')}}`;
    expect(decodeEvent(tele(many(DEFAULT_MAX_METRICS))).ok).toBe(true);
    const flood = decodeEvent(tele(many(4_800)));
    expect(flood.ok).toBe(false);
    if (!flood.ok) expect(flood.error.message).toMatch(/more than 256 readings/);
    expect(decodeEvent(tele(`{"${'n'.repeat(129)}":1}`)).ok).toBe(false);
  });

  it('quotes at most a short excerpt of a device\'s value in a reason', () => {
    const r = decodeEvent(`{"type":"telemetry","device_id":"d","ts":"${'9'.repeat(60_000)}x","metrics":{"a":1}}`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message.length).toBeLessThan(200);
    const t = decodeEvent(`{"type":"${'t'.repeat(60_000)}"}`);
    if (!t.ok) expect(t.error.message.length).toBeLessThan(200);
  });
});

describe('linear-time parsing of untrusted text', () => {
  const timed = (fn: () => unknown) => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };
  it('durations and CSV cells of 100,000 characters are refused in milliseconds', () => {
    const digits = '1'.repeat(100_000);
    loadPipelineText('name: warm-up', 'w.yaml', {}); // compiles the schema once, outside the timing
    // Before: 4.3 s for the duration, over 10 s for the cell (quadratic backtracking).
    expect(timed(() => expect(parseDurationOrMs(digits + 'x')).toBeUndefined())).toBeLessThan(50);
    expect(timed(() => expect(parseDurationOrMs(digits)).toBeUndefined())).toBeLessThan(50);
    expect(timed(() => expect(parseDuration(digits + 's')).toBeUndefined())).toBeLessThan(50);
    expect(timed(() => expect(parseCell(digits + 'x', false)).toBe(digits + 'x'))).toBeLessThan(50);
    expect(timed(() => loadPipelineText(`name: p\nsource: { kafka: { topics: [t], group: g } }\ndetectors: [ { fanout: { window: "${digits}" } } ]\n`, 'p.yaml', {}))).toBeLessThan(2_000);
    expect(parseDurationOrMs('1h30m')).toBe(5_400_000);
    expect(parseDurationOrMs('1.5s')).toBe(1_500);
    expect(parseDurationOrMs('250')).toBe(250);
    expect(parseDuration('250')).toBeUndefined();
    expect(parseDuration('5ms')).toBe(5);
    expect(parseCell('1.5e3', false)).toBe(1500);
    expect(parseCell('3,25', true)).toBe(3.25);
  });
});

describe('pipeline files', () => {
  const base = 'name: p\nsource: { kafka: { topics: [t], group: g } }\n';

  it('an alias bomb is refused for its own file with a clean error; the other files still load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm2m-bomb-'));
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    writeFileSync(join(dir, 'bomb.yaml'), `${base}detectors: [ { fanout: {} } ]\ndescription: x\nx-bomb:\n${levels.map((l) => '  ' + l).join('\n')}\n`);
    writeFileSync(join(dir, 'good.yaml'), `name: q\nsource: { kafka: { topics: [u], group: h } }\ndetectors: [ { fanout: {} } ]\n`);
    const r = await loadPipelines([dir], {});
    expect(r.pipelines.map((p) => p.name)).toEqual(['q']);
    expect(r.errors.map(formatConfigError)).toEqual([expect.stringMatching(/bomb\.yaml:1:1: too many alias expansions/)]);
  });

  it('a credential in a variable with an innocent name is never echoed in an error', () => {
    const r = loadPipelineText(`${base}detectors: [ { fanout: { window: "\${WINDOW}" } } ]\nalerts: { min_severity: "\${LEVEL}" }\n`, 'p.yaml', { WINDOW: 'hunter2-db-password', LEVEL: 'correct horse battery' });
    const text = r.errors.map(formatConfigError).join('\n');
    expect(r.errors.length).toBe(2);
    expect(text).toContain('"${WINDOW}" (value not shown)');
    expect(text).not.toMatch(/hunter2|horse/);
  });

  it('validate rejects bad CIDRs, versions and min > max with file:line:col; good values pass', () => {
    const y = (params: string) => `${base}detectors:\n${params}`;
    const bad = loadPipelineText(
      y('  - policy:\n      allowed_cidrs: { plc: [10.20.0.0/16, 10.20.0.0/33, not-a-cidr, "10.0.0.0/8/8"] }\n      min_firmware: { plc: banana, smart_meter: "4.2.0" }\n  - range_limits:\n      limits: { voltage: { min: 260, max: 180 } }\n      class_limits: { meter: { temp: { min: 5, max: -5 } } }\n'),
      'p.yaml',
      {},
    );
    const msgs = bad.errors.map(formatConfigError);
    expect(msgs).toEqual([
      'p.yaml:5:44: detectors[0].policy.allowed_cidrs.plc[1]: invalid CIDR (expected an IPv4 or IPv6 network like 10.20.0.0/16 or fd00::/8 (prefix 0-32 or 0-128), found "10.20.0.0/33")',
      'p.yaml:5:58: detectors[0].policy.allowed_cidrs.plc[2]: invalid CIDR (expected an IPv4 or IPv6 network like 10.20.0.0/16 or fd00::/8 (prefix 0-32 or 0-128), found "not-a-cidr")',
      'p.yaml:5:70: detectors[0].policy.allowed_cidrs.plc[3]: invalid CIDR (expected an IPv4 or IPv6 network like 10.20.0.0/16 or fd00::/8 (prefix 0-32 or 0-128), found "10.0.0.0/8/8")',
      'p.yaml:6:28: detectors[0].policy.min_firmware.plc: invalid version (expected a version like 4.2.1, v2.0 or 1.12.0-rc1, found "banana")',
      'p.yaml:8:33: detectors[1].range_limits.limits.voltage.min: min 260 is above max 180: no reading could ever be in range',
      'p.yaml:9:45: detectors[1].range_limits.class_limits.meter.temp.min: min 5 is above max -5: no reading could ever be in range',
    ]);
    const good = loadPipelineText(y('  - policy:\n      allowed_cidrs: { plc: [10.20.0.0/16, "fd00::/8", 192.168.1.7] }\n      min_firmware: { plc: v3.1.7, "*": 1.0.0-rc1 }\n  - range_limits: { limits: { voltage: { min: 180, max: 260 } } }\n'), 'p.yaml', {});
    expect(good.errors).toEqual([]);
  });
});
