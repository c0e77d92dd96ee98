/**
 * The `sensitivity` knob, defined once for every detector. Each detector names the parameters
 * that decide whether something is a finding, and which way they point:
 *
 *   min: a finding needs a value at or above the parameter (a z, a count, a factor, a score);
 *        sensitivity s divides it, so s = 2 fires at half the threshold;
 *   max: a finding needs a value at or below the parameter (a jitter, a share);
 *        sensitivity s multiplies it.
 *
 * So `sensitivity: 2` means "about twice as sensitive" and 0.5 "half as sensitive" whatever
 * the detector does, without the user knowing which parameter that is. Results are clamped to
 * the parameter's own range and integers are rounded. Explicit parameters are scaled too: the
 * knob is relative to the tuning written in the file.
 *
 * The table lives beside the registry rather than in each detector file so the knob has one
 * definition; `test/detectors/thresholds.test.ts` fails when a registered detector is missing
 * from it (add the detector with its threshold parameters, or with [] when it has none).
 */
import type { DetectorSpec, ParamSpec } from './types.js';

export interface ThresholdParam {
  param: string;
  kind: 'min' | 'max';
}

export const THRESHOLDS: Readonly<Record<string, readonly ThresholdParam[]>> = {
  metric_baseline: [{ param: 'threshold_z', kind: 'min' }],
  level_shift: [{ param: 'h', kind: 'min' }, { param: 'min_shift', kind: 'min' }],
  metric_relation: [{ param: 'min_shift', kind: 'min' }],
  flatline: [{ param: 'run_factor', kind: 'min' }],
  // Physical limits are facts about the process, not a threshold to tune.
  range_limits: [],
  reporting: [{ param: 'silence_factor', kind: 'min' }, { param: 'rate_factor', kind: 'min' }],
  sequence: [{ param: 'min_gap', kind: 'min' }],
  firmware_change: [{ param: 'max_changes', kind: 'min' }],
  new_peer: [{ param: 'min_score', kind: 'min' }],
  fanout: [{ param: 'min_distinct_dst', kind: 'min' }, { param: 'min_distinct_ports', kind: 'min' }, { param: 'baseline_factor', kind: 'min' }],
  beaconing: [{ param: 'min_score', kind: 'min' }, { param: 'max_jitter', kind: 'max' }],
  exfiltration: [{ param: 'threshold_z', kind: 'min' }, { param: 'min_ratio', kind: 'min' }],
  auth_failures: [{ param: 'threshold', kind: 'min' }],
  device_cloning: [{ param: 'min_switches', kind: 'min' }],
  unusual_hour: [{ param: 'max_share', kind: 'max' }],
  // Scored from the evidence it gathers (new hosts, admin ports, failures), with no single threshold.
  lateral_movement: [],
  flood: [{ param: 'factor', kind: 'min' }, { param: 'min_connections', kind: 'min' }],
  tls_downgrade: [{ param: 'min_tls_sessions', kind: 'min' }, { param: 'max_plain_share', kind: 'max' }],
  // Rules: a breach is a breach.
  policy: [],
};

export const SENSITIVITY_RANGE = { min: 0.1, max: 10 } as const;

/** Params with the detector's thresholds moved by `sensitivity` (1: unchanged, same object). */
export function applySensitivity<P extends Record<string, unknown>>(spec: DetectorSpec<P>, params: P, sensitivity: number | undefined): P {
  if (sensitivity === undefined || sensitivity === 1) return params;
  const out: Record<string, unknown> = { ...params };
  for (const t of THRESHOLDS[spec.name] ?? []) {
    const ps = (spec.params as Record<string, ParamSpec>)[t.param];
    const v = out[t.param];
    if (!ps || typeof v !== 'number') continue;
    let x = t.kind === 'min' ? v / sensitivity : v * sensitivity;
    if (ps.type === 'integer') x = Math.round(x);
    if (ps.minimum !== undefined) x = Math.max(ps.minimum, x);
    if (ps.maximum !== undefined) x = Math.min(ps.maximum, x);
    out[t.param] = x;
  }
  return out as P;
}
