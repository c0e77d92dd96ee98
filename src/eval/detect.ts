/**
 * Detection as the service runs it, in one process: the pipeline's engine over events in the
 * order given, and its fleet view judging the findings through the same sequencer the fleet
 * stage runs (fleet/sequencer.ts), as one source whose watermark is the engine's. The backtest
 * and the tests drive this; it keeps the final version of each finding.
 */
import type { PipelineConfig } from '../config/types.js';
import type { Finding } from '../detectors/types.js';
import type { DecodeError } from '../events/decode.js';
import type { M2MEvent } from '../events/types.js';
import { fleetFor } from '../fleet/options.js';
import { buildDetectors, engineOptions } from '../pipeline/build.js';
import { createEngine, type EventOutcome } from '../pipeline/engine.js';
import { createSequencer, type FleetItem } from '../fleet/sequencer.js';

export interface OfflineDetection {
  /** Score one event: 'duplicate' and 'future' (a dead letter, see futureError) were dropped. */
  process(ev: M2MEvent): EventOutcome;
  /** The dead-letter reason of an event process() rejected as 'future'. */
  futureError(ev: M2MEvent): DecodeError;
  /** Stream time so far (several devices' newest time, not one device's). */
  streamTime(): number;
  /** Advance time to `until` (when given), judge what the fleet view still holds, and return the final findings by first_ts. */
  finish(until?: number): Finding[];
}

export function createOfflineDetection(cfg: PipelineConfig): OfflineDetection {
  const detectors = buildDetectors(cfg);
  const engine = createEngine(engineOptions(cfg, detectors));
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
    process(ev) {
      keep(engine.process(ev));
      return engine.lastOutcome();
    },
    futureError: (ev) => engine.futureError(ev),
    streamTime: () => engine.clock().max_ts,
    finish(until) {
      if (until !== undefined) keep(engine.advanceTo(until));
      seq?.end();
      return [...findings.values()].sort((a, b) => a.first_ts - b.first_ts || (a.finding_id < b.finding_id ? -1 : 1));
    },
  };
}

const SOURCE = 'offline';
