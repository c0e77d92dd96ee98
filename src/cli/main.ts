/**
 * The m2m-sentinel command. Each subcommand lives in commands/<name>.ts and exports
 * `register(program)`; this file only wires them together.
 */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { EXIT, reportError } from './exit.js';

type Registrar = { register(program: Command): void };

// One line per subcommand, in the order `--help` lists them.
const COMMANDS: Array<[string, () => Promise<Registrar>]> = [
  ['demo', () => import('./commands/demo.js')],
  ['run', () => import('./commands/run.js')],
  ['replay', () => import('./commands/replay.js')],
  ['validate', () => import('./commands/validate.js')],
  ['query', () => import('./commands/query.js')],
  ['tap', () => import('./commands/tap.js')],
  ['maintenance', () => import('./commands/maintenance.js')],
  ['simulate', () => import('./commands/simulate.js')],
  ['backtest', () => import('./commands/backtest.js')],
  ['robustness', () => import('./commands/robustness.js')],
  ['test', () => import('./commands/test.js')],
  ['hash-password', () => import('./commands/hash-password.js')],
  ['migrate', () => import('./commands/migrate.js')],
];

const EXIT_HELP = `
Exit status (every command):
  0  ok
  1  a command that judges found something: test cases not met, backtest --fail-on-targets missed
  2  usage error or invalid input: bad flag, missing file, invalid pipeline
  3  could not run: Kafka or ClickHouse unreachable, no pipeline started, an internal error`;

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv);
  await program.parseAsync(argv);
}

/**
 * The command as users run it (bin/m2m-sentinel.js): parse, run, and turn whatever escapes into
 * a one-line reason and the exit code of the convention above.
 */
export async function cli(argv: string[]): Promise<void> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
  } catch (e) {
    const code = reportError(e);
    // Kafka clients and timers of a failed command must not keep the process (and its exit code) waiting.
    process.exitCode = code;
    if (code !== EXIT.ok) process.stderr.write('', () => process.exit(code));
  }
}

/**
 * The program with the subcommand argv names, or with all of them (top-level help, an unknown
 * name, a global flag). Each command module loads its own dependencies (Kafka, ClickHouse, the
 * console...), so loading one is what keeps `validate` or `query` from paying for all of them.
 */
async function buildProgram(argv: string[] = []): Promise<Command> {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string; description: string };
  const program = new Command('m2m-sentinel')
    .version(pkg.version)
    .description(pkg.description)
    .showHelpAfterError('(run with --help for usage)')
    // Commander would exit 1 on a usage error; the convention says 2 (see exit.ts).
    .exitOverride()
    .addHelpText(
      'after',
      `
Quick start:
  npm run demo                               replay the bundled fleet through Kafka into ClickHouse
  m2m-sentinel validate pipelines/           check pipeline files
  m2m-sentinel run pipelines/default.yaml    run a pipeline against KAFKA_BROKERS

Environment:
  KAFKA_BROKERS     comma-separated brokers (default 127.0.0.1:9092)
  CLICKHOUSE_URL    ClickHouse server URL; unset = embedded engine (chdb) in CLICKHOUSE_DATA_DIR
  CLICKHOUSE_DATA_DIR  embedded engine data directory (default ./data)
  LOG_LEVEL         pino level (default info); logs are JSON lines on stderr
${EXIT_HELP}`,
    );
  const named = COMMANDS.find(([name]) => name === argv[2]);
  for (const [, load] of named ? [named] : COMMANDS) (await load()).register(program);
  return program;
}
