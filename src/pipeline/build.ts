/** Turn a validated pipeline into detector instances, with each entry's knobs applied. */
import type { PipelineConfig } from '../config/types.js';
import { detectorSpec } from '../detectors/registry.js';
import { applySensitivity } from '../detectors/thresholds.js';
import type { DetectorInstance } from '../detectors/types.js';
import { withKnobs } from './knobs.js';

export function buildDetectors(cfg: PipelineConfig): DetectorInstance[] {
  return cfg.detectors.map((d) => {
    const spec = detectorSpec(d.type);
    // The validator rejects unknown detectors; reaching this is a bug, not a user error.
    if (!spec) throw new Error(`unknown detector "${d.type}" in pipeline ${cfg.name}`);
    return withKnobs(spec.create(applySensitivity(spec, d.params, d.sensitivity), d.id), d, cfg.allow);
  });
}
