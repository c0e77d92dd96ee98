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

export function register(program: Command): void {
  program
    .command('migrate')
    .description("Create or upgrade the pipelines' ClickHouse tables, then exit (CLICKHOUSE_URL: a user allowed to create tables)")
    .argument('<pipelines...>', 'pipeline YAML files or directories of them')
    .addHelpText('after', '\nExample:\n  CLICKHOUSE_URL=http://admin:$ADMIN_PASSWORD@clickhouse:8123 m2m-sentinel migrate pipelines/')
    .action(async (paths: string[]) => {
      const { pipelines, errors } = await loadPipelines(paths);
      for (const e of errors) process.stderr.write(formatConfigError(e) + '\n');
      if (errors.length || !pipelines.length) {
        process.exitCode = 2;
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
        process.stderr.write(`migration failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
        process.exitCode = 1;
      } finally {
        await ch.client.close();
      }
    });
}
