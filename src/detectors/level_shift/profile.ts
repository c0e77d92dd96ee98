/**
 * level_shift's hour-of-day profile: weekday and weekend hours, [centre, n] per hour, kept in the
 * slots after a metric's scalars (state.ts) for the hours it has been read in only. The value it
 * expects at a time, interpolated between neighbouring hours; learning a reading into its hour;
 * the range of levels it holds at any hour.
 */
import { compact } from '../lib/compact.js';
import { relearnFloor } from '../lib/lifecycle.js';
import { HOUR_BUCKET_MIN_N, nearHour, weekPartHour } from '../lib/time.js';
import { F_ES, F_HDR, F_P0, F_P1, F_PN0, F_PN1, build } from './state.js';
import type { ShiftMetric } from './state.js';

/** The profile bucket of time ts: 2 × (hour of day, + 24 at weekends). */
export function bucketOf(ts: number): number {
  return weekPartHour(ts) * 2;
}

/**
 * Where bucket `bi` (2 × hour of the week-part, 0..94: weekday hours 0..23, weekend 24..47) sits
 * in f, or -1 when its hour has no slot yet (the bucket is then (0, 0)).
 */
function slotOf(f: readonly number[], bi: number): number {
  const h = bi >> 1;
  if (h < 24) {
    const n = f[F_PN0]!;
    let rel = h - f[F_P0]!;
    if (rel < 0) rel += 24;
    return rel < n ? F_HDR + 2 * rel : -1;
  }
  const n = f[F_PN1]!;
  let rel = h - 24 - f[F_P1]!;
  if (rel < 0) rel += 24;
  return rel < n ? F_HDR + 2 * (f[F_PN0]! + rel) : -1;
}

/**
 * f with a slot for bucket `bi` (whose hour has none): its half's run of hours is extended, the
 * shorter way round, to reach the hour, and the new buckets are (0, 0). A new array (exact size).
 */
function withSlot(f: number[], bi: number): number[] {
  const h = bi >> 1;
  const we = h >= 24;
  const hh = we ? h - 24 : h;
  const s0 = f[F_P0]!;
  const n0 = f[F_PN0]!;
  const s1 = f[F_P1]!;
  const n1 = f[F_PN1]!;
  let s = we ? s1 : s0;
  let n = we ? n1 : n0;
  if (n === 0) {
    s = hh;
    n = 1;
  } else {
    let rel = hh - s;
    if (rel < 0) rel += 24;
    const fwd = rel + 1;
    const back = n + 24 - rel;
    if (fwd <= back) n = fwd;
    else {
      s = hh;
      n = back;
    }
  }
  const ns0 = we ? s0 : s;
  const nn0 = we ? n0 : n;
  const ns1 = we ? s : s1;
  const nn1 = we ? n : n1;
  const len = F_HDR + 2 * (nn0 + nn1);
  const b = build;
  for (let i = 0; i < F_HDR; i++) b[i] = f[i]!;
  for (let i = F_HDR; i < len; i++) b[i] = 0;
  b[F_P0] = ns0;
  b[F_PN0] = nn0;
  b[F_P1] = ns1;
  b[F_PN1] = nn1;
  for (let i = 0; i < n0; i++) {
    let r = s0 + i - ns0;
    if (r < 0) r += 24;
    if (r >= 24) r -= 24;
    b[F_HDR + 2 * r] = f[F_HDR + 2 * i]!;
    b[F_HDR + 2 * r + 1] = f[F_HDR + 2 * i + 1]!;
  }
  for (let i = 0; i < n1; i++) {
    let r = s1 + i - ns1;
    if (r < 0) r += 24;
    if (r >= 24) r -= 24;
    b[F_HDR + 2 * (nn0 + r)] = f[F_HDR + 2 * (n0 + i)]!;
    b[F_HDR + 2 * (nn0 + r) + 1] = f[F_HDR + 2 * (n0 + i) + 1]!;
  }
  return b.slice(0, len);
}

/** The slot of bucket `bi` in m.f, made (m.f grown) when its hour has none yet: a new slot is (0, 0), as the bucket was. */
export function slotFor(m: ShiftMetric, bi: number): number {
  const pi = slotOf(m.f, bi);
  if (pi >= 0) return pi;
  m.f = withSlot(m.f, bi);
  return slotOf(m.f, bi);
}

/**
 * The profile value at ts (bucket `bi`, at slot `pi` of f): bucket centres stand for the middle
 * of their hour, and the value is interpolated towards the neighbouring hour. Without this a
 * steep daily ramp leaves residuals that run systematically from −x to +x across every hour —
 * exactly what a CUSUM accumulates.
 */
export function profileAt(f: number[], pi: number, bi: number, ts: number): number {
  const u = (ts % 3_600_000) / 3_600_000 - 0.5;
  const pn = slotOf(f, nearHour(bi >> 1, u >= 0 ? 1 : -1) * 2);
  if (pn < 0 || f[pn + 1]! < HOUR_BUCKET_MIN_N) return f[pi]!;
  const w = Math.abs(u);
  return (1 - w) * f[pi]! + w * f[pn]!;
}

/** Learn the reading x into the bucket at slot `pi` of f (memory `window`; an outlier at a quarter weight; `fast` while relearning). */
export function learnBucket(f: number[], pi: number, x: number, window: number, outlier: boolean, fast: boolean): void {
  const n = f[pi + 1]!;
  if (n === 0) {
    f[pi] = compact(x);
    f[pi + 1] = 1;
    return;
  }
  const a = relearnFloor(Math.max(1 / (n + 1), 1 / window) * (outlier ? 0.25 : 1), fast);
  const sg = Math.max(f[F_ES]!, 1e-9) * 3;
  const d = x - f[pi]!;
  f[pi] = compact(f[pi]! + a * (d > sg ? sg : d < -sg ? -sg : d));
  if (n < 1e6) f[pi + 1] = n + 1;
}

/**
 * Whether `level` lies within `margin` of the levels the profile holds at its learned hours (a
 * level the metric routinely holds at some hour). Hours without a slot have n = 0 and would be
 * skipped anyway.
 */
export function inDailyRange(f: readonly number[], level: number, margin: number): boolean {
  let pmin = Infinity;
  let pmax = -Infinity;
  for (let i = F_HDR; i < f.length; i += 2) {
    if (f[i + 1]! < HOUR_BUCKET_MIN_N) continue;
    if (f[i]! < pmin) pmin = f[i]!;
    if (f[i]! > pmax) pmax = f[i]!;
  }
  return level >= pmin - margin && level <= pmax + margin;
}

/**
 * A metric's hour-of-day profile (f of its state) as the full [centre, n] × 48 array, weekday
 * hours 0–23 then weekend hours 0–23, with (0, 0) for hours not read yet: what the slots stand
 * for. For tests and inspection; the detector itself never builds it.
 */
export function denseProfile(f: readonly number[]): number[] {
  const out = new Array<number>(96).fill(0);
  for (let bi = 0; bi < 96; bi += 2) {
    const pi = slotOf(f, bi);
    if (pi < 0) continue;
    out[bi] = f[pi]!;
    out[bi + 1] = f[pi + 1]!;
  }
  return out;
}
