/**
 * level_shift's per-device state: the layout of a metric's flat array, new metrics, the state
 * bound, and revival from a checkpoint. The keys and array layouts are what checkpoints hold:
 * change them only with a migration in reviveState.
 */
import type { IncidentBook } from '../incident.js';
import { REGIME_FULL, regimeNew, regimeRevive } from '../lib/regimes.js';
import { packedDoubles } from '../flat.js';

/**
 * One metric's state. `f` is flat (a packed array of doubles: updating it allocates nothing, and
 * V8 keeps the numbers unboxed), laid out by the F_* constants below: the scalars, the two robust
 * running statistics (the level of the raw metric `g`, the spread of the residuals `e`), then the
 * hour-of-day profile buckets. NaN stands for "no value yet" (JSON writes null; revive() puts NaN
 * back). `r` is the occupied-level array of lib/regimes.ts. `w` is the warm-up buffer of whichever
 * robust statistic is still in its warm-up (g's first ROBUST_INIT readings; e's only start once g
 * is ready), null otherwise.
 */
export interface ShiftMetric {
  f: number[];
  r: number[];
  w: number[] | null;
}

// ── layout of ShiftMetric.f ──
/** First reading's time. */
export const F_T0 = 0;
/** Robust level of the raw metric (before the profile exists): readings, centre, spread. */
export const F_GN = 1;
export const F_GC = 2;
const F_GS = 3;
/** Robust centre and spread of the residuals: readings, centre, spread. */
export const F_EN = 4;
export const F_EC = 5;
export const F_ES = 6;
/** CUSUM up/down, samples since each started, the recent mean z of each, start of each excursion. */
export const F_SP = 7;
export const F_SN = 8;
export const F_NP = 9;
export const F_NN = 10;
export const F_ZP = 11;
export const F_ZN = 12;
export const F_TP = 13;
export const F_TN = 14;
/** When the residual spread started learning (NaN: not yet; it must see a full cycle before it is trusted). */
export const F_TE = 15;
/** Smoothed residual (σ, ~10 readings) and its usual spread: how far the level wanders (0 until learned). */
export const F_ZS = 16;
export const F_VS = 17;
/**
 * The level's day-to-day variability: the current hour's index (NaN: none yet), its sum and
 * count of centred residuals, the spread (σ-like) of past hourly means and how many hours it has
 * learned, and 1 when the current hour raised a finding or was relearning (keeps it out of hv).
 */
export const F_HH = 18;
export const F_HS = 19;
export const F_HN = 20;
export const F_HV = 21;
export const F_HK = 22;
export const F_HF = 23;
/** Previous value (NaN: none), and rises/falls seen (cumulative counters have no level to shift). */
export const F_PV = 24;
export const F_UP = 25;
export const F_DN = 26;
/** Fast relearning (after a reboot, a firmware change, a silence, or a shift absorbed) until this time (NaN: never). */
export const F_RL = 27;
/** When occupied levels were last sampled (NaN: never), and the recent raw level. */
export const F_LT = 28;
export const F_XL = 29;
/** Time of the previous in-order reading and the typical interval between readings (ms; NaN: none yet). */
export const F_PT = 30;
export const F_IV = 31;
/** The last silence: the first reading after it and the end of its grace window (NaN: none). */
export const F_SS = 32;
export const F_SE = 33;
/**
 * The hour-of-day profile, weekday and weekend halves, each a circular run of hours (first hour,
 * number of hours; 0: none yet) whose buckets follow the scalars: weekday buckets first, then
 * weekend ones, [centre, n] per hour. A bucket outside its half's run is (0, 0), exactly as in a
 * full 48 × 2 array, so the array holds only the hours the metric has been read in: a young
 * metric has one or two buckets instead of 96 numbers, and a weekday-only history no weekend half.
 */
export const F_P0 = 34;
export const F_PN0 = 35;
export const F_P1 = 36;
export const F_PN1 = 37;
/** Number of scalars; profile buckets start here. */
export const F_HDR = 38;

export interface LevelShiftState {
  m: Record<string, ShiftMetric>;
  nm: number;
  inc: IncidentBook;
  fw?: string;
  sq?: number;
}

export function initState(): LevelShiftState {
  return { m: {}, nm: 0, inc: {}, fw: undefined, sq: undefined };
}

/**
 * The state bound. Per metric: name and keys, the scalars (NaN as null), the 48-hour profile, one
 * warm-up buffer, the occupied levels, an open incident; plus the device's firmware and seq.
 */
export function stateBound(maxMetrics: number): number {
  return 64 + 100 + maxMetrics * (64 + F_HDR * 18 + 48 * 2 * 14 + 16 * 22 + REGIME_FULL * 22 + 140);
}

/** Packed doubles to build metric arrays in (`slice` of it is an exact-size packed double array). */
export const build: number[] = Array.from({ length: F_HDR + 96 }, () => 0.5);

/** A new metric's f: every scalar at its "nothing yet" value, and a slot for the first reading's bucket `bi`. */
function newFlat(ts: number, x: number, bi: number): number[] {
  const b = build;
  for (let i = 0; i < F_HDR + 2; i++) b[i] = 0;
  b[F_T0] = ts;
  b[F_TE] = NaN;
  b[F_HH] = NaN;
  b[F_PV] = NaN;
  b[F_RL] = NaN;
  b[F_LT] = NaN;
  b[F_XL] = x;
  b[F_PT] = NaN;
  b[F_IV] = NaN;
  b[F_SS] = NaN;
  b[F_SE] = NaN;
  const h = bi >> 1;
  if (h < 24) {
    b[F_P0] = h;
    b[F_PN0] = 1;
  } else {
    b[F_P1] = h - 24;
    b[F_PN1] = 1;
  }
  return b.slice(0, F_HDR + 2);
}

/** regimeNew() as packed doubles from the start (its first write of a double would copy it). */
function newRegimes(): number[] {
  const b = build;
  const r = regimeNew();
  for (let i = 0; i < r.length; i++) b[i] = r[i]!;
  return b.slice(0, r.length);
}

/** A new metric whose first reading, x at ts, falls in profile bucket `bi`. */
export function newMetric(ts: number, x: number, bi: number): ShiftMetric {
  return { f: newFlat(ts, x, bi), r: newRegimes(), w: null };
}

/** Checkpointed state (JSON, NaN written as null) back to the live form: packed double arrays. Undefined for another layout. */
export function reviveState(state: unknown): LevelShiftState | undefined {
  if (state === null || typeof state !== 'object') return undefined;
  const v = state as Record<string, unknown>;
  const ms = v.m as Record<string, unknown> | null;
  if (ms === null || typeof ms !== 'object' || v.inc === null || typeof v.inc !== 'object' || typeof v.nm !== 'number') return undefined;
  const m: Record<string, ShiftMetric> = {};
  for (const k in ms) {
    const x = ms[k] as Partial<Record<'f' | 'r' | 'w', unknown>> | null;
    if (x === null || typeof x !== 'object') return undefined;
    const f = flatFrom(x.f, true);
    const r0 = flatFrom(x.r, false);
    const r = r0 === undefined ? undefined : regimeRevive(r0);
    const w = x.w === null ? null : flatFrom(x.w, false);
    if (f === undefined || r === undefined || w === undefined || f.length < F_HDR || f.length !== F_HDR + 2 * (f[F_PN0]! + f[F_PN1]!)) return undefined;
    m[k] = { f, r, w };
  }
  return { m, nm: v.nm, inc: v.inc as IncidentBook, fw: v.fw as string | undefined, sq: v.sq as number | undefined };
}

/**
 * A checkpointed number array back as exact-size packed doubles (JSON wrote NaN as null: with
 * `nan`, null reads as NaN). Undefined if it is not an array of numbers or longer than any of ours.
 */
function flatFrom(v: unknown, nan: boolean): number[] | undefined {
  return Array.isArray(v) && v.length <= build.length ? packedDoubles(v, nan) : undefined;
}
