/**
 * The m2m-sentinel command. Each subcommand lives in commands/<name>.ts and exports
 * `register(program)`; this file only wires them together.
 */
import { Command } from 'commander';
import { createRequire } from 'node:module';

type Registrar = { register(program: Command): void };

// One line per subcommand, in the order `--help` lists them.
const COMMANDS: Array<() => Promise<Registrar>> = [
  () => import('./commands/demo.js'),
  () => import('./commands/run.js'),
  () => import('./commands/replay.js'),
  () => import('./commands/validate.js'),
  () => import('./commands/simulate.js'),
  () => import('./commands/backtest.js'),
  () => import('./commands/robustness.js'),
  () => import('./commands/hash-password.js'),
  () => import('./commands/migrate.js'),
];

export async function main(argv: string[]): Promise<void> {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string; description: string };
  const program = new Command('m2m-sentinel')
    .version(pkg.version)
    .description(pkg.description)
    .showHelpAfterError('(run with --help for usage)')
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
  LOG_LEVEL         pino level (default info)`,
    );
  for (const load of COMMANDS) (await load()).register(program);
  await program.parseAsync(argv);
}
