/**
 * Event contracts. These are the shapes after decoding and field mapping; `ts` is event time in
 * epoch milliseconds (the wire carries ISO-8601 or epoch s/ms, see decode.ts).
 */

export type AuthOutcome = 'ok' | 'failed' | 'none';

export interface TelemetryEvent {
  type: 'telemetry';
  device_id: string;
  device_class: string;
  ts: number;
  metrics: Record<string, number>;
  firmware?: string;
  seq?: number;
}

export interface ConnectionEvent {
  type: 'connection';
  device_id: string;
  device_class: string;
  ts: number;
  src_ip: string;
  dst_ip: string;
  dst_port: number;
  protocol: string;
  app_protocol?: string;
  bytes_out?: number;
  bytes_in?: number;
  duration_ms?: number;
  tls?: boolean;
  auth?: AuthOutcome;
  firmware?: string;
}

export type M2MEvent = TelemetryEvent | ConnectionEvent;

/** device_class used when an event does not say. Detectors fall back to their defaults for it. */
export const UNKNOWN_CLASS = 'unknown';
