/**
 * `bench/main.ts --plot FILE` as a user runs it: draws an existing results file beside it
 * and runs nothing else; a file that is not a results object is a usage error (exit 2).
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/kafka.js';

function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bench/main.ts', ...args],
      { encoding: 'utf8', timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('bench --plot', () => {
  it('draws the committed results file into an SVG beside a copy of it', async () => {
    const dir = tempDir('m2m-plot');
    const file = join(dir, 'run.json');
    writeFileSync(file, readFileSync('bench/results.json'));
    const r = await bench(['--plot', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(join(dir, 'run.svg'));
    const svg = readFileSync(join(dir, 'run.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    // Every target of the committed run appears with the verdict results.json gives it.
    const verdicts = (JSON.parse(readFileSync(file, 'utf8')).targets as Array<{ met: boolean | null }>).map((t) => (t.met === true ? '✓ met' : t.met === false ? '✗ not met' : '· not judged'));
    expect(svg.match(/target: [^<]* — (✓ met|✗ not met|· not judged)/g)?.map((m) => m.split(' — ')[1])).toEqual(verdicts);
  }, 90_000);

  it('refuses a file that is not a results object, with the reason and exit code 2', async () => {
    const dir = tempDir('m2m-plot');
    const file = join(dir, 'list.json');
    writeFileSync(file, '[1, 2]');
    const r = await bench(['--plot', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not a bench results file (not a JSON object)');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'list.svg'))).toBe(false);
    const gone = await bench(['--plot', join(dir, 'missing.json')]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('ENOENT');
  }, 90_000);
});
