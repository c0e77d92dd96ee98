/**
 * `m2m-sentinel migrate`: create or upgrade the ClickHouse tables of the pipelines and exit.
 * For deployments where the service's own ClickHouse user may only SELECT and INSERT on its
 * tables (docker-compose.yml): an administrator's URL runs this once per upgrade; the service
 * then finds its tables up to date and issues no DDL.
 */
import type { Command } from 'commander';
import { loadPipelines } from '../../config/load.js';
import { formatConfigError } from '../../config/errors.js';
import { clickHouseOptionsFromEnv, openClickHouse } from '../../storage/clickhouse.js';
import { migrate } from '../../storage/migrations.js';
import { EXIT } from '../exit.js';
import { interactiveLogging } from '../logging.js';

export function register(program: Command): void {
  program
    .command('migrate')
    .description("Create or upgrade the pipelines' ClickHouse tables, then exit (CLICKHOUSE_URL: a user allowed to create tables)")
    .argument('<pipelines...>', 'pipeline YAML files or directories of them')
    .addHelpText('after', '\nExit status: 0 when the tables are up to date; 2 for an invalid pipeline; 3 when ClickHouse is\nunreachable or refuses (e.g. a user without CREATE).\n\nExample:\n  CLICKHOUSE_URL=http://admin:$ADMIN_PASSWORD@clickhouse:8123 m2m-sentinel migrate pipelines/')
    .action(async (paths: string[]) => {
      // One-shot: what went wrong is its one-line error, not the client's retry log.
      interactiveLogging();
      const { pipelines, errors } = await loadPipelines(paths);
      for (const e of errors) process.stderr.write(formatConfigError(e) + '\n');
      if (errors.length || !pipelines.length) {
        if (!errors.length) process.stderr.write(`m2m-sentinel migrate: no pipeline file in ${paths.join(', ')}\n`);
        process.exitCode = EXIT.usage;
        return;
      }
      const ch = openClickHouse(clickHouseOptionsFromEnv());
      try {
        const seen = new Set<string>();
        for (const p of pipelines) {
          const t = p.findings.clickhouse;
          const id = `${t.database}.${t.table}`;
          if (seen.has(id)) continue;
          seen.add(id);
          const applied = await migrate(ch.client, { database: t.database, table: t.table, ttlDays: t.ttl_days });
          process.stdout.write(`${id}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}\n`);
        }
      } catch (e) {
        // Unreachable server, refused credentials or a user without CREATE: the command could not
        // run (exit 3 by the convention; 1 is for commands that judge). The URL shown is redacted.
        process.stderr.write(`m2m-sentinel migrate: ClickHouse at ${ch.location}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
        process.exitCode = EXIT.failure;
      } finally {
        await ch.client.close();
      }
    });
}
