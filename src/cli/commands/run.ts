/** `m2m-sentinel run`: the service. */
import { InvalidArgumentError, type Command } from 'commander';
import { loadPipelines } from '../../config/load.js';
import { formatConfigError } from '../../config/errors.js';
import { startService } from '../../pipeline/service.js';
import { defaultDetectWorkers } from '../../pipeline/detection-host.js';
import { logger } from '../../obs/log.js';
import { report } from '../../server/health.js';
import { brokersFromEnv } from '../../kafka/client.js';
import { clickHouseOptionsFromEnv } from '../../storage/clickhouse.js';
import { EXIT } from '../exit.js';
import { loadConsoleAccess } from '../console-access.js';
import { ACCESS_ENV } from '../../server/access.js';
import { DEFAULT_HTTP_HOST } from '../../server/http.js';
import { AccessDenied } from '../../kafka/authz.js';
import { KafkaSecurityError } from '../../kafka/security.js';

interface RunFlags {
  httpPort: string;
  httpHost: string;
  access?: string;
  deliver: boolean;
  checkpointEvery: number;
  maxCheckpointEvery?: number;
  eventsPerStateRecord?: number;
  publishGap?: number;
  concurrency?: number;
  detectWorkers?: number;
  strict: boolean;
}

/** Commander argument parser for a whole number ≥ 0, naming the flag in its error. */
function count(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} needs a whole number ≥ 0, got "${v}"`);
    return n;
  };
}

/** Commander argument parser for a positive number, naming the flag in its error. */
function positive(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} needs a positive number, got "${v}"`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('run')
    .description('Run one or more pipelines as a long-lived service (Kafka in, ClickHouse findings, alerts out)')
    .argument('<pipelines...>', 'pipeline YAML files or directories of them')
    .option('--http-port <port>', 'port for /healthz, /readyz, /metrics and /api/findings', process.env.HTTP_PORT ?? '9464')
    .option('--http-host <host>', 'interface for the HTTP endpoints (0.0.0.0 to serve the network, e.g. in a container)', process.env.HTTP_HOST ?? DEFAULT_HTTP_HOST)
    .option('--access <file>', `access file: API tokens and console users with roles (default: ${ACCESS_ENV}); without it only /healthz and /readyz are served, and no console`, process.env[ACCESS_ENV])
    .option('--no-deliver', 'do not start alert delivery routes (alerts still go to the outbox topic)')
    .option('--checkpoint-every <ms>', 'state checkpoint and offset commit interval of a busy partition (see --events-per-state-record)', positive('--checkpoint-every'), 5000)
    .option('--max-checkpoint-every <ms>', 'longest interval between checkpoints of a busy partition: bounds the events replayed after a crash (default 12 × --checkpoint-every)', positive('--max-checkpoint-every'))
    .option('--events-per-state-record <n>', 'a busy partition checkpoints after --checkpoint-every only once it handled this many events per changed device: bounds state written per event', positive('--events-per-state-record'))
    .option('--publish-gap <ms>', 'least time between two publications of a partition\'s alerts and dead letters (alert latency vs. transactions per second)', positive('--publish-gap'))
    .option('--concurrency <n>', 'partitions processed concurrently by one instance', positive('--concurrency'))
    .option('--detect-workers <n>', `worker threads that decode, detect and encode state (0: in the consumer's thread; default ${defaultDetectWorkers()} here: one per core, at most 4)`, count('--detect-workers'))
    .option('--strict', 'refuse to start when any pipeline file has errors (default: start the valid ones)', false)
    .addHelpText(
      'after',
      `
Each pipeline runs in its own consumer group; one that fails to start is reported and the others
go on; so does a file with errors unless --strict (its errors are printed and /readyz reports it
down). SIGTERM/SIGINT stop fetching, flush findings, checkpoint state, commit offsets and exit.

Checkpoint cadence: a checkpoint writes every device changed since the previous one. Fleets with
many devices that each report rarely write less state per event with a higher
--events-per-state-record or --checkpoint-every, at the cost of a longer replay after a crash
(at most --max-checkpoint-every of events). Alerts do not wait for checkpoints (--publish-gap).

HTTP: the endpoints bind 127.0.0.1 unless --http-host says otherwise; /metrics and /api/findings
need "Authorization: Bearer <token>" with a token from the --access file (docs/security.md).

Exit status: 0 after a clean stop; 2 when no pipeline file is valid (or any is not, with
--strict); 3 when no pipeline could start.

Examples:
  m2m-sentinel run pipelines/default.yaml
  M2M_TOKEN_PROM=$(cat /run/secrets/prom) m2m-sentinel run --access access.yaml --http-host 0.0.0.0 pipelines/
  KAFKA_BROKERS=kafka:9092 CLICKHOUSE_URL=http://clickhouse:8123 m2m-sentinel run pipelines/`,
    )
    .action(async (paths: string[], o: RunFlags) => {
      const { pipelines, errors, results } = await loadPipelines(paths);
      for (const e of errors) process.stderr.write(formatConfigError(e) + '\n');
      if (errors.length && o.strict) {
        process.exitCode = EXIT.usage;
        return;
      }
      for (const r of results) if (!r.pipeline && r.errors.length) report(`pipeline-file:${r.file}`, 'down', `${r.errors.length} configuration error(s)`);
      if (!pipelines.length) {
        process.stderr.write(`m2m-sentinel run: no valid pipeline in ${paths.join(', ')}\n`);
        process.exitCode = EXIT.usage;
        return;
      }
      const log = logger();
      const access = o.access ? loadConsoleAccess(o.access) : undefined;
      if (access && !access.ok) {
        process.exitCode = EXIT.usage;
        return;
      }
      let svc: Awaited<ReturnType<typeof startService>>;
      try {
        svc = await startService(pipelines, {
          httpHost: o.httpHost,
          ...(access?.ok ? { access: access.access, users: access.users } : {}),
          brokers: brokersFromEnv(),
          clickhouse: clickHouseOptionsFromEnv(),
          httpPort: Number(o.httpPort),
          deliver: o.deliver,
          checkpointEveryMs: o.checkpointEvery,
          ...(o.maxCheckpointEvery !== undefined ? { maxCheckpointEveryMs: o.maxCheckpointEvery } : {}),
          ...(o.eventsPerStateRecord !== undefined ? { minEventsPerStateRecord: o.eventsPerStateRecord } : {}),
          ...(o.publishGap !== undefined ? { publishGapMs: o.publishGap } : {}),
          ...(o.concurrency !== undefined ? { partitionsConsumedConcurrently: o.concurrency } : {}),
          ...(o.detectWorkers !== undefined ? { detectWorkers: o.detectWorkers } : {}),
        });
      } catch (e) {
        // Refused credentials, a missing grant, an unreadable certificate: the operator's to fix,
        // said in one line (the reason names what), not a stack trace.
        if (e instanceof AccessDenied || e instanceof KafkaSecurityError) {
          process.stderr.write(`m2m-sentinel: ${e.message}\n`);
          process.exitCode = EXIT.usage;
          return;
        }
        throw e;
      }
      log.info({ pipelines: svc.pipelines.map((p) => p.name), failed: svc.failed, clickhouse: svc.clickhouse.location, http: o.httpPort }, 'm2m-sentinel running');
      if (!svc.pipelines.length) {
        for (const f of svc.failed) process.stderr.write(`m2m-sentinel run: pipeline ${f.name} failed to start: ${f.error}\n`);
        await svc.stop();
        process.exitCode = EXIT.failure;
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
