/**
 * A device's weekly presence: in which hours of the week (UTC) it is usually awake, and for how
 * much of them.
 *
 * Many M2M devices are quiet on a schedule (a telematics unit sleeps with the ignition off, a till
 * is powered down when the shop closes, a line stops between shifts and at weekends), so a silence
 * is only evidence where the device is usually active. Each of the 168 hour-of-week bins holds the
 * share of that hour the device usually covers with its reports (first to last report, plus one
 * interval), averaged over weeks with WEEK_ALPHA. Silence is then measured as *awake time*: the
 * time the device would have been reporting. An hour weighs its coverage relative to the device's
 * mean coverage (capped at 1), so an always-on device counts every hour, a nightly sleeper none
 * of its night and only the part of its wake-up hour it is usually up, and a sensor that wakes
 * for a minute every four hours the hours it wakes in.
 *
 * A bin not observed yet (the first week) borrows the same hour of the other observed days of its
 * type (weekdays, weekend); an hour never observed on any such day is *unknown*: the caller decides
 * how much it may weigh (it must not alone make a silence alert-worthy, or the first night of
 * every sleeper would be one).
 *
 * The bins are one string of 168 characters, a letter per bin ('a' = never covered … 'u' = fully,
 * '.' = not observed): compact in memory and in checkpoints (one byte a bin), and it changes once
 * an hour, not per event.
 */

const HOUR = 3_600_000;
const WEEK_HOURS = 168;
/** Levels per bin: activity shares are kept in steps of 1/LEVELS. */
const LEVELS = 20;
const CODE_A = 97; // 'a'
const UNSEEN = '.';
/** Weight of the latest week in a bin's share: about three weeks of memory. */
const WEEK_ALPHA = 0.35;
/** A gap longer than this many weeks updates every bin at most this often (bounded work). */
const MAX_WEEKS_CLOSED = 2;
/** Floor of a device's mean coverage: a device awake a few minutes a day still weighs at most 1 per hour. */
const MIN_MEAN = 0.01;

export interface Presence {
  /** 168 bins, see the module comment. */
  w: string;
  /** Absolute hour index (ts / HOUR) of the latest hour the device was active in; NaN: none. */
  h: number;
  /** First and last event time within that hour. */
  f: number;
  l: number;
}

export function presenceNew(): Presence {
  return { w: UNSEEN.repeat(WEEK_HOURS), h: NaN, f: NaN, l: NaN };
}

/** A presence read back from a checkpoint (NaN is null in JSON), or undefined if it is not one. */
export function presenceRevive(x: unknown): Presence | undefined {
  const o = x as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || typeof o.w !== 'string' || o.w.length !== WEEK_HOURS) return undefined;
  const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
  return { w: o.w, h: num(o.h), f: num(o.f), l: num(o.l) };
}

/** Hour-of-week bin (0 = Monday 00:00 UTC) of an absolute hour index. */
function binOf(hourIndex: number): number {
  // 1970-01-01 was a Thursday: hour 0 is Thursday 00:00, 72 hours after Monday 00:00.
  const b = (hourIndex + 72) % WEEK_HOURS;
  return b < 0 ? b + WEEK_HOURS : b;
}

function level(c: number): number {
  return c - CODE_A;
}

/** 0 for a weekday bin, 24 for a weekend one (Saturday and Sunday, UTC). */
function dayType(bin: number): number {
  return bin >= 120 ? 24 : 0;
}

/** Share of activity of a bin (0..1), NaN when not observed. */
function shareAt(w: string, bin: number): number {
  const c = w.charCodeAt(bin);
  return c === 46 /* '.' */ ? NaN : level(c) / LEVELS;
}

/**
 * The device was active at `ts`; it usually reports every `intervalMs`. When it moves to a later
 * hour, the hours since its last active one are closed: that one with the share of it the device
 * covered (first to last report, plus one interval), those between as empty. Events older than the
 * latest active hour are late and change nothing (the hour they fall in was already judged).
 */
export function presenceObserve(p: Presence, ts: number, intervalMs: number): void {
  const hour = Math.floor(ts / HOUR);
  const last = p.h;
  if (last === last && hour < last) return;
  if (hour === last) {
    if (ts > p.l) p.l = ts;
    return;
  }
  if (last === last) {
    const chars = p.w.split('');
    const iv = intervalMs > 0 && intervalMs < HOUR ? intervalMs : HOUR;
    close(chars, last, Math.min(1, (p.l - p.f + iv) / HOUR));
    const from = Math.max(last + 1, hour - MAX_WEEKS_CLOSED * WEEK_HOURS);
    for (let h = from; h < hour; h++) close(chars, h, 0);
    p.w = chars.join('');
  }
  p.h = hour;
  p.f = ts;
  p.l = ts;
}

function close(chars: string[], hourIndex: number, covered: number): void {
  const bin = binOf(hourIndex);
  const c = chars[bin]!;
  const prev = c === UNSEEN ? NaN : level(c.charCodeAt(0)) / LEVELS;
  const next = prev === prev ? prev + WEEK_ALPHA * (covered - prev) : covered;
  chars[bin] = String.fromCharCode(CODE_A + Math.round(next * LEVELS));
}

/** What a presence profile expects of one hour: a weight 0..1, or unknown. */
export interface HourWeights {
  /** Weight per bin; NaN where nothing is known of that hour on any day. */
  readonly w: Float64Array;
  /** True when no observed hour was quiet: the device has looked always-on so far. */
  readonly alwaysOn: boolean;
  /** Bins observed (not borrowed). */
  readonly observed: number;
}

/**
 * Weights of every hour of the week: the hour's usual coverage relative to the device's mean
 * coverage, capped at 1. An always-on device weighs every hour fully; a nightly sleeper its day,
 * with the hours it usually wakes or goes to bed in weighing the part it is usually up; a sensor
 * that wakes for a minute every four hours weighs the hours it wakes in fully (a missed wake-up
 * is a missed hour of its life).
 */
export function hourWeights(p: Presence): HourWeights {
  // A pure function of the profile string, which changes at most hourly, and devices that share
  // a rhythm share the string: silence checks and ticks ask again and again, so answers are kept.
  const hit = WEIGHTS.get(p.w);
  if (hit !== undefined) return hit;
  const hw = computeHourWeights(p);
  if (WEIGHTS.size >= WEIGHTS_MAX) WEIGHTS.clear();
  WEIGHTS.set(p.w, hw);
  return hw;
}

/** hourWeights' answers by profile string (shared: callers only read them), bounded. */
const WEIGHTS = new Map<string, HourWeights>();
const WEIGHTS_MAX = 1024;

function computeHourWeights(p: Presence): HourWeights {
  const w = new Float64Array(WEEK_HOURS);
  let n = 0;
  let sum = 0;
  let quiet = false;
  for (let b = 0; b < WEEK_HOURS; b++) {
    const s = shareAt(p.w, b);
    w[b] = s;
    if (s === s) {
      n++;
      sum += s;
      if (s < 0.5) quiet = true;
    }
  }
  const mean = n > 0 ? Math.max(sum / n, MIN_MEAN) : 1;
  // Unobserved bins borrow the same hour of observed days of the same type (weekdays, or the
  // weekend): a weekday rhythm says nothing of Saturdays, so a first weekend stays unknown.
  const byHour = new Float64Array(48);
  const cnt = new Float64Array(48);
  for (let b = 0; b < WEEK_HOURS; b++) {
    const s = w[b]!;
    if (s === s) {
      const k = dayType(b) + (b % 24);
      byHour[k] = byHour[k]! + s;
      cnt[k] = cnt[k]! + 1;
    }
  }
  for (let b = 0; b < WEEK_HOURS; b++) {
    let s = w[b]!;
    const k = dayType(b) + (b % 24);
    if (s !== s) s = cnt[k]! > 0 ? byHour[k]! / cnt[k]! : NaN;
    w[b] = s === s ? Math.min(1, s / mean) : NaN;
  }
  return { w, alwaysOn: !quiet, observed: n };
}

/**
 * Where in its hour the device's usual coverage lies. Coverage says how much of an hour the
 * device is up, not which part: in the hour it usually wakes in (less awake before than after)
 * it is the end of the hour, in the hour it usually goes to bed in the start, elsewhere it is
 * spread evenly. So a silence that ends at the device's usual wake-up time, or starts at its usual
 * bedtime, has missed nothing, while one that runs on past either is counted at once.
 */
function awakeSpan(hw: HourWeights, hour: number): { w: number; a: number; b: number } {
  const w = hw.w[binOf(hour)]!;
  const before = hw.w[binOf(hour - 1)]!;
  const after = hw.w[binOf(hour + 1)]!;
  const start = hour * HOUR;
  if (!(w === w) || w >= 1 || !(before === before) || !(after === after) || before === after) return { w, a: start, b: start + HOUR };
  const len = w * HOUR;
  // Weight 1 within [a, b): the awake part of the hour.
  return before < after ? { w: 1, a: start + HOUR - len, b: start + HOUR } : { w: 1, a: start, b: start + len };
}

/** Awake ms of hour `hour` within [t0, t1) (both inside the hour); NaN when the hour is unknown. */
function awakeIn(hw: HourWeights, hour: number, t0: number, t1: number): number {
  const sp = awakeSpan(hw, hour);
  if (!(sp.w === sp.w)) return NaN;
  const lo = Math.max(t0, sp.a);
  const hi = Math.min(t1, sp.b);
  return hi > lo ? sp.w * (hi - lo) : 0;
}

/** Expected-awake time in (from, to]: known hours, and hours nothing is known of. */
export interface AwakeTime {
  known: number;
  unknown: number;
}

/** Time (ms) in (from, to] weighted by how much the device is expected to be awake. */
export function awakeTime(hw: HourWeights, from: number, to: number): AwakeTime {
  const out: AwakeTime = { known: 0, unknown: 0 };
  if (!(to > from)) return out;
  let t = from;
  // Bounded: a gap of months is judged on its first two weeks of hours and the rest in bulk.
  const bulkFrom = from + MAX_WEEKS_CLOSED * WEEK_HOURS * HOUR;
  while (t < to && t < bulkFrom) {
    const hour = Math.floor(t / HOUR);
    const end = Math.min(to, (hour + 1) * HOUR);
    const aw = awakeIn(hw, hour, t, end);
    if (aw === aw) out.known += aw;
    else out.unknown += end - t;
    t = end;
  }
  if (t < to) {
    // Beyond two weeks every hour has been seen at least twice: the weekly mean applies.
    let mean = 0;
    for (let b = 0; b < WEEK_HOURS; b++) mean += hw.w[b]! === hw.w[b]! ? hw.w[b]! : 0;
    out.known += (mean / WEEK_HOURS) * (to - t);
  }
  return out;
}

/**
 * The earliest time after `from` at which awake time counted from `from` reaches `need` (ms),
 * with unknown hours weighing `unknownWeight`; +Infinity when it does not within two weeks.
 */
export function awakeReachedAt(hw: HourWeights, from: number, need: number, unknownWeight: number): number {
  if (!(need > 0)) return from;
  let acc = 0;
  let t = from;
  const stop = from + MAX_WEEKS_CLOSED * WEEK_HOURS * HOUR;
  while (t < stop) {
    const hour = Math.floor(t / HOUR);
    const end = (hour + 1) * HOUR;
    const sp = awakeSpan(hw, hour);
    // The part of [t, end) that counts, and its weight.
    const known = sp.w === sp.w;
    const wt = known ? sp.w : unknownWeight;
    const lo = known ? Math.max(t, sp.a) : t;
    const hi = known ? Math.min(end, sp.b) : end;
    if (wt > 0 && hi > lo) {
      const got = wt * (hi - lo);
      if (acc + got >= need) return lo + (need - acc) / wt;
      acc += got;
    }
    t = end;
  }
  return Number.POSITIVE_INFINITY;
}
