/**
 * metric_relation's channels: which metrics a device reliably sends (discovery), and how one
 * reading enters as channel values in both spaces (counters as their rate per hour, logarithms
 * above a floor), with the device's usual reporting interval.
 */
import type { TelemetryEvent } from '../../events/types.js';
import { compact } from '../lib/compact.js';
import { doubles } from '../flat.js';
import { V_CR, V_DE, V_DQ, V_DT, V_PT, V_SK, forgetRelations } from './state.js';
import type { MetricRelationState } from './state.js';

/** Readings discovery watches before it decides the channels. */
const DISCOVERY = 32;
/** A metric is a channel when present in at least this share of those readings. */
const PRESENCE = 0.9;
/** After this many readings in a row without every channel, channels are discovered again. */
const MAX_SKIP = 200;

/**
 * Scratch of one reading (overwritten before use; never part of the state): the channel values
 * and their lagged companions per space, each judged channel's standardised residual and its
 * spread, and what reading the channels found.
 */
export interface Reading {
  y: Float64Array[];
  z: Float64Array;
  sc: Float64Array;
  /** Every counter's increment is trustworthy (a normal interval, no reset, not the first). */
  counterOk: boolean;
  /** A channel reached 0 before the first fit: its log space starts over. */
  logRestart: boolean;
  /** Residuals (residual.ts): a channel off by more than LEARN_Z, and the most off warm channel (-1: none). */
  off: boolean;
  worst: number;
}

/** Scratch for up to `d` channels. */
export function newReading(d: number): Reading {
  return { y: [new Float64Array(2 * d), new Float64Array(2 * d)], z: new Float64Array(d), sc: new Float64Array(d), counterOk: true, logRestart: false, off: false, worst: -1 };
}

/** Which metrics the device reliably sends, which are counters, which are always positive. */
export function discover(s: MetricRelationState, e: TelemetryEvent, filter: ((m: string) => boolean) | null, maxMetrics: number): void {
  // Names in a list (a few, scanned), their counts in one flat array: no object per metric.
  const first = s.dn === undefined;
  let dn = (s.dn ??= []);
  let dc = (s.dv ??= []);
  const sv = s.v;
  for (const name in e.metrics) {
    if (filter !== null && !filter(name)) continue;
    const x = e.metrics[name];
    if (typeof x !== 'number' || !Number.isFinite(x)) continue;
    let r = dn.indexOf(name);
    if (r < 0) {
      if (dn.length >= 4 * maxMetrics) continue;
      r = dn.length;
      dn.push(name);
      dc.push(0, x, 0, 0, x);
    }
    r *= 5;
    dc[r] = dc[r]! + 1;
    if (x < dc[r + 1]!) dc[r + 1] = x;
    if (x > dc[r + 4]!) dc[r + 2] = dc[r + 2]! + 1;
    else if (x < dc[r + 4]!) dc[r + 3] = dc[r + 3]! + 1;
    dc[r + 4] = x;
  }
  // Most devices send the same metrics every time: after the first reading, copies without
  // the spare capacity that arrays grown by push carry.
  if (first) {
    s.dn = dn = dn.slice();
    s.dv = dc = dc.slice();
  }
  const de = (sv[V_DE] = sv[V_DE]! + 1);
  if (de < DISCOVERY) return;
  const at = (k: string): number => 5 * dn.indexOf(k);
  const names = dn
    .filter((k) => dc[at(k)]! >= PRESENCE * de)
    .sort((a, b) => dc[at(b)]! - dc[at(a)]! || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, maxMetrics)
    .sort();
  s.dn = undefined;
  s.dv = undefined;
  if (names.length < 2) {
    // Nothing to relate: look again later (a device whose metrics arrive in separate events).
    sv[V_DE] = -10 * DISCOVERY;
    return;
  }
  const d = names.length;
  s.ch = names;
  s.ct = doubles(d, 0);
  for (let i = 0; i < d; i++) {
    const r = at(names[i]!);
    s.ct[i] = dc[r + 3] === 0 && dc[r + 2]! >= 0.5 * (dc[r]! - 1) ? 1 : 0;
  }
  // Log space for channels that stayed positive; the floor keeps a later 0 or negative reading
  // finite (and far off), rather than undefined.
  s.lf = doubles(d, 0);
  for (let i = 0; i < d; i++) {
    const r = at(names[i]!);
    s.lf[i] = s.ct[i] === 1 ? 0 : dc[r + 1]! > 0 ? dc[r + 1]! / 4 : 0;
  }
  s.pv = doubles(d, 0);
  sv[V_SK] = 0;
  sv[V_PT] = NaN;
  sv[V_DT] = NaN;
  forgetRelations(s);
}

/**
 * The reading's channel values into rd.y (raw, and log space where a channel has a floor); false
 * when a channel is missing (the fit is over complete readings), after counting the skip: a
 * device that stopped sending a channel has its channels discovered again.
 */
export function readChannels(s: MetricRelationState, e: TelemetryEvent, rd: Reading, gap: number, hasPrev: boolean): boolean {
  const ch = s.ch!;
  const d = ch.length;
  const ct = s.ct!;
  const lf = s.lf!;
  const pv = s.pv!;
  const y0 = rd.y[0]!;
  const y1 = rd.y[1]!;
  const sv = s.v;
  let ok = true;
  let counterOk = true;
  let restart = false;
  let reset = false;
  for (let i = 0; i < d; i++) {
    const x = e.metrics[ch[i]!];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      ok = false;
      break;
    }
    let v = x;
    if (ct[i] === 1) {
      // A counter enters as its rate per hour across one normal interval: across a gap it is
      // the mean of the readings missed, and a decrease is a reset (or a second source
      // interleaving its own values), after which the next increment is not trusted either.
      const last = pv[i]!;
      pv[i] = x;
      if (x < last) reset = true;
      const dt0 = sv[V_DT]!;
      if (!(gap > 0) || gap > 1.5 * (dt0 === dt0 ? dt0 : gap) || x < last || !hasPrev || sv[V_CR] === 1) counterOk = false;
      v = ((x - last) * 3_600_000) / (gap > 0 ? gap : 1);
    }
    y0[i] = v;
    let fl = lf[i]!;
    if (fl > 0 && s.f === undefined) {
      // Until the first fit, a channel that reaches 0 has no log space; afterwards such a
      // reading is clamped to the floor (far off), so a falsified reading cannot reset the fit.
      if (!(v > 0)) {
        lf[i] = fl = 0;
        restart = true;
      } else if (v < 4 * fl) lf[i] = fl = compact(v / 4);
    }
    y1[i] = fl > 0 ? Math.log(v > fl ? v : fl) : v;
  }
  if (!ok) {
    if ((sv[V_SK] = sv[V_SK]! + 1) >= MAX_SKIP) {
      // The device changed what it sends: start over.
      s.ch = undefined;
      sv[V_DE] = 0;
    }
    return false;
  }
  sv[V_SK] = 0;
  sv[V_CR] = reset ? 1 : 0;
  rd.counterOk = counterOk;
  rd.logRestart = restart;
  return true;
}

/**
 * The usual interval learns from ordinary gaps only (not from missed readings, nor from a burst
 * of interleaved duplicates); a cadence that changes for good is adopted after 16 readings in a
 * row that disagree with it. Out-of-order readings leave it alone.
 */
export function learnCadence(sv: number[], ts: number): void {
  const prevTs = sv[V_PT]!;
  const hasPrev = prevTs === prevTs;
  if (hasPrev && !(ts > prevTs)) return;
  if (hasPrev) {
    const g = ts - prevTs;
    const dt = sv[V_DT]!;
    if (dt !== dt) sv[V_DT] = g;
    else if (g >= 0.5 * dt && g <= 2 * dt) {
      sv[V_DT] = compact(dt + 0.05 * (g - dt));
      sv[V_DQ] = NaN;
    } else {
      const dq = sv[V_DQ]!;
      if ((sv[V_DQ] = (dq === dq ? dq : 0) + 1) >= 16) {
        sv[V_DT] = g;
        sv[V_DQ] = NaN;
      }
    }
  }
  sv[V_PT] = ts;
}
