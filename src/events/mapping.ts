/**
 * How a pipeline maps what devices actually send onto the event contracts: the decoder applies
 * it (decode.ts), pipelines declare it (config/, `mapping:`).
 */

/** Where to find a canonical field in what devices actually send. */
export interface FieldRule {
  /** Dotted path into the raw JSON object, e.g. "meta.device" (a leading "$." is accepted). */
  path: string;
  /** Timestamps: how `ts` is encoded. */
  format?: 'iso' | 'epoch_s' | 'epoch_ms' | 'auto';
  /** Numbers: multiply by this after reading (unit conversion, e.g. 0.001 for mV → V). */
  scale?: number;
  /** Numbers: add this after scaling (e.g. -273.15 for K → °C). */
  offset?: number;
}

export interface MappingConfig {
  /** Canonical field name → where it is in the raw event. Unmapped fields are read as named. */
  fields: Record<string, FieldRule>;
  /** Constant values for fields devices do not send (e.g. type: telemetry on a metrics-only topic). */
  constants: Record<string, string | number | boolean>;
  /** Per-metric unit conversion applied after the metrics object is read. */
  metrics: Record<string, { rename?: string; scale?: number; offset?: number }>;
}
