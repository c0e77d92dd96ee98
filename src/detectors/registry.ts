/**
 * Every detector component, by name. Adding a detector is adding its file and one line here;
 * validation, the JSON Schema, docs/detectors.md and `--help` all read this list.
 */
import type { DetectorSpec } from './types.js';
import { metricBaseline } from './metric_baseline.js';

export const DETECTORS: readonly DetectorSpec<any>[] = [metricBaseline];

export function detectorSpec(name: string): DetectorSpec<any> | undefined {
  return DETECTORS.find((d) => d.name === name);
}
