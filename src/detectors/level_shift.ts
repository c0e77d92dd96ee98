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
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { scoreFromZ } from './score.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { M2MEvent, TelemetryEvent } from '../events/types.js';
import { EXCLUDE_PARAM, METRICS_PARAM, compact, fmt, fmtDuration, hourOfDay, isWeekend, metricFilter, robustNew, robustReady, robustUpdate } from './util.js';
import type { RobustStat } from './util.js';

export interface LevelShiftParams extends Record<string, unknown> {
  metrics: string[];
  exclude: string[];
  k: number;
  h: number;
  min_shift: number;
  min_run: number;
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
  /** Previous value, and rises/falls seen (cumulative counters have no level to shift). */
  pv?: number;
  up?: number;
  dn?: number;
  /** Fast relearning (after a reboot, a firmware change, or a shift absorbed) until this time. */
  rl?: number;
}

export interface LevelShiftState {
  m: Record<string, ShiftMetric>;
  nm: number;
  inc: IncidentBook;
  fw?: string;
  sq?: number;
}

const MIN_BUCKET_N = 8;
const RECENT = 0.1;
/** History the residual spread and the level's wander need before they are trusted. */
const RESID_LEARN_MS = 24 * 3_600_000;
/** Learning-rate floor while relearning. */
const RELEARN_ALPHA = 0.05;
const SEQ_RESTART = 5;
/** Highest score (low) for a shift to a level the daily profile already holds at other hours. */
const CONTEXT_CAP = 0.45;
/** Cheap σ of the slow wander from the mean |smoothed residual| (as for a Gaussian). */
const ABS_TO_SIGMA = 1.2533;

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
    'Sustained level shifts and drifts in a metric (two-sided CUSUM on robust, de-seasonalised residuals), judged against how much the metric\'s level normally wanders: the change that never spikes but stays, such as a nudged setpoint, a stuck-open valve or a calibration drift. Cumulative counters are skipped; reboots and firmware changes trigger a quick relearn.',
  params: {
    metrics: METRICS_PARAM,
    exclude: EXCLUDE_PARAM,
    k: { type: 'number', description: 'CUSUM allowance in σ: residual drift below this is ignored.', default: 1, minimum: 0.1, maximum: 5 },
    h: { type: 'number', description: 'CUSUM decision threshold in σ·samples.', default: 15, minimum: 2 },
    min_shift: { type: 'number', description: 'Recent mean residual (EWMA over ~10 readings), in σ, needed to fire.', default: 2.5, minimum: 0.5 },
    min_run: { type: 'integer', description: 'Samples an excursion must last before it can fire.', default: 10, minimum: 2 },
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
        'The recent mean residual must also exceed this many times the usual spread of recent means, so a metric whose level wanders from day to day (drifting transmitters, Poisson counts, load that differs by weekday) needs a proportionally larger shift.',
      default: 4,
      minimum: 1,
    },
    relearn: {
      type: 'duration',
      description: 'After a reboot (seq restart) or a firmware change, the detector relearns the level quickly and says nothing for this long.',
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
    // Per metric: name, two robust stats with their warm-up buffers, the 48-hour profile, ~17
    // scalars, an open incident; plus the device's firmware and seq.
    this.maxStateBytes = 64 + 100 + p.max_metrics * (64 + 2 * (60 + 16 * 22) + 48 * 2 * 14 + 17 * 18 + 140);
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): LevelShiftState {
    return { m: {}, nm: 0, inc: {} };
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
        m = { t0: e.ts, g: robustNew(), e: robustNew(), hb: new Array<number>(96).fill(0), sp: 0, sn: 0, np: 0, nn: 0, zp: 0, zn: 0, tp: 0, tn: 0 };
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
    const up0 = m.up ?? 0;
    if (up0 >= 20 && (m.dn ?? 0) <= up0 * 0.01 && up0 >= 0.8 * m.g.n) return null;
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
        if (robustReady(m.e)) this.learnWander(m, (resid - m.e.c) / Math.max(m.e.s, Math.abs(m.g.c) * 1e-3, 1e-9), win);
      }
      this.learnBucket(m, bi, x, false, relearning);
      return null;
    }
    const sigma = Math.max(m.e.s, Math.abs(m.g.c) * 1e-3, 1e-9);
    const z = (resid - m.e.c) / sigma;
    // Clip one reading's contribution so a single spike cannot make a "shift" on its own.
    const zc = z > 6 ? 6 : z < -6 ? -6 : z;
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
    const wander = Math.max(m.vs ?? 0, 1e-9) * p.variability_factor;
    const up = m.sp > p.h && m.np >= p.min_run && m.zp >= p.min_shift && zs >= wander;
    const down = m.sn > p.h && m.nn >= p.min_run && m.zn >= p.min_shift && -zs >= wander;
    let shifting = !relearning && (m.sp > p.h / 2 || m.sn > p.h / 2);
    // A shift that has outlasted the incident gap has been reported; it is the new level now.
    const since0 = m.sp > m.sn ? m.tp : m.tn;
    if (shifting && ts - since0 > p.incident_gap) {
      m.rl = ts + p.relearn;
      m.sp = 0;
      m.sn = 0;
      shifting = false;
    }

    robustUpdate(m.g, x, win, shifting);
    robustUpdate(m.e, resid, win, shifting || Math.abs(z) > 4);
    this.learnWander(m, z, win, shifting);
    this.learnBucket(m, bi, x, shifting, relearning);

    if (!warm || (!up && !down)) return null;
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
    const contextual = level >= pmin - sigma && level <= pmax + sigma;
    let score = scoreFromZ(2 * mean);
    if (contextual && score > CONTEXT_CAP) score = CONTEXT_CAP;
    const n = up ? m.np : m.nn;
    const since = up ? m.tp : m.tn;
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
          wander_sigma: compact(m.vs ?? 0),
        },
        mitre: levelShift.mitre,
      },
      p.incident_gap,
    );
  }

  /**
   * The smoothed residual (EW over ~10 readings) and its usual size: white noise averages out
   * (spread ≈ 0.23σ), a level that wanders does not, and a shift must stand out from that wander.
   */
  private learnWander(m: ShiftMetric, z: number, win: number, outlier = false): void {
    const zc = z > 6 ? 6 : z < -6 ? -6 : z;
    const zs = (m.zs ?? 0) + RECENT * (zc - (m.zs ?? 0));
    m.zs = compact(zs);
    if (outlier) return;
    const a = Math.max(1 / (m.e.n + 1), 1 / win);
    m.vs = compact((1 - a) * (m.vs ?? 0) + a * ABS_TO_SIGMA * Math.abs(zs));
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
