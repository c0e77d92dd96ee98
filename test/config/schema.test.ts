/** The JSON Schema: generated from the registry, committed for editors, and never stale. */
import { readFileSync, readdirSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildPipelineSchema } from '../../src/config/schema.js';
import { loadPipelineText, formatConfigError } from '../../src/config/load.js';
import { DETECTORS } from '../../src/detectors/registry.js';
import { addPipelineFormats } from '../../src/config/validate.js';
import type { DetectorSpec } from '../../src/detectors/types.js';

const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv) => Ajv;

function editorValidator() {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  // The pipeline's own formats (cidr, version); editors that do not know a format skip it.
  addPipelineFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync('schemas/pipeline.schema.json', 'utf8')));
}

const fake: DetectorSpec<any> = {
  name: 'door_sensor',
  family: 'telemetry',
  summary: 'Test-only detector.',
  params: {
    hold: { type: 'duration', description: 'How long.', default: '5m', minimum: 60_000 },
    ratio: { type: 'number', description: 'A ratio.', default: 0.5, minimum: 0, maximum: 1 },
    zones: { type: 'array', description: 'Zones.', items: { type: 'string', description: 'zone' }, default: [] },
  },
  example: '',
  mitre: [],
  create: () => {
    throw new Error('not used');
  },
};

describe('pipeline JSON schema', () => {
  it('lists every registered detector with every parameter', () => {
    const s = buildPipelineSchema() as any;
    const entry = s.properties.detectors.items;
    for (const d of DETECTORS) {
      expect(entry.properties[d.name], d.name).toBeDefined();
      expect(Object.keys(entry.properties[d.name].properties).sort()).toEqual(Object.keys(d.params).sort());
    }
  });

  it('the editor schema accepts every shipped pipeline as written, ${VAR} references included', () => {
    const validate = editorValidator();
    for (const f of readdirSync('pipelines').filter((n) => n.endsWith('.yaml'))) {
      const doc = parse(readFileSync(`pipelines/${f}`, 'utf8'));
      expect(validate(doc), `${f}: ${JSON.stringify(validate.errors, null, 1)}`).toBe(true);
    }
  });

  it('the editor schema still rejects what the validator rejects', () => {
    const validate = editorValidator();
    const base = { name: 'x', source: { kafka: { topics: ['t'], group: 'g' } } };
    expect(validate({ ...base, detectors: [{ metric_baselin: {} }] })).toBe(false);
    expect(validate({ ...base, detectors: [{ fanout: { window: '5 minutes' } }] })).toBe(false);
    expect(validate({ ...base, detectors: [{ fanout: { window: '${SCAN_WINDOW:-5m}' } }] })).toBe(true);
    expect(validate({ ...base, detectors: [{ fanout: {}, new_peer: {} }] })).toBe(false);
  });

  it('is built from whatever registry it is given (detectors added later appear without code changes)', () => {
    const s = buildPipelineSchema({ detectors: [fake] }) as any;
    expect(Object.keys(s.properties.detectors.items.properties)).toEqual(['door_sensor', 'id', 'enabled', 'routes', 'min_severity', 'sensitivity', 'direction', 'min_deviation']);
    expect(s.properties.detectors.items.properties.door_sensor.properties.hold).toMatchObject({ type: 'string', default: '5m' });

    const yaml = 'name: x\nsource:\n  kafka: { topics: [t], group: g }\ndetectors:\n  - door_sensor: { hold: 10s, ratio: 2 }\n';
    const r = loadPipelineText(yaml, 'x.yaml', {}, { detectors: [fake] });
    expect(r.errors.map(formatConfigError)).toEqual([
      'x.yaml:5:26: detectors[0].door_sensor.hold: out of range (expected at least 1m, found "10s")',
      'x.yaml:5:38: detectors[0].door_sensor.ratio: out of range (expected between 0 and 1, found 2)',
    ]);
    const ok = loadPipelineText(yaml.replace('hold: 10s, ratio: 2', 'zones: [a]'), 'x.yaml', {}, { detectors: [fake] });
    expect(ok.pipeline?.detectors[0]?.params).toEqual({ hold: 300_000, ratio: 0.5, zones: ['a'] });
  });

  it('works with an empty registry (the schema stays valid JSON Schema)', () => {
    const r = loadPipelineText('name: x\nsource:\n  kafka: { topics: [t], group: g }\ndetectors:\n  - fanout: {}\n', 'x.yaml', {}, { detectors: [] });
    expect(r.errors[0]).toMatchObject({ code: 'unknown_detector', line: 5 });
  });
});
