/**
 * metric_baseline's per-device state: its layout, new metrics, the state bound, and revival from a
 * checkpoint. The keys and array layouts are what checkpoints hold: change them only with a
 * migration in reviveState.
 */
import type { IncidentBook } from '../incident.js';
import { REGIME_FULL, regimeRevive } from '../lib/regimes.js';
import { NOT_PACKED, doubles, optionalPacked, packedDoubles } from '../flat.js';

/** Samples summarised by median/MAD before the EWMA takes over. */
export const INIT_N = 20;

/**
 * One metric's scalars, a flat number[] (V8 keeps it as unboxed doubles, so the updates of every
 * reading allocate nothing); NaN means absent. During warm-up the buffered samples follow the
 * scalars at [NS, NS + INIT_N), and WN counts them; after warm-up the array is NS long.
 *
 * | index | field | meaning |
 * | --- | --- | --- |
 * | N  | n  | samples learned (in the space being scored: value, or rate for counters) |
 * | T0 | t0 | first sample time |
 * | C, S | c, s | centre and σ of the global baseline |
 * | Q  | q  | smallest non-zero step seen (sensor resolution); 0 = none yet |
 * | P, PT | p, pt | previous raw value (NaN: none) and its time (counter rates, resolution) |
 * | K  | k  | 1: counter mode, the baseline is on the rate per second |
 * | UP, DN | up, dn | rising / falling steps during warm-up (counter detection) |
 * | LO, HI | lo, hi | envelope of ordinary values seen so far |
 * | R, RP | r, rp | current run of tail readings: signed length (+ above, − below) and its weakest p |
 * | IV | iv | typical interval between readings (ms; see intervalAfter in lib/lifecycle.ts) |
 * | SL | sl | until when the metric relearns after a silence (see silenceGraceEnd) |
 * | WN | wn | samples in the warm-up buffer; NaN once warm |
 */
export const N = 0;
export const T0 = 1;
export const C = 2;
export const S = 3;
export const Q = 4;
export const P = 5;
export const PT = 6;
export const K = 7;
export const UP = 8;
export const DN = 9;
export const LO = 10;
export const HI = 11;
export const R = 12;
export const RP = 13;
export const IV = 14;
export const SL = 15;
export const WN = 16;
/** Scalars per metric; the warm-up buffer follows them while it exists. */
export const NS = 17;

/** One metric: its scalars and its arrays (null until first used; arrays are never swapped for other types). */
export interface MetricState {
  v: number[];
  /** Seasonal buckets, flat [centre, σ, n] × buckets. */
  sb: number[] | null;
  /** The series' own tail of the scored z (lib/tail.ts), and of the global z alone. */
  tl: number[] | null;
  tg: number[] | null;
  /** Levels occupied so far, with their dwell (lib/regimes.ts). */
  rg: number[] | null;
}

export interface MetricBaselineState {
  m: Record<string, MetricState>;
  nm: number;
  inc: IncidentBook;
  /** Last firmware seen. */
  fw: string | undefined;
  /**
   * Last seq, and when the device last restarted or changed firmware; NaN: not yet. Always
   * numbers, so V8 keeps them as double fields that are updated in place.
   */
  sq: number;
  rb: number;
}

export function initState(): MetricBaselineState {
  return { m: {}, nm: 0, inc: {}, fw: undefined, sq: NaN, rb: NaN };
}

/**
 * The state bound with `nb` seasonal buckets. Per metric: ~64-char name and the object framing,
 * the scalars and the warm-up buffer (≤ 22 chars a number), buckets of 3 numbers ≤ 14 chars each,
 * two tails (7 numbers each), the occupied levels, and an open incident; plus the device's
 * firmware/seq/restart fields.
 */
export function stateBound(maxMetrics: number, nb: number): number {
  const perMetric = 64 + 40 + (NS + INIT_N) * 22 + nb * 3 * 14 + 14 * 22 + REGIME_FULL * 22 + 140;
  return 64 + 120 + maxMetrics * perMetric;
}

/** Templates copied by slice(), which keeps their packed-double elements and exact length. */
const ZEROS: number[] = doubles(48 * 3, 0);
const WARM_TAIL: number[] = doubles(INIT_N, 0);

export function zeros(n: number): number[] {
  return n <= ZEROS.length ? ZEROS.slice(0, n) : doubles(n, 0);
}

/** A new metric, first read at `ts`: its scalars and an empty warm-up buffer. */
export function newMetric(ts: number): MetricState {
  const m = zeros(NS + INIT_N);
  m[T0] = ts;
  m[P] = NaN;
  m[PT] = ts;
  m[LO] = NaN;
  m[HI] = NaN;
  m[R] = NaN;
  m[RP] = NaN;
  m[IV] = NaN;
  m[SL] = NaN;
  return { v: m, sb: null, tl: null, tg: null, rg: null };
}

/** The scalars with a warm-up buffer after them again. */
export function withWarmBuffer(m: number[]): number[] {
  return m.length >= NS + INIT_N ? m : m.slice(0, NS).concat(WARM_TAIL);
}

/** A checkpointed state (JSON: NaN written as null) in the live form, or undefined when it is not this layout. */
export function reviveState(raw: unknown, nb: number): MetricBaselineState | undefined {
  const o = raw as Partial<Record<keyof MetricBaselineState, unknown>> | null;
  if (o === null || typeof o !== 'object' || typeof o.m !== 'object' || o.m === null || typeof o.nm !== 'number') return undefined;
  if (typeof o.inc !== 'object' || o.inc === null || (o.fw !== undefined && typeof o.fw !== 'string')) return undefined;
  const sq = o.sq === null ? NaN : o.sq;
  const rb = o.rb === null ? NaN : o.rb;
  if (typeof sq !== 'number' || typeof rb !== 'number') return undefined;
  const m: Record<string, MetricState> = {};
  const rm = o.m as Record<string, unknown>;
  for (const name in rm) {
    const ms = reviveMetric(rm[name], nb);
    if (ms === undefined) return undefined;
    m[name] = ms;
  }
  return { m, nm: o.nm, inc: o.inc as IncidentBook, fw: o.fw as string | undefined, sq, rb };
}

function reviveMetric(raw: unknown, nb: number): MetricState | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  const v = packedDoubles(o.v);
  if (v === undefined) return undefined;
  const wn = v[WN]!;
  if (v.length !== (wn === wn ? NS + INIT_N : NS)) return undefined;
  // Absent arrays are null in this layout.
  const sb = optionalPacked(o.sb, nb * 3);
  const tl = optionalPacked(o.tl, 7);
  const tg = optionalPacked(o.tg, 7);
  const rg0 = optionalPacked(o.rg);
  const rg = rg0 === null ? null : rg0 === undefined || rg0 === NOT_PACKED ? undefined : regimeRevive(rg0);
  if (sb === undefined || sb === NOT_PACKED || tl === undefined || tl === NOT_PACKED || tg === undefined || tg === NOT_PACKED || rg === undefined) return undefined;
  return { v, sb, tl, tg, rg };
}
