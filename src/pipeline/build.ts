/** Turn a validated pipeline into detector instances (each entry's knobs applied), and into the engine's options. */
import type { PipelineConfig } from '../config/types.js';
import { detectorSpec } from '../detectors/registry.js';
import { applySensitivity } from '../detectors/thresholds.js';
import type { DetectorInstance } from '../detectors/types.js';
import { withKnobs } from './knobs.js';
import type { EngineOptions } from './engine.js';

/** The engine options a pipeline asks for: every place that runs an engine (service, backtest, bench) uses these. */
export function engineOptions(cfg: PipelineConfig, detectors: DetectorInstance[]): EngineOptions {
  const o: EngineOptions = { pipeline: cfg.name, detectors, allowedLatenessMs: cfg.allowed_lateness_ms, idleEvictionMs: cfg.entities.idle_eviction_ms };
  if (cfg.max_future_skew_ms !== undefined) o.maxFutureSkewMs = cfg.max_future_skew_ms;
  return o;
}

export function buildDetectors(cfg: PipelineConfig): DetectorInstance[] {
  return cfg.detectors.map((d) => {
    const spec = detectorSpec(d.type);
    // The validator rejects unknown detectors; reaching this is a bug, not a user error.
    if (!spec) throw new Error(`unknown detector "${d.type}" in pipeline ${cfg.name}`);
    return withKnobs(spec.create(applySensitivity(spec, d.params, d.sensitivity), d.id), d, cfg.allow);
  });
}
