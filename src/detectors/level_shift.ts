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
 * (util.regimeUpdate). A shift into a level the series frequently occupies (an operating mode:
 * stopped, closed, parked, charging) is a regime change, not an anomaly, whatever the hour, and
 * stays low; a shift to a level outside every known one keeps its full score.
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { scoreFromZ } from './score.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { M2MEvent, TelemetryEvent } from '../events/types.js';
import { EXCLUDE_PARAM, METRICS_PARAM, REGIME_K, compact, fmt, fmtDuration, hourOfDay, isWeekend, metricFilter, nextInterval, silenceGraceEnd, regimeKnown, regimeNew, regimeNoise, regimeUpdate, robustNew, robustReady, robustUpdate } from './util.js';
import type { RobustStat } from './util.js';

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

interface ShiftMetric {
  t0: number;
  /** Level of the raw metric (before the profile exists) and spread of the residuals. */
  g: RobustStat;
  e: RobustStat;
  /** Weekday/weekend hour-of-day profile: flat [centre, n] × 48. */
  hb: number[];
  /** CUSUM up/down, samples since each started and the recent mean z of each. */
  sp: number;
  sn: number;
  np: number;
  nn: number;
  zp: number;
  zn: number;
  /** Start time of the current excursion. */
  tp: number;
  tn: number;
  /** When the residual spread started learning (it must see a full cycle before it is trusted). */
  te?: number;
  /** Smoothed residual (σ, ~10 readings) and its usual spread: how far the level wanders. */
  zs?: number;
  vs?: number;
  /**
   * The level's day-to-day variability: the current hour's index, its sum and count of centred
   * residuals, the spread (σ-like) of past hourly means and how many hours it has learned.
   */
  hh?: number;
  hs?: number;
  hn?: number;
  hv?: number;
  hk?: number;
  /** Set when the current hour raised a finding, which keeps the hour out of hv. */
  hf?: 1;
  /** Previous value, and rises/falls seen (cumulative counters have no level to shift). */
  pv?: number;
  up?: number;
  dn?: number;
  /** Fast relearning (after a reboot, a firmware change, or a shift absorbed) until this time. */
  rl?: number;
  /** Levels occupied so far (util.regimeNew), when they were last sampled, and the recent raw level. */
  rg?: number[];
  lt?: number;
  xl?: number;
  /** Time of the previous in-order reading and the typical interval between readings (ms). */
  pt?: number;
  iv?: number;
  /** The last silence: the first reading after it and the end of its grace window. */
  ss?: number;
  se?: number;
}

export interface LevelShiftState {
  m: Record<string, ShiftMetric>;
  nm: number;
  inc: IncidentBook;
  fw?: string;
  sq?: number;
}

const MIN_BUCKET_N = 8;
/** Hourly means the day-to-day spread needs before it is trusted. */
const MIN_HOURS = 12;
const RECENT = 0.1;
/** History the residual spread and the level's wander need before they are trusted. */
const RESID_LEARN_MS = 24 * 3_600_000;
/** Learning-rate floor while relearning. */
const RELEARN_ALPHA = 0.05;
const SEQ_RESTART = 5;
/** Highest score (low) for a shift to a level the daily profile already holds at other hours. */
const CONTEXT_CAP = 0.45;
/** A level counts as known once the series has dwelt there this long and this share of its life. */
export const REGIME_MIN_DWELL = 3 * 3_600_000;
export const REGIME_MIN_SHARE = 0.05;
const REGIME_TICK = 60_000;
/** Cheap σ of the slow wander from the mean |smoothed residual| (as for a Gaussian). */
const ABS_TO_SIGMA = 1.2533;
/** Memory of the spread of hourly means, in hours: day-to-day variation needs many days. */
const HOUR_MEMORY = 14 * 24;
const HOUR_MS = 3_600_000;

/**
 * The profile value at ts: bucket centres stand for the middle of their hour, and the value is
 * interpolated towards the neighbouring hour. Without this a steep daily ramp leaves residuals
 * that run systematically from −x to +x across every hour — exactly what a CUSUM accumulates.
 */
function profileAt(hb: number[], bi: number, ts: number): number {
  const u = (ts % 3_600_000) / 3_600_000 - 0.5;
  const h = bi >> 1;
  const base = h >= 24 ? 24 : 0;
  const nh = base + ((h - base + (u >= 0 ? 1 : 23)) % 24);
  const ni = nh * 2;
  if (hb[ni + 1]! < MIN_BUCKET_N) return hb[bi]!;
  const w = Math.abs(u);
  return (1 - w) * hb[bi]! + w * hb[ni]!;
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
  create(params, id) {
    return new LevelShiftDetector(params, id);
  },
};

class LevelShiftDetector implements DetectorInstance<LevelShiftState> {
  readonly spec = levelShift;
  readonly maxStateBytes: number;
  private readonly filter: ((m: string) => boolean) | null;

  constructor(
    private readonly p: LevelShiftParams,
    readonly id: string,
  ) {
    this.filter = metricFilter(p.metrics, p.exclude);
    // Per metric: name, two robust stats with their warm-up buffers, the 48-hour profile, ~30
    // scalars, the occupied levels, an open incident; plus the device's firmware and seq.
    this.maxStateBytes = 64 + 100 + p.max_metrics * (64 + 2 * (60 + 16 * 22) + 48 * 2 * 14 + 30 * 18 + (3 + 4 * REGIME_K) * 22 + 140);
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): LevelShiftState {
    return { m: {}, nm: 0, inc: {}, fw: undefined, sq: undefined };
  }

  step(s: LevelShiftState, ev: M2MEvent): StepResult<LevelShiftState> {
    const e = ev as TelemetryEvent;
    let out: FindingDraft[] | null = null;
    let restart = false;
    if (e.firmware !== undefined) {
      if (s.fw !== undefined && s.fw !== e.firmware) restart = true;
      s.fw = e.firmware;
    }
    if (e.seq !== undefined) {
      if (s.sq !== undefined && e.seq < s.sq && e.seq <= SEQ_RESTART && s.sq > 10 * SEQ_RESTART) restart = true;
      s.sq = e.seq;
    }
    if (restart) {
      // A reboot or new firmware may legitimately move levels (fleet rollouts do it everywhere at
      // once): forget the excursions in progress and relearn quickly.
      for (const k in s.m) {
        const m = s.m[k]!;
        m.sp = 0;
        m.sn = 0;
        m.rl = e.ts + this.p.relearn;
      }
    }
    for (const name in e.metrics) {
      if (this.filter !== null && !this.filter(name)) continue;
      const x = e.metrics[name];
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      let m = s.m[name];
      if (m === undefined) {
        if (s.nm >= this.p.max_metrics) continue;
        // Every field from the start (undefined ones are not written to JSON): one hidden class
        // for all metrics, instead of one per order in which optional fields first appear.
        m = {
          t0: e.ts, g: robustNew(), e: robustNew(), hb: new Array<number>(96).fill(0), sp: 0, sn: 0, np: 0, nn: 0, zp: 0, zn: 0, tp: 0, tn: 0,
          te: undefined, zs: undefined, vs: undefined, hh: undefined, hs: undefined, hn: undefined, hv: undefined, hk: undefined, hf: undefined,
          pv: undefined, up: undefined, dn: undefined, rl: undefined, rg: regimeNew(), lt: undefined, xl: x, pt: undefined, iv: undefined, ss: undefined, se: undefined,
        };
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
    return { state: s, findings: out ?? NONE };
  }

  private observe(s: LevelShiftState, m: ShiftMetric, name: string, x: number, e: TelemetryEvent): FindingDraft | null {
    const p = this.p;
    const ts = e.ts;
    // Cumulative counters (their level always grows) have no level to shift; their rate is
    // metric_baseline's business.
    if (m.pv !== undefined) {
      if (x > m.pv) m.up = (m.up ?? 0) + 1;
      else if (x < m.pv) m.dn = (m.dn ?? 0) + 1;
    }
    m.pv = x;
    const pt = m.pt;
    if (pt === undefined || ts > pt) {
      if (pt !== undefined) {
        const dt = ts - pt;
        const iv = m.iv;
        if (iv === undefined) m.iv = dt;
        else {
          // A silence (see silenceGraceEnd): the level after it is where the series is now, not a
          // shift the CUSUM watched build up, so the excursion in progress is forgotten.
          const until = silenceGraceEnd(ts, dt, iv, p.relearn);
          if (until >= 0) {
            if (m.rl === undefined || m.rl < until) m.rl = until;
            m.sp = 0;
            m.sn = 0;
            m.ss = ts;
            m.se = until;
          }
          const a = Math.max(1 / (m.g.n + 1), 1 / p.window);
          m.iv = nextInterval(iv, dt, a);
        }
      }
      m.pt = ts;
    }
    const up0 = m.up ?? 0;
    if (up0 >= 20 && (m.dn ?? 0) <= up0 * 0.01 && up0 >= 0.8 * m.g.n) return null;
    // The recent raw level (~10 readings): a shift is judged by where the level is now, which the
    // clipped residual mean understates for a jump between operating modes.
    m.xl = m.xl === undefined ? x : m.xl + RECENT * (x - m.xl);
    // Occupied levels learn from everything but a reported, alert-worthy shift, so an offset
    // does not become "known" by lasting.
    const rg = (m.rg ??= regimeNew());
    const open = s.inc[name];
    // Occupancy is sampled at most once per REGIME_TICK of event time, the time since the last
    // sample as its dwell: a level held for less than that is no operating mode, and a fast
    // stream would otherwise pay for every reading.
    const lt = m.lt ?? ts;
    if (ts - lt >= REGIME_TICK || m.lt === undefined) {
      if (open === undefined || open.peak <= CONTEXT_CAP) regimeUpdate(rg, x, ts - lt);
      m.lt = ts;
    }
    const relearning = m.rl !== undefined && ts < m.rl;
    const win = relearning ? Math.min(p.window, 1 / RELEARN_ALPHA) : p.window;
    // The profile learns from the first reading; residuals use it once it has seen enough days.
    // Until then, and for a bucket not learned yet (the first weekend, say), there is no
    // opinion, rather than a comparison against the wrong part of the cycle.
    const hb = m.hb;
    const bi = (hourOfDay(ts) + (isWeekend(ts) ? 24 : 0)) * 2;
    const profiled = ts - m.t0 >= p.seasonal_after && hb[bi + 1]! >= MIN_BUCKET_N;
    const centre = profiled ? profileAt(hb, bi, ts) : m.g.c;
    const ready = robustReady(m.g) && robustReady(m.e) && profiled;
    const resid = x - centre;
    if (!ready || m.te === undefined || ts - m.te < RESID_LEARN_MS) {
      robustUpdate(m.g, x, win);
      if (robustReady(m.g) && profiled) {
        m.te ??= ts;
        robustUpdate(m.e, resid, win);
        if (robustReady(m.e)) {
          this.learnHour(m, ts, resid - m.e.c, relearning);
          this.learnWander(m, (resid - m.e.c) / this.sigmaOf(m), win);
        }
      }
      this.learnBucket(m, bi, x, false, relearning);
      return null;
    }
    this.learnHour(m, ts, resid - m.e.c, relearning);
    const sigma = this.sigmaOf(m);
    const z = (resid - m.e.c) / sigma;
    // A level that wanders at the hour scale (its hourly means spread more than its readings do,
    // so they set σ) must also be left by more than variability_factor of those spreads: the
    // ~10-reading smoothing alone is shorter than the wander and understates it.
    const hourScale = m.hv !== undefined && (m.hk ?? 0) >= MIN_HOURS && m.hv >= m.e.s ? 1 : 0;
    const wander = Math.max(m.vs ?? 0, hourScale, 1e-9) * p.variability_factor;
    // Clip one reading's contribution so a single spike cannot make a "shift" on its own: at
    // twice the wander gate one reading moves the recent mean (weight RECENT) to a fifth of it,
    // while a level that wanders widely can still show a shift past its gate.
    const clip = wander > 3 ? 2 * wander : 6;
    const zc = z > clip ? clip : z < -clip ? -clip : z;
    if (m.sp === 0) {
      m.np = 0;
      m.zp = 0;
      m.tp = ts;
    }
    if (m.sn === 0) {
      m.nn = 0;
      m.zn = 0;
      m.tn = ts;
    }
    m.sp = Math.max(0, m.sp + zc - p.k);
    m.sn = Math.max(0, m.sn - zc - p.k);
    // Recent mean residual (EW, ~10 readings): the size of the shift now, not diluted by the
    // noise that started the excursion.
    if (m.sp > 0) {
      m.np++;
      m.zp = m.np === 1 ? zc : m.zp + RECENT * (zc - m.zp);
    }
    if (m.sn > 0) {
      m.nn++;
      m.zn = m.nn === 1 ? -zc : m.zn + RECENT * (-zc - m.zn);
    }
    m.sp = compact(m.sp);
    m.sn = compact(m.sn);
    m.zp = compact(m.zp);
    m.zn = compact(m.zn);

    const warm = m.g.n >= p.min_samples && ts - m.t0 >= p.min_learning && !relearning;
    const zs = m.zs ?? 0;
    const up = m.sp > p.h && m.np >= p.min_run && m.zp >= p.min_shift && zs >= wander && ts - m.tp >= p.min_duration;
    const down = m.sn > p.h && m.nn >= p.min_run && m.zn >= p.min_shift && -zs >= wander && ts - m.tn >= p.min_duration;
    let shifting = !relearning && (m.sp > p.h / 2 || m.sn > p.h / 2);
    // A shift that has outlasted the incident gap has been reported; it is the new level now.
    const since0 = m.sp > m.sn ? m.tp : m.tn;
    // One that never passed the gates was the level's own wander: restart the CUSUM, but do not
    // relearn, or the baseline would be re-centred on a passing excursion and the return from it
    // would look like the next shift.
    if (shifting && ts - since0 > p.incident_gap) {
      if (s.inc[name] !== undefined) m.rl = ts + p.relearn;
      m.sp = 0;
      m.sn = 0;
      shifting = false;
    }

    robustUpdate(m.g, x, win, shifting);
    robustUpdate(m.e, resid, win, shifting || Math.abs(z) > 4);
    // The wander is learned from everything but reported shifts (Huber-clipped instead): leaving
    // out every excursion the CUSUM is building on would, for a level that wanders, leave out the
    // wander itself and keep it looking like a string of shifts.
    this.learnWander(m, z, win, relearning || s.inc[name] !== undefined, clip);
    this.learnBucket(m, bi, x, shifting, relearning);

    if (!warm || (!up && !down)) return null;
    m.hf = 1;
    const dir = up ? 'above' : 'below';
    const mean = up ? m.zp : m.zn;
    // A level the metric routinely holds at other hours (a plant idling on a weekday evening, a
    // shop closed early) is unusual only for the hour: weaker evidence than a level it never
    // holds, so it stays low. Levels outside the daily profile's range keep their full score.
    const level = centre + m.e.c + (up ? 1 : -1) * mean * sigma;
    let pmin = Infinity;
    let pmax = -Infinity;
    for (let i = 0; i < 96; i += 2) {
      if (hb[i + 1]! < MIN_BUCKET_N) continue;
      if (hb[i]! < pmin) pmin = hb[i]!;
      if (hb[i]! > pmax) pmax = hb[i]!;
    }
    // A level the series has frequently occupied for real time (an operating mode: stopped,
    // closed, parked, charging) is a return to a known regime, whatever the hour: also low.
    const known = regimeKnown(m.rg!, m.xl, REGIME_MIN_DWELL, REGIME_MIN_SHARE);
    const contextual = (level >= pmin - sigma && level <= pmax + sigma) || known;
    let score = scoreFromZ(2 * mean);
    const n = up ? m.np : m.nn;
    const since = up ? m.tp : m.tn;
    // A shift whose onset is the silence itself (the excursion began within its grace window)
    // happened while the metric was not reported: a level that changed across the gap (a vehicle
    // refuelled, a trip that starts at a different pace), not a change watched building up.
    const acrossSilence = m.ss !== undefined && since >= m.ss && since <= m.se!;
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
        observed: compact(centre + m.e.c + (up ? 1 : -1) * mean * sigma),
        expected: `${fmt(centre + m.e.c)} ± ${fmt(sigma)}`,
        explanation: `${e.device_id} (${e.device_class}) ${name} has shifted ${fmt(mean)}σ ${dir} its usual ${fmt(centre + m.e.c)} ± ${fmt(sigma)} for ${fmtDuration(ts - since)} (${n} readings); confirm whether the setpoint or the process was changed on purpose, otherwise inspect the device and its controller for tampering.`,
        evidence: {
          metric: name,
          value: x,
          direction: dir,
          mean_shift_sigma: compact(mean),
          cusum: up ? m.sp : m.sn,
          readings: n,
          since_ts: since,
          baseline_center: compact(centre + m.e.c),
          baseline_sigma: compact(sigma),
          seasonal: true,
          within_daily_range: contextual,
          ...(acrossSilence ? { after_silence_ts: m.ss } : {}),
          known_level: known,
          wander_sigma: compact(m.vs ?? 0),
          hourly_spread: compact(m.hv ?? 0),
          noise_sigma: compact(m.e.s),
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
  private sigmaOf(m: ShiftMetric): number {
    const hv = (m.hk ?? 0) >= MIN_HOURS ? (m.hv ?? 0) : 0;
    // A residual spread learned mostly from idle readings (a count that is 0 most of the day)
    // collapses towards 0; half the series' own step size when it moves keeps "shifts" smaller
    // than one reading step from scoring as many σ.
    const step = m.rg !== undefined ? 0.5 * regimeNoise(m.rg) : 0;
    return Math.max(m.e.s, hv, step, Math.abs(m.g.c) * 1e-3, 1e-9);
  }

  /**
   * Fold a centred residual into the current hour; when the hour ends, its mean (relative to the
   * hour-of-day profile, so across days) updates the spread of hourly means. Huber-clipped so a
   * shift that was not reported moves it slowly; hours that raised a finding or were relearning
   * are left out so a reported shift does not teach that shifts are normal.
   */
  private learnHour(m: ShiftMetric, ts: number, r: number, skip: boolean): void {
    const h = Math.floor(ts / HOUR_MS);
    if (m.hh !== h) {
      const n = m.hn ?? 0;
      if (n > 0 && m.hf === undefined && h > (m.hh ?? h)) {
        const mean = (m.hs ?? 0) / n;
        const k = m.hk ?? 0;
        const hv = m.hv ?? 0;
        const a = Math.max(1 / (k + 1), 1 / HOUR_MEMORY);
        const lim = k === 0 ? Infinity : 3 * hv;
        const d = mean < 0 ? -mean : mean;
        const dc = d > lim ? lim : d;
        m.hv = compact(Math.sqrt((1 - a) * hv * hv + a * dc * dc));
        if (k < 1e6) m.hk = k + 1;
      }
      if (h < (m.hh ?? h)) return; // a late reading from an earlier hour: not part of this one
      m.hh = h;
      m.hs = 0;
      m.hn = 0;
      m.hf = undefined;
    }
    if (skip) {
      m.hf = 1;
      return;
    }
    m.hs = compact((m.hs ?? 0) + r);
    m.hn = (m.hn ?? 0) + 1;
  }

  /**
   * The smoothed residual (EW over ~10 readings) and its usual size: white noise averages out
   * (spread ≈ 0.23σ), a level that wanders does not, and a shift must stand out from that wander.
   */
  private learnWander(m: ShiftMetric, z: number, win: number, outlier = false, clip = 6): void {
    const zc = z > clip ? clip : z < -clip ? -clip : z;
    const zs = (m.zs ?? 0) + RECENT * (zc - (m.zs ?? 0));
    m.zs = compact(zs);
    if (outlier) return;
    const a = Math.max(1 / (m.e.n + 1), 1 / win);
    const vs = m.vs ?? 0;
    const d = zs < 0 ? -zs : zs;
    const lim = vs > 0 ? 3 * vs : Infinity;
    m.vs = compact((1 - a) * vs + a * ABS_TO_SIGMA * (d > lim ? lim : d));
  }

  private learnBucket(m: ShiftMetric, bi: number, x: number, outlier: boolean, fast = false): void {
    const hb = m.hb;
    const n = hb[bi + 1]!;
    if (n === 0) {
      hb[bi] = compact(x);
      hb[bi + 1] = 1;
      return;
    }
    let a = Math.max(1 / (n + 1), 1 / this.p.window) * (outlier ? 0.25 : 1);
    if (fast && a < RELEARN_ALPHA) a = RELEARN_ALPHA;
    const sg = Math.max(m.e.s, 1e-9) * 3;
    const d = x - hb[bi]!;
    hb[bi] = compact(hb[bi]! + a * (d > sg ? sg : d < -sg ? -sg : d));
    if (n < 1e6) hb[bi + 1] = n + 1;
  }
}

const NONE: FindingDraft[] = [];
