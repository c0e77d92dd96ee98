/**
 * metric_baseline's statistics, one step of a reading each: its arrival (order, sensor
 * resolution, interval and silence), the value scored (the level, or a counter's rate), the
 * warm-up that starts the baseline from median/MAD, the expectation it is judged against (global
 * or seasonal), and what it teaches afterwards. Judging it is in judge.ts. The steps share one
 * Reading, a plain record overwritten by every reading, so a reading allocates nothing.
 */
import { compact } from '../lib/compact.js';
import { intervalAfter, learnRate, silenceGraceEnd } from '../lib/lifecycle.js';
import { regimeFold } from '../lib/regimes.js';
import { ABS_TO_SIGMA, MAD_TO_SIGMA, madRange, medianRange } from '../lib/robust.js';
import { tailUpdate } from '../lib/tail.js';
import { DAY_MS, HOUR_BUCKET_MIN_N, hourOfDay, nearHour, weekPartHour } from '../lib/time.js';
import { orZero } from '../flat.js';
import { C, DN, HI, INIT_N, IV, K, LO, N, NS, P, PT, Q, S, SL, T0, UP, WN, withWarmBuffer, zeros } from './state.js';
import type { MetricState } from './state.js';
import type { MetricBaselineParams } from './detector.js';

/** Huber clip for residuals, in σ. */
const CLIP = 3;
/** A bucket's spread is at least this fraction of the global spread (see detector.ts). */
const BUCKET_SPREAD_FLOOR = 0.33;
/** Memory of the tail model, in readings (long: tails need many readings to be seen). */
const TAIL_MEMORY = 20_000;
/** A counter reset or wrap falls below this fraction of the previous value. */
const COUNTER_RESET = 0.1;

/** What one reading is judged by, filled step by step; one per detector instance. */
export interface Reading {
  /** Arrival: the previous raw value (NaN: none) and its time, and whether this one is in order. */
  prev: number;
  prevTs: number;
  hasPrev: boolean;
  inOrder: boolean;
  /** Expectation: spread floors (relative, resolution), the global σ and residual, the z scored and what it is against. */
  floorRel: number;
  floorQ: number;
  sg: number;
  resid: number;
  z: number;
  expC: number;
  expS: number;
  bucket: number;
  usedBucket: boolean;
  age: number;
  perDay: number;
  /** Judgement (judge.ts): warm-up, relearning, the envelope and the nearest occupied level. */
  az: number;
  warm: boolean;
  silent: boolean;
  relearning: boolean;
  lo0: number;
  hi0: number;
  lo: number;
  hi: number;
  contextual: boolean;
  hasNear: boolean;
  zr: number;
  azr: number;
  devR: number;
  novel: boolean;
  tail: boolean;
  /** Score: the global z, the run's tail probability and length, the score (capped later), and whether it was alert-worthy before the cap. */
  zg: number;
  pr: number;
  run: number;
  score: number;
  alarming: boolean;
}

export function newReading(): Reading {
  return {
    prev: NaN,
    prevTs: NaN,
    hasPrev: false,
    inOrder: false,
    floorRel: 0,
    floorQ: 0,
    sg: 0,
    resid: 0,
    z: 0,
    expC: 0,
    expS: 0,
    bucket: -1,
    usedBucket: false,
    age: 0,
    perDay: 0,
    az: 0,
    warm: false,
    silent: false,
    relearning: false,
    lo0: NaN,
    hi0: NaN,
    lo: 0,
    hi: 0,
    contextual: false,
    hasNear: false,
    zr: 0,
    azr: 0,
    devR: 0,
    novel: false,
    tail: false,
    zg: 0,
    pr: 1,
    run: 0,
    score: 0,
    alarming: false,
  };
}

export function bucketCount(mode: MetricBaselineParams['seasonality']): number {
  return mode === 'none' ? 0 : mode === 'hour_of_day' ? 24 : 48;
}

function bucketOf(mode: MetricBaselineParams['seasonality'], ts: number): number {
  return mode === 'weekday_hour' ? weekPartHour(ts) : hourOfDay(ts);
}

/**
 * The reading x at ts arrives: in order or not (out-of-order readings are scored but drive
 * neither counter rates nor resolution), the sensor's resolution, the typical interval and a
 * silence it ends (lib/lifecycle.ts).
 */
export function arrive(rd: Reading, m: number[], x: number, ts: number, relearn: number, alpha0: number): void {
  const prev = m[P]!;
  const hasPrev = prev === prev;
  const prevTs = m[PT]!;
  const inOrder = !hasPrev || ts > prevTs;
  rd.prev = prev;
  rd.prevTs = prevTs;
  rd.hasPrev = hasPrev;
  rd.inOrder = inOrder;
  if (!inOrder) return;
  if (hasPrev) {
    const d = Math.abs(x - prev);
    if (d > 1e-9 * Math.abs(x) && (m[Q] === 0 || d < m[Q]!)) m[Q] = compact(d);
    const dt = ts - prevTs;
    const iv = m[IV]!;
    const until = silenceGraceEnd(ts, dt, iv, relearn);
    if (until >= 0) m[SL] = until;
    m[IV] = intervalAfter(iv, dt, m[N]!, alpha0);
  }
  m[P] = x;
  m[PT] = ts;
}

/** The value to score for reading x: the reading itself, or a counter's rate per second; NaN when there is none. */
export function scoredValue(rd: Reading, ms: MetricState, x: number, ts: number): number {
  const m = ms.v;
  if (m[K] !== 1) return x;
  const prev = rd.prev;
  if (rd.hasPrev && rd.inOrder && x < prev && x > COUNTER_RESET * prev) {
    // A counter only falls when it resets or wraps (to near zero); this one moves both ways,
    // so it was a ramp seen during warm-up, not a counter: learn it again as a level.
    const w = (ms.v = withWarmBuffer(m));
    w[K] = 0;
    ms.sb = null;
    ms.tl = null;
    w[LO] = NaN;
    w[HI] = NaN;
    w[WN] = 0;
    w[N] = 0;
    w[T0] = ts;
    w[UP] = 0;
    w[DN] = 0;
    return NaN;
  }
  if (!rd.hasPrev || !rd.inOrder || x < prev) return NaN; // counter reset or first reading
  return (x - prev) / ((ts - rd.prevTs) / 1000);
}

/**
 * Warm-up: buffer v; after INIT_N readings either recognise a cumulative counter (and start
 * again on its rate) or start the baseline from the buffer's median and MAD.
 */
export function warmUp(rd: Reading, ms: MetricState, v: number, detectCounters: boolean): void {
  const m = ms.v;
  if (rd.hasPrev && rd.inOrder && m[K] !== 1) {
    if (v > rd.prev) m[UP] = orZero(m[UP]!) + 1;
    else if (v < rd.prev) m[DN] = orZero(m[DN]!) + 1;
  }
  const wn = m[WN]!;
  m[NS + wn] = v;
  m[WN] = wn + 1;
  m[N] = m[N]! + 1;
  if (wn + 1 < INIT_N) return;
  const up = orZero(m[UP]!);
  const dn = orZero(m[DN]!);
  m[UP] = NaN;
  m[DN] = NaN;
  if (detectCounters && m[K] !== 1 && dn === 0 && up >= 0.8 * (INIT_N - 1)) {
    // A cumulative counter: restart learning on its rate.
    m[K] = 1;
    m[WN] = 0;
    m[N] = 0;
    return;
  }
  const c = medianRange(m, NS, INIT_N);
  m[C] = compact(c);
  m[S] = compact(MAD_TO_SIGMA * madRange(m, NS, INIT_N, c));
  m[WN] = NaN;
  // The buffer is done with: the metric keeps its scalars only.
  ms.v = m.slice(0, NS);
}

/**
 * What v is expected to be: the global baseline, or once the metric has history, the least
 * surprising of its hour's bucket and the hour on either side (DST shifts and ramps at hour
 * boundaries), each with its spread floored (see detector.ts).
 */
export function expectation(rd: Reading, ms: MetricState, p: MetricBaselineParams, nb: number, v: number, ts: number): void {
  const m = ms.v;
  const floorRel = Math.abs(m[C]!) * p.min_rel_deviation * 0.1;
  const floorQ = m[K] === 1 ? 0 : m[Q]!;
  const sg = Math.max(m[S]!, floorRel, floorQ, 1e-12);
  const resid = v - m[C]!;
  let z = resid / sg;
  let expC = m[C]!;
  let expS = sg;
  let bucket = -1;
  let usedBucket = false;

  // Buckets learn from the end of warm-up on, and are consulted once there is enough history.
  if (nb > 0 && ms.sb === null) ms.sb = zeros(nb * 3);
  const sb = ms.sb;
  if (sb !== null) bucket = bucketOf(p.seasonality, ts);
  const age = ts - m[T0]!;
  const perDay = m[N]! / Math.max(1, age / DAY_MS);
  if (sb !== null && age >= p.seasonal_after) {
    // A bucket is trusted once it holds about two days of its hour: readings from one hour of
    // one day are autocorrelated and understate the day-to-day spread.
    const minB = Math.max(HOUR_BUCKET_MIN_N, (1.5 * perDay) / 24);
    const bfloor = Math.max(sg * BUCKET_SPREAD_FLOOR, floorRel, floorQ, 1e-12);
    let best = Infinity;
    for (let d = -1; d <= 1; d++) {
      const b = d === 0 ? bucket : nearHour(bucket, d);
      if (sb[b * 3 + 2]! < minB) continue;
      const s = Math.max(sb[b * 3 + 1]!, bfloor);
      const zb = (v - sb[b * 3]!) / s;
      if (Math.abs(zb) < Math.abs(best)) {
        best = zb;
        expC = sb[b * 3]!;
        expS = s;
      }
    }
    if (best < Infinity) {
      z = best;
      usedBucket = true;
    }
  }
  rd.floorRel = floorRel;
  rd.floorQ = floorQ;
  rd.sg = sg;
  rd.resid = resid;
  rd.z = z;
  rd.expC = expC;
  rd.expS = expS;
  rd.bucket = bucket;
  rd.usedBucket = usedBucket;
  rd.age = age;
  rd.perDay = perDay;
}

/**
 * Learn v at ts. Alert-worthy readings nudge the centre only and stay out of the tail; before a
 * full cycle is known everything is learned, since what is routine is not known yet. A run that
 * has lasted long after being reported is a new level (a refill, a recalibration), not a string
 * of fresh anomalies: it is absorbed quickly so the incident can close.
 */
export function learn(rd: Reading, ms: MetricState, p: MetricBaselineParams, v: number, ts: number, alpha0: number, absorbing: boolean): void {
  const m = ms.v;
  const relearning = rd.relearning;
  const calibrating = rd.age < p.full_cycle || relearning || absorbing;
  const anomalous = rd.alarming && !calibrating;
  // The tail keeps learning from everything short of alert-worthy, or a routine second mode
  // seen on day one would fade from it and start alerting days later.
  tailUpdate(ms.tl!, rd.z, TAIL_MEMORY, calibrating || rd.score < 0.5);
  const tg = ms.tg;
  if (tg !== null) tailUpdate(tg, rd.zg, TAIL_MEMORY, calibrating || rd.score < 0.5);
  if (!anomalous) {
    ms.rg = regimeFold(ms.rg!, v, rd.inOrder && rd.hasPrev ? ts - rd.prevTs : 0);
    if (v < rd.lo || rd.lo0 !== rd.lo0) m[LO] = compact(v);
    if (v > rd.hi || rd.hi0 !== rd.hi0) m[HI] = compact(v);
  }
  const sg = rd.sg;
  const a = learnRate(m[N]!, alpha0, relearning || absorbing);
  const clip = absorbing ? Infinity : CLIP * sg;
  const rg = rd.resid;
  const cr = rg > clip ? clip : rg < -clip ? -clip : rg;
  if (anomalous) {
    m[C] = compact(m[C]! + 0.25 * a * cr);
  } else {
    m[C] = compact(m[C]! + a * cr);
    // Absorbing moves the level unclipped; the jump itself says nothing about the noise.
    if (!absorbing) m[S] = compact((1 - a) * m[S]! + a * ABS_TO_SIGMA * Math.abs(cr));
  }
  m[N] = m[N]! + 1;
  const sb = ms.sb;
  if (sb !== null) learnBucket(rd, sb, v, alpha0, anomalous, absorbing);
}

/** Learn v into the reading's seasonal bucket (centre, σ, n at sb[3·bucket…]). */
function learnBucket(rd: Reading, sb: number[], v: number, alpha0: number, anomalous: boolean, absorbing: boolean): void {
  const i = rd.bucket * 3;
  const nb = sb[i + 2]!;
  if (nb === 0) {
    sb[i] = compact(v);
    sb[i + 1] = 0;
    sb[i + 2] = 1;
    return;
  }
  const ab = learnRate(nb, alpha0, rd.relearning || absorbing);
  const bs = Math.max(sb[i + 1]!, rd.sg * BUCKET_SPREAD_FLOOR, rd.floorRel, rd.floorQ, 1e-12);
  const r = v - sb[i]!;
  const bc = absorbing ? Infinity : CLIP * bs;
  const c2 = r > bc ? bc : r < -bc ? -bc : r;
  if (anomalous) sb[i] = compact(sb[i]! + 0.25 * ab * c2);
  else {
    sb[i] = compact(sb[i]! + ab * c2);
    if (!absorbing) sb[i + 1] = compact((1 - ab) * sb[i + 1]! + ab * ABS_TO_SIGMA * Math.abs(c2));
  }
  if (nb < 1e6) sb[i + 2] = nb + 1;
}
