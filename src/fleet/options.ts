/** A pipeline's fleet view: its options, and the fleet roles of its detector instances. */
import type { PipelineConfig } from '../config/types.js';
import type { DetectorInstance, FleetRole } from '../detectors/types.js';
import { createFleet, type Fleet, type FleetOptions } from './fleet.js';

const HOUR = 3_600_000;

export const FLEET_DEFAULTS: Omit<FleetOptions, 'pipeline' | 'roleOf'> = {
  hold: HOUR,
  window: 6 * HOUR,
  minDevices: 5,
  minShare: 0.2,
  commonShare: 0.25,
  memory: 7 * 24 * HOUR,
};

/** The fleet view for a pipeline, or undefined when the pipeline switches it off. */
export function fleetFor(cfg: PipelineConfig, detectors: readonly DetectorInstance[]): Fleet | undefined {
  const roles = new Map<string, FleetRole | undefined>(detectors.map((d) => [d.id, d.spec.fleet]));
  return createFleet({ ...FLEET_DEFAULTS, pipeline: cfg.name, roleOf: (id) => roles.get(id) });
}
