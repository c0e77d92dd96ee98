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
 *
 * This file holds the spec and the wiring; state.ts the state layout and its revival, profile.ts
 * the hour-of-day profile, model.ts the statistics (arrival, levels, robust level and spread,
 * wander, CUSUM and its gates).
 */
import { closeStale, raiseThrottled } from '../incident.js';
import { scoreFromZ } from '../score.js';
import { TELEMETRY_ONLY, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from '../types.js';
import type { M2MEvent, TelemetryEvent } from '../../events/types.js';
import { compact } from '../lib/compact.js';
import { fmt, fmtDuration } from '../lib/format.js';
import { RELEARN_ALPHA, inOperatingMode, restarted } from '../lib/lifecycle.js';
import { EXCLUDE_PARAM, METRICS_PARAM, metricFilter } from '../lib/metric-filter.js';
import { ROBUST_INIT } from '../lib/robust.js';
import { HOUR_BUCKET_MIN_N } from '../lib/time.js';
import { changeRole } from '../fleet.js';
import { CONTEXT_CAP, arrive, cusumStep, excursionBuilding, learnHour, learnUnjudged, learnWander, robustStep, sampleLevels, shiftSide, sigmaOf, wanderGate } from './model.js';
import { bucketOf, inDailyRange, learnBucket, profileAt, slotFor } from './profile.js';
import { F_EC, F_EN, F_ES, F_GC, F_GN, F_HF, F_HV, F_NN, F_NP, F_RL, F_SE, F_SN, F_SP, F_SS, F_T0, F_TE, F_TN, F_TP, F_VS, F_XL, F_ZN, F_ZP, initState, newMetric, reviveState, stateBound } from './state.js';
import type { LevelShiftState, ShiftMetric } from './state.js';

/** History the residual spread and the level's wander need before they are trusted. */
const RESID_LEARN_MS = 24 * 3_600_000;

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
    this.maxStateBytes = stateBound(p.max_metrics);
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'telemetry';
  }

  init(): LevelShiftState {
    return initState();
  }

  revive(state: unknown): LevelShiftState | undefined {
    return reviveState(state);
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
        m = newMetric(e.ts, x, bucketOf(e.ts));
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

  /** One reading x of metric `name`: the steps of model.ts and profile.ts, in order, and the finding it makes. */
  private observe(s: LevelShiftState, m: ShiftMetric, name: string, x: number, e: TelemetryEvent): FindingDraft | null {
    const p = this.p;
    const ts = e.ts;
    if (arrive(m.f, x, ts, p)) return null;
    sampleLevels(m, x, ts, s.inc[name]);
    const relearning = ts < m.f[F_RL]!;
    const win = relearning ? Math.min(p.window, 1 / RELEARN_ALPHA) : p.window;
    // The profile learns from the first reading; residuals use it once it has seen enough days.
    // Until then, and for a bucket not learned yet (the first weekend, say), there is no
    // opinion, rather than a comparison against the wrong part of the cycle.
    const bi = bucketOf(ts);
    // This reading's bucket gets a slot now (it learns from the reading below).
    const pi = slotFor(m, bi);
    const f = m.f;
    const profiled = ts - f[F_T0]! >= p.seasonal_after && f[pi + 1]! >= HOUR_BUCKET_MIN_N;
    const centre = profiled ? profileAt(f, pi, bi, ts) : f[F_GC]!;
    const ready = f[F_GN]! >= ROBUST_INIT && f[F_EN]! >= ROBUST_INIT && profiled;
    const resid = x - centre;
    const te = f[F_TE]!;
    if (!ready || te !== te || ts - te < RESID_LEARN_MS) {
      learnUnjudged(m, pi, x, ts, resid, profiled, win, p.window, relearning);
      return null;
    }
    learnHour(f, ts, resid - f[F_EC]!, relearning);
    const sigma = sigmaOf(f, m.r);
    const z = (resid - f[F_EC]!) / sigma;
    const wander = wanderGate(f, p.variability_factor);
    // Clip one reading's contribution so a single spike cannot make a "shift" on its own: at
    // twice the wander gate one reading moves the recent mean (weight 0.1) to a fifth of it,
    // while a level that wanders widely can still show a shift past its gate.
    const clip = wander > 3 ? 2 * wander : 6;
    cusumStep(f, z, clip, p.k, ts);
    const warm = f[F_GN]! >= p.min_samples && ts - f[F_T0]! >= p.min_learning && !relearning;
    const side = shiftSide(f, p, wander, ts);
    const shifting = excursionBuilding(f, p, ts, relearning, s.inc[name] !== undefined);
    robustStep(m, F_GN, x, win, shifting);
    robustStep(m, F_EN, resid, win, shifting || Math.abs(z) > 4);
    // The wander is learned from everything but reported shifts (Huber-clipped instead): leaving
    // out every excursion the CUSUM is building on would, for a level that wanders, leave out the
    // wander itself and keep it looking like a string of shifts.
    learnWander(f, z, win, relearning || s.inc[name] !== undefined, clip);
    learnBucket(f, pi, x, p.window, shifting, relearning);
    if (!warm || side === 0) return null;
    return this.finding(s, m, name, x, e, side > 0, centre, sigma);
  }

  /** The finding for a shift up or down (its incident raised or extended), judged against `centre` ± `sigma`. */
  private finding(s: LevelShiftState, m: ShiftMetric, name: string, x: number, e: TelemetryEvent, up: boolean, centre: number, sigma: number): FindingDraft | null {
    const p = this.p;
    const ts = e.ts;
    const f = m.f;
    f[F_HF] = 1;
    const dir = up ? 'above' : 'below';
    const mean = up ? f[F_ZP]! : f[F_ZN]!;
    const ec = f[F_EC]!;
    const level = centre + ec + (up ? 1 : -1) * mean * sigma;
    // A level the series has frequently occupied for real time (an operating mode: stopped,
    // closed, parked, charging) is a return to a known regime, whatever the hour: low.
    const known = inOperatingMode(m.r, f[F_XL]!);
    // So is a level the metric routinely holds at other hours (a plant idling on a weekday
    // evening, a shop closed early): unusual only for the hour, weaker evidence than a level it
    // never holds. Levels outside the daily profile's range keep their full score.
    const contextual = inDailyRange(f, level, sigma) || known;
    let score = scoreFromZ(2 * mean);
    const n = up ? f[F_NP]! : f[F_NN]!;
    const since = up ? f[F_TP]! : f[F_TN]!;
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
        observed: compact(level),
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
}

const NONE: FindingDraft[] = [];
