/**
 * fanout: many distinct destinations (horizontal scan, worm-like spread) or many distinct
 * destination ports (vertical / port scan) from one device within a sliding window.
 *
 * The threshold is the larger of the configured minimum and a multiple of the device's own
 * typical per-window fan-out, learned from quiet windows, so a gateway that legitimately talks to
 * dozens of hosts does not fire while a PLC that suddenly touches 40 does.
 *
 * Distinct counts are exact within the window: a capped map destination → last seen, purged of
 * expired entries at each window boundary and whenever the count reaches the threshold. When the
 * cap is hit the oldest entries are dropped, so a huge scan still reads as ≥ cap.
 */
import { closeStale, raise } from './incident.js';
import type { IncidentBook } from './incident.js';
import { CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { compact, expireBefore, fmtDuration, touchCapped } from './util.js';

export interface FanoutParams extends Record<string, unknown> {
  window: number;
  min_distinct_dst: number;
  min_distinct_ports: number;
  baseline_factor: number;
  learning: number;
  max_tracked: number;
  incident_gap: number;
}

export interface FanoutState {
  t0: number;
  /** Destination IP → last seen ts; count. */
  d: Record<string, number>;
  nd: number;
  /** Destination port → last seen ts; count. */
  p: Record<string, number>;
  np: number;
  /** End of the current window (for the per-window baseline). */
  we: number;
  /** Typical (slowly decaying peak) distinct destinations / ports per quiet window. */
  bd: number;
  bp: number;
  inc: IncidentBook;
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
  create(params, id) {
    return new FanoutDetector(params, id);
  },
};

class FanoutDetector implements DetectorInstance<FanoutState> {
  readonly spec = fanout;
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes: number;

  constructor(
    private readonly p: FanoutParams,
    readonly id: string,
  ) {
    this.maxStateBytes = 256 + p.max_tracked * (48 + 16) + p.max_tracked * (10 + 16) + 2 * 600;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection';
  }

  init(ev: M2MEvent): FanoutState {
    return { t0: ev.ts, d: {}, nd: 0, p: {}, np: 0, we: ev.ts + this.p.window, bd: 0, bp: 0, inc: {} };
  }

  private threshold(base: number, min: number, s: FanoutState, ts: number): number {
    if (ts - s.t0 < this.p.learning) return min;
    return Math.max(min, Math.ceil(this.p.baseline_factor * base));
  }

  step(s: FanoutState, ev: M2MEvent): StepResult<FanoutState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    const ts = e.ts;
    const from = ts - p.window;

    if (ts >= s.we) {
      // Window boundary: count what is live and, if the window was quiet, learn from it.
      s.nd = expireBefore(s.d, from);
      s.np = expireBefore(s.p, from);
      const quiet = s.inc.horizontal === undefined && s.inc.vertical === undefined;
      if (quiet && s.nd < this.threshold(s.bd, p.min_distinct_dst, s, ts)) s.bd = compact(Math.max(s.bd * PEAK_DECAY, s.nd));
      if (quiet && s.np < this.threshold(s.bp, p.min_distinct_ports, s, ts)) s.bp = compact(Math.max(s.bp * PEAK_DECAY, s.np));
      s.we = ts + p.window;
    }

    s.nd = touchCapped(s.d, s.nd, e.dst_ip, ts, p.max_tracked);
    s.np = touchCapped(s.p, s.np, String(e.dst_port), ts, p.max_tracked);

    let findings: FindingDraft[] = NONE;
    const thD = Math.min(this.threshold(s.bd, p.min_distinct_dst, s, ts), p.max_tracked);
    if (s.nd >= thD) {
      s.nd = expireBefore(s.d, from);
      if (s.nd >= thD) findings = [this.finding(s, e, 'horizontal', s.nd, thD, s.bd)];
    }
    const thP = Math.min(this.threshold(s.bp, p.min_distinct_ports, s, ts), p.max_tracked);
    if (s.np >= thP) {
      s.np = expireBefore(s.p, from);
      if (s.np >= thP) (findings === NONE ? (findings = []) : findings).push(this.finding(s, e, 'vertical', s.np, thP, s.bp));
    }
    for (const _ in s.inc) {
      closeStale(s.inc, ts, p.incident_gap);
      break;
    }
    return { state: s, findings };
  }

  private finding(s: FanoutState, e: ConnectionEvent, kind: 'horizontal' | 'vertical', count: number, threshold: number, typical: number): FindingDraft {
    const score = Math.min(0.95, 0.5 + 0.15 * Math.log2(count / threshold));
    const map = kind === 'horizontal' ? s.d : s.p;
    const sample = Object.keys(map).slice(-10);
    const noun = kind === 'horizontal' ? 'distinct hosts' : 'distinct destination ports';
    const win = fmtDuration(this.p.window);
    const action =
      kind === 'horizontal'
        ? 'treat this as scanning or worm spread: isolate the device and check which process opened the connections'
        : 'treat this as a port scan: isolate the device and check which process opened the connections';
    return raise(
      s.inc,
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
          window_ms: this.p.window,
          sample,
          other_distinct: kind === 'horizontal' ? s.np : s.nd,
        },
        mitre: kind === 'horizontal' ? ['T0846', 'T1018'] : ['T0846', 'T1046'],
      },
      this.p.incident_gap,
    );
  }
}

const NONE: FindingDraft[] = [];
