/**
 * The analyst's tables (migrations 2 and 3): findings laid out for "the last N hours across the
 * fleet at high and above", and alerts with their lifecycle beside them.
 *
 * Why this layout:
 * - Sort key starts with the hour of first_ts, so a time range reads only its granules; the
 *   finding id after it keeps one row per finding for ReplacingMergeTree (first_ts never changes
 *   between a finding's versions, severity does, so severity cannot be in the key). Device,
 *   peer and detector filters use skip indexes instead of the sort key.
 * - Severity is an Enum8 in severity order, so `severity >= 'high'` and ORDER BY severity mean
 *   what an analyst expects, and a minmax index skips granules with nothing severe enough.
 * - Partitions and TTL both follow ingestion time (a week per partition, ttl_only_drop_parts),
 *   so expiry drops whole parts instead of rewriting them; ingestion time rather than event time
 *   so that replaying an old recording keeps its findings. Versions of a finding written in
 *   different weeks sit in two partitions until the older expires; FINAL still returns one row.
 */
import type { Target } from './migrations.js';
import { ident } from './clickhouse.js';

const q = (t: Target, name: string) => `${ident(t.database)}.${ident(name)}`;
const days = (t: Target) => Math.max(1, Math.floor(t.ttlDays));

const SEVERITY_ENUM = `Enum8('info' = 1, 'low' = 2, 'medium' = 3, 'high' = 4, 'critical' = 5)`;

function findingsColumns(t: Target, name: string): string {
  return `CREATE TABLE ${q(t, name)} (
    finding_id String,
    pipeline LowCardinality(String),
    detector LowCardinality(String),
    device_id String,
    device_class LowCardinality(String),
    key String,
    first_ts DateTime64(3, 'UTC'),
    last_ts DateTime64(3, 'UTC'),
    count UInt32,
    score Float32,
    severity ${SEVERITY_ENUM},
    observed String,
    expected String,
    explanation String,
    evidence String,
    mitre Array(LowCardinality(String)),
    src_ip String DEFAULT '',
    dst_ip String DEFAULT '',
    dst_port Nullable(UInt16),
    metric LowCardinality(String) DEFAULT '',
    observed_value Nullable(Float64),
    expected_value Nullable(Float64),
    expected_spread Nullable(Float64),
    version UInt64,
    ingested_at DateTime DEFAULT now(),
    INDEX idx_last_ts last_ts TYPE minmax GRANULARITY 1,
    INDEX idx_severity severity TYPE minmax GRANULARITY 1,
    INDEX idx_device device_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_detector detector TYPE set(100) GRANULARITY 4,
    INDEX idx_dst_ip dst_ip TYPE bloom_filter(0.01) GRANULARITY 4
  )
  ENGINE = ReplacingMergeTree(version)
  PARTITION BY toMonday(ingested_at)
  ORDER BY (toStartOfHour(first_ts), finding_id)
  TTL ingested_at + INTERVAL ${days(t)} DAY
  SETTINGS ttl_only_drop_parts = 1`;
}

/**
 * Findings table v1 → v2: a new table filled from the old one, then swapped in by EXCHANGE (one
 * atomic step, so readers see the old or the new table, never none). Every step can be run
 * again after a crash between them: the copy starts from an empty table, and the old table's
 * columns all exist in the new one.
 */
export function findingsV2(t: Target): string[] {
  const tmp = `${t.table}__v2`;
  return [
    `DROP TABLE IF EXISTS ${q(t, tmp)}`,
    findingsColumns(t, tmp),
    `INSERT INTO ${q(t, tmp)} (finding_id, pipeline, detector, device_id, device_class, key, first_ts, last_ts, count, score, severity,
        observed, expected, explanation, evidence, mitre, src_ip, dst_ip, dst_port, metric, observed_value, expected_value, expected_spread, version, ingested_at)
      SELECT finding_id, pipeline, detector, device_id, device_class, key, first_ts, last_ts, count, score,
        CAST(toString(severity) AS ${SEVERITY_ENUM}),
        observed, expected, explanation, evidence, mitre,
        -- The network and baseline facts, from the evidence the detectors wrote (finding-facts.ts reads the same names).
        if(isIPv4String(JSONExtractString(evidence, 'src_ip')) OR isIPv6String(JSONExtractString(evidence, 'src_ip')), JSONExtractString(evidence, 'src_ip'), ''),
        if(isIPv4String(JSONExtractString(evidence, 'dst_ip')) OR isIPv6String(JSONExtractString(evidence, 'dst_ip')), JSONExtractString(evidence, 'dst_ip'), ''),
        if(JSONHas(evidence, 'dst_port') AND JSONExtractUInt(evidence, 'dst_port') <= 65535, toNullable(toUInt16(JSONExtractUInt(evidence, 'dst_port'))), NULL),
        JSONExtractString(evidence, 'metric'),
        if(JSONHas(evidence, 'metric') AND isNotNull(toFloat64OrNull(observed)), toFloat64OrNull(observed), NULL),
        if(JSONHas(evidence, 'baseline_center'), toNullable(JSONExtractFloat(evidence, 'baseline_center')), NULL),
        if(JSONHas(evidence, 'baseline_sigma'), toNullable(JSONExtractFloat(evidence, 'baseline_sigma')), NULL),
        version, ingested_at
      FROM ${q(t, t.table)}`,
    `EXCHANGE TABLES ${q(t, t.table)} AND ${q(t, tmp)}`,
    `DROP TABLE ${q(t, tmp)}`,
  ];
}

/**
 * Alerts (the pipeline's side, one row per version, newest wins), the changes of each alert
 * (pipeline and analysts: the audit trail and what was published), and the console's audit log
 * of who did what. Shared by every pipeline of a database, hence IF NOT EXISTS.
 */
export function alertTables(t: Target): string[] {
  const keep = Math.max(days(t), 365);
  return [
    `CREATE TABLE IF NOT EXISTS ${q(t, 'alerts')} (
      alert_id String,
      pipeline LowCardinality(String),
      device_id String,
      device_class LowCardinality(String),
      detector LowCardinality(String),
      key String,
      first_ts DateTime64(3, 'UTC'),
      last_ts DateTime64(3, 'UTC'),
      closed_ts Nullable(DateTime64(3, 'UTC')),
      count UInt32,
      findings UInt32,
      severity ${SEVERITY_ENUM},
      initial_severity ${SEVERITY_ENUM},
      score Float32,
      finding_id String,
      explanation String,
      -- Where the alert's events are in the source, so the console can read the device's readings around it.
      src_topic String,
      src_partition UInt32,
      first_offset UInt64,
      last_offset UInt64,
      seq UInt32,
      updated_at DateTime DEFAULT now(),
      INDEX idx_last_ts last_ts TYPE minmax GRANULARITY 1,
      INDEX idx_device device_id TYPE bloom_filter(0.01) GRANULARITY 4
    )
    ENGINE = ReplacingMergeTree(seq)
    PARTITION BY toMonday(updated_at)
    ORDER BY alert_id
    TTL updated_at + INTERVAL ${days(t)} DAY
    SETTINGS ttl_only_drop_parts = 1`,
    `CREATE TABLE IF NOT EXISTS ${q(t, 'alert_events')} (
      event_uid String,
      alert_id String,
      pipeline LowCardinality(String),
      device_id String,
      at DateTime64(3, 'UTC'),
      recorded_at DateTime64(3, 'UTC') DEFAULT now64(3),
      actor String,
      action LowCardinality(String),
      status LowCardinality(String),
      resolution LowCardinality(String),
      comment String,
      severity ${SEVERITY_ENUM},
      seq UInt32,
      doc String
    )
    ENGINE = ReplacingMergeTree
    PARTITION BY toMonday(recorded_at)
    ORDER BY (alert_id, event_uid)
    TTL toDateTime(recorded_at) + INTERVAL ${keep} DAY
    SETTINGS ttl_only_drop_parts = 1`,
    `CREATE TABLE IF NOT EXISTS ${q(t, 'audit_log')} (
      at DateTime64(3, 'UTC') DEFAULT now64(3),
      actor String,
      role LowCardinality(String),
      action LowCardinality(String),
      target String,
      detail String,
      remote String,
      outcome LowCardinality(String)
    )
    ENGINE = MergeTree
    PARTITION BY toYYYYMM(at)
    ORDER BY at
    TTL toDateTime(at) + INTERVAL ${keep} DAY
    SETTINGS ttl_only_drop_parts = 1`,
  ];
}
