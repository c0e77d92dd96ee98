/**
 * level_shift: sustained shifts and drifts of a metric's level, by a two-sided CUSUM on the
 * metric's standardised, de-seasonalised residuals.
 *
 * Spikes are metric_baseline's job; this catches the quieter change that never crosses a spike
 * threshold but stays: a setpoint nudged by 3σ, a valve that no longer closes fully, a slow
 * calibration drift. Residuals are taken against an hour-of-day profile once one is learned, so a
 * daily cycle is not a "shift" every morning. The allowance k (in σ) makes the CUSUM ignore the
 * small wandering real sensors show, and a finding also needs the mean residual since the CUSUM
 * started to be at least `min_shift` σ, so autocorrelated noise that slowly walks does not fire.
 * While a shift is open the baseline learns from it at a quarter weight, so a permanent, benign
 * change (recalibration) is eventually absorbed and the incident ends.
 *
 * σ is the larger of the reading-to-reading spread of the residuals and the day-to-day spread of
 * their hourly means. A level that wanders slowly (an AR(1) with a time constant of hours: a
 * drifting transmitter, a process that settles differently each day) has readings that are
 * autocorrelated far beyond the ~10-reading smoothing, so its noise alone says shifts are cheap;
 * measured at the hour scale its wander sets σ, and a shift must then also exceed
 * variability_factor of those hourly spreads. For white noise the hourly spread is σ/√(readings
 * per hour) and changes nothing. The wander is learned from everything but reported shifts
 * (Huber-clipped), and a CUSUM excursion that outlasts the incident gap without being reported is
 * restarted without relearning, so the baseline is not re-centred on a passing excursion.
 *
 * Novelty, not change: the levels the series has occupied, with their dwell time, are kept
 * (lib/regimes.ts). A shift into a level the series frequently occupies (an operating mode:
 * stopped, closed, parked, charging) is a regime change, not an anomaly, whatever the hour, and
 * stays low; a shift to a level outside every known one keeps its full score.
 */
import { closeStale, raiseThrottled } from '../incident.js';
import type { IncidentBook } from '../incident.js';
import { scoreFromZ } from '../score.js';
import { TELEMETRY_ONLY, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from '../types.js';
import type { M2MEvent, TelemetryEvent } from '../../events/types.js';
import { compact } from '../lib/compact.js';
import { fmt, fmtDuration } from '../lib/format.js';
import { EXCLUDE_PARAM, METRICS_PARAM, metricFilter } from '../lib/metric-filter.js';
import { RELEARN_ALPHA, inOperatingMode, intervalAfter, relearnFloor, restarted, silenceGraceEnd } from '../lib/lifecycle.js';
import { REGIME_FULL, regimeNew, regimeFold, regimeNoise, regimeRevive } from '../lib/regimes.js';
import { ABS_TO_SIGMA, MAD_TO_SIGMA, ROBUST_INIT, mad, median } from '../lib/robust.js';
import { HOUR_BUCKET_MIN_N, HOUR_MS, nearHour, weekPartHour } from '../lib/time.js';
import { packedDoubles } from '../flat.js';
import { changeRole } from '../fleet.js';

export interface LevelShiftParams extends Record<string, unknown> {
  metrics: string[];
  exclude: string[];
  k: number;
  h: number;
  min_shift: number;
  min_run: number;
  min_duration: number;
  min_samples: number;
  min_learning: number;
  window: number;
  seasonal_after: number;
  max_metrics: number;
  incident_gap: number;
  variability_factor: number;
  relearn: number;
}

/**
 * One metric's state. `f` is flat (a packed array of doubles: updating it allocates nothing, and
 * V8 keeps the numbers unboxed), laid out by the F_* constants below: the scalars, the two robust
 * running statistics (the level of the raw metric `g`, the spread of the residuals `e`), then the
 * hour-of-day profile buckets. NaN stands for "no value yet" (JSON writes null; revive() puts NaN
 * back). `r` is the occupied-level array of lib/regimes.ts. `w` is the warm-up buffer of whichever
 * robust statistic is still in its warm-up (g's first ROBUST_INIT readings; e's only start once g
 * is ready), null otherwise.
 */
interface ShiftMetric {
  f: number[];
  r: number[];
  w: number[] | null;
}

// ── layout of ShiftMetric.f ──
/** First reading's time. */
const F_T0 = 0;
/** Robust level of the raw metric (before the profile exists): readings, centre, spread. */
const F_GN = 1;
const F_GC = 2;
const F_GS = 3;
/** Robust centre and spread of the residuals: readings, centre, spread. */
const F_EN = 4;
const F_EC = 5;
const F_ES = 6;
/** CUSUM up/down, samples since each started, the recent mean z of each, start of each excursion. */
const F_SP = 7;
const F_SN = 8;
const F_NP = 9;
const F_NN = 10;
const F_ZP = 11;
const F_ZN = 12;
const F_TP = 13;
const F_TN = 14;
/** When the residual spread started learning (NaN: not yet; it must see a full cycle before it is trusted). */
const F_TE = 15;
/** Smoothed residual (σ, ~10 readings) and its usual spread: how far the level wanders (0 until learned). */
const F_ZS = 16;
const F_VS = 17;
/**
 * The level's day-to-day variability: the current hour's index (NaN: none yet), its sum and
 * count of centred residuals, the spread (σ-like) of past hourly means and how many hours it has
 * learned, and 1 when the current hour raised a finding or was relearning (keeps it out of hv).
 */
const F_HH = 18;
const F_HS = 19;
const F_HN = 20;
const F_HV = 21;
const F_HK = 22;
const F_HF = 23;
/** Previous value (NaN: none), and rises/falls seen (cumulative counters have no level to shift). */
const F_PV = 24;
const F_UP = 25;
const F_DN = 26;
/** Fast relearning (after a reboot, a firmware change, a silence, or a shift absorbed) until this time (NaN: never). */
const F_RL = 27;
/** When occupied levels were last sampled (NaN: never), and the recent raw level. */
const F_LT = 28;
const F_XL = 29;
/** Time of the previous in-order reading and the typical interval between readings (ms; NaN: none yet). */
const F_PT = 30;
const F_IV = 31;
/** The last silence: the first reading after it and the end of its grace window (NaN: none). */
const F_SS = 32;
const F_SE = 33;
/**
 * The hour-of-day profile, weekday and weekend halves, each a circular run of hours (first hour,
 * number of hours; 0: none yet) whose buckets follow the scalars: weekday buckets first, then
 * weekend ones, [centre, n] per hour. A bucket outside its half's run is (0, 0), exactly as in a
 * full 48 × 2 array, so the array holds only the hours the metric has been read in: a young
 * metric has one or two buckets instead of 96 numbers, and a weekday-only history no weekend half.
 */
const F_P0 = 34;
const F_PN0 = 35;
const F_P1 = 36;
const F_PN1 = 37;
/** Number of scalars; profile buckets start here. */
const F_HDR = 38;

export interface LevelShiftState {
  m: Record<string, ShiftMetric>;
  nm: number;
  inc: IncidentBook;
  fw?: string;
  sq?: number;
}

/** Hourly means the day-to-day spread needs before it is trusted. */
const MIN_HOURS = 12;
const RECENT = 0.1;
/** History the residual spread and the level's wander need before they are trusted. */
const RESID_LEARN_MS = 24 * 3_600_000;
/** Highest score (low) for a shift to a level the daily profile already holds at other hours. */
const CONTEXT_CAP = 0.45;
const REGIME_TICK = 60_000;
/** Memory of the spread of hourly means, in hours: day-to-day variation needs many days. */
const HOUR_MEMORY = 14 * 24;

/** The profile bucket of time ts: 2 × (hour of day, + 24 at weekends). */
function bucketOf(ts: number): number {
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

/** Packed doubles to build metric arrays in (`slice` of it is an exact-size packed double array). */
const build: number[] = Array.from({ length: F_HDR + 96 }, () => 0.5);

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

function newMetric(f: number[], r: number[], w: number[] | null): ShiftMetric {
  return { f, r, w };
}

/**
 * util.robustUpdate on the robust statistic at f[o..o+2] (n, centre, spread), with the same
 * arithmetic: median/MAD of the first ROBUST_INIT readings (collected in m.w), then a
 * Huber-clipped EWMA. Ready once n ≥ ROBUST_INIT.
 */
function robustStep(m: ShiftMetric, o: number, x: number, window: number, outlier: boolean): void {
  const f = m.f;
  const n = f[o]!;
  if (n < ROBUST_INIT) {
    let w = m.w;
    if (w === null) w = m.w = [];
    w.push(x);
    f[o] = n + 1;
    if (w.length >= ROBUST_INIT) {
      const c = median(w);
      f[o + 1] = compact(c);
      f[o + 2] = compact(MAD_TO_SIGMA * mad(w, c));
      m.w = null;
    }
    return;
  }
  const a = Math.max(1 / (n + 1), 1 / window);
  const sg = Math.max(f[o + 2]!, 0, 1e-12);
  const c = f[o + 1]!;
  const d = x - c;
  const clip = 3 * sg;
  const cd = d > clip ? clip : d < -clip ? -clip : d;
  if (outlier) f[o + 1] = compact(c + 0.25 * a * cd);
  else {
    f[o + 1] = compact(c + a * cd);
    f[o + 2] = compact((1 - a) * f[o + 2]! + a * ABS_TO_SIGMA * Math.abs(cd));
  }
  if (n < 1e9) f[o] = n + 1;
}

/**
 * The profile value at ts (bucket `bi`, at slot `pi` of f): bucket centres stand for the middle
 * of their hour, and the value is interpolated towards the neighbouring hour. Without this a
 * steep daily ramp leaves residuals that run systematically from −x to +x across every hour —
 * exactly what a CUSUM accumulates.
 */
function profileAt(f: number[], pi: number, bi: number, ts: number): number {
  const u = (ts % 3_600_000) / 3_600_000 - 0.5;
  const pn = slotOf(f, nearHour(bi >> 1, u >= 0 ? 1 : -1) * 2);
  if (pn < 0 || f[pn + 1]! < HOUR_BUCKET_MIN_N) return f[pi]!;
  const w = Math.abs(u);
  return (1 - w) * f[pi]! + w * f[pn]!;
}

export const levelShift: DetectorSpec<LevelShiftParams> = {
  name: 'level_shift',
  family: 'telemetry',
  summary:
    'Sustained level shifts and drifts in a metric (two-sided CUSUM on robust, de-seasonalised residuals), judged against how much the metric\'s level normally wanders, measured by the day-to-day spread of hourly means: the change that never spikes but stays, such as a nudged setpoint, a stuck-open valve or a calibration drift. Cumulative counters are skipped; reboots and firmware changes trigger a quick relearn.',
  params: {
    metrics: METRICS_PARAM,
    exclude: EXCLUDE_PARAM,
    k: { type: 'number', description: 'CUSUM allowance in σ: residual drift below this is ignored.', default: 1, minimum: 0.1, maximum: 5 },
    h: { type: 'number', description: 'CUSUM decision threshold in σ·samples.', default: 15, minimum: 2 },
    min_shift: {
      type: 'number',
      description: 'Recent mean residual (EWMA over ~10 readings), in σ, needed to fire. σ is the larger of the residual noise and the day-to-day spread of hourly means, so a level that wanders slowly needs a proportionally larger shift.',
      default: 2.5,
      minimum: 0.5,
    },
    min_run: { type: 'integer', description: 'Samples an excursion must last before it can fire.', default: 10, minimum: 2 },
    min_duration: {
      type: 'duration',
      description:
        'Event time an excursion must also last before it can fire: a shift is a change that stays, and ten readings of a 10-second sensor (a vehicle taking a faster road for a minute and a half) are not one. Scales the persistence with the cadence; spikes are metric_baseline\'s job.',
      default: '30m',
    },
    min_samples: { type: 'integer', description: 'Samples per metric before it can fire (warm-up).', default: 200, minimum: 20 },
    min_learning: { type: 'duration', description: 'Event time per metric before it can fire (warm-up).', default: '12h' },
    window: { type: 'integer', description: 'Effective memory of the baseline in samples.', default: 2000, minimum: 50 },
    seasonal_after: { type: 'duration', description: 'History the hour-of-day profile needs before the detector has an opinion (it only compares against the profile).', default: '3d' },
    max_metrics: { type: 'integer', description: 'Metrics tracked per device (bounds state).', default: 32, minimum: 1, maximum: 512 },
    incident_gap: {
      type: 'duration',
      description: 'A shift that keeps accumulating within this extends one finding; a shift that has lasted this long is then learned as the new level.',
      default: '6h',
    },
    variability_factor: {
      type: 'number',
      description:
        'The recent mean residual must also exceed this many times the usual spread of recent means, and, when the level wanders at the hour scale (its hourly means spread more than its readings), this many day-to-day spreads of hourly means, so a metric whose level wanders (drifting transmitters, Poisson counts, load that differs by weekday) needs a proportionally larger shift.',
      default: 4,
      minimum: 1,
    },
    relearn: {
      type: 'duration',
      description:
        'After a reboot (seq restart) or a firmware change, the detector relearns the level quickly and says nothing for this long. A metric back from a silence (20 of its typical intervals without a reading) relearns for 20 typical intervals (at least 5 minutes, at most this long), and a shift that began then stays low: the level changed while the metric was not reported.',
      default: '2h',
    },
  },
  example:
    'pump-3 (pump) flow_lpm has shifted 3.4σ above its usual 118 ± 2.1 for 2.5h (90 readings); confirm whether the setpoint or the process was changed on purpose, otherwise inspect the device and its controller for tampering.',
  mitre: ['T0836', 'T0831'],
  fleet: changeRole((f) => f.evidence.direction),
  create(params, id) {
    return new LevelShiftDetector(params, id);
  },
};

class LevelShiftDetector implements DetectorInstance<LevelShiftState> {
  readonly spec = levelShift;
  readonly eventTypes = TELEMETRY_ONLY;
  readonly maxStateBytes: number;
  private readonly filter: ((m: string) => boolean) | null;
  /** The engine reads a step's result at once and keeps neither it nor its state: one per instance. */
  private readonly res: StepResult<LevelShiftState> = { state: undefined as unknown as LevelShiftState, findings: NONE };

  constructor(
    private readonly p: LevelShiftParams,
    readonly id: string,
  ) {
    this.filter = metricFilter(p.metrics, p.exclude);
    // Per metric: name and keys, the scalars (NaN as null), the 48-hour profile, one warm-up
    // buffer, the occupied levels, an open incident; plus the device's firmware and seq.
    this.maxStateBytes = 64 + 100 + p.max_metrics * (64 + F_HDR * 18 + 48 * 2 * 14 + 16 * 22 + REGIME_FULL * 22 + 140);
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): LevelShiftState {
    return { m: {}, nm: 0, inc: {}, fw: undefined, sq: undefined };
  }

  /** Checkpointed state back to the live form: NaN for null in f, packed double arrays. Undefined for another layout. */
  revive(state: unknown): LevelShiftState | undefined {
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
      m[k] = newMetric(f, r, w);
    }
    return { m, nm: v.nm, inc: v.inc as IncidentBook, fw: v.fw as string | undefined, sq: v.sq as number | undefined };
  }

  step(s: LevelShiftState, ev: M2MEvent): StepResult<LevelShiftState> {
    const e = ev as TelemetryEvent;
    let out: FindingDraft[] | null = null;
    if (restarted(s, e)) {
      // A restart may legitimately move levels (lib/lifecycle.ts): forget the excursions in
      // progress and relearn quickly.
      for (const k in s.m) {
        const f = s.m[k]!.f;
        f[F_SP] = 0;
        f[F_SN] = 0;
        f[F_RL] = e.ts + this.p.relearn;
      }
    }
    for (const name in e.metrics) {
      if (this.filter !== null && !this.filter(name)) continue;
      const x = e.metrics[name];
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      let m = s.m[name];
      if (m === undefined) {
        if (s.nm >= this.p.max_metrics) continue;
        m = newMetric(newFlat(e.ts, x, bucketOf(e.ts)), newRegimes(), null);
        s.m[name] = m;
        s.nm++;
      }
      const f = this.observe(s, m, name, x, e);
      if (f !== null) (out ??= []).push(f);
    }
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, this.p.incident_gap);
      break;
    }
    const r = this.res;
    r.state = s;
    r.findings = out ?? NONE;
    return r;
  }

  private observe(s: LevelShiftState, m: ShiftMetric, name: string, x: number, e: TelemetryEvent): FindingDraft | null {
    const p = this.p;
    const ts = e.ts;
    let f = m.f;
    // Cumulative counters (their level always grows) have no level to shift; their rate is
    // metric_baseline's business.
    const pv = f[F_PV]!;
    if (pv === pv) {
      if (x > pv) f[F_UP] = f[F_UP]! + 1;
      else if (x < pv) f[F_DN] = f[F_DN]! + 1;
    }
    f[F_PV] = x;
    const pt = f[F_PT]!;
    if (pt !== pt || ts > pt) {
      if (pt === pt) {
        const dt = ts - pt;
        const iv = f[F_IV]!;
        // A silence (see silenceGraceEnd): the level after it is where the series is now, not a
        // shift the CUSUM watched build up, so the excursion in progress is forgotten.
        const until = silenceGraceEnd(ts, dt, iv, p.relearn);
        if (until >= 0) {
          const rl = f[F_RL]!;
          if (rl !== rl || rl < until) f[F_RL] = until;
          f[F_SP] = 0;
          f[F_SN] = 0;
          f[F_SS] = ts;
          f[F_SE] = until;
        }
        f[F_IV] = intervalAfter(iv, dt, f[F_GN]!, 1 / p.window);
      }
      f[F_PT] = ts;
    }
    const up0 = f[F_UP]!;
    if (up0 >= 20 && f[F_DN]! <= up0 * 0.01 && up0 >= 0.8 * f[F_GN]!) return null;
    // The recent raw level (~10 readings): a shift is judged by where the level is now, which the
    // clipped residual mean understates for a jump between operating modes.
    f[F_XL] = f[F_XL]! + RECENT * (x - f[F_XL]!);
    // Occupied levels learn from everything but a reported, alert-worthy shift, so an offset
    // does not become "known" by lasting.
    let rg = m.r;
    const open = s.inc[name];
    // Occupancy is sampled at most once per REGIME_TICK of event time, the time since the last
    // sample as its dwell: a level held for less than that is no operating mode, and a fast
    // stream would otherwise pay for every reading.
    const lt0 = f[F_LT]!;
    const lt = lt0 === lt0 ? lt0 : ts;
    if (ts - lt >= REGIME_TICK || lt0 !== lt0) {
      if (open === undefined || open.peak <= CONTEXT_CAP) {
        rg = m.r = regimeFold(rg, x, ts - lt);
      }
      f[F_LT] = ts;
    }
    const relearning = ts < f[F_RL]!;
    const win = relearning ? Math.min(p.window, 1 / RELEARN_ALPHA) : p.window;
    // The profile learns from the first reading; residuals use it once it has seen enough days.
    // Until then, and for a bucket not learned yet (the first weekend, say), there is no
    // opinion, rather than a comparison against the wrong part of the cycle.
    const bi = bucketOf(ts);
    // This reading's bucket gets a slot now (it learns from the reading below); a new slot is
    // (0, 0), as the bucket was.
    let pi = slotOf(f, bi);
    if (pi < 0) {
      f = m.f = withSlot(f, bi);
      pi = slotOf(f, bi);
    }
    const profiled = ts - f[F_T0]! >= p.seasonal_after && f[pi + 1]! >= HOUR_BUCKET_MIN_N;
    const centre = profiled ? profileAt(f, pi, bi, ts) : f[F_GC]!;
    const ready = f[F_GN]! >= ROBUST_INIT && f[F_EN]! >= ROBUST_INIT && profiled;
    const resid = x - centre;
    const te = f[F_TE]!;
    if (!ready || te !== te || ts - te < RESID_LEARN_MS) {
      robustStep(m, F_GN, x, win, false);
      if (f[F_GN]! >= ROBUST_INIT && profiled) {
        if (f[F_TE]! !== f[F_TE]!) f[F_TE] = ts;
        robustStep(m, F_EN, resid, win, false);
        if (f[F_EN]! >= ROBUST_INIT) {
          this.learnHour(f, ts, resid - f[F_EC]!, relearning);
          this.learnWander(f, (resid - f[F_EC]!) / this.sigmaOf(f, rg), win, false, 6);
        }
      }
      this.learnBucket(f, pi, x, false, relearning);
      return null;
    }
    this.learnHour(f, ts, resid - f[F_EC]!, relearning);
    const sigma = this.sigmaOf(f, rg);
    const z = (resid - f[F_EC]!) / sigma;
    // A level that wanders at the hour scale (its hourly means spread more than its readings do,
    // so they set σ) must also be left by more than variability_factor of those spreads: the
    // ~10-reading smoothing alone is shorter than the wander and understates it. (F_HV is set
    // with every F_HK increment, so F_HK ≥ MIN_HOURS means F_HV holds a learned spread.)
    const hourScale = f[F_HK]! >= MIN_HOURS && f[F_HV]! >= f[F_ES]! ? 1 : 0;
    const wander = Math.max(f[F_VS]!, hourScale, 1e-9) * p.variability_factor;
    // Clip one reading's contribution so a single spike cannot make a "shift" on its own: at
    // twice the wander gate one reading moves the recent mean (weight RECENT) to a fifth of it,
    // while a level that wanders widely can still show a shift past its gate.
    const clip = wander > 3 ? 2 * wander : 6;
    const zc = z > clip ? clip : z < -clip ? -clip : z;
    if (f[F_SP] === 0) {
      f[F_NP] = 0;
      f[F_ZP] = 0;
      f[F_TP] = ts;
    }
    if (f[F_SN] === 0) {
      f[F_NN] = 0;
      f[F_ZN] = 0;
      f[F_TN] = ts;
    }
    const sp0 = Math.max(0, f[F_SP]! + zc - p.k);
    const sn0 = Math.max(0, f[F_SN]! - zc - p.k);
    // Recent mean residual (EW, ~10 readings): the size of the shift now, not diluted by the
    // noise that started the excursion.
    let np = f[F_NP]!;
    let nn = f[F_NN]!;
    let zp = f[F_ZP]!;
    let zn = f[F_ZN]!;
    if (sp0 > 0) {
      np++;
      zp = np === 1 ? zc : zp + RECENT * (zc - zp);
    }
    if (sn0 > 0) {
      nn++;
      zn = nn === 1 ? -zc : zn + RECENT * (-zc - zn);
    }
    const sp = compact(sp0);
    const sn = compact(sn0);
    zp = compact(zp);
    zn = compact(zn);
    f[F_SP] = sp;
    f[F_SN] = sn;
    f[F_NP] = np;
    f[F_NN] = nn;
    f[F_ZP] = zp;
    f[F_ZN] = zn;

    const tp = f[F_TP]!;
    const tn = f[F_TN]!;
    const warm = f[F_GN]! >= p.min_samples && ts - f[F_T0]! >= p.min_learning && !relearning;
    const zs = f[F_ZS]!;
    const up = sp > p.h && np >= p.min_run && zp >= p.min_shift && zs >= wander && ts - tp >= p.min_duration;
    const down = sn > p.h && nn >= p.min_run && zn >= p.min_shift && -zs >= wander && ts - tn >= p.min_duration;
    let shifting = !relearning && (sp > p.h / 2 || sn > p.h / 2);
    // A shift that has outlasted the incident gap has been reported; it is the new level now.
    const since0 = sp > sn ? tp : tn;
    // One that never passed the gates was the level's own wander: restart the CUSUM, but do not
    // relearn, or the baseline would be re-centred on a passing excursion and the return from it
    // would look like the next shift.
    if (shifting && ts - since0 > p.incident_gap) {
      if (s.inc[name] !== undefined) f[F_RL] = ts + p.relearn;
      f[F_SP] = 0;
      f[F_SN] = 0;
      shifting = false;
    }

    robustStep(m, F_GN, x, win, shifting);
    robustStep(m, F_EN, resid, win, shifting || Math.abs(z) > 4);
    // The wander is learned from everything but reported shifts (Huber-clipped instead): leaving
    // out every excursion the CUSUM is building on would, for a level that wanders, leave out the
    // wander itself and keep it looking like a string of shifts.
    this.learnWander(f, z, win, relearning || s.inc[name] !== undefined, clip);
    this.learnBucket(f, pi, x, shifting, relearning);

    if (!warm || (!up && !down)) return null;
    f[F_HF] = 1;
    const dir = up ? 'above' : 'below';
    const mean = up ? zp : zn;
    // A level the metric routinely holds at other hours (a plant idling on a weekday evening, a
    // shop closed early) is unusual only for the hour: weaker evidence than a level it never
    // holds, so it stays low. Levels outside the daily profile's range keep their full score.
    // (Hours without a slot have n = 0 and would be skipped anyway.)
    const ec = f[F_EC]!;
    const level = centre + ec + (up ? 1 : -1) * mean * sigma;
    let pmin = Infinity;
    let pmax = -Infinity;
    for (let i = F_HDR; i < f.length; i += 2) {
      if (f[i + 1]! < HOUR_BUCKET_MIN_N) continue;
      if (f[i]! < pmin) pmin = f[i]!;
      if (f[i]! > pmax) pmax = f[i]!;
    }
    // A level the series has frequently occupied for real time (an operating mode: stopped,
    // closed, parked, charging) is a return to a known regime, whatever the hour: also low.
    const known = inOperatingMode(rg, f[F_XL]!);
    const contextual = (level >= pmin - sigma && level <= pmax + sigma) || known;
    let score = scoreFromZ(2 * mean);
    const n = up ? np : nn;
    const since = up ? tp : tn;
    // A shift whose onset is the silence itself (the excursion began within its grace window)
    // happened while the metric was not reported: a level that changed across the gap (a vehicle
    // refuelled, a trip that starts at a different pace), not a change watched building up.
    // (NaN, no silence yet, compares false.)
    const ss = f[F_SS]!;
    const acrossSilence = since >= ss && since <= f[F_SE]!;
    if ((contextual || acrossSilence) && score > CONTEXT_CAP) score = CONTEXT_CAP;
    return raiseThrottled(
      s.inc,
      {
        detector: this.id,
        key: name,
        device_id: e.device_id,
        device_class: e.device_class,
        ts,
        score,
        observed: compact(centre + ec + (up ? 1 : -1) * mean * sigma),
        expected: `${fmt(centre + ec)} ± ${fmt(sigma)}`,
        explanation: `${e.device_id} (${e.device_class}) ${name} has shifted ${fmt(mean)}σ ${dir} its usual ${fmt(centre + ec)} ± ${fmt(sigma)} for ${fmtDuration(ts - since)} (${n} readings); confirm whether the setpoint or the process was changed on purpose, otherwise inspect the device and its controller for tampering.`,
        evidence: {
          metric: name,
          value: x,
          direction: dir,
          mean_shift_sigma: compact(mean),
          cusum: up ? f[F_SP]! : f[F_SN]!,
          readings: n,
          since_ts: since,
          baseline_center: compact(centre + ec),
          baseline_sigma: compact(sigma),
          seasonal: true,
          within_daily_range: contextual,
          ...(acrossSilence ? { after_silence_ts: ss } : {}),
          known_level: known,
          wander_sigma: compact(f[F_VS]!),
          hourly_spread: compact(f[F_HV]!),
          noise_sigma: compact(f[F_ES]!),
        },
        mitre: levelShift.mitre,
      },
      p.incident_gap,
    );
  }

  /**
   * The spread the residuals are judged against. Readings of a level that wanders slowly (a
   * drifting transmitter, a process that settles differently each day) are autocorrelated over
   * hours, so their reading-to-reading spread understates how far the level moves on its own. The
   * day-to-day spread of hourly means measures that at the time scale a shift must last to be
   * reported; for white noise it is σ/√(readings per hour) ≤ σ and changes nothing.
   */
  private sigmaOf(f: number[], rg: number[]): number {
    const hv = f[F_HK]! >= MIN_HOURS ? f[F_HV]! : 0;
    // A residual spread learned mostly from idle readings (a count that is 0 most of the day)
    // collapses towards 0; half the series' own step size when it moves keeps "shifts" smaller
    // than one reading step from scoring as many σ.
    const step = 0.5 * regimeNoise(rg);
    return Math.max(f[F_ES]!, hv, step, Math.abs(f[F_GC]!) * 1e-3, 1e-9);
  }

  /**
   * Fold a centred residual into the current hour; when the hour ends, its mean (relative to the
   * hour-of-day profile, so across days) updates the spread of hourly means. Huber-clipped so a
   * shift that was not reported moves it slowly; hours that raised a finding or were relearning
   * are left out so a reported shift does not teach that shifts are normal.
   */
  private learnHour(f: number[], ts: number, r: number, skip: boolean): void {
    const h = Math.floor(ts / HOUR_MS);
    const hh = f[F_HH]!;
    if (hh !== h) {
      // hh is NaN before the first hour: every comparison with it is false.
      const n = f[F_HN]!;
      if (n > 0 && f[F_HF] === 0 && h > hh) {
        const mean = f[F_HS]! / n;
        const k = f[F_HK]!;
        const hv = f[F_HV]!;
        const a = Math.max(1 / (k + 1), 1 / HOUR_MEMORY);
        const lim = k === 0 ? Infinity : 3 * hv;
        const d = mean < 0 ? -mean : mean;
        const dc = d > lim ? lim : d;
        f[F_HV] = compact(Math.sqrt((1 - a) * hv * hv + a * dc * dc));
        if (k < 1e6) f[F_HK] = k + 1;
      }
      if (h < hh) return; // a late reading from an earlier hour: not part of this one
      f[F_HH] = h;
      f[F_HS] = 0;
      f[F_HN] = 0;
      f[F_HF] = 0;
    }
    if (skip) {
      f[F_HF] = 1;
      return;
    }
    f[F_HS] = compact(f[F_HS]! + r);
    f[F_HN] = f[F_HN]! + 1;
  }

  /**
   * The smoothed residual (EW over ~10 readings) and its usual size: white noise averages out
   * (spread ≈ 0.23σ), a level that wanders does not, and a shift must stand out from that wander.
   */
  private learnWander(f: number[], z: number, win: number, outlier: boolean, clip: number): void {
    const zc = z > clip ? clip : z < -clip ? -clip : z;
    const zs0 = f[F_ZS]!;
    const zs = zs0 + RECENT * (zc - zs0);
    f[F_ZS] = compact(zs);
    if (outlier) return;
    const a = Math.max(1 / (f[F_EN]! + 1), 1 / win);
    const vs = f[F_VS]!;
    const d = zs < 0 ? -zs : zs;
    const lim = vs > 0 ? 3 * vs : Infinity;
    f[F_VS] = compact((1 - a) * vs + a * ABS_TO_SIGMA * (d > lim ? lim : d));
  }

  /** Learn the reading into the bucket at slot `pi` of f. */
  private learnBucket(f: number[], pi: number, x: number, outlier: boolean, fast: boolean): void {
    const n = f[pi + 1]!;
    if (n === 0) {
      f[pi] = compact(x);
      f[pi + 1] = 1;
      return;
    }
    const a = relearnFloor(Math.max(1 / (n + 1), 1 / this.p.window) * (outlier ? 0.25 : 1), fast);
    const sg = Math.max(f[F_ES]!, 1e-9) * 3;
    const d = x - f[pi]!;
    f[pi] = compact(f[pi]! + a * (d > sg ? sg : d < -sg ? -sg : d));
    if (n < 1e6) f[pi + 1] = n + 1;
  }
}

/**
 * A checkpointed number array back as exact-size packed doubles (JSON wrote NaN as null: with
 * `nan`, null reads as NaN). Undefined if it is not an array of numbers or longer than any of ours.
 */
function flatFrom(v: unknown, nan: boolean): number[] | undefined {
  return Array.isArray(v) && v.length <= build.length ? packedDoubles(v, nan) : undefined;
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

const NONE: FindingDraft[] = [];
