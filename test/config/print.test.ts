/**
 * `validate --print` writes a pipeline file: loading what it prints gives the same pipeline, with
 * durations as durations, secrets as their ${VAR}, and no internal keys.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPipelineFile, loadPipelineText, formatConfigError } from '../../src/config/load.js';
import { printPipeline } from '../../src/config/print.js';
import { bin } from '../support/bin.js';

const ENV = { SOC_WEBHOOK_URL: 'https://soc.example/hook', SOC_WEBHOOK_SECRET: 'hunter2', SLACK_WEBHOOK_URL: 'https://hooks.slack.example/T/B/x' };
const strip = <T extends { file?: string; redactions?: unknown }>(p: T): Omit<T, 'file' | 'redactions'> => {
  const { file: _f, redactions: _r, ...rest } = p;
  return rest;
};

describe('printPipeline', () => {
  for (const f of readdirSync('pipelines').filter((n) => n.endsWith('.yaml'))) {
    it(`pipelines/${f} round-trips`, async () => {
      const first = await loadPipelineFile(`pipelines/${f}`, ENV);
      expect(first.errors.map(formatConfigError)).toEqual([]);
      const text = printPipeline(first.pipeline!);
      expect(text).not.toMatch(/redactions|suppress_ms|idle_eviction_ms|allowed_lateness_ms|ttl_days|hunter2/);
      const again = loadPipelineText(text, `printed ${f}`, ENV);
      expect(again.errors.map(formatConfigError)).toEqual([]);
      expect(strip(again.pipeline!)).toEqual(strip(first.pipeline!));
    });
  }

  it('keeps a secret as the variable it came from', async () => {
    const r = loadPipelineText('name: s\nsource: { kafka: { topics: [t], group: g } }\ndetectors: [ { fanout: { window: 90s } } ]\nalerts:\n  suppress: 1h30m\n  routes:\n    - webhook: { url: "${SOC_WEBHOOK_URL}", secret: "${SOC_WEBHOOK_SECRET}" }\n', 's.yaml', ENV);
    const text = printPipeline(r.pipeline!);
    expect(text).toContain('secret: ${SOC_WEBHOOK_SECRET}');
    expect(text).toContain('window: 90s');
    expect(text).toContain('suppress: 90m');
  });

  it('validate --print prints only the pipeline on stdout (OK line on stderr)', async () => {
    const r = await bin(['validate', '--print', 'pipelines/plant-floor.yaml'], { env: ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('OK pipelines/plant-floor.yaml');
    const back = loadPipelineText(r.stdout, 'stdout', ENV);
    expect(back.errors.map(formatConfigError)).toEqual([]);
    expect(back.pipeline!.name).toBe('plant-floor');
  });
});
