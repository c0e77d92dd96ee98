/** A pipeline's fleet view: its options, and the fleet roles of its detector instances. */
import type { PipelineConfig } from '../config/types.js';
import type { DetectorInstance, FleetRole } from '../detectors/types.js';
import { createFleet, type Fleet, type FleetOptions } from './fleet.js';

/** The fleet view for a pipeline, or undefined when the pipeline switches it off. */
export function fleetFor(cfg: PipelineConfig, detectors: readonly DetectorInstance[]): Fleet | undefined {
  if (!cfg.fleet.enabled) return undefined;
  const roles = new Map<string, FleetRole | undefined>(detectors.map((d) => [d.id, d.spec.fleet]));
  return createFleet(fleetOptions(cfg, (id) => roles.get(id)));
}

function fleetOptions(cfg: PipelineConfig, roleOf: FleetOptions['roleOf']): FleetOptions {
  const f = cfg.fleet;
  return { pipeline: cfg.name, hold: f.hold_ms, window: f.window_ms, minDevices: f.min_devices, minShare: f.min_share, commonShare: f.common_share, memory: f.memory_ms, roleOf };
}
