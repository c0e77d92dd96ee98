import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';

async function cli(args: string[]): Promise<void> {
  const program = new Command('m2m-sentinel').exitOverride();
  (await import('../../src/cli/commands/simulate.js')).register(program);
  (await import('../../src/cli/commands/backtest.js')).register(program);
  await program.parseAsync(['node', 'm2m-sentinel', ...args]);
}

describe('simulate + backtest commands', () => {
  it('produce labeled events, findings, a report and metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await cli(['simulate', '-n', '40', '-d', '0.5', '--seed', '3', '--kinds', 'mirai_scan,brute_force', '-k', '2', '-o', join(dir, 'e.ndjson'), '-l', join(dir, 'l.json')]);
      const pipe = join(dir, 'p.yaml');
      writeFileSync(pipe, 'name: cli-test\nsource: { kafka: { topics: [t], group: g } }\ndetectors:\n  - fanout: {}\nalerts: { min_severity: low, routes: [ { stdout: {} } ] }\n');
      await cli(['backtest', pipe, join(dir, 'e.ndjson'), '--labels', join(dir, 'l.json'), '--out', join(dir, 'f.ndjson'), '--report', join(dir, 'r.html'), '--json', join(dir, 'm.json'), '-q']);
      await cli(['backtest', join(dir, 'missing.yaml'), join(dir, 'e.ndjson'), '-q']);
      expect(process.exitCode).toBe(2);
    } finally {
      process.exitCode = 0;
      out.mockRestore();
      err.mockRestore();
    }
    const labels = JSON.parse(readFileSync(join(dir, 'l.json'), 'utf8'));
    expect(labels.incidents).toHaveLength(4);
    const findings = readFileSync(join(dir, 'f.ndjson'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) {
      for (const k of ['finding_id', 'device_id', 'ts', 'detector', 'score', 'severity', 'explanation']) expect(f).toHaveProperty(k);
      expect(f.ts).toMatch(/Z$/);
    }
    expect(new Set(findings.map((f) => f.finding_id)).size).toBe(findings.length);
    const m = JSON.parse(readFileSync(join(dir, 'm.json'), 'utf8'));
    expect(m.alert.kinds.find((k: { kind: string }) => k.kind === 'mirai_scan').incidents).toBe(2);
    expect(existsSync(join(dir, 'r.html'))).toBe(true);
    expect(readFileSync(join(dir, 'r.html'), 'utf8')).toContain('Device timelines');
  });
});

describe('run command flags', () => {
  it('refuses a cadence flag that is not a positive number, naming the flag', async () => {
    const program = new Command('m2m-sentinel').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    (await import('../../src/cli/commands/run.js')).register(program);
    for (const [flag, value] of [['--publish-gap', 'soon'], ['--events-per-state-record', '0'], ['--checkpoint-every', '-5']] as const) {
      await expect(program.parseAsync(['node', 'm2m-sentinel', 'run', flag, value, 'pipelines/default.yaml'])).rejects.toThrow(`${flag} needs a positive number, got "${value}"`);
    }
  });
});
