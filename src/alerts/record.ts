/**
 * What is kept of an alert outside the code that decides it: the record a checkpoint carries with
 * the router's state, and that the alerts table stores; the analyst's statuses beside it. Plain
 * data and types only, so the state store and the storage layer below the alert logic can name
 * them (the lifecycle that changes records is lifecycle.ts; the router over it, router.ts).
 */
import type { Finding, Severity } from '../detectors/types.js';

/** The pipeline's side of an alert: what the findings say. Plain JSON (checkpointed with the router). */
export interface AlertRecord {
  alert_id: string;
  pipeline: string;
  device_id: string;
  device_class: string;
  detector: string;
  key: string;
  /** Event time of the first finding's first event and of the latest event folded in. */
  first_ts: number;
  last_ts: number;
  /** Anomalous events across the alert's findings (each finding's own count, latest version). */
  count: number;
  /** Distinct findings folded in. */
  findings: number;
  severity: Severity;
  /** Severity of the finding that opened the alert (escalation is measured from it). */
  initial_severity: Severity;
  /** Peak score (0..1). */
  score: number;
  /** The latest finding (its explanation, observed and expected are the alert's). */
  finding_id: string;
  /** Version: one more for every change. Deterministic, so replays collapse in ClickHouse. */
  seq: number;
  /** Set once closed: the event time the group was quiet since + autoCloseMs. */
  closed_ts: number | null;
  /**
   * Where in the source the alert's events are: the offsets of the messages that opened it and
   * last extended it (a reader of the topic can show the device's readings around it).
   */
  source?: SourcePosition;
}

export interface SourcePosition {
  topic: string;
  partition: number;
  first_offset: string;
  last_offset: string;
}

/** An open alert as the lifecycle keeps it between findings. */
export interface OpenAlert {
  a: AlertRecord;
  /** Event time of the last published change. */
  sent: number;
  /** Changes since then. */
  folded: number;
  /** Latest count per finding of the alert (a sustained finding is updated many times). */
  fc: Record<string, number>;
  /** The latest finding: a close document states what the alert was about. */
  f: Finding;
}

export interface LifecycleState {
  /** Open alerts by group (device, detector, key). */
  open: Record<string, OpenAlert>;
}

export const emptyLifecycle = (): LifecycleState => ({ open: {} });

/** The router's state, checkpointed with the partition's offsets so a restore resumes the same open alerts. */
export interface RouterState {
  /** Open alerts (absent in checkpoints written before alerts had a lifecycle). */
  lifecycle?: LifecycleState;
  /** Earlier router versions' fields, kept readable in old checkpoints and otherwise unused. */
  groups?: Record<string, unknown>;
  sent?: Record<string, unknown>;
}

export const emptyRouterState = (): RouterState => ({ lifecycle: emptyLifecycle() });

/** The analyst's states of an alert (the OCSF status ids they map to are ocsf.ts's). */
export type AlertStatus = 'new' | 'acknowledged' | 'resolved';
export type Resolution = 'true_positive' | 'benign' | 'false_positive';
export const RESOLUTIONS: readonly Resolution[] = ['true_positive', 'benign', 'false_positive'];
