/**
 * Detection as the service runs it, in one process: the pipeline's engine over events in the
 * order given, and its fleet view judging the findings (the engine's watermark is the fleet's
 * clock here, as the fleet stage's watermark is in the service). The backtest and the tests
 * drive this; it keeps the final version of each finding.
 */
import type { PipelineConfig } from '../config/types.js';
import type { Finding } from '../detectors/types.js';
import type { DecodeError } from '../events/decode.js';
import type { M2MEvent } from '../events/types.js';
import { fleetFor } from '../fleet/options.js';
import { buildDetectors, engineOptions } from '../pipeline/build.js';
import { createEngine, type EventOutcome } from '../pipeline/engine.js';

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

/** The fleet view advances in steps of this much event time (its judgements are per hold, not per event). */
const FLEET_STEP = 60_000;

export function createOfflineDetection(cfg: PipelineConfig): OfflineDetection {
  const detectors = buildDetectors(cfg);
  const engine = createEngine(engineOptions(cfg, detectors));
  const fleet = fleetFor(cfg, detectors);
  const findings = new Map<string, Finding>();
  const store = (fs: readonly Finding[]): void => {
    for (const f of fs) {
      const prev = findings.get(f.finding_id);
      if (!prev || f.version >= prev.version) findings.set(f.finding_id, f);
    }
  };
  let fleetClock = Number.NEGATIVE_INFINITY;
  const keep = (fs: readonly Finding[]): void => {
    if (fleet === undefined) return store(fs);
    const facts = engine.takeFacts();
    if (facts.length) fleet.facts(facts);
    for (const f of fs) store(fleet.offer(f));
    const wm = engine.watermark();
    if (wm - fleetClock >= FLEET_STEP) {
      fleetClock = wm;
      store(fleet.advanceTo(wm));
    }
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
      if (fleet !== undefined) store(fleet.flush());
      return [...findings.values()].sort((a, b) => a.first_ts - b.first_ts || (a.finding_id < b.finding_id ? -1 : 1));
    },
  };
}
