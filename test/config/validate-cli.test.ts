/** `m2m-sentinel validate`: OK lines, rendered errors, --json, and the exit status. */
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../src/cli/commands/validate.js';

async function run(args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  process.exitCode = 0;
  try {
    const program = new Command('m2m-sentinel').exitOverride();
    register(program);
    await program.parseAsync(['node', 'm2m-sentinel', 'validate', ...args]);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}

afterEach(() => {
  process.exitCode = 0;
});

describe('m2m-sentinel validate', () => {
  it('passes on every shipped pipeline, one OK line per file', async () => {
    const r = await run(['pipelines/']);
    expect(r.code).toBe(0);
    const ok = r.out.split('\n').filter((l) => l.startsWith('OK '));
    expect(ok).toHaveLength(6);
    expect(ok[0]).toMatch(/^OK pipelines\/default\.yaml \(default: m2m\.telemetry, m2m\.connections → \d+ detectors, routes stdout, kafka\)$/);
    expect(r.err).not.toMatch(/error/);
  });

  it('prints file:line:col errors and exits non-zero', async () => {
    const r = await run(['test/fixtures/broken-pipelines/unknown-detector.yaml', 'pipelines/default.yaml']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('test/fixtures/broken-pipelines/unknown-detector.yaml:6:5: detectors[0].metric_baselin: unknown detector "metric_baselin"');
    expect(r.err).toContain('did you mean "metric_baseline"?');
    expect(r.err).toContain('1 error in 1 file');
    expect(r.out).toContain('OK pipelines/default.yaml');
  });

  it('--json reports per file, and --print adds the redacted pipelines', async () => {
    const r = await run(['--json', '--print', 'test/fixtures/broken-pipelines/bad-duration.yaml', 'pipelines/smart-meters.yaml', 'no/such/dir']);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.out);
    expect(report.ok).toBe(false);
    expect(report.files.map((f: { file: string; ok: boolean }) => [f.file, f.ok])).toEqual([
      ['test/fixtures/broken-pipelines/bad-duration.yaml', false],
      ['pipelines/smart-meters.yaml', true],
    ]);
    expect(report.files[0].errors[0]).toMatchObject({ code: 'bad_duration', line: 7, column: 15, path: 'detectors[0].fanout.window', hint: '5m' });
    expect(report.errors).toEqual([expect.objectContaining({ code: 'io_error', file: 'no/such/dir' })]);
    expect(report.pipelines.map((p: { name: string }) => p.name)).toEqual(['smart-meters']);
  });
});
