/**
 * Every detector component, by name. Adding a detector is adding its file and one line here;
 * validation, the JSON Schema, docs/detectors.md and `--help` all read this list.
 */
import type { DetectorSpec } from './types.js';
import { authFailures } from './auth_failures.js';
import { beaconing } from './beaconing.js';
import { deviceCloning } from './device_cloning.js';
import { exfiltration } from './exfiltration.js';
import { fanout } from './fanout.js';
import { firmwareChange } from './firmware.js';
import { flatline } from './flatline.js';
import { flood } from './flood.js';
import { lateralMovement } from './lateral_movement.js';
import { levelShift } from './level_shift/detector.js';
import { metricBaseline } from './metric_baseline/detector.js';
import { metricRelation } from './metric_relation/detector.js';
import { newPeer } from './new_peer.js';
import { policy } from './policy.js';
import { rangeLimits } from './range_limits.js';
import { reporting } from './reporting.js';
import { sequence } from './sequence.js';
import { tlsDowngrade } from './tls_downgrade.js';
import { unusualHour } from './unusual_hour.js';

export const DETECTORS: readonly DetectorSpec<any>[] = [
  // telemetry
  metricBaseline,
  levelShift,
  metricRelation,
  flatline,
  rangeLimits,
  reporting,
  sequence,
  firmwareChange,
  // connections
  newPeer,
  fanout,
  beaconing,
  exfiltration,
  authFailures,
  deviceCloning,
  unusualHour,
  lateralMovement,
  flood,
  tlsDowngrade,
  // policy
  policy,
];

export function detectorSpec(name: string): DetectorSpec<any> | undefined {
  return DETECTORS.find((d) => d.name === name);
}
