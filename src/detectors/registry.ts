/**
 * Every detector component, by name. Adding a detector is adding its file and one line here;
 * validation, the JSON Schema, docs/detectors.md and `--help` all read this list.
 */
import type { DetectorSpec } from './types.js';
import { fanout } from './fanout.js';
import { firmwareChange } from './firmware.js';
import { flatline } from './flatline.js';
import { levelShift } from './level_shift.js';
import { metricBaseline } from './metric_baseline.js';
import { newPeer } from './new_peer.js';
import { rangeLimits } from './range_limits.js';
import { reporting } from './reporting.js';
import { sequence } from './sequence.js';

export const DETECTORS: readonly DetectorSpec<any>[] = [
  // telemetry
  metricBaseline,
  levelShift,
  flatline,
  rangeLimits,
  reporting,
  sequence,
  firmwareChange,
  // connections
  newPeer,
  fanout,
];

export function detectorSpec(name: string): DetectorSpec<any> | undefined {
  return DETECTORS.find((d) => d.name === name);
}
