/**
 * reporting: changes in how often a device reports, and silence — a device that stops
 * reporting is found from the watermark (tick), although no event arrives from it.
 *
 * The baseline is a robust running centre/spread of the log inter-arrival time (log because
 * intervals are multiplicative: 30 s → 60 s is the same change as 5 min → 10 min). A fast EWMA
 * of the same quantity is compared with it to see rate changes.
 *
 * Silence is cheap until sustained: outages and maintenance windows make many devices go quiet
 * together and come back, so a short silence is low severity and only a silence longer than
 * `sustained` rises to medium. Intervals are event time, so a burst of buffered readings that
 * arrives after an outage with its original timestamps looks normal, and a device that returns
 * closes its silence incident with a final update carrying the true duration.
 */
import { raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { reusedResult, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepContext, type StepResult } from './types.js';
import type { M2MEvent } from '../events/types.js';
import { compact, fmt, fmtDuration, robustNew, robustReady, robustUpdate } from './util.js';
import type { RobustStat } from './util.js';

export interface ReportingParams extends Record<string, unknown> {
  events: 'telemetry' | 'connection' | 'any';
  min_samples: number;
  learning: number;
  silence_factor: number;
  min_silence: number;
  sustained: number;
  rate_factor: number;
  window: number;
  incident_gap: number;
}

export interface ReportingState {
  t0: number;
  /** Last event time. */
  lt: number;
  /** Log10 inter-arrival (ms): robust baseline and fast EWMA. */
  r: RobustStat;
  f: number;
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
  /** Longest ordinary interval (ms) and when it was seen; it decays with LONG_HALF_LIFE. */
  lm: number;
  lmt: number;
}

const FAST_ALPHA = 0.1;
const LOG_CLIP = 1; // one decade: a single odd interval moves the fast average by ≤ 0.1 decade
const SILENCE_GAP = 365 * 86_400_000; // silence incidents end when the device speaks, not by gap
/**
 * A device with two rhythms (a vehicle reporting every 10 s on trips and hourly when parked) has a
 * long interval that is too rare for the p98 of its intervals to see: silence is also measured
 * against LONG_FACTOR × the longest ordinary (not itself silent) interval seen recently, which
 * forgets with LONG_HALF_LIFE, so two missed hourly heartbeats are not a sustained silence.
 */
const LONG_FACTOR = 3;
const LONG_HALF_LIFE = 3 * 86_400_000;

export const reporting: DetectorSpec<ReportingParams> = {
  name: 'reporting',
  family: 'telemetry',
  summary:
    "Silence (a device that stops reporting, found from the watermark although no event arrives) and reporting-rate changes (a device reporting several times faster or slower than its own baseline). Silence is low severity until sustained, so fleet-wide outages and maintenance windows stay cheap.",
  params: {
    events: { type: 'string', description: 'Which events count as reports.', enum: ['telemetry', 'connection', 'any'], default: 'telemetry' },
    min_samples: { type: 'integer', description: 'Intervals to learn before rate changes or silence can fire.', default: 30, minimum: 16 },
    learning: { type: 'duration', description: 'Event time to learn before rate changes can fire.', default: '6h' },
    silence_factor: {
      type: 'number',
      description: "Silence fires after this many of the device's long (≈p98) reporting intervals.",
      default: 10,
      minimum: 2,
    },
    min_silence: { type: 'duration', description: 'Never report silence shorter than this.', default: '15m' },
    sustained: { type: 'duration', description: 'Silence longer than this is medium severity (shorter is low).', default: '2h' },
    rate_factor: { type: 'number', description: 'A sustained rate change of at least this factor (faster or slower) fires.', default: 4, minimum: 1.5 },
    window: { type: 'integer', description: 'Effective memory of the interval baseline, in intervals.', default: 500, minimum: 20 },
    incident_gap: { type: 'duration', description: 'Rate anomalies closer than this extend one finding.', default: '1h' },
  },
  example:
    'meter-0042 (smart_meter) has sent nothing for 3.2h although it normally reports every 60s; check its power and network path, and whether other devices on the same site went quiet at the same time (outage) or only this one (tampering).',
  mitre: ['T0815', 'T0881'],
  create(params, id) {
    return new ReportingDetector(params, id);
  },
};

class ReportingDetector implements DetectorInstance<ReportingState> {
  readonly spec = reporting;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<ReportingState>();
  readonly maxStateBytes = 60 + 16 * 22 + 60 + 2 * 200 + 2 * 22;

  constructor(
    private readonly p: ReportingParams,
    readonly id: string,
  ) {}

  applies(ev: M2MEvent): boolean {
    return this.p.events === 'any' || ev.type === this.p.events;
  }

  init(ev: M2MEvent): ReportingState {
    // NaN, not undefined, for "none yet": a field first written undefined is stored tagged, and
    // every number written to it then allocates a heap box.
    return { t0: ev.ts, lt: Number.NEGATIVE_INFINITY, r: robustNew(), f: 0, inc: null, lm: NaN, lmt: NaN };
  }

  /** lm/lmt were optional fields (absent in JSON) and are NaN now (null in JSON). */
  revive(state: unknown): ReportingState | undefined {
    const o = state as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null || typeof o.r !== 'object' || o.r === null || typeof o.inc !== 'object') return undefined;
    const num = (x: unknown) => (typeof x === 'number' ? x : NaN);
    return { ...(o as unknown as ReportingState), lm: num(o.lm), lmt: num(o.lmt) };
  }

  step(s: ReportingState, e: M2MEvent): StepResult<ReportingState> {
    const p = this.p;
    let out: FindingDraft[] | null = null;
    const sil = s.inc?.silence;
    if (sil !== undefined && e.ts > sil.last_ts) {
      // The device is back: one last update with the real length of the silence.
      const gap = e.ts - s.lt;
      const f = raiseThrottled((s.inc ??= {}), this.silenceDraft(s, e.device_id, e.device_class, e.ts, gap, true), SILENCE_GAP, 0);
      delete s.inc?.silence;
      if (f !== null) (out ??= []).push(f);
    }
    if (!(e.ts > s.lt)) {
      if (s.lt === Number.NEGATIVE_INFINITY) s.lt = e.ts;
      return this.result(s, out ?? NONE);
    }
    const d = e.ts - s.lt;
    s.lt = e.ts;
    if (d > 0.5 * (s.lm === s.lm ? s.lm : 0) && Number.isFinite(d) && (!robustReady(s.r) || s.r.n < p.min_samples || d < this.silenceAfter(s, e.ts - d))) {
      if (d >= this.longest(s, e.ts)) {
        s.lm = d;
        s.lmt = e.ts;
      }
    }
    const lx = Math.log10(Math.max(d, 1));
    if (!robustReady(s.r)) {
      robustUpdate(s.r, lx, p.window);
      s.f = s.r.c;
      if (robustReady(s.r)) s.f = s.r.c;
      return this.result(s, out ?? NONE);
    }
    const dl = lx - s.r.c;
    const cl = dl > LOG_CLIP ? LOG_CLIP : dl < -LOG_CLIP ? -LOG_CLIP : dl;
    s.f = compact(s.f + FAST_ALPHA * (s.r.c + cl - s.f));
    const shift = s.f - s.r.c;
    const need = Math.max(Math.log10(p.rate_factor), 1.5 * s.r.s);
    const anomalous = Math.abs(shift) >= need;
    robustUpdate(s.r, lx, p.window, anomalous || Math.abs(dl) > 3 * Math.max(s.r.s, 0.05));
    if (anomalous && s.r.n >= p.min_samples && e.ts - s.t0 >= p.learning) {
      const factor = Math.pow(10, Math.abs(shift));
      const faster = shift < 0;
      const usual = Math.pow(10, s.r.c);
      const now = Math.pow(10, s.f);
      const score = Math.min(0.6, 0.3 + 0.1 * Math.log2(factor / p.rate_factor + 1));
      const f = raiseThrottled((s.inc ??= {}),
        {
          detector: this.id,
          key: 'rate',
          device_id: e.device_id,
          device_class: e.device_class,
          ts: e.ts,
          score,
          observed: `every ${fmtDuration(now)}`,
          expected: `every ${fmtDuration(usual)}`,
          explanation: `${e.device_id} (${e.device_class}) now reports every ${fmtDuration(now)}, ${fmt(factor)}× ${faster ? 'faster' : 'slower'} than its usual ${fmtDuration(usual)}; check for a configuration change, a flooding or looping device, or a degraded link.`,
          evidence: { interval_ms: Math.round(now), usual_interval_ms: Math.round(usual), factor: compact(factor), direction: faster ? 'faster' : 'slower' },
          mitre: faster ? ['T0814'] : ['T0815'],
        },
        p.incident_gap,
      );
      if (f !== null) (out ??= []).push(f);
    } else if (!anomalous && s.inc?.rate !== undefined && e.ts - s.inc?.rate.last_ts > p.incident_gap) delete s.inc?.rate;
    return this.result(s, out ?? NONE);
  }

  /** Silence threshold: silence_factor × a long normal interval (≈ p98 in log space). */
  private silenceAfter(s: ReportingState, now: number): number {
    const long = Math.pow(10, s.r.c + 2 * Math.max(s.r.s, 0.02));
    return Math.max(this.p.min_silence, this.p.silence_factor * long, LONG_FACTOR * this.longest(s, now));
  }

  /** The longest ordinary interval, decayed to `now`. */
  private longest(s: ReportingState, now: number): number {
    const lm = s.lm;
    if (lm !== lm) return 0;
    const age = now - (s.lmt === s.lmt ? s.lmt : now);
    return age > 0 ? lm * Math.pow(0.5, age / LONG_HALF_LIFE) : lm;
  }

  /**
   * tick() does nothing before the device has learned its intervals, nor while the silence is
   * shorter than silenceAfter(s, s.lt), which depends on the state alone; so the engine need
   * not visit the device before then. One millisecond early absorbs the rounding of the sum.
   */
  nextTick(s: ReportingState): number {
    if (!robustReady(s.r) || s.r.n < this.p.min_samples) return Number.POSITIVE_INFINITY;
    return s.lt + this.silenceAfter(s, s.lt) - 1;
  }

  tick(s: ReportingState, deviceId: string, deviceClass: string, ctx: StepContext): StepResult<ReportingState> {
    if (!robustReady(s.r) || s.r.n < this.p.min_samples || !Number.isFinite(ctx.watermark)) return this.result(s, NONE);
    const gap = ctx.watermark - s.lt;
    if (gap < this.silenceAfter(s, s.lt)) return this.result(s, NONE);
    const f = raiseThrottled((s.inc ??= {}), this.silenceDraft(s, deviceId, deviceClass, ctx.watermark, gap, false), SILENCE_GAP, 30 * 60_000);
    return this.result(s, f === null ? NONE : [f]);
  }

  private silenceDraft(s: ReportingState, deviceId: string, deviceClass: string, ts: number, gap: number, ended: boolean) {
    const p = this.p;
    const usual = Math.pow(10, s.r.c);
    const score = gap < p.sustained ? 0.3 : Math.min(0.65, 0.5 + 0.05 * Math.log2(gap / p.sustained));
    return {
      detector: this.id,
      key: 'silence',
      device_id: deviceId,
      device_class: deviceClass,
      ts,
      score,
      observed: `silent for ${fmtDuration(gap)}`,
      expected: `a report every ${fmtDuration(usual)}`,
      explanation: ended
        ? `${deviceId} (${deviceClass}) was silent for ${fmtDuration(gap)} (it normally reports every ${fmtDuration(usual)}) and has resumed; if many devices were silent together this was an outage, otherwise check the device for a reboot, tampering or a firmware change.`
        : `${deviceId} (${deviceClass}) has sent nothing for ${fmtDuration(gap)} although it normally reports every ${fmtDuration(usual)}; check its power and network path, and whether other devices on the same site went quiet at the same time (outage) or only this one (tampering).`,
      evidence: { silent_ms: gap, last_seen_ts: s.lt, usual_interval_ms: Math.round(usual), threshold_ms: Math.round(this.silenceAfter(s, s.lt)), resumed: ended },
      mitre: reporting.mitre,
    };
  }
}

const NONE: FindingDraft[] = [];
