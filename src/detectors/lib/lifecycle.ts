/**
 * The lifecycle the telemetry detectors share (metric_baseline, level_shift, and metric_relation
 * for its relearning): when what was learned of a device's metrics stops holding, relearn quickly
 * for a while and say nothing more than low meanwhile; and a level the series keeps returning to
 * is an operating mode, not an anomaly.
 *
 * What ends what was learned:
 * - a restart (restarted): a reboot (seq falls back to near zero from well above) or a new
 *   firmware legitimately changes how a device reads, and fleet rollouts change levels everywhere
 *   at once;
 * - a silence of one metric (silenceGraceEnd): the world moved on while it was not reported;
 * - a change that outlasted its report (each detector's own: a shift absorbed, a relation that
 *   changed for good).
 * While relearning, learning rates are floored at RELEARN_ALPHA (relearnFloor, learnRate).
 *
 * Where each detector keeps these differs with its state layout, which checkpoints fix, so only
 * the rules live here: metric_baseline keeps the restart time device-wide and a silence window
 * per metric, level_shift one relearn-until time per metric, metric_relation one per device.
 */
import type { TelemetryEvent } from '../../events/types.js';
import { regimeKnown } from './regimes.js';

/** Learning-rate floor while relearning (after a restart, a silence, a change taken as the new normal). */
export const RELEARN_ALPHA = 0.05;

/** `a`, floored at RELEARN_ALPHA while relearning. */
export function relearnFloor(a: number, relearning: boolean): number {
  return relearning && a < RELEARN_ALPHA ? RELEARN_ALPHA : a;
}

/**
 * The weight of the next reading in a running estimate that has learned `n` readings: the plain
 * mean's 1/(n + 1) until it reaches the estimate's memory `alpha0` (1 / window), floored while
 * relearning.
 */
export function learnRate(n: number, alpha0: number, relearning: boolean): number {
  return relearnFloor(Math.max(1 / (n + 1), alpha0), relearning);
}

/** A seq that falls back to at most this (from well above) is a restart, not reordering. */
const SEQ_RESTART = 5;

/** The firmware and seq a detector last saw of a device (absent, or NaN for seq: none yet). */
export interface DeviceMarks {
  fw?: string | undefined;
  sq?: number | undefined;
}

/** Note the event's firmware and seq in `dev`; true when they show a restart (a reboot or a firmware change). */
export function restarted(dev: DeviceMarks, e: TelemetryEvent): boolean {
  let restart = false;
  if (e.firmware !== undefined) {
    if (dev.fw !== undefined && dev.fw !== e.firmware) restart = true;
    dev.fw = e.firmware;
  }
  if (e.seq !== undefined) {
    const sq = dev.sq;
    // NaN (no seq yet) compares false.
    if (sq !== undefined && e.seq < sq && e.seq <= SEQ_RESTART && sq > 10 * SEQ_RESTART) restart = true;
    dev.sq = e.seq;
  }
  return restart;
}

/**
 * Silence of one metric. A gap of more than SILENCE typical intervals (and at least
 * SILENCE_MIN_MS) is a silence: the world moved on while the metric was not reported (a vehicle
 * refuelled while parked, an engine cooled overnight), so the jump across it is not evidence.
 * The readings of the next SILENCE_GRACE typical intervals (at least SILENCE_GRACE_MIN_MS, at
 * most the detector's `relearn`) relearn the level.
 */
const SILENCE = 20;
const SILENCE_MIN_MS = 120_000;
const SILENCE_GRACE = 20;
const SILENCE_GRACE_MIN_MS = 300_000;
/** The interval estimate learns a gap clipped at this multiple of itself, so silences barely move it. */
const SILENCE_CLIP = 4;

/**
 * End of the relearning window if a reading at `ts`, `dt` after the previous one, ends a silence
 * of a metric whose typical interval is `iv`; -1 if the gap is no silence (NaN `iv`, no interval
 * known yet, is never one).
 */
export function silenceGraceEnd(ts: number, dt: number, iv: number, relearn: number): number {
  return dt > SILENCE * iv && dt >= SILENCE_MIN_MS ? ts + Math.min(relearn, Math.max(SILENCE_GRACE_MIN_MS, SILENCE_GRACE * iv)) : -1;
}

/**
 * The typical interval after a gap of `dt`: the gap itself while none is known (NaN `iv`), then an
 * EWMA at the metric's learning rate (`n` readings, memory `alpha0`) of the gap clipped at
 * SILENCE_CLIP × the estimate.
 */
export function intervalAfter(iv: number, dt: number, n: number, alpha0: number): number {
  if (iv !== iv) return dt;
  const a = Math.max(1 / (n + 1), alpha0);
  return Math.round(iv + a * ((dt > SILENCE_CLIP * iv ? SILENCE_CLIP * iv : dt) - iv));
}

/** A level counts as an operating mode once the series has dwelt there this long and this share of its life. */
const MODE_MIN_DWELL = 3 * 3_600_000;
const MODE_MIN_SHARE = 0.05;

/**
 * Whether x lies in an operating mode of the series (a level of `rg`, lib/regimes.ts, it has
 * frequently occupied for real time: stopped, closed, parked, charging): a return to it is a
 * regime change, not an anomaly, whatever the hour.
 */
export function inOperatingMode(rg: readonly number[], x: number): boolean {
  return regimeKnown(rg, x, MODE_MIN_DWELL, MODE_MIN_SHARE);
}
