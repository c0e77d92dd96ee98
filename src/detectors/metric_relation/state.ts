/**
 * metric_relation's per-device state: the layouts of its device scalars and of each channel's fit,
 * new fits, the state bound, and revival from a checkpoint. The keys and array layouts are what
 * checkpoints hold: change them only with a migration in reviveState.
 */
import type { IncidentBook } from '../incident.js';
import { NOT_PACKED, doubles, optionalPacked, packedDoubles } from '../flat.js';

/**
 * One judged (or candidate) channel: its fit and the statistics of its residual, a flat number[]
 * (unboxed doubles, so the updates of every reading allocate nothing); NaN means absent.
 *
 * | index | meaning |
 * | --- | --- |
 * | F_SP | space: 0 raw, 1 log where positive |
 * | F_R2 | share of the channel's variance its fit explains |
 * | F_K, F_C, F_S | residual: samples, robust centre and spread |
 * | F_M, F_V | recent mean z, its usual wander |
 * | F_RUN, F_TR | consecutive readings off in one direction (sign = direction), and since when |
 * | F_DD, F_DX, F_PK, F_ND | the day (event-time index) being watched, its largest recent mean z so far, the usual daily peak (EW over days) and how many days it has seen: the largest sustained disagreement this channel shows on an ordinary day |
 * | F_DL, F_LR | the day's longest run of readings off in one direction (ms) and the usual one (EW over days): how long an ordinary day's disagreement lasts |
 * | F_UL, F_UH | the lowest and highest raw value of the channel among readings that agreed with every fit: the range the relations have been seen to hold over |
 * | F_B … +3·BINS | residual [samples, centre, spread] per operating point: what the neighbours imply, below, around or above the channel's mean (±σ/2). Noise is rarely the same when a line idles and when it runs, and a lag shows in transitions only |
 * | F_W … +2·channels | weights over all channels and their companions (w[j] = 1) |
 */
export type Fit = number[];
export const F_SP = 0;
export const F_R2 = 1;
export const F_K = 2;
export const F_C = 3;
export const F_S = 4;
export const F_M = 5;
export const F_V = 6;
export const F_RUN = 7;
export const F_TR = 8;
export const F_DD = 9;
export const F_DX = 10;
export const F_PK = 11;
export const F_ND = 12;
export const F_DL = 13;
export const F_LR = 14;
export const F_UL = 15;
export const F_UH = 16;
export const F_B = 17;
/** Operating points per channel. */
export const BINS = 3;
export const F_W = F_B + 3 * BINS;

/**
 * Device scalars in MetricRelationState.v, NaN: absent.
 *
 * | index | meaning |
 * | --- | --- |
 * | V_N, V_N1, V_T0 | accepted readings, readings learned in log space since it (re)started, first accepted time |
 * | V_DE | discovery: readings seen |
 * | V_PT, V_DT | time of the previous accepted reading, usual interval |
 * | V_RT | time of the last refit |
 * | V_CR | 1 when a counter went backwards at the previous reading |
 * | V_DQ | readings in a row whose interval disagreed with the usual one |
 * | V_JT | time of the last judged reading (a long pause restarts the runs) |
 * | V_SK | readings skipped in a row because a channel was missing |
 * | V_RL | fast relearning until this time (a relation that changed for good) |
 */
export const V_N = 0;
export const V_N1 = 1;
export const V_T0 = 2;
export const V_DE = 3;
export const V_PT = 4;
export const V_DT = 5;
export const V_RT = 6;
export const V_CR = 7;
export const V_DQ = 8;
export const V_JT = 9;
export const V_SK = 10;
export const V_RL = 11;
const V_LEN = 12;

export interface MetricRelationState {
  /** Device scalars (see V_N …). */
  v: number[];
  /** Discovery: metric names, and per name [count, min, rises, falls, last] at 5·i. */
  dn?: string[];
  dv?: number[];
  /** Channels (fixed after discovery), counter flags and the log floor per channel (0: raw). */
  ch?: string[];
  ct?: number[];
  lf?: number[];
  /** Previous raw value per channel (counters). */
  pv?: number[];
  /** Per space: each channel's lagged companion (EW over ~COMPANION readings). */
  sm?: number[][];
  /** Per space: EW means and packed upper-triangular co-moments of channels and companions. */
  mu?: number[][];
  cv?: number[][];
  /** Marginal σ per channel in each space, as of the last refit. */
  sd?: number[][];
  f?: Fit[];
  inc: IncidentBook;
  /** Key of the open incident, so one incident keeps one finding. */
  ik?: string;
}

/** The two spaces every relation is fitted in: 0 raw values, 1 logarithms where positive. */
export const SPACES = 2;

export function initState(): MetricRelationState {
  // Every field from the start (undefined ones are not written to JSON) and none deleted later:
  // one hidden class for all devices instead of dictionary-mode state objects.
  return { v: newScalars(), dn: undefined, dv: undefined, ch: undefined, ct: undefined, lf: undefined, pv: undefined, sm: undefined, mu: undefined, cv: undefined, sd: undefined, f: undefined, inc: {}, ik: undefined };
}

/**
 * The state bound for up to `d` channels: the discovery book (bounded at 4·d metrics) or the
 * channels (names, flags, means, co-moments, σ, fits with their weights) and an open incident;
 * ~24 bytes per number.
 */
export function stateBound(d: number): number {
  const tri = d * (2 * d + 1);
  const numbers = 3 * d + SPACES * (d + 2 * d + tri + 2 * d) + d * (2 * d + F_W) + V_LEN;
  return 400 + 4 * d * (48 + 5 * 24) + numbers * 24 + d * 64 + 200;
}

/** A new device's scalars; copied by slice(), which keeps packed doubles and the exact length. */
const SCALARS: number[] = (() => {
  const v = doubles(V_LEN, NaN);
  v[V_N] = 0;
  v[V_T0] = 0;
  v[V_DE] = 0;
  v[V_CR] = 0;
  v[V_SK] = 0;
  return v;
})();
function newScalars(): number[] {
  return SCALARS.slice();
}

export function newFit(D: number): Fit {
  const f = doubles(F_W + D, 0);
  f[F_DD] = NaN;
  f[F_DX] = NaN;
  f[F_PK] = NaN;
  f[F_ND] = NaN;
  f[F_DL] = NaN;
  f[F_LR] = NaN;
  f[F_UL] = NaN;
  f[F_UH] = NaN;
  return f;
}

/** Forget what was learned about the relations (the channels stay). */
export function forgetRelations(s: MetricRelationState): void {
  const D = 2 * s.ch!.length;
  const tri = (D * (D + 1)) / 2;
  s.mu = [doubles(D, 0), doubles(D, 0)];
  s.cv = [doubles(tri, 0), doubles(tri, 0)];
  s.v[V_N] = 0;
  s.v[V_N1] = NaN;
  s.sm = undefined;
  s.f = undefined;
  s.sd = undefined;
}

/** Absent fields are undefined in this layout (never written to JSON): a null is not ours. */
type Bad = typeof NOT_PACKED;

function optPacked(a: unknown): number[] | undefined | Bad {
  const p = optionalPacked(a);
  return p === null ? NOT_PACKED : p;
}

function optPackedList(a: unknown): number[][] | undefined | Bad {
  if (a === undefined) return undefined;
  if (!Array.isArray(a)) return NOT_PACKED;
  const out: number[][] = [];
  for (const x of a) {
    const p = packedDoubles(x);
    if (p === undefined) return NOT_PACKED;
    out.push(p);
  }
  return out;
}

function optNames(a: unknown): string[] | undefined | Bad {
  if (a === undefined) return undefined;
  return Array.isArray(a) && a.every((x) => typeof x === 'string') ? (a as string[]) : NOT_PACKED;
}

/** The live state from a checkpoint (JSON): NaN back from null, numeric arrays as packed doubles. */
export function reviveState(raw: unknown): MetricRelationState | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  const v = packedDoubles(o.v);
  if (v === undefined || v.length !== V_LEN) return undefined;
  if (typeof o.inc !== 'object' || o.inc === null || (o.ik !== undefined && typeof o.ik !== 'string')) return undefined;
  const dn = optNames(o.dn);
  const dv = optPacked(o.dv);
  const ch = optNames(o.ch);
  const ct = optPacked(o.ct);
  const lf = optPacked(o.lf);
  const pv = optPacked(o.pv);
  const sm = optPackedList(o.sm);
  const mu = optPackedList(o.mu);
  const cv = optPackedList(o.cv);
  const sd = optPackedList(o.sd);
  const f = optPackedList(o.f);
  if (dn === NOT_PACKED || dv === NOT_PACKED || ch === NOT_PACKED || ct === NOT_PACKED || lf === NOT_PACKED || pv === NOT_PACKED || sm === NOT_PACKED || mu === NOT_PACKED || cv === NOT_PACKED || sd === NOT_PACKED || f === NOT_PACKED) return undefined;
  // Fits checkpointed before the run and range fields existed: those start unknown (the run's
  // usual length is learned by the day's end, the range from the next readings that agree).
  if (f !== undefined && ch !== undefined) {
    for (const fit of f) if (fit.length === F_W - 4 + 2 * ch.length) fit.splice(F_DL, 0, NaN, NaN, NaN, NaN);
  }
  return { v, dn, dv, ch, ct, lf, pv, sm, mu, cv, sd, f, inc: o.inc as IncidentBook, ik: o.ik as string | undefined };
}
