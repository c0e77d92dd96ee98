/**
 * Every detector component, by name. Adding a detector is adding its file and one line here;
 * validation, the JSON Schema, docs/detectors.md and `--help` all read this list.
 */
import type { DetectorSpec } from './types.js';
import { fanout } from './fanout.js';
import { metricBaseline } from './metric_baseline.js';
import { newPeer } from './new_peer.js';

export const DETECTORS: readonly DetectorSpec<any>[] = [metricBaseline, newPeer, fanout];

export function detectorSpec(name: string): DetectorSpec<any> | undefined {
  return DETECTORS.find((d) => d.name === name);
}
