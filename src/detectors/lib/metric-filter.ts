/** Which metrics a telemetry detector watches: the include/exclude filter and its two shared params. */
import type { ParamSpec } from '../types.js';

/**
 * The metric filter telemetry detectors share: an empty include list means every metric.
 * Returns null when everything passes so the hot loop can skip the call.
 */
export function metricFilter(include: readonly string[] | undefined, exclude: readonly string[] | undefined): ((m: string) => boolean) | null {
  const inc = include && include.length ? new Set(include) : null;
  const exc = exclude && exclude.length ? new Set(exclude) : null;
  if (!inc && !exc) return null;
  return (m) => (inc === null || inc.has(m)) && (exc === null || !exc.has(m));
}

/** Shared param specs, so the same knob is described the same way in every detector. */
export const METRICS_PARAM: ParamSpec = {
  type: 'array',
  description: 'Only these metrics (empty: every numeric metric the device sends).',
  items: { type: 'string' },
  default: [],
  examples: [['voltage', 'current']],
};

export const EXCLUDE_PARAM: ParamSpec = {
  type: 'array',
  description: 'Metrics to ignore (applied after `metrics`).',
  items: { type: 'string' },
  default: [],
  examples: [['uptime_s']],
};
