/**
 * reporting: changes in how often a device reports, and silence — a device that stops
 * reporting is found from the watermark (tick), although no event arrives from it.
 *
 * The baseline is a robust running centre/spread of the log inter-arrival time (log because
 * intervals are multiplicative: 30 s → 60 s is the same change as 5 min → 10 min). A fast EWMA
 * of the same quantity is compared with it to see rate changes.
 *
 * Silence is measured in the hours the device is usually awake (presence.ts): many devices sleep
 * on a schedule (ignition off, shop closed, no shift), and a silence that matches the device's own
 * week is not a finding, while a device that fails to wake when it always does is one. Hours never
 * observed on any day (the first night) count only towards a low finding, so learning a sleeper
 * costs no alert. Devices that sleep without a schedule (a van parked at any hour, a battery sensor
 * that wakes on its own timer) teach the detector their long gaps: a silence that ends by itself
 * is remembered, and later silences are judged against the longest of them.
 *
 * Silence is cheap until sustained: outages and maintenance windows make many devices go quiet
 * together and come back, so a short silence is low severity and only a silence longer than
 * `sustained` of awake time rises to medium. Intervals are event time, so a burst of buffered
 * readings that arrives after an outage with its original timestamps looks normal, and a device
 * that returns closes its silence incident with a final update carrying the true duration.
 *
 * Silence is found in stream time, though: a device that uploads its readings in batches (every
 * four hours, say) or stores and forwards them over a flaky link is not heard from for hours while
 * its timestamps stay evenly spaced (and its connections may keep arriving meanwhile). Such a delivery gap (an arrival after a long wait whose
 * readings keep their cadence) is remembered like a long gap, and later silences are judged
 * against the longest of them: the device is late, not silent.
 */
import { raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { reusedResult, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepContext, type StepResult } from './types.js';
import type { M2MEvent } from '../events/types.js';
import { compact } from './lib/compact.js';
import { fmt, fmtDuration } from './lib/format.js';
import { robustNew, robustReady, robustUpdate } from './lib/robust.js';
import type { RobustStat } from './lib/robust.js';
import { awakeReachedAt, awakeTime, hourWeights, presenceNew, presenceObserve, presenceRevive } from './presence.js';
import type { AwakeTime, HourWeights, Presence } from './presence.js';
import { changeRole } from './fleet.js';

export interface ReportingParams extends Record<string, unknown> {
  events: 'telemetry' | 'connection' | 'any';
  min_samples: number;
  learning: number;
  silence_factor: number;
  min_silence: number;
  sustained: number;
  sleeper_learning: number;
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
  /** Weekly presence (hours the device is usually awake). */
  pr: Presence;
  /** Longest awake time (ms) of a silence that ended by itself, and when; decays with GAP_HALF_LIFE. */
  lg: number;
  lgt: number;
  /** Gaps that ended by themselves: count, mean and spread (≈σ) of log10 awake time, floored at half of `sustained` (shorter gaps say nothing of how long the device can sleep). */
  gn: number;
  gc: number;
  gs: number;
  /** Longest delivery gap (ms of stream time between arrivals, while the readings themselves kept their cadence) and when; decays with GAP_HALF_LIFE. */
  dg: number;
  dgt: number;
}

/** When a silence since `lt` reaches its threshold of awake time (derived, so never checkpointed). */
interface Due {
  lt: number;
  at: number;
}

const FAST_ALPHA = 0.1;
const LOG_CLIP = 1; // one decade: a single odd interval moves the fast average by ≤ 0.1 decade
const SILENCE_GAP = 365 * 86_400_000; // silence incidents end when the device speaks, not by gap
/**
 * A device with two rhythms (a vehicle reporting every 10 s on trips and hourly when parked) has a
 * long interval that is too rare for the p98 of its intervals to see: silence is also measured
 * against LONG_FACTOR × the longest ordinary (not itself silent) interval seen recently, in awake
 * time, which forgets with LONG_HALF_LIFE, so two missed hourly heartbeats are not a sustained
 * silence.
 */
const LONG_FACTOR = 3;
const LONG_HALF_LIFE = 3 * 86_400_000;
/**
 * A device that sleeps without a schedule is judged against its own recent long gaps: a silence
 * is reported only past LOW_GAP_FACTOR × the longest one that ended by itself (awake time,
 * ordinary or not: the margin absorbs the drift of wake-up times), and rises to medium only past
 * GAP_FACTOR × that (decaying with GAP_HALF_LIFE, so one long outage
 * does not mask silences for long).
 */
const LOW_GAP_FACTOR = 1.5;
const GAP_FACTOR = 2;
const GAP_HALF_LIFE = 7 * 86_400_000;
/** Long gaps: weight of the newest in their running mean (≈ the last 20), samples before the tail applies, and the tail in σ. */
const GAP_ALPHA = 0.05;
const GAP_MIN = 3;
const GAP_TAIL = 3;
const GAP_TAIL_LOW = 2;
/** Silence updates are throttled to one per this much event time. */
const SILENCE_UPDATE = 30 * 60_000;
const DAY = 86_400_000;

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
    sustained: { type: 'duration', description: 'Silence longer than this (in hours the device is usually awake) is medium severity; shorter is low. Devices that sleep are judged against their own long gaps too.', default: '2h' },
    sleeper_learning: { type: 'duration', description: 'A device that has shown quiet hours is watched this long before its silences can be medium (its first long park or first weekend is learned, not alerted).', default: '3d' },
    rate_factor: { type: 'number', description: 'A sustained rate change of at least this factor (faster or slower) fires.', default: 4, minimum: 1.5 },
    window: { type: 'integer', description: 'Effective memory of the interval baseline, in intervals.', default: 500, minimum: 20 },
    incident_gap: { type: 'duration', description: 'Rate anomalies closer than this extend one finding.', default: '1h' },
  },
  example:
    'meter-0042 (smart_meter) has sent nothing for 3.2h although it normally reports every 60s; check its power and network path, and whether other devices on the same site went quiet at the same time (outage) or only this one (tampering).',
  mitre: ['T0815', 'T0881'],
  fleet: changeRole((f) => f.evidence.direction),
  create(params, id) {
    return new ReportingDetector(params, id);
  },
};

class ReportingDetector implements DetectorInstance<ReportingState> {
  readonly spec = reporting;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<ReportingState>();
  readonly maxStateBytes = 60 + 16 * 22 + 60 + 2 * 200 + 2 * 22 + 200 + 4 * 22;
  /**
   * Per state object, when its current silence reaches the threshold: derived from the state, so
   * kept beside it (a checkpoint need not carry it and a restored device computes it again).
   */
  private readonly due = new WeakMap<ReportingState, Due>();

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
    return { t0: ev.ts, lt: Number.NEGATIVE_INFINITY, r: robustNew(), f: 0, inc: null, lm: NaN, lmt: NaN, pr: presenceNew(), lg: NaN, lgt: NaN, gn: 0, gc: 0, gs: 0, dg: NaN, dgt: NaN };
  }

  /** Numbers that may be NaN are null in JSON; states from before presence start it afresh. */
  revive(state: unknown): ReportingState | undefined {
    const o = state as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null || typeof o.r !== 'object' || o.r === null || typeof o.inc !== 'object') return undefined;
    const num = (x: unknown) => (typeof x === 'number' ? x : NaN);
    const pr = presenceRevive(o.pr) ?? presenceNew();
    return { ...(o as unknown as ReportingState), lm: num(o.lm), lmt: num(o.lmt), pr, lg: num(o.lg), lgt: num(o.lgt), gn: num(o.gn) || 0, gc: num(o.gc) || 0, gs: num(o.gs) || 0, dg: num(o.dg), dgt: num(o.dgt) };
  }

  step(s: ReportingState, e: M2MEvent, ctx: StepContext): StepResult<ReportingState> {
    const p = this.p;
    let out: FindingDraft[] | null = null;
    // A report that arrives after a wait far longer than its gap to the previous report was
    // delivered late, in a batch. The wait is the stream time since the device was last heard, or,
    // when other traffic of the device (connections) kept arriving meanwhile, how far its newest
    // timestamp had moved past its previous report.
    const waited = Math.max(ctx.sinceHeard, ctx.watermark - s.lt);
    if (waited >= p.min_silence && waited > 2 * (e.ts - s.lt) && waited >= this.deliveryGap(s, e.ts)) {
      s.dg = waited;
      s.dgt = e.ts;
    }
    const sil = s.inc?.silence;
    if (sil !== undefined && e.ts > sil.last_ts) {
      // The device is back: one last update with the real length of the silence.
      const hw = hourWeights(s.pr);
      const aw = awakeTime(hw, s.lt, e.ts);
      const f = raiseThrottled((s.inc ??= {}), this.silenceDraft(s, hw, e.device_id, e.device_class, e.ts, e.ts - s.lt, aw, true), SILENCE_GAP, 0);
      delete s.inc?.silence;
      if (f !== null) (out ??= []).push(f);
    }
    if (!(e.ts > s.lt)) {
      if (s.lt === Number.NEGATIVE_INFINITY) {
        s.lt = e.ts;
        presenceObserve(s.pr, e.ts, NaN);
      }
      return this.result(s, out ?? NONE);
    }
    const d = e.ts - s.lt;
    // Gaps are judged in awake time: an interval shorter than min_silence lies in hours the
    // device is awake; a longer one is weighed by its week (a night's sleep is a short gap).
    const aw = d >= p.min_silence ? awakeTime(hourWeights(s.pr), s.lt, e.ts) : null;
    const da = aw === null ? d : aw.known;
    // A gap mostly in hours never observed teaches nothing about how long the device sleeps.
    if (aw !== null && aw.unknown < 0.5 * d && robustReady(s.r)) {
      if (da >= this.longGap(s, e.ts)) {
        s.lg = Math.round(da);
        s.lgt = e.ts;
      }
      // The spread of the device's long gaps: a van parked for anything from minutes to a day
      // needs a far longer silence before it is sustained than a sensor that sleeps like clockwork.
      const x = Math.log10(Math.max(da, p.sustained / 2));
      const a = Math.max(1 / (s.gn + 1), GAP_ALPHA);
      const dev = Math.abs(x - s.gc);
      s.gc = compact(s.gn === 0 ? x : s.gc + a * (x - s.gc));
      s.gs = compact(s.gn === 0 ? 0 : s.gs + a * (1.25 * dev - s.gs));
      if (s.gn < 1e6) s.gn++;
    }
    if (da > 0.5 * (s.lm === s.lm ? s.lm : 0) && Number.isFinite(d) && (!robustReady(s.r) || s.r.n < p.min_samples || da < this.silenceAfter(s, s.lt))) {
      if (da >= this.longest(s, e.ts)) {
        s.lm = da;
        s.lmt = e.ts;
      }
    }
    presenceObserve(s.pr, e.ts, robustReady(s.r) ? Math.pow(10, s.r.c) : NaN);
    s.lt = e.ts;
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

  /** Silence threshold (awake time): silence_factor × a long normal interval (≈ p98 in log space), or LONG_FACTOR × the longest ordinary one. */
  private silenceAfter(s: ReportingState, now: number): number {
    const long = Math.pow(10, s.r.c + 2 * Math.max(s.r.s, 0.02));
    return Math.max(this.p.min_silence, this.p.silence_factor * long, LONG_FACTOR * this.longest(s, now));
  }

  /** Awake time a silence needs before it is reported at all: the cadence rule, or the longest gap or delivery gap lately. */
  private lowAfter(s: ReportingState, now: number): number {
    return Math.max(this.silenceAfter(s, now), LOW_GAP_FACTOR * Math.max(this.longGap(s, now), this.deliveryGap(s, now)), this.gapTail(s, GAP_TAIL_LOW));
  }

  /** Awake time past which a silence is sustained (medium). */
  private sustainedAfter(s: ReportingState, now: number): number {
    return Math.max(this.p.sustained, this.lowAfter(s, now), GAP_FACTOR * Math.max(this.longGap(s, now), this.deliveryGap(s, now)), this.gapTail(s, GAP_TAIL));
  }

  /** The longest delivery gap, decayed to `now`. */
  private deliveryGap(s: ReportingState, now: number): number {
    return decayed(s.dg, s.dgt, now, GAP_HALF_LIFE);
  }

  /** The awake time k σ above the mean of the device's long gaps (log scale), once a few are known. */
  private gapTail(s: ReportingState, k: number): number {
    return s.gn >= GAP_MIN ? Math.pow(10, s.gc + k * s.gs) : 0;
  }

  /**
   * A device that has shown quiet hours may sleep in ways its first days did not show (the first
   * long park, the first weekend): its silences stay low until it has been watched for
   * `sleeper_learning`. A device never quiet so far is judged at once.
   */
  private mayBeSustained(s: ReportingState, hw: HourWeights, now: number): boolean {
    return hw.alwaysOn || now - s.t0 >= this.p.sleeper_learning;
  }

  /** The longest awake time of a silence that ended by itself, decayed to `now`. */
  private longGap(s: ReportingState, now: number): number {
    return decayed(s.lg, s.lgt, now, GAP_HALF_LIFE);
  }

  /** The longest ordinary interval, decayed to `now`. */
  private longest(s: ReportingState, now: number): number {
    return decayed(s.lm, s.lmt, now, LONG_HALF_LIFE);
  }

  /**
   * tick() does nothing before the device has learned its intervals, nor while the silence is
   * shorter than lowAfter(s, s.lt) of wall time (awake time never runs faster than the clock), nor
   * before the moment its awake time reaches that (computed at the first tick of a silence and
   * kept beside the state); so the
   * engine need not visit the device before then. Once a silence is reported the device is
   * visited at every tick, as the throttle of its updates expects. One millisecond early absorbs
   * the rounding of the sums.
   */
  nextTick(s: ReportingState): number {
    if (!robustReady(s.r) || s.r.n < this.p.min_samples) return Number.POSITIVE_INFINITY;
    const floor = s.lt + this.lowAfter(s, s.lt) - 1;
    const d = this.due.get(s);
    return d !== undefined && d.lt === s.lt && d.at > floor && s.inc?.silence === undefined ? d.at : floor;
  }

  tick(s: ReportingState, deviceId: string, deviceClass: string, ctx: StepContext): StepResult<ReportingState> {
    const wm = ctx.watermark;
    if (!robustReady(s.r) || s.r.n < this.p.min_samples || !Number.isFinite(wm)) return this.result(s, NONE);
    const low = this.lowAfter(s, s.lt);
    if (wm - s.lt < low) return this.result(s, NONE);
    const hw = hourWeights(s.pr);
    // Hours never observed on any day are unknown: they count only for a device that has looked
    // always-on so far, and only towards a low finding (see silenceDraft).
    const unknownWeight = hw.alwaysOn ? 1 : 0;
    let d = this.due.get(s);
    if (d === undefined || d.lt !== s.lt) {
      const at = awakeReachedAt(hw, s.lt, low, unknownWeight);
      d = { lt: s.lt, at: Number.isFinite(at) ? at - 1 : s.lt + 14 * DAY };
      this.due.set(s, d);
    }
    if (wm < d.at && s.inc?.silence === undefined) return this.result(s, NONE);
    const aw = awakeTime(hw, s.lt, wm);
    if (aw.known + unknownWeight * aw.unknown < low) return this.result(s, NONE);
    const f = raiseThrottled((s.inc ??= {}), this.silenceDraft(s, hw, deviceId, deviceClass, wm, wm - s.lt, aw, false), SILENCE_GAP, SILENCE_UPDATE);
    return this.result(s, f === null ? NONE : [f]);
  }

  private silenceDraft(s: ReportingState, hw: HourWeights, deviceId: string, deviceClass: string, ts: number, gap: number, aw: AwakeTime, ended: boolean) {
    const usual = Math.pow(10, s.r.c);
    const sustained = this.sustainedAfter(s, s.lt);
    const awake = aw.known;
    const score = awake < sustained || !this.mayBeSustained(s, hw, ts) ? 0.3 : Math.min(0.65, 0.5 + 0.05 * Math.log2(awake / sustained));
    // Say when the silence covers hours the device usually sleeps, so the analyst sees why a
    // long silence can be low, or why a short one is not.
    const asleep = gap - awake - aw.unknown > 0.25 * gap;
    const inHours = asleep ? `, ${fmtDuration(awake)} of it in hours it is usually active` : '';
    return {
      detector: this.id,
      key: 'silence',
      device_id: deviceId,
      device_class: deviceClass,
      ts,
      score,
      observed: `silent for ${fmtDuration(gap)}${inHours}`,
      expected: `a report every ${fmtDuration(usual)} while active`,
      explanation: ended
        ? `${deviceId} (${deviceClass}) was silent for ${fmtDuration(gap)}${inHours} (it normally reports every ${fmtDuration(usual)}) and has resumed; if many devices were silent together this was an outage, otherwise check the device for a reboot, tampering or a firmware change.`
        : `${deviceId} (${deviceClass}) has sent nothing for ${fmtDuration(gap)}${inHours} although it normally reports every ${fmtDuration(usual)}; check its power and network path, and whether other devices on the same site went quiet at the same time (outage) or only this one (tampering).`,
      evidence: {
        silent_ms: gap,
        awake_silent_ms: Math.round(awake),
        unknown_hours_ms: Math.round(aw.unknown),
        last_seen_ts: s.lt,
        usual_interval_ms: Math.round(usual),
        threshold_ms: Math.round(this.lowAfter(s, s.lt)),
        sustained_ms: Math.round(sustained),
        longest_gap_ms: Math.round(this.longGap(s, s.lt)),
        longest_delivery_gap_ms: Math.round(this.deliveryGap(s, s.lt)),
        resumed: ended,
      },
      mitre: reporting.mitre,
    };
  }
}

const NONE: FindingDraft[] = [];

/** A remembered maximum `v` (NaN: none, 0) seen at `t`, halved every `halfLife` since. */
function decayed(v: number, t: number, now: number, halfLife: number): number {
  if (v !== v) return 0;
  const age = now - (t === t ? t : now);
  return age > 0 ? v * Math.pow(0.5, age / halfLife) : v;
}
