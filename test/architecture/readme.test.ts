/** The README's pipeline example is a real, valid pipeline (docs that cannot drift from code). */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
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

  it('lists every command the CLI has (from its own --help, so a new command needs a README line)', () => {
    const help = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/dev-cli.ts', '--help'], { encoding: 'utf8' });
    const commands = commandsOf(help).filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThanOrEqual(8);
    expect(commands).toEqual(expect.arrayContaining(['run', 'validate', 'demo']));
    const readme = readFileSync('README.md', 'utf8');
    expect(commands.filter((c) => !readme.includes(`m2m-sentinel ${c}`))).toEqual([]);
  }, 60_000);

  it('reads command names from commander help (so the check above cannot pass on an empty list)', () => {
    const help = 'Usage: x\n\nCommands:\n  run [options] <p...>   Run it\n  hash-password          Hash\n  help [command]         display help\n\nQuick start:\n  npm run demo   x\n';
    expect(commandsOf(help)).toEqual(['run', 'hash-password', 'help']);
  });
});

/** Subcommand names from commander's `--help` text (its "Commands:" block). */
function commandsOf(help: string): string[] {
  const block = /\nCommands:\n([\s\S]*?)(?:\n\n|$)/.exec(help)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => /^ {2}([a-z][a-z0-9-]*)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined);
}
