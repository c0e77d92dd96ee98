/**
 * Silence of one metric, shared by metric_baseline and level_shift. A gap of more than SILENCE
 * typical intervals (and at least SILENCE_MIN_MS) is a silence: the world moved on while the
 * metric was not reported (a vehicle refuelled while parked, an engine cooled overnight), so the
 * jump across it is not evidence. The readings of the next SILENCE_GRACE typical intervals (at
 * least SILENCE_GRACE_MIN_MS, at most the detector's `relearn`) relearn the level.
 */
const SILENCE = 20;
const SILENCE_MIN_MS = 120_000;
const SILENCE_GRACE = 20;
const SILENCE_GRACE_MIN_MS = 300_000;
/** The interval estimate learns a gap clipped at this multiple of itself, so silences barely move it. */
const SILENCE_CLIP = 4;

/** End of the relearning window if a reading at `ts`, `dt` after the previous one, ends a silence of a metric whose typical interval is `iv`; -1 if the gap is no silence. */
export function silenceGraceEnd(ts: number, dt: number, iv: number, relearn: number): number {
  return dt > SILENCE * iv && dt >= SILENCE_MIN_MS ? ts + Math.min(relearn, Math.max(SILENCE_GRACE_MIN_MS, SILENCE_GRACE * iv)) : -1;
}

/** The next typical-interval estimate: an EWMA (weight `a`) of the gap clipped at SILENCE_CLIP × the estimate. */
export function nextInterval(iv: number, dt: number, a: number): number {
  return Math.round(iv + a * ((dt > SILENCE_CLIP * iv ? SILENCE_CLIP * iv : dt) - iv));
}
