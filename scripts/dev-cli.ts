// Development runner: the CLI straight from TypeScript sources (no build), e.g.
//   npx tsx scripts/dev-cli.ts simulate -n 50 -d 1 -o /tmp/f.ndjson
// `--help` and unknown subcommands go through the full CLI; a known subcommand is registered on
// its own, so a half-finished module elsewhere in the tree cannot stop the one being run.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { cli } from '../src/cli/main.js';

async function run(argv: string[]): Promise<void> {
  const sub = argv[2];
  const file = sub && /^[a-z-]+$/.test(sub) ? fileURLToPath(new URL(`../src/cli/commands/${sub}.ts`, import.meta.url)) : undefined;
  if (!file || !existsSync(file)) return cli(argv);
  const program = new Command('m2m-sentinel').showHelpAfterError('(run with --help for usage)');
  ((await import(`../src/cli/commands/${sub}.js`)) as { register(p: Command): void }).register(program);
  await program.parseAsync(argv);
}

run(process.argv).catch((err: unknown) => {
  process.stderr.write(`m2m-sentinel: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
