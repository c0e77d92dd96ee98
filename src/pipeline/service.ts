/**
 * The service: opens ClickHouse and Kafka once, starts every pipeline in isolation (one that
 * fails is reported and the others go on), the alert delivery routes, and the HTTP endpoints;
 * stops it all gracefully within a bounded time.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { PipelineConfig } from '../config/types.js';
import { createKafka } from '../kafka/client.js';
import { openClickHouse, type ClickHouseHandle, type ClickHouseOptions } from '../storage/clickhouse.js';
import { startPipeline, type PipelineHandle, type RunnerOptions } from './runner.js';
import { startDelivery, type DeliveryHandle } from '../alerts/delivery.js';
import { startHttp } from '../server/http.js';
import { report } from '../server/health.js';
import { emit } from '../obs/events.js';
import { logger } from '../obs/log.js';
import { retry } from './retry.js';

export const productVersion = (): string =>
  (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

export interface ServiceOptions extends RunnerOptions {
  brokers?: string[];
  clickhouse?: ClickHouseOptions;
  /** HTTP port for /healthz, /readyz, /metrics; 0 = pick a free one, undefined = none. */
  httpPort?: number;
  /** Start alert delivery routes (webhook, slack, syslog, stdout). */
  deliver?: boolean;
}

export interface Service {
  pipelines: PipelineHandle[];
  failed: Array<{ name: string; error: string }>;
  clickhouse: ClickHouseHandle;
  http?: Server;
  stop(timeoutMs?: number): Promise<void>;
}

export async function startService(configs: PipelineConfig[], opts: ServiceOptions = {}): Promise<Service> {
  const log = logger();
  const clickhouse = openClickHouse(opts.clickhouse);
  const kafka = createKafka(opts.brokers ? { brokers: opts.brokers } : {});
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await retry(() => producer.connect(), {
    onError: (e, n) => {
      report('kafka', 'degraded', `cannot reach brokers: ${String(e)}`);
      log.warn({ attempt: n, err: String(e) }, 'Kafka not reachable; retrying');
      return n < 20;
    },
  });
  report('kafka', 'ok');
  const pipelines: PipelineHandle[] = [];
  const deliveries: DeliveryHandle[] = [];
  const failed: Service['failed'] = [];
  const version = productVersion();
  for (const cfg of configs) {
    try {
      pipelines.push(await startPipeline(cfg, { kafka, clickhouse: clickhouse.client, producer, productVersion: version }, opts));
      if (opts.deliver !== false) {
        for (const r of cfg.alerts.routes) {
          const d = await startDelivery(kafka, cfg, r);
          if (d) deliveries.push(d);
        }
      }
    } catch (e) {
      failed.push({ name: cfg.name, error: String(e) });
      report(`pipeline:${cfg.name}`, 'down', String(e));
      emit.pipelineFailed(cfg.name, e);
    }
  }
  let http: Server | undefined;
  if (opts.httpPort !== undefined) {
    const first = configs[0]?.findings.clickhouse;
    http = await startHttp({
      port: opts.httpPort,
      ...(first ? { findings: { client: clickhouse.client, database: first.database, table: first.table } } : {}),
    });
  }
  const svc: Service = {
    pipelines,
    failed,
    clickhouse,
    async stop(timeoutMs = 30_000) {
      const work = (async () => {
        await Promise.allSettled(deliveries.map((d) => d.stop()));
        await Promise.allSettled(pipelines.map((p) => p.stop()));
        await producer.disconnect();
        await clickhouse.client.close();
      })();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          log.error({ timeoutMs }, 'graceful stop timed out; uncommitted work will be replayed on restart');
          resolve();
        }, timeoutMs);
      });
      await Promise.race([work, timeout]);
      clearTimeout(timer);
      if (http) await new Promise<void>((r) => http!.close(() => r()));
    },
  };
  if (http) svc.http = http;
  return svc;
}
