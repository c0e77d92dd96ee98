/**
 * unusual_hour: activity in an hour of the week (weekday/weekend × hour of day, UTC) in which the
 * device is not normally active.
 *
 * Most M2M devices are always on, and for them every hour is normal and this never fires. It is
 * for devices with a working rhythm (HMIs, engineering workstations, shift-operated machines):
 * a maintenance session at 03:00 on a Sunday on a device that only ever works weekdays 07–18.
 * The score is the tail probability of activity in that hour under the device's own histogram
 * (Laplace-smoothed, with the neighbouring hours counted so DST and shift-edge jitter do not
 * fire), capped at medium: time of day alone is weak evidence.
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { scoreFromP } from './score.js';
import { reusedResult, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from './types.js';
import type { M2MEvent } from '../events/types.js';
import { compact } from './lib/compact.js';
import { fmtDuration } from './lib/format.js';
import { hourOfDay, isWeekend } from './lib/time.js';
import { changeRole } from './fleet.js';

export interface UnusualHourParams extends Record<string, unknown> {
  events: 'telemetry' | 'connection' | 'any';
  learning: number;
  min_events: number;
  max_share: number;
  min_score: number;
  incident_gap: number;
}

export interface UnusualHourState {
  t0: number;
  /** Event counts per bucket (24 weekday + 24 weekend hours) and per day type. */
  c: number[];
  wd: number;
  we: number;
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const HALVE_AT = 200_000;
const MAX_SCORE = 0.55;

export const unusualHour: DetectorSpec<UnusualHourParams> = {
  name: 'unusual_hour',
  family: 'connection',
  summary:
    'Activity in an hour of the week (weekday/weekend × UTC hour) in which the device is normally idle, for devices with a working rhythm; always-on devices never fire. Neighbouring hours count as normal so DST shifts do not fire. Capped at medium severity.',
  params: {
    events: { type: 'string', description: 'Which events count as activity.', enum: ['telemetry', 'connection', 'any'], default: 'connection' },
    learning: { type: 'duration', description: 'Event time to learn the weekly rhythm before firing.', default: '7d' },
    min_events: { type: 'integer', description: 'Events to learn before firing.', default: 200, minimum: 24 },
    max_share: {
      type: 'number',
      description: "Fire only where the hour (with its neighbours) holds less than this share of the device's activity for that day type.",
      default: 0.002,
      minimum: 0,
      maximum: 0.05,
    },
    min_score: { type: 'number', description: 'Findings scoring below this are not emitted.', default: 0.3, minimum: 0, maximum: 1 },
    incident_gap: { type: 'duration', description: 'Off-hours activity closer than this extends one finding.', default: '2h' },
  },
  example:
    'hmi-2 (hmi) was active at 03:00 UTC on a weekend, an hour that holds 0.01% of its weekend activity over 3 weeks; confirm with operations whether maintenance was scheduled, otherwise review who logged in and what was changed.',
  mitre: ['T0886', 'T1078'],
  fleet: changeRole((f) => f.evidence.hour_utc),
  create(params, id) {
    return new UnusualHourDetector(params, id);
  },
};

class UnusualHourDetector implements DetectorInstance<UnusualHourState> {
  readonly spec = unusualHour;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<UnusualHourState>();
  readonly maxStateBytes = 120 + 48 * 8 + 2 * 110;
  readonly eventTypes: readonly M2MEvent['type'][] | undefined;

  constructor(
    private readonly p: UnusualHourParams,
    readonly id: string,
  ) {
    this.eventTypes = p.events === 'any' ? undefined : [p.events as M2MEvent['type']];
  }

  applies(ev: M2MEvent): boolean {
    return this.p.events === 'any' || ev.type === this.p.events;
  }

  init(ev: M2MEvent): UnusualHourState {
    return { t0: ev.ts, c: new Array<number>(48).fill(0), wd: 0, we: 0, inc: null };
  }

  step(s: UnusualHourState, ev: M2MEvent): StepResult<UnusualHourState> {
    const p = this.p;
    const h = hourOfDay(ev.ts);
    const weekend = isWeekend(ev.ts);
    const base = weekend ? 24 : 0;
    const b = base + h;
    let out: FindingDraft[] = NONE;
    if (ev.ts - s.t0 >= p.learning && s.wd + s.we >= p.min_events) {
      const near = (bb: number) => Math.max(s.c[bb + h]!, s.c[bb + ((h + 1) % 24)]!, s.c[bb + ((h + 23) % 24)]!);
      const own = weekend ? s.we : s.wd;
      // A day type with little history of its own (weekends of a weekday machine) is judged on
      // the whole week: a Saturday 10:00 job is odd only if 10:00 is odd on weekdays too.
      const pr = own >= p.min_events / 4 ? (near(base) + 0.5) / (own + 12) : (near(0) + near(24) + 0.5) / (s.wd + s.we + 12);
      const total = own;
      if (pr < p.max_share) {
        const score = Math.min(MAX_SCORE, scoreFromP(pr));
        if (score >= p.min_score) {
          const hh = `${String(h).padStart(2, '0')}:00 UTC`;
          const f = raiseThrottled((s.inc ??= {}),
            {
              detector: this.id,
              key: 'off_hours',
              device_id: ev.device_id,
              device_class: ev.device_class,
              ts: ev.ts,
              score,
              observed: `active at ${hh}${weekend ? ' on a weekend' : ' on a weekday'}`,
              expected: `${compact(pr * 100)}% of ${weekend ? 'weekend' : 'weekday'} activity at this hour`,
              explanation: `${ev.device_id} (${ev.device_class}) was active at ${hh} on a ${weekend ? 'weekend' : 'weekday'}, an hour that holds ${compact(pr * 100)}% of its ${weekend ? 'weekend' : 'weekday'} activity over ${fmtDuration(ev.ts - s.t0)}; confirm with operations whether maintenance was scheduled, otherwise review who logged in and what was changed.`,
              evidence: { hour_utc: h, weekend, share: compact(pr), events_in_hour: s.c[b], events_day_type: total },
              mitre: unusualHour.mitre,
            },
            p.incident_gap,
          );
          if (f !== null) out = [f];
        }
      }
    }
    // Off-hours activity is learned at a tenth of the weight, so one session does not make its
    // own hour normal, while a lasting new shift pattern is still learned in time.
    const w = out === NONE && s.inc?.off_hours === undefined ? 1 : 0.1;
    s.c[b] = Math.round((s.c[b]! + w) * 10) / 10;
    if (weekend) s.we = Math.round((s.we + w) * 10) / 10;
    else s.wd = Math.round((s.wd + w) * 10) / 10;
    if (s.wd + s.we > HALVE_AT) {
      for (let i = 0; i < 48; i++) s.c[i] = Math.round(s.c[i]! * 5) / 10;
      s.wd = Math.round(s.wd * 5) / 10;
      s.we = Math.round(s.we * 5) / 10;
    }
    for (const _ in s.inc) {
      closeStale(s.inc, ev.ts, p.incident_gap);
      break;
    }
    return this.result(s, out);
  }
}

const NONE: FindingDraft[] = [];
