/**
 * The README's main job, end to end: `m2m-sentinel demo` replays the bundled fleet through the
 * real broker into embedded ClickHouse and prints the alerts. Runs the CLI as a user would.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../support/kafka.js';

describe('m2m-sentinel demo', () => {
  it('replays the labeled fleet, prints alerts and caught incidents, reports dead letters, exits 0', async () => {
    const dataDir = join(tempDir('m2m-demo'), 'data');
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '-e', "import('./src/cli/main.ts').then((m) => m.main(process.argv))", 'm2m-sentinel', 'demo', '--data-dir', dataDir],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 400_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
    expect(code, stderr.slice(-2000)).toBe(0);
    const caught = /Injected incidents: caught (\d+) of (\d+)/.exec(stdout);
    expect(caught).not.toBeNull();
    // Every injected incident, as the docs promise (11 in the demo fleet).
    expect(Number(caught![2])).toBe(11);
    expect(Number(caught![1]), stdout.slice(-3000)).toBe(11);
    expect(stdout).toMatch(/Alerts: \d+ on \d+ devices/);
    expect(stdout).toMatch(/observed: .+ \| expected: /);
    expect(stdout).toMatch(/dead-lettered\s+3 → topic demo\.\d+\.dlq/);
    const stored = /findings stored\s+(\d+) in ClickHouse embedded/.exec(stdout);
    expect(Number(stored?.[1])).toBeGreaterThan(0);
  }, 420_000);
});
