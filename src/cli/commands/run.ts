/** `m2m-sentinel run`: the service. */
import type { Command } from 'commander';
import { loadPipelines } from '../../config/load.js';
import { formatConfigError } from '../../config/errors.js';
import { startService } from '../../pipeline/service.js';
import { logger } from '../../obs/log.js';
import { report } from '../../server/health.js';
import { brokersFromEnv } from '../../kafka/client.js';
import { clickHouseOptionsFromEnv } from '../../storage/clickhouse.js';

export function register(program: Command): void {
  program
    .command('run')
    .description('Run one or more pipelines as a long-lived service (Kafka in, ClickHouse findings, alerts out)')
    .argument('<pipelines...>', 'pipeline YAML files or directories of them')
    .option('--http-port <port>', 'port for /healthz, /readyz, /metrics and /api/findings', process.env.HTTP_PORT ?? '9464')
    .option('--no-deliver', 'do not start alert delivery routes (alerts still go to the outbox topic)')
    .option('--checkpoint-every <ms>', 'state checkpoint and offset commit interval', '5000')
    .option('--strict', 'refuse to start when any pipeline file has errors (default: start the valid ones)', false)
    .addHelpText(
      'after',
      `
Each pipeline runs in its own consumer group; one that fails to start is reported and the others
go on; so does a file with errors unless --strict (its errors are printed and /readyz reports it
down). SIGTERM/SIGINT stop fetching, flush findings, checkpoint state, commit offsets and exit.

Examples:
  m2m-sentinel run pipelines/default.yaml
  KAFKA_BROKERS=kafka:9092 CLICKHOUSE_URL=http://clickhouse:8123 m2m-sentinel run pipelines/`,
    )
    .action(async (paths: string[], o: { httpPort: string; deliver: boolean; checkpointEvery: string; strict: boolean }) => {
      const { pipelines, errors, results } = await loadPipelines(paths);
      for (const e of errors) process.stderr.write(formatConfigError(e) + '\n');
      if (errors.length && o.strict) {
        process.exitCode = 2;
        return;
      }
      for (const r of results) if (!r.pipeline && r.errors.length) report(`pipeline-file:${r.file}`, 'down', `${r.errors.length} configuration error(s)`);
      if (!pipelines.length) {
        process.stderr.write('no pipeline files found in ' + paths.join(', ') + '\n');
        process.exitCode = 2;
        return;
      }
      const log = logger();
      const svc = await startService(pipelines, {
        brokers: brokersFromEnv(),
        clickhouse: clickHouseOptionsFromEnv(),
        httpPort: Number(o.httpPort),
        deliver: o.deliver,
        checkpointEveryMs: Number(o.checkpointEvery),
      });
      log.info({ pipelines: svc.pipelines.map((p) => p.name), failed: svc.failed, clickhouse: svc.clickhouse.location, http: o.httpPort }, 'm2m-sentinel running');
      if (!svc.pipelines.length) {
        await svc.stop();
        process.exitCode = 1;
        return;
      }
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log.info({ signal: sig }, 'stopping');
          // stop() is bounded; exiting afterwards makes the bound hard even if a socket lingers.
          void svc.stop(30_000).then(() => {
            resolve();
            setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });
}
