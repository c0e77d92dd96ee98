/**
 * exfiltration: bytes sent by a device in a time window far above its own baseline.
 *
 * Volumes are compared in log space (a device that sends 10 KB an hour and one that sends 1 GB
 * differ by orders of magnitude, and so do their anomalies), against a robust running baseline
 * of completed windows that had traffic. The running total of the current window is checked on
 * every connection, so a large upload is reported while it happens rather than when the window
 * closes. A finding needs both a large robust z and an absolute floor (`min_bytes`), so a tiny
 * device doubling its few kilobytes is not an exfiltration.
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { scoreFromZ } from './score.js';
import { reusedResult, CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { compact } from './lib/compact.js';
import { fmt, fmtBytes, fmtDuration } from './lib/format.js';
import { isInternalIp } from './lib/ip.js';
import { robustNew, robustReady, robustUpdate } from './lib/robust.js';
import type { RobustStat } from './lib/robust.js';
import { ATTACK } from './fleet.js';

export interface ExfiltrationParams extends Record<string, unknown> {
  window: number;
  threshold_z: number;
  min_bytes: number;
  min_ratio: number;
  min_windows: number;
  learning: number;
  external_only: boolean;
  incident_gap: number;
}

export interface ExfiltrationState {
  t0: number;
  /** Current window start, bytes so far, whether it was anomalous. */
  ws: number;
  sum: number;
  an: boolean;
  /** Top destinations in this window (≤ TOP entries). */
  top: Record<string, number>;
  /** log10(bytes per window) of completed windows with traffic. */
  r: RobustStat;
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const TOP = 5;

export const exfiltration: DetectorSpec<ExfiltrationParams> = {
  name: 'exfiltration',
  family: 'connection',
  summary:
    "Outbound volume (bytes_out per window) far above the device's own baseline, compared in log space against a robust baseline of past windows and checked as the window fills, with an absolute floor so small devices do not fire on small changes.",
  params: {
    window: { type: 'duration', description: 'Aggregation window for bytes out.', default: '1h', examples: ['15m', '1h'] },
    threshold_z: { type: 'number', description: 'Robust z of log10(bytes per window) that fires.', default: 5, minimum: 2 },
    min_bytes: { type: 'integer', description: 'Never fire below this many bytes in a window.', default: 1024 * 1024, minimum: 0 },
    min_ratio: { type: 'number', description: 'The window total must also be at least this multiple of the usual total.', default: 5, minimum: 1 },
    min_windows: { type: 'integer', description: 'Windows with traffic to learn before firing.', default: 24, minimum: 16 },
    learning: { type: 'duration', description: 'Event time to learn before firing.', default: '2d' },
    external_only: { type: 'boolean', description: 'Count only bytes to internet (non-private) destinations.', default: false },
    incident_gap: { type: 'duration', description: 'Anomalous windows closer than this extend one finding.', default: '2h' },
  },
  example:
    'cam-12 (camera) sent 2.1 GiB in the last 1h, 240× its usual 9 MiB per 1h (mostly to 203.0.113.50); confirm whether a legitimate upload (firmware, logs, recordings) was scheduled, otherwise block the destination and capture traffic for investigation.',
  mitre: ['T1041', 'T1048', 'T0882'],
  fleet: ATTACK,
  create(params, id) {
    return new ExfiltrationDetector(params, id);
  },
};

class ExfiltrationDetector implements DetectorInstance<ExfiltrationState> {
  readonly spec = exfiltration;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<ExfiltrationState>();
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes = 200 + 16 * 22 + 60 + TOP * 70 + 2 * 110;

  constructor(
    private readonly p: ExfiltrationParams,
    readonly id: string,
  ) {}

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection' && typeof ev.bytes_out === 'number';
  }

  init(ev: M2MEvent): ExfiltrationState {
    return { t0: ev.ts, ws: this.windowStart(ev.ts), sum: 0, an: false, top: {}, r: robustNew(), inc: null };
  }

  private windowStart(ts: number): number {
    return Math.floor(ts / this.p.window) * this.p.window;
  }

  step(s: ExfiltrationState, ev: M2MEvent): StepResult<ExfiltrationState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    const bytes = e.bytes_out!;
    if (!(bytes > 0) || (p.external_only && isInternalIp(e.dst_ip))) return this.result(s, NONE);
    if (e.ts >= s.ws + p.window) {
      if (s.sum > 0) robustUpdate(s.r, Math.log10(s.sum), 200, s.an, 0.05);
      s.ws = this.windowStart(e.ts);
      s.sum = 0;
      s.an = false;
      s.top = {};
    } else if (e.ts < s.ws) {
      // Too late for the open window; its window has been learned already.
      return this.result(s, NONE);
    }
    s.sum += bytes;
    this.addTop(s, e.dst_ip, bytes);
    const warm = robustReady(s.r) && s.r.n >= p.min_windows && e.ts - s.t0 >= p.learning;
    if (!warm || s.sum < p.min_bytes) return this.result(s, NONE);
    const lx = Math.log10(s.sum);
    const sigma = Math.max(s.r.s, 0.05);
    const z = (lx - s.r.c) / sigma;
    const ratio = Math.pow(10, lx - s.r.c);
    if (z < p.threshold_z || ratio < p.min_ratio) return this.result(s, NONE);
    s.an = true;
    const usual = Math.pow(10, s.r.c);
    const tops = Object.entries(s.top).sort((a, b) => b[1] - a[1]);
    const win = fmtDuration(p.window);
    const f = raiseThrottled((s.inc ??= {}),
      {
        detector: this.id,
        key: 'volume',
        device_id: e.device_id,
        device_class: e.device_class,
        ts: e.ts,
        score: scoreFromZ(z),
        observed: `${fmtBytes(s.sum)} in ${win}`,
        expected: `${fmtBytes(usual)} per ${win}`,
        explanation: `${e.device_id} (${e.device_class}) sent ${fmtBytes(s.sum)} in the current ${win}, ${fmt(ratio)}× its usual ${fmtBytes(usual)} per ${win}${tops[0] ? ` (mostly to ${tops[0][0]})` : ''}; confirm whether a legitimate upload (firmware, logs, recordings) was scheduled, otherwise block the destination and capture traffic for investigation.`,
        evidence: {
          bytes_out: s.sum,
          window_start_ts: s.ws,
          window_ms: p.window,
          usual_bytes: Math.round(usual),
          ratio: compact(ratio),
          z_log: compact(z),
          top_destinations: tops.map(([ip, b]) => ({ ip, bytes: b, external: !isInternalIp(ip) })),
        },
        mitre: exfiltration.mitre,
      },
      p.incident_gap,
    );
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    return this.result(s, f === null ? NONE : [f]);
  }

  private addTop(s: ExfiltrationState, ip: string, bytes: number): void {
    const cur = s.top[ip];
    if (cur !== undefined) {
      s.top[ip] = cur + bytes;
      return;
    }
    let n = 0;
    let minK = '';
    let minV = Infinity;
    for (const k in s.top) {
      n++;
      if (s.top[k]! < minV) {
        minV = s.top[k]!;
        minK = k;
      }
    }
    if (n < TOP) s.top[ip] = bytes;
    else if (bytes > minV) {
      // Space-saving style: the newcomer inherits the evicted count as an upper bound.
      delete s.top[minK];
      s.top[ip] = minV + bytes;
    }
  }
}

const NONE: FindingDraft[] = [];
