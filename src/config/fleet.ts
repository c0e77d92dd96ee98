/** The fleet view's pipeline keys: defaults (the schema documents them), and the block in ms. */
import { parseDurationOrMs } from '../lib/duration.js';
import type { FleetConfig } from './types.js';

export const FLEET_DEFAULTS = { hold: '1h', window: '6h', min_devices: 5, min_share: 0.2, common_share: 0.25, memory: '7d' } as const;

/** The fleet view with its defaults, durations in ms (for pipelines built in code). */
export function defaultFleet(enabled = true): FleetConfig {
  return {
    enabled,
    hold_ms: parseDurationOrMs(FLEET_DEFAULTS.hold)!,
    window_ms: parseDurationOrMs(FLEET_DEFAULTS.window)!,
    min_devices: FLEET_DEFAULTS.min_devices,
    min_share: FLEET_DEFAULTS.min_share,
    common_share: FLEET_DEFAULTS.common_share,
    memory_ms: parseDurationOrMs(FLEET_DEFAULTS.memory)!,
  };
}
