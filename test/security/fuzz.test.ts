/**
 * Property-based fuzzing (fast-check) of everything that reads untrusted input or writes into a
 * SOC's tools: the decoder, the pipeline YAML loader and every alert renderer and framer.
 * Properties: nothing throws; every input is accounted for (an event or a reason; a pipeline or
 * errors with places); no output carries a forged line, a second syslog frame, a broken CEF
 * structure or live Slack markup. Seeds are fixed per run by fast-check's report, so a failure
 * prints the seed and the shrunk counterexample to replay.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeEvent } from '../../src/events/decode.js';
import { loadPipelineText } from '../../src/config/load.js';
import { renderCef, renderJson, renderLine, renderSlack } from '../../src/alerts/channels/render.js';
import { syslogLine } from '../../src/alerts/channels/syslog.js';
import { isSingleLine, octetFrame } from '../../src/alerts/channels/escape.js';
import { finalize } from '../../src/pipeline/engine.js';
import { SEVERITIES } from '../../src/detectors/types.js';
import type { MappingConfig } from '../../src/config/types.js';
import { ocsfOf, readFrames } from '../support/alerts.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

/** Text an attacker would try: separators, controls, markup, surrogates, long runs. */
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: fc.constantFrom('\n', '\r', '\u2028', '\u2029', '\u0085', '|', '\\', '=', '<', '>', '&', '!', '@', '"', '\u202e', '\u2067', '\ufeff', '\u001b', '\ud800', '\udc00', 'é', '😀', ' ', 'a', '1', '.', ':', '{', '}'), maxLength: 120 }),
  fc.constantFrom('<!channel>', '<https://evil.example|Click>', '__proto__', 'constructor', '1970-01-01T00:00:00Z', 'x'.repeat(5_000), '\r\n<134>1 forged'),
);

const jsonValue = fc.jsonValue({ maxDepth: 3 });

describe('decoder', () => {
  const mapping: MappingConfig = { fields: { device_id: { path: '$.meta.device' } }, constants: { type: 'telemetry' }, metrics: { t: { rename: 'temp', scale: 2 } } };
  const eventLike = fc.record(
    {
      type: fc.oneof(fc.constantFrom('telemetry', 'connection'), jsonValue),
      device_id: fc.oneof(nasty, jsonValue),
      device_class: fc.oneof(nasty, jsonValue),
      ts: fc.oneof(fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), nasty, jsonValue),
      metrics: fc.oneof(fc.dictionary(nasty, fc.oneof(fc.double(), jsonValue), { maxKeys: 8 }), jsonValue),
      src_ip: fc.oneof(fc.ipV4(), fc.ipV6(), nasty),
      dst_ip: fc.oneof(fc.ipV4(), nasty),
      dst_port: fc.oneof(fc.integer({ min: -10, max: 70_000 }), jsonValue),
      protocol: fc.oneof(fc.constantFrom('tcp', 'udp'), nasty),
      firmware: fc.oneof(nasty, jsonValue),
      meta: fc.record({ device: fc.oneof(nasty, jsonValue) }),
    },
    { requiredKeys: [] },
  );
  const input = fc.oneof(
    eventLike.map((o) => JSON.stringify(o)),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    jsonValue.map((v) => JSON.stringify(v) ?? 'null'),
  );

  it('never throws, and gives every input an event or a reason; events carry bounded, typed fields', () => {
    fc.assert(
      fc.property(input, fc.boolean(), (raw, mapped) => {
        const r = decodeEvent(raw, mapped ? { mapping } : {});
        if (!r.ok) {
          expect(typeof r.error.code).toBe('string');
          expect(r.error.message.length).toBeLessThan(600);
          return;
        }
        const e = r.event;
        expect(typeof e.device_id).toBe('string');
        expect(e.device_id.length).toBeLessThanOrEqual(256);
        expect(Number.isFinite(e.ts)).toBe(true);
        if (e.type === 'telemetry') {
          const names = Object.keys(e.metrics);
          expect(names.length).toBeGreaterThan(0);
          expect(names.length).toBeLessThanOrEqual(256);
          for (const [k, v] of Object.entries(e.metrics)) {
            expect(['__proto__', 'constructor']).not.toContain(k);
            expect(Number.isFinite(v)).toBe(true);
          }
          expect(Object.getPrototypeOf(e.metrics) === Object.prototype || Object.getPrototypeOf(e.metrics) === null).toBe(true);
        }
      }),
      { numRuns: RUNS * 5 },
    );
  });
});

describe('pipeline YAML loader', () => {
  const valid = 'name: p\nsource: { kafka: { topics: [t], group: g } }\ndetectors: [ { fanout: {} } ]\n';
  const yamlish = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', ':', ' ', '\n', '-', '[', ']', '{', '}', '&', '*', '!', '"', "'", '#', '$', '{', '|', '>', '\t', '1', '%'), maxLength: 200 }),
    fc.tuple(fc.nat({ max: valid.length }), nasty).map(([at, s]) => valid.slice(0, at) + s + valid.slice(at)),
    fc.tuple(fc.constantFrom('window', 'min_distinct_dst', 'group', 'name', 'suppress'), nasty).map(([k, v]) => `${valid}x: { ${k}: ${JSON.stringify(v)} }\n`),
    jsonValue.map((v) => `${valid}alerts: ${JSON.stringify(v)}\n`),
  );

  it('never throws; returns a pipeline or errors with a place, never both', () => {
    loadPipelineText(valid, 'warm.yaml', {});
    fc.assert(
      fc.property(yamlish, (text) => {
        const r = loadPipelineText(text, 'f.yaml', { SECRET_X: 's' });
        expect(r.pipeline === undefined).toBe(r.errors.length > 0);
        for (const e of r.errors) {
          expect(e.file).toBe('f.yaml');
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(e.column).toBeGreaterThanOrEqual(1);
          expect(typeof e.message).toBe('string');
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('alert renderers', () => {
  const finding = fc.record({
    device_id: nasty,
    device_class: nasty,
    key: nasty,
    detector: fc.oneof(fc.constantFrom('fanout', 'policy'), nasty),
    explanation: nasty,
    observed: fc.oneof(nasty, fc.double()),
    expected: fc.oneof(nasty, fc.double()),
    severity: fc.constantFrom(...SEVERITIES),
    score: fc.double({ min: 0, max: 1, noNaN: true }),
    first_ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    count: fc.nat(),
    mitre: fc.array(nasty, { maxLength: 3 }),
    version: fc.string({ maxLength: 20 }),
  });

  /** Split a CEF record on unescaped pipes (header) — 7 fields and the extension. */
  const cefFields = (rec: string) => {
    let n = 0;
    for (let i = 0; i < rec.length && n < 7; i++) {
      if (rec[i] === '\\') i++;
      else if (rec[i] === '|') n++;
    }
    return n;
  };

  it('never throw, keep every rendering on one line, one syslog frame, the CEF structure, and no live Slack markup', () => {
    fc.assert(
      fc.property(finding, (f) => {
        const a = ocsfOf(finalize('p', { ...f, last_ts: f.first_ts, evidence: { raw: f.explanation } }), f.version);
        const line = renderLine(a);
        const json = renderJson(a);
        const cef = renderCef(a);
        const sys = syslogLine(a);
        const slack = JSON.stringify(renderSlack(a));
        for (const out of [line, json, cef, sys]) expect(isSingleLine(out)).toBe(true);
        // No raw bidirectional override or BOM: they reorder what the analyst reads ("Trojan Source").
        for (const out of [line, json, cef, sys, slack]) expect(out).not.toMatch(/[\u202a-\u202e\u2066-\u2069\ufeff]/);
        expect(JSON.parse(json).device.uid).toBe(a.device.uid);
        expect(cefFields(cef)).toBe(7);
        expect(cef.split('|').slice(0, 3)).toEqual(['CEF:0', 'm2m-sentinel', 'm2m-sentinel']);
        const frames = readFrames(Buffer.concat([octetFrame(sys), octetFrame(sys)]));
        expect(frames).toHaveLength(2);
        expect(frames[0]).toBe(frames[1]);
        expect(slack).not.toMatch(/<[!@#]|<https?:|<mailto:/);
        expect(line.length + cef.length).toBeLessThan(8_000);
      }),
      { numRuns: RUNS * 2 },
    );
  });
});
