/**
 * fanout: many distinct destinations (horizontal scan, worm-like spread) or many distinct
 * destination ports (vertical / port scan) from one device within a sliding window.
 *
 * The threshold is the larger of the configured minimum and a multiple of the device's own
 * typical per-window fan-out, learned from quiet windows, so a gateway that legitimately talks to
 * dozens of hosts does not fire while a PLC that suddenly touches 40 does.
 *
 * Scans also come slow: a worm probing a few addresses a minute stays under any short window's
 * threshold yet reaches hundreds of hosts an hour, where an M2M device normally reaches a handful.
 * So distinct destinations are also counted over `slow_window`, against their own minimum and the
 * device's own typical count per slow window; the finding is the same (one scan, one incident).
 *
 * Distinct counts are exact within the window: a capped map destination → last seen, purged of
 * expired entries at each window boundary and whenever the count reaches the threshold. When the
 * cap is hit the oldest entries are dropped, so a huge scan still reads as ≥ cap.
 */
import { closeStale, extendQuietly, isOpen, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { compact } from './lib/compact.js';
import { fmtDuration } from './lib/format.js';
import { expireBefore, strIndex, numTimesNew, numTimesRevive, numTouchCapped, reviveFlat, strTimesNew, strTimesRevive, strTouchCapped, strTouchCappedAt } from './keyed.js';
import type { NumTimes, StrTimes } from './keyed.js';
import { ATTACK } from './fleet.js';

export interface FanoutParams extends Record<string, unknown> {
  window: number;
  min_distinct_dst: number;
  slow_window: number;
  slow_min_distinct_dst: number;
  min_distinct_ports: number;
  baseline_factor: number;
  learning: number;
  max_tracked: number;
  incident_gap: number;
}

/**
 * Flat numeric state `a` (unboxed doubles, updated without allocating):
 *
 * | index | field                                                              |
 * |-------|--------------------------------------------------------------------|
 * | T0    | first event time                                                   |
 * | WE    | end of the current window (for the per-window baseline)            |
 * | BD    | typical (slowly decaying peak) distinct destinations per quiet window |
 * | BP    | the same for distinct destination ports                            |
 * | SE    | end of the current slow window                                     |
 * | BS    | typical distinct destinations per quiet slow window                |
 * | HL    | last time a horizontal scan was reported or extended               |
 */
const T0 = 0;
const WE = 1;
const BD = 2;
const BP = 3;
const SE = 4;
const BS = 5;
const HL = 6;
const NA = 7;

export interface FanoutState {
  a: number[];
  /** Destination IP → last seen ts (its size is the distinct count). */
  d: StrTimes;
  /** Destination port → last seen ts. */
  p: NumTimes;
  /** Destination IP → last seen ts over the slow window. */
  ds: StrTimes;
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

/** The learned peak decays by this per window so a past busy period is eventually forgotten. */
const PEAK_DECAY = 0.995;

export const fanout: DetectorSpec<FanoutParams> = {
  name: 'fanout',
  family: 'connection',
  summary:
    "Horizontal scans (one device contacting many distinct hosts) and vertical scans (many distinct destination ports) within a sliding window, against the larger of a fixed minimum and a multiple of the device's own typical fan-out.",
  params: {
    window: { type: 'duration', description: 'Sliding window for distinct counts.', default: '5m', examples: ['1m', '15m'] },
    min_distinct_dst: { type: 'integer', description: 'Distinct destination IPs in a window that count as a horizontal scan.', default: 40, minimum: 2 },
    slow_window: { type: 'duration', description: 'Longer window for slow scans (a worm probing a few hosts a minute); no use unless longer than `window`.', default: '1h', examples: ['30m', '6h'] },
    slow_min_distinct_dst: {
      type: 'integer',
      description: 'Distinct destination IPs within `slow_window` that count as a (slow) horizontal scan; the device\'s own typical count per slow window times `baseline_factor` raises it.',
      default: 100,
      minimum: 2,
    },
    min_distinct_ports: { type: 'integer', description: 'Distinct destination ports in a window that count as a vertical (port) scan.', default: 20, minimum: 2 },
    baseline_factor: {
      type: 'number',
      description: "The threshold is at least this multiple of the device's typical distinct count per window.",
      default: 3,
      minimum: 1,
    },
    learning: { type: 'duration', description: 'Event time during which the typical fan-out is learned before the baseline multiple applies (the fixed minimum applies from the start).', default: '1h' },
    max_tracked: { type: 'integer', description: 'Distinct destinations and ports tracked per device (bounds state; larger scans read as at least this).', default: 512, minimum: 16, maximum: 8192 },
    incident_gap: { type: 'duration', description: 'Scan activity closer than this extends one finding.', default: '30m' },
  },
  example:
    'plc-07 (plc) contacted 212 distinct hosts within 5m (it normally contacts about 3; threshold 40); treat this as scanning or worm spread: isolate the device and check which process opened the connections.',
  mitre: ['T0846', 'T1046'],
  fleet: ATTACK,
  create(params, id) {
    return new FanoutDetector(params, id);
  },
};

class FanoutDetector implements DetectorInstance<FanoutState> {
  readonly spec = fanout;
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes: number;
  private readonly slowDecay: number;

  constructor(
    private readonly p: FanoutParams,
    readonly id: string,
  ) {
    // The slow window's typical count forgets as fast in time as the short one's.
    this.slowDecay = PEAK_DECAY ** Math.max(1, p.slow_window / p.window);
    this.maxStateBytes = 256 + 2 * p.max_tracked * (48 + 16) + p.max_tracked * (10 + 16) + 2 * 600;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection';
  }

  init(ev: M2MEvent): FanoutState {
    // A literal is allocated at its exact length (pushes into [] reserve 17 or more slots).
    return { a: [ev.ts, ev.ts + this.p.window, 0, 0, ev.ts + this.p.slow_window, 0, 0], d: strTimesNew(), p: numTimesNew(), ds: strTimesNew(), inc: null };
  }

  revive(state: unknown): FanoutState | undefined {
    const o = state as Partial<Record<keyof FanoutState, unknown>> | null;
    if (typeof o !== 'object' || o === null || typeof o.inc !== 'object') return undefined;
    // Checkpoints from before the slow window: it starts empty, its typical count unlearned.
    const old = Array.isArray(o.a) && o.a.length === SE && o.ds === undefined;
    const a = old ? reviveFlat([...(o.a as unknown[]), 0, 0, 0], NA) : reviveFlat(o.a, NA);
    const d = strTimesRevive(o.d);
    const p = numTimesRevive(o.p);
    const ds = old ? strTimesNew() : strTimesRevive(o.ds);
    if (a === undefined || d === undefined || p === undefined || ds === undefined) return undefined;
    return { a, d, p, ds, inc: o.inc as IncidentBook | null };
  }

  private threshold(base: number, min: number, a: number[], ts: number): number {
    if (ts - a[T0]! < this.p.learning) return min;
    return Math.max(min, Math.ceil(this.p.baseline_factor * base));
  }

  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly res: StepResult<FanoutState> = { state: undefined as unknown as FanoutState, findings: NONE };

  step(s: FanoutState, ev: M2MEvent): StepResult<FanoutState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    const a = s.a;
    const ts = e.ts;
    const from = ts - p.window;
    let nd: number;
    let np: number;

    if (ts >= a[WE]!) {
      // Window boundary: count what is live and, if the window was quiet, learn from it.
      nd = expireBefore(s.d, from);
      np = expireBefore(s.p, from);
      const quiet = s.inc?.horizontal === undefined && s.inc?.vertical === undefined;
      if (quiet && nd < this.threshold(a[BD]!, p.min_distinct_dst, a, ts)) a[BD] = compact(Math.max(a[BD]! * PEAK_DECAY, nd));
      if (quiet && np < this.threshold(a[BP]!, p.min_distinct_ports, a, ts)) a[BP] = compact(Math.max(a[BP]! * PEAK_DECAY, np));
      a[WE] = ts + p.window;
    }
    if (ts >= a[SE]!) {
      const ns = expireBefore(s.ds, ts - p.slow_window);
      // Until a slow window past learning has been seen, every one teaches the typical count:
      // the fixed minimum alone would flag a device whose normal is many hosts an hour.
      const early = ts - a[T0]! < p.learning + p.slow_window;
      if (early || (s.inc?.horizontal === undefined && ns < this.threshold(a[BS]!, p.slow_min_distinct_dst, a, ts))) a[BS] = compact(Math.max(a[BS]! * this.slowDecay, ns));
      a[SE] = ts + p.slow_window;
    }

    nd = strTouchCapped(s.d, e.dst_ip, ts, p.max_tracked);
    np = numTouchCapped(s.p, e.dst_port, ts, p.max_tracked);

    // Only a destination new to the slow window can make or grow a slow scan: the device's own
    // traffic after a scan must not keep its finding open while the scan's hosts age out.
    const at = strIndex(s.ds, e.dst_ip);
    const fresh = at < 0;
    let ns = strTouchCappedAt(s.ds, at, e.dst_ip, ts, p.max_tracked);

    let findings: FindingDraft[] = NONE;
    const thD = Math.min(this.threshold(a[BD]!, p.min_distinct_dst, a, ts), p.max_tracked);
    if (nd >= thD) {
      nd = expireBefore(s.d, from);
      const f = nd >= thD ? this.finding(s, e, 'horizontal', nd, thD, a[BD]!, p.window) : null;
      if (f !== null) findings = [f];
    }
    const thS = Math.min(this.threshold(a[BS]!, p.slow_min_distinct_dst, a, ts), p.max_tracked);
    // Once a scan was reported, the slow window holds its destinations for another slow window:
    // only the open finding may grow from them, not a second finding of the same scan.
    const slowFresh = (s.inc !== null && isOpen(s.inc, 'horizontal', ts, p.incident_gap)) || ts - a[HL]! > p.slow_window;
    if (findings === NONE && fresh && slowFresh && ns >= thS && ts - a[T0]! >= p.learning + p.slow_window) {
      ns = expireBefore(s.ds, ts - p.slow_window);
      const f = ns >= thS ? this.finding(s, e, 'horizontal', ns, thS, a[BS]!, p.slow_window) : null;
      if (f !== null) findings = [f];
    }
    const thP = Math.min(this.threshold(a[BP]!, p.min_distinct_ports, a, ts), p.max_tracked);
    if (np >= thP) {
      np = expireBefore(s.p, from);
      const f = np >= thP ? this.finding(s, e, 'vertical', np, thP, a[BP]!, p.window) : null;
      if (f !== null) (findings === NONE ? (findings = []) : findings).push(f);
    }
    for (const _ in s.inc) {
      closeStale(s.inc, ts, p.incident_gap);
      break;
    }
    const r = this.res;
    r.state = s;
    r.findings = findings;
    return r;
  }

  /** The finding for a window over its threshold, or null when it only extends the open one (see raiseThrottled). */
  private finding(s: FanoutState, e: ConnectionEvent, kind: 'horizontal' | 'vertical', count: number, threshold: number, typical: number, window: number): FindingDraft | null {
    const score = Math.min(0.95, 0.5 + 0.15 * Math.log2(count / threshold));
    if (kind === 'horizontal') s.a[HL] = e.ts;
    if (s.inc !== null && extendQuietly(s.inc, kind, e.ts, score, this.p.incident_gap)) return null;
    const sample = kind === 'horizontal' ? (window === this.p.window ? s.d : s.ds).k.slice(-10) : s.p.k.slice(-10).map(String);
    const noun = kind === 'horizontal' ? 'distinct hosts' : 'distinct destination ports';
    const win = fmtDuration(window);
    const action =
      kind === 'horizontal'
        ? 'treat this as scanning or worm spread: isolate the device and check which process opened the connections'
        : 'treat this as a port scan: isolate the device and check which process opened the connections';
    return raiseThrottled((s.inc ??= {}),
      {
        detector: this.id,
        key: kind,
        device_id: e.device_id,
        device_class: e.device_class,
        ts: e.ts,
        score,
        observed: `${count} ${noun} in ${win}`,
        expected: `about ${Math.round(typical)} (threshold ${threshold})`,
        explanation: `${e.device_id} (${e.device_class}) contacted ${count}${count >= this.p.max_tracked ? '+' : ''} ${noun} within ${win} (it normally contacts about ${Math.round(typical)}; threshold ${threshold}); ${action}.`,
        evidence: {
          kind,
          distinct: count,
          threshold,
          typical: compact(typical),
          window_ms: window,
          sample,
          other_distinct: kind === 'horizontal' ? s.p.k.length : s.d.k.length,
        },
        mitre: kind === 'horizontal' ? ['T0846', 'T1018'] : ['T0846', 'T1046'],
      },
      this.p.incident_gap,
    );
  }
}

const NONE: FindingDraft[] = [];
