/** docs/pipelines.md documents every key the schema accepts, and its reference is not stale. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schemaKeys, undocumentedKeys } from '../../src/config/docs.js';
import { buildPipelineSchema } from '../../src/config/schema.js';
import { DETECTORS } from '../../src/detectors/registry.js';
import type { DetectorSpec } from '../../src/detectors/types.js';

const DOC = readFileSync('docs/pipelines.md', 'utf8');

describe('docs/pipelines.md', () => {
  it('documents every key of the generated JSON schema (run: npx tsx scripts/gen-pipeline-docs.ts)', () => {
    expect(undocumentedKeys(DOC)).toEqual([]);
  });

  it('covers every detector parameter and every route option by name', () => {
    const paths = schemaKeys().map((k) => k.path);
    for (const d of DETECTORS) for (const p of Object.keys(d.params)) expect(paths).toContain(`detectors[].${d.name}.${p}`);
    expect(paths).toEqual(expect.arrayContaining(['alerts.routes[].webhook.secret', 'alerts.routes[].syslog.protocol', 'alerts.routes[].if_env', 'mapping.fields.<field>.format']));
  });

  it('the drift check fails when a key is missing (it can fail)', () => {
    for (const key of ['alerts.suppress', 'source.kafka.format', 'detectors[].fanout.window']) {
      expect(undocumentedKeys(DOC.split('`' + key + '`').join(''))).toEqual([key]);
    }
    const newParam: DetectorSpec<any> = {
      ...DETECTORS[0]!,
      params: { ...DETECTORS[0]!.params, brand_new_knob: { type: 'integer', description: 'x', default: 1 } },
    };
    const schema = buildPipelineSchema({ detectors: [newParam, ...DETECTORS.slice(1)] });
    expect(undocumentedKeys(DOC, schema)).toEqual([`detectors[].${newParam.name}.brand_new_knob`]);
  });

  it('shows type, default and example for every detector parameter', () => {
    for (const d of DETECTORS) {
      for (const p of Object.keys(d.params)) {
        const row = DOC.split('\n').find((l) => l.startsWith(`| \`detectors[].${d.name}.${p}\` |`));
        expect(row, `${d.name}.${p}`).toBeDefined();
        const cells = row!.split(' | ');
        expect(cells[1]!.length, `${d.name}.${p} type`).toBeGreaterThan(0);
        expect(cells[2], `${d.name}.${p} default`).not.toBe('');
      }
    }
  });
});

describe('docs/pipelines.md examples are what the commands print', () => {
  it('the validate OK line for default.yaml matches the real one (detector count and routes)', async () => {
    const { bin } = await import('../support/bin.js');
    const r = await bin(['validate', 'pipelines/default.yaml']);
    const ok = r.stdout.trim().split('\n').find((l) => l.startsWith('OK '))!;
    expect(ok).toBeDefined();
    expect(readFileSync('docs/pipelines.md', 'utf8')).toContain(ok);
  });
});
