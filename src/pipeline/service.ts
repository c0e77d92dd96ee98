/**
 * The service: opens ClickHouse and Kafka once, starts the HTTP endpoints (first, so health is
 * visible while pipelines start), every pipeline in isolation (one that fails is reported and
 * the others go on) and the alert delivery routes; stops it all gracefully within a bounded time.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { PipelineConfig } from '../config/types.js';
import type { Kafka } from 'kafkajs';
import { createKafka } from '../kafka/client.js';
import { securityKey, type KafkaSecurity } from '../kafka/security.js';
import { openClickHouse, type ClickHouseHandle, type ClickHouseOptions } from '../storage/clickhouse.js';
import { startPipeline, type PipelineHandle, type RunnerOptions } from './runner.js';
import { startFleetStage, type FleetStageHandle, type FleetStageOptions } from './fleet-stage.js';
import { startDelivery, type DeliveryHandle } from '../alerts/delivery.js';
import { startHttp } from '../server/http.js';
import type { Access } from '../server/access.js';
import type { User } from '../server/users.js';
import { createConsole, type ConsoleHandler } from '../server/console.js';
import { report } from '../server/health.js';
import { emit } from '../obs/events.js';
import { logger } from '../obs/log.js';
import { GaveUp, retry } from '../lib/retry.js';
import { AccessDenied, attempt } from '../kafka/authz.js';
import { isRetriable } from '../kafka/client.js';
import { followMaintenance, maintenanceTopic, type BookFollower } from '../alerts/maintenance-topic.js';

export const productVersion = (): string =>
  (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

export interface ServiceOptions extends RunnerOptions, FleetStageOptions {
  brokers?: string[];
  /** TLS and SASL for the default cluster; default: the environment (KAFKA_SSL_*, KAFKA_SASL_*). */
  security?: KafkaSecurity;
  clickhouse?: ClickHouseOptions;
  /** HTTP port for /healthz, /readyz, /metrics; 0 = pick a free one, undefined = none. */
  httpPort?: number;
  /** Interface the HTTP endpoints bind; default 127.0.0.1. */
  httpHost?: string;
  /** Tokens and roles for everything but /healthz and /readyz (server/access.ts). */
  access?: Access;
  /** Console users (server/users.ts); with access or users the analyst API and console are served. */
  users?: User[];
  /** Start alert delivery routes (webhook, slack, syslog, stdout). */
  deliver?: boolean;
}

export interface Service {
  pipelines: PipelineHandle[];
  /** The fleet stages of the pipelines with the fleet view (fleet-stage.ts), in the same order. */
  fleets: FleetStageHandle[];
  failed: Array<{ name: string; error: string }>;
  clickhouse: ClickHouseHandle;
  http?: Server;
  stop(timeoutMs?: number): Promise<void>;
}

export async function startService(configs: PipelineConfig[], opts: ServiceOptions = {}): Promise<Service> {
  const log = logger();
  const clickhouse = openClickHouse(opts.clickhouse);
  const kafka = createKafka({ ...(opts.brokers ? { brokers: opts.brokers } : {}), ...(opts.security ? { security: opts.security } : {}) });
  let http: Server | undefined;
  let analyst: ConsoleHandler | undefined;
  // Read by the console's maintenance API once the follower below has started.
  let maintenance: BookFollower | undefined;
  if (opts.httpPort !== undefined) {
    const first = configs[0]?.findings.clickhouse;
    if (configs.length && (opts.access || opts.users?.length)) {
      analyst = createConsole({ client: clickhouse.client, pipelines: configs, kafka, users: opts.users ?? [], productVersion: productVersion(), maintenance: () => maintenance?.book, ...(opts.access ? { access: opts.access } : {}) });
    }
    http = await startHttp({
      port: opts.httpPort,
      ...(opts.httpHost !== undefined ? { host: opts.httpHost } : {}),
      ...(opts.access ? { access: opts.access } : {}),
      ...(analyst ? { console: analyst } : {}),
      ...(first ? { findings: { client: clickhouse.client, database: first.database, table: first.table } } : {}),
    });
  }
  report('kafka', 'starting');
  const admin = kafka.admin();
  await retry(() => attempt({ operation: 'DESCRIBE', resource: 'the cluster', why: 'connect' }, () => admin.connect()), {
    onError: (e, n) => {
      report('kafka', 'degraded', `cannot reach brokers: ${String(e)}`);
      // Refused credentials or a TLS setting that cannot work do not get better by retrying.
      if (!isRetriable(e)) return false;
      log.warn({ attempt: n, err: String(e) }, 'Kafka not reachable; retrying');
      return n < 20;
    },
  }).catch(async (e: unknown) => {
    if (http) await new Promise<void>((r) => http!.close(() => r()));
    throw e instanceof GaveUp && (e.cause instanceof AccessDenied || !isRetriable(e.cause)) ? e.cause : e;
  });
  await admin.disconnect();
  report('kafka', 'ok');
  // Ad hoc maintenance windows are known before the first alert is routed, so a restart during
  // a window does not alert what the window holds (bounded: the topic is small).
  try {
    maintenance = await followMaintenance(kafka);
    await Promise.race([maintenance.ready, new Promise((r) => setTimeout(r, 15_000).unref())]);
  } catch (e) {
    log.warn({ err: String(e), topic: maintenanceTopic() }, 'cannot read ad hoc maintenance windows; scheduled windows still apply');
  }
  const runnerOpts: RunnerOptions = maintenance ? { ...opts, maintenance: () => maintenance!.book.values() } : opts;
  const pipelines: PipelineHandle[] = [];
  const fleets: FleetStageHandle[] = [];
  const deliveries: DeliveryHandle[] = [];
  const failed: Service['failed'] = [];
  const version = productVersion();
  // A pipeline that names its own brokers or credentials reads from (and delivers through) that
  // cluster as that principal; one client per distinct setting.
  const clusters = new Map<string, Kafka>();
  const kafkaFor = (cfg: PipelineConfig): Kafka => {
    const { brokers, ssl, sasl } = cfg.source.kafka;
    if (!brokers?.length && !ssl && !sasl) return kafka;
    const security: KafkaSecurity | undefined = ssl || sasl ? { ...(ssl ? { ssl } : {}), ...(sasl ? { sasl } : {}) } : undefined;
    const id = `${(brokers ?? opts.brokers ?? []).join(',')}#${securityKey(security)}`;
    let k = clusters.get(id);
    if (!k) clusters.set(id, (k = createKafka({ ...(brokers?.length ? { brokers } : opts.brokers ? { brokers: opts.brokers } : {}), ...(security ? { security } : {}) })));
    return k;
  };
  // Pipelines start side by side: one that keeps retrying (a broker it cannot reach, a store
  // that is down) must not hold the others back.
  const started = await Promise.allSettled(
    configs.map(async (cfg) => {
      const k = kafkaFor(cfg);
      const handle = await startPipeline(cfg, { kafka: k, clickhouse: clickhouse.client, productVersion: version }, runnerOpts);
      const routes: DeliveryHandle[] = [];
      let fleet: FleetStageHandle | undefined;
      try {
        // Every instance runs both stages: scaling out splits the fleet partitions as well.
        if (cfg.fleet.enabled) fleet = await startFleetStage(cfg, { kafka: k, clickhouse: clickhouse.client, productVersion: version }, opts);
        if (opts.deliver !== false) {
          for (const r of cfg.alerts.routes) {
            const d = await startDelivery(k, cfg, r, { productVersion: version });
            if (d) routes.push(d);
          }
        }
      } catch (e) {
        // Half a pipeline is not left running: what started is stopped before it is reported.
        await Promise.allSettled([handle.stop(), ...(fleet ? [fleet.stop()] : []), ...routes.map((d) => d.stop())]);
        throw e;
      }
      return { handle, fleet, routes };
    }),
  );
  started.forEach((r, i) => {
    const cfg = configs[i]!;
    if (r.status === 'fulfilled') {
      pipelines.push(r.value.handle);
      if (r.value.fleet) fleets.push(r.value.fleet);
      deliveries.push(...r.value.routes);
    } else {
      failed.push({ name: cfg.name, error: String(r.reason) });
      report(`pipeline:${cfg.name}`, 'down', String(r.reason));
      emit.pipelineFailed(cfg.name, r.reason);
    }
  });
  let stopped: Promise<void> | undefined;
  const svc: Service = {
    pipelines,
    fleets,
    failed,
    clickhouse,
    stop(timeoutMs = 30_000) {
      // Idempotent: a second SIGTERM (or a test's cleanup after one) waits for the same stop.
      stopped ??= (async () => {
        const t0 = Date.now();
        const work = (async () => {
          // Pipelines first: their final checkpoints publish the last alerts to the outbox,
          // and the delivery routes are stopped after that, between two sends.
          await Promise.allSettled(pipelines.map((p) => p.stop()));
          // Then the fleet stages: the device stages' last frames are published by then.
          await Promise.allSettled(fleets.map((f) => f.stop()));
          await Promise.allSettled(deliveries.map((d) => d.stop()));
          await analyst?.close();
          await maintenance?.stop();
          await clickhouse.client.close();
        })();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          work.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) log.error({ timeoutMs }, 'graceful stop timed out; uncommitted work will be replayed on restart');
        else log.info({ ms: Date.now() - t0 }, 'stopped');
        if (http) {
          http.closeAllConnections();
          await new Promise<void>((r) => http!.close(() => r()));
        }
      })();
      return stopped;
    },
  };
  if (http) svc.http = http;
  return svc;
}
