/**
 * A pipeline after loading, interpolation, validation and defaulting: what the runner, the
 * backtest and the demo consume. Durations are milliseconds here (the YAML says "5m", "24h").
 */
import type { Severity } from '../detectors/types.js';
import type { KafkaSasl, KafkaTls } from '../kafka/security.js';

// The decoder's field mapping is the events layer's contract; pipelines name it here.
import type { MappingConfig } from '../events/mapping.js';
export type { FieldRule, MappingConfig } from '../events/mapping.js';

export interface KafkaSourceConfig {
  brokers?: string[];
  topics: string[];
  group: string;
  start: 'earliest' | 'latest';
  format: 'json';
  dead_letter_topic: string;
  /** TLS to the brokers (src/kafka/security.ts); absent: from the environment. */
  ssl?: KafkaTls;
  /** SASL to the brokers; absent: from the environment. */
  sasl?: KafkaSasl;
}

export interface DetectorConfig {
  /** The detector kind (registry name). */
  type: string;
  /** Unique within the pipeline; defaults to the type. */
  id: string;
  /** Validated params with defaults applied and durations in ms. */
  params: Record<string, unknown>;
  /**
   * Route names this detector's alerts go to; absent means every route. References to routes
   * switched off in this environment (enabled: false, if_env unset) are already removed.
   */
  routes?: string[];
  /** Findings below this are stored but not alerted; replaces alerts.min_severity for this detector. */
  min_severity?: Severity;
  /** Multiplier on the detector's threshold parameters (detectors/thresholds.ts): 2 = twice as sensitive. */
  sensitivity?: number;
  /** Metric detectors: which deviations count, per metric ('*' = any other metric). */
  direction?: Record<string, Direction>;
  /** Metric detectors: deviations smaller than these are not findings, per metric ('*' = any other). */
  min_deviation?: Record<string, MinDeviation>;
}

export type Direction = 'up' | 'down' | 'both';

export interface MinDeviation {
  /** In the metric's own unit. */
  abs?: number;
  /** As a fraction of the expected value (baseline, implied value, or the crossed limit). */
  rel?: number;
}

/** Connections that connection detectors do not analyse (pipeline `allow:`). */
export interface AllowRule {
  /** For messages and docs; defaults to allow[i]. */
  name: string;
  /** Device classes it applies to; absent = every class. */
  classes?: string[];
  /** Destination addresses (exact). */
  peers?: string[];
  /** Destination networks. */
  cidrs?: string[];
  /** Destination ports. */
  ports?: number[];
  /** Detector ids it applies to; absent = the detectors that judge destinations (config/knobs.ts). */
  detectors?: string[];
}

/** A scheduled maintenance window of the pipeline file: findings are kept, alerts held. */
export interface MaintenanceWindowConfig {
  name: string;
  devices?: string[];
  classes?: string[];
  /** One-off window, epoch ms. */
  start_ms?: number;
  end_ms?: number;
  /** Recurring window: a cron expression (5 fields) and how long each lasts. */
  schedule?: string;
  duration_ms?: number;
  /** IANA time zone of the schedule; default UTC. */
  timezone?: string;
}

export interface AlertRouteConfig {
  type: 'webhook' | 'slack' | 'syslog' | 'kafka' | 'stdout';
  /** Route name (defaults to type, or type-N when repeated). */
  name: string;
  min_severity?: Severity;
  /** Alert budget: alerts delivered one by one per minute; the rest fold into a digest (default 120). */
  max_per_minute?: number;
  options: Record<string, unknown>;
}

export interface FleetConfig {
  enabled: boolean;
  hold_ms: number;
  window_ms: number;
  min_devices: number;
  min_share: number;
  common_share: number;
  memory_ms: number;
}

export interface PipelineConfig {
  name: string;
  description?: string;
  /** Where it was loaded from, for messages. */
  file?: string;
  source: { kafka: KafkaSourceConfig };
  mapping?: MappingConfig;
  entities: { key: 'device_id'; idle_eviction_ms: number; /** Device cap per source partition (engine.ts). */ max_devices_per_partition?: number };
  /** How far behind the newest event time an event may arrive and still be in order. */
  allowed_lateness_ms: number;
  /**
   * Events dated more than this ahead of max(wall clock, stream time) are dead letters
   * (pipeline/time.ts). Loading a pipeline always sets it; absent (a pipeline built in code),
   * the engine's default applies.
   */
  max_future_skew_ms?: number;
  detectors: DetectorConfig[];
  /** The fleet view (src/fleet); durations in ms. */
  fleet: FleetConfig;
  findings: { clickhouse: { database: string; table: string; ttl_days: number } };
  alerts: {
    min_severity: Severity;
    suppress_ms: number;
    /** An open alert closes once its group raised nothing for this long (event time). Absent: 24 h. */
    auto_close_ms?: number;
    routes: AlertRouteConfig[];
  };
  /** Connections that (some) connection detectors do not analyse. */
  allow?: AllowRule[];
  /** Scheduled maintenance windows; ad hoc ones come from the maintenance topic (alerts/maintenance.ts). */
  maintenance?: MaintenanceWindowConfig[];
  /**
   * Values that came from secret-named variables: their path in this object and the text as
   * written (`${SOC_WEBHOOK_SECRET}`), which redactPipeline shows instead of the value.
   */
  redactions?: Array<{ path: Array<string | number>; template: string }>;
}
