/**
 * What a pipeline needs before it consumes: ClickHouse tables migrated, its topics (sources,
 * dead letters, alert outbox, fleet topic, state changelog) present, and, with ACLs on, every
 * grant it will use, checked up front.
 */
import type { Kafka } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { PipelineConfig } from '../config/types.js';
import { outboxTopic } from '../alerts/outbox.js';
import { isRetriable } from '../kafka/client.js';
import { ensureTopics } from '../kafka/topics.js';
import { AccessDenied, attempt, preflight } from '../kafka/authz.js';
import { migrate } from '../storage/migrations.js';
import { changelogTopic, ensureChangelog } from '../state/changelog.js';
import { GaveUp, retry } from '../lib/retry.js';
import { report } from '../server/health.js';
import { fleetTopicSpec, type FleetForward } from './fleet-forward.js';

export async function setUpPipeline(cfg: PipelineConfig, kafka: Kafka, clickhouse: ClickHouseClient, fwd: FleetForward | undefined, component: string, log: Logger): Promise<void> {
  const src = cfg.source.kafka;
  const { database, table, ttl_days } = cfg.findings.clickhouse;
  const outbox = outboxTopic(cfg);
  await retry(() => migrate(clickhouse, { database, table, ttlDays: ttl_days }), {
    onError: (e, n) => {
      report(component, 'degraded', `ClickHouse migrations failing: ${String(e)}`);
      log.warn({ attempt: n, err: String(e) }, 'migrations failed; retrying');
      return n < 30;
    },
  });
  await retry(
    async () => {
      const fleetOut = fwd ? fleetTopicSpec(cfg) : undefined;
      const topics = [...src.topics, src.dead_letter_topic, outbox, ...(fleetOut ? [fleetOut.topic] : [])].join(', ');
      await attempt({ operation: 'DESCRIBE and CREATE', resource: `topics ${topics}`, why: 'set up the pipeline\'s topics (or create them beforehand and grant DESCRIBE)' }, () =>
        ensureTopics(kafka, [
          ...src.topics.map((topic) => ({ topic })),
          { topic: src.dead_letter_topic, config: { 'retention.ms': String(30 * 86_400_000) } },
          { topic: outbox },
          ...(fleetOut ? [fleetOut] : []),
        ]),
      );
      const changelog = await attempt({ operation: 'DESCRIBE and CREATE', resource: `topic ${changelogTopic(src.group)}`, why: 'set up the state changelog' }, () => ensureChangelog(kafka, src.group, src.topics));
      if (fwd) await attempt({ operation: 'DESCRIBE', resource: `topics ${fwd.topic}, ${src.topics.join(', ')}`, why: 'count the fleet topic\'s and the sources\' partitions' }, () => fwd.init(kafka));
      // With ACLs on, a missing grant found now is one clear message; found later, inside a
      // checkpoint transaction, it was a checkpoint failing and restoring forever.
      await preflight(kafka, {
        group: src.group,
        sources: src.topics,
        outputs: [
          { topic: outbox, what: 'alert outbox' },
          { topic: src.dead_letter_topic, what: 'dead letters' },
          { topic: changelog, what: 'state changelog' },
          ...(fwd ? [{ topic: fwd.topic, what: 'fleet topic (the fleet stage\'s inputs)' }] : []),
        ],
      });
    },
    {
      onError: (e, n) => {
        report(component, isRetriable(e) ? 'degraded' : 'down', `cannot set up topics: ${String(e)}`);
        if (!isRetriable(e)) return false;
        log.warn({ attempt: n, err: String(e) }, 'topic setup failed; retrying');
        return n < 20;
      },
    },
  ).catch((e: unknown) => {
    // The reason itself, not "gave up after 1 attempts: …", is what the operator reads.
    throw e instanceof GaveUp && e.cause instanceof AccessDenied ? e.cause : e;
  });
}
