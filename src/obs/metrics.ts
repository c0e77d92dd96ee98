/** Prometheus metrics for the service; one registry per process, served on /metrics. */
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'm2m_' });

const labels = ['pipeline'] as const;

export const metrics = {
  eventsDecoded: new client.Counter({ name: 'm2m_events_decoded_total', help: 'Events decoded and scored', labelNames: [...labels, 'type'], registers: [registry] }),
  deadLetters: new client.Counter({ name: 'm2m_dead_letters_total', help: 'Messages sent to the dead-letter topic', labelNames: [...labels, 'reason'], registers: [registry] }),
  findings: new client.Counter({ name: 'm2m_findings_total', help: 'Finding updates raised (first raise and extensions)', labelNames: [...labels, 'detector', 'severity'], registers: [registry] }),
  findingsWritten: new client.Counter({ name: 'm2m_findings_written_total', help: 'Finding rows written to ClickHouse', labelNames: labels, registers: [registry] }),
  writeErrors: new client.Counter({ name: 'm2m_clickhouse_write_errors_total', help: 'Failed ClickHouse writes (retried)', labelNames: labels, registers: [registry] }),
  offsetsCommitted: new client.Counter({ name: 'm2m_offset_commits_total', help: 'Offset commits after durable writes', labelNames: labels, registers: [registry] }),
  lag: new client.Gauge({ name: 'm2m_consumer_lag', help: 'Consumer lag in messages per partition', labelNames: [...labels, 'topic', 'partition'], registers: [registry] }),
  alerts: new client.Counter({ name: 'm2m_alerts_total', help: 'Alerts emitted by the router', labelNames: [...labels, 'severity'], registers: [registry] }),
  alertsSuppressed: new client.Counter({ name: 'm2m_alerts_suppressed_total', help: 'Alert candidates folded into an open alert', labelNames: labels, registers: [registry] }),
  deliveries: new client.Counter({ name: 'm2m_alert_deliveries_total', help: 'Alert deliveries per route and outcome', labelNames: ['route', 'outcome'], registers: [registry] }),
  outboxDepth: new client.Gauge({ name: 'm2m_outbox_depth', help: 'Alerts waiting for delivery per route', labelNames: ['route'], registers: [registry] }),
  checkpointAge: new client.Gauge({ name: 'm2m_checkpoint_age_seconds', help: 'Seconds since the last state checkpoint', labelNames: labels, registers: [registry] }),
  devices: new client.Gauge({ name: 'm2m_active_devices', help: 'Devices with state in memory', labelNames: labels, registers: [registry] }),
  batchSeconds: new client.Histogram({ name: 'm2m_batch_seconds', help: 'Time to process one fetched batch', labelNames: labels, buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry] }),
};
