/** The fleet view's pipeline keys: defaults (the schema documents them), and the block in ms. */
import { parseDuration } from '../detectors/params.js';
import type { FleetConfig } from './types.js';

export const FLEET_DEFAULTS = { hold: '1h', window: '6h', min_devices: 5, min_share: 0.2, common_share: 0.25, memory: '7d' } as const;

/** The fleet view with its defaults, durations in ms (for pipelines built in code). */
export function defaultFleet(enabled = true): FleetConfig {
  return {
    enabled,
    hold_ms: parseDuration(FLEET_DEFAULTS.hold)!,
    window_ms: parseDuration(FLEET_DEFAULTS.window)!,
    min_devices: FLEET_DEFAULTS.min_devices,
    min_share: FLEET_DEFAULTS.min_share,
    common_share: FLEET_DEFAULTS.common_share,
    memory_ms: parseDuration(FLEET_DEFAULTS.memory)!,
  };
}
