/**
 * Detection as the service runs it, in one process: the pipeline's engine over events in the
 * order given, and its fleet view judging the findings through the same sequencer the fleet
 * stage runs (fleet/sequencer.ts), as one source whose watermark is the engine's. The backtest
 * and the tests drive this; it keeps the final version of each finding.
 */
import type { PipelineConfig } from '../config/types.js';
import type { Finding } from '../detectors/types.js';
import type { M2MEvent } from '../events/types.js';
import { fleetFor } from '../fleet/options.js';
import { buildDetectors } from '../pipeline/build.js';
import { createEngine } from '../pipeline/engine.js';
import { createSequencer, type FleetItem } from '../fleet/sequencer.js';

export interface OfflineDetection {
  process(ev: M2MEvent): void;
  /** Advance time to `until` (when given), judge what the fleet view still holds, and return the final findings by first_ts. */
  finish(until?: number): Finding[];
}

export function createOfflineDetection(cfg: PipelineConfig): OfflineDetection {
  const detectors = buildDetectors(cfg);
  const engine = createEngine({
    pipeline: cfg.name,
    detectors,
    allowedLatenessMs: cfg.allowed_lateness_ms,
    idleEvictionMs: cfg.entities.idle_eviction_ms,
  });
  const fleet = fleetFor(cfg, detectors);
  const roles = new Map(detectors.map((d) => [d.id, d.spec.fleet]));
  const findings = new Map<string, Finding>();
  const store = (f: Finding): void => {
    const prev = findings.get(f.finding_id);
    if (!prev || f.version >= prev.version) findings.set(f.finding_id, f);
  };
  // One source: the items of each event, tagged with the watermark after it, as the device
  // stage forwards them (facts first, then the findings of detectors with a fleet role).
  const seq = fleet === undefined ? undefined : createSequencer(fleet, { output: (f) => store(f) });
  const keep = (fs: readonly Finding[]): void => {
    if (seq === undefined) {
      engine.takeFacts(); // nobody reads them: dropped, not kept growing
      for (const f of fs) store(f);
      return;
    }
    const wm = engine.watermark();
    const items: FleetItem[] = [];
    for (const fact of engine.takeFacts()) items.push({ t: wm, fact });
    for (const f of fs) {
      if (roles.get(f.detector) === undefined) store(f);
      else items.push({ t: wm, finding: f });
    }
    seq.frame(SOURCE, wm, false, items);
  };
  return {
    process: (ev) => keep(engine.process(ev)),
    finish(until) {
      if (until !== undefined) keep(engine.advanceTo(until));
      seq?.end();
      return [...findings.values()].sort((a, b) => a.first_ts - b.first_ts || (a.finding_id < b.finding_id ? -1 : 1));
    },
  };
}

const SOURCE = 'offline';
