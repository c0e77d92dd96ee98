/** The README's pipeline example is a real, valid pipeline (docs that cannot drift from code). */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadPipelineText, formatConfigError } from '../../src/config/load.js';

describe('README', () => {
  it('shows a pipeline example that validates', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const r = loadPipelineText(block!, 'README.md', { SOC_WEBHOOK_URL: 'https://soc.example/hook', SOC_WEBHOOK_SECRET: 's' });
    expect(r.errors.map(formatConfigError)).toEqual([]);
    expect(r.pipeline?.detectors.length).toBeGreaterThan(0);
  });

  it('lists every CLI command', () => {
    const readme = readFileSync('README.md', 'utf8');
    for (const cmd of ['run', 'validate', 'replay', 'simulate', 'backtest', 'demo', 'query', 'tap', 'maintenance', 'test']) expect(readme).toContain(`m2m-sentinel ${cmd}`);
  });
});
