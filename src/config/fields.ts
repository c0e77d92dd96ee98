/**
 * The canonical event fields a pipeline's `mapping` may target, with the JSON type decode.ts
 * expects after mapping. This table drives the mapping part of the schema (which fields exist,
 * which accept `format`, `scale`/`offset`, and what a constant may be) so it cannot disagree
 * with the validator.
 */

export type CanonicalKind = 'string' | 'integer' | 'number' | 'boolean' | 'timestamp' | 'metrics';

export interface CanonicalField {
  kind: CanonicalKind;
  description: string;
  enum?: readonly string[];
}

export const CANONICAL_FIELDS: Readonly<Record<string, CanonicalField>> = {
  type: { kind: 'string', enum: ['telemetry', 'connection'], description: 'Event kind. Map it, or set it as a constant on a topic that carries one kind only.' },
  device_id: { kind: 'string', description: 'Stable device identifier; the partition key and the entity key.' },
  device_class: { kind: 'string', description: 'Free-text class (smart_meter, plc, ...); unknown classes get detector defaults.' },
  ts: { kind: 'timestamp', description: 'Event time: ISO-8601 text or epoch seconds/milliseconds (see `format`).' },
  metrics: { kind: 'metrics', description: 'Telemetry: an object of named numeric readings.' },
  firmware: { kind: 'string', description: 'Firmware version string.' },
  seq: { kind: 'integer', description: 'Telemetry: monotonic message sequence number (gaps and replays).' },
  src_ip: { kind: 'string', description: 'Connection: source IP address.' },
  dst_ip: { kind: 'string', description: 'Connection: destination IP address.' },
  dst_port: { kind: 'integer', description: 'Connection: destination port.' },
  protocol: { kind: 'string', description: 'Connection: transport protocol (tcp, udp).' },
  app_protocol: { kind: 'string', description: 'Connection: application protocol (modbus, mqtt, https, ...).' },
  bytes_out: { kind: 'number', description: 'Connection: bytes sent by the device.' },
  bytes_in: { kind: 'number', description: 'Connection: bytes received by the device.' },
  duration_ms: { kind: 'number', description: 'Connection: session duration in milliseconds.' },
  tls: { kind: 'boolean', description: 'Connection: whether the session was encrypted.' },
  auth: { kind: 'string', enum: ['ok', 'failed', 'none'], description: 'Connection: authentication outcome.' },
};

export const isNumericKind = (k: CanonicalKind): boolean => k === 'integer' || k === 'number';
