/**
 * auth_failures: bursts of failed authentication, and a success that follows a burst.
 *
 * A ring of the last `threshold` failure times is enough to know whether `threshold` failures
 * fell within `window` (oldest in the ring vs newest), so state is bounded by the threshold. A
 * successful authentication to the same target after at least half a burst is reported separately
 * and higher: that is what a brute force that worked looks like.
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { reusedResult, CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { fmt, fmtDuration } from './lib/format.js';
import { ATTACK } from './fleet.js';

export interface AuthFailuresParams extends Record<string, unknown> {
  window: number;
  threshold: number;
  incident_gap: number;
}

export interface AuthFailuresState {
  f: number[];
  i: number;
  /** Last failing peer. */
  lp: string;
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

export const authFailures: DetectorSpec<AuthFailuresParams> = {
  name: 'auth_failures',
  family: 'connection',
  summary:
    'Bursts of failed authentication (at least `threshold` failures within `window`) and a successful authentication to the same target right after such a burst (a brute force that may have worked).',
  params: {
    window: { type: 'duration', description: 'Window in which failures are counted.', default: '10m' },
    threshold: { type: 'integer', description: 'Failures within the window that make a burst.', default: 20, minimum: 2, maximum: 10_000 },
    incident_gap: { type: 'duration', description: 'Bursts closer than this extend one finding.', default: '1h' },
  },
  example:
    'hmi-2 (hmi) had 48 failed authentications within 10m (threshold 20), last to 10.20.0.5:22; check whether a credential was changed, otherwise treat it as password guessing: block the source and review accounts on the target.',
  mitre: ['T1110', 'T0812'],
  fleet: ATTACK,
  create(params, id) {
    return new AuthFailuresDetector(params, id);
  },
};

class AuthFailuresDetector implements DetectorInstance<AuthFailuresState> {
  readonly spec = authFailures;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<AuthFailuresState>();
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes: number;

  constructor(
    private readonly p: AuthFailuresParams,
    readonly id: string,
  ) {
    this.maxStateBytes = 120 + p.threshold * 15 + 2 * 110;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection' && (ev.auth === 'failed' || ev.auth === 'ok');
  }

  init(): AuthFailuresState {
    return { f: [], i: 0, lp: '', inc: null };
  }

  /** Failures within the window ending at ts. */
  private recent(s: AuthFailuresState, ts: number): number {
    let n = 0;
    const from = ts - this.p.window;
    for (const t of s.f) if (t > from && t <= ts) n++;
    return n;
  }

  step(s: AuthFailuresState, ev: M2MEvent): StepResult<AuthFailuresState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    const peer = `${e.dst_ip}:${e.dst_port}`;
    let f: FindingDraft | null = null;
    if (e.auth === 'failed') {
      if (s.f.length < p.threshold) s.f.push(e.ts);
      else {
        s.f[s.i] = e.ts;
        s.i = (s.i + 1) % p.threshold;
      }
      s.lp = peer;
      if (s.f.length >= p.threshold) {
        // Late events can land anywhere in the ring, so take its extremes rather than positions.
        let lo = Infinity;
        let hi = -Infinity;
        for (const t of s.f) {
          if (t < lo) lo = t;
          if (t > hi) hi = t;
        }
        const span = hi - lo;
        if (span <= p.window) {
          const n = this.recent(s, e.ts);
          const rate = p.window / Math.max(span, 1);
          const score = Math.min(0.85, 0.5 + 0.1 * Math.log2(Math.max(1, rate)));
          f = raiseThrottled((s.inc ??= {}),
            {
              detector: this.id,
              key: 'burst',
              device_id: e.device_id,
              device_class: e.device_class,
              ts: e.ts,
              score,
              observed: `${n} failures in ${fmtDuration(span)}`,
              expected: `< ${p.threshold} per ${fmtDuration(p.window)}`,
              explanation: `${e.device_id} (${e.device_class}) had ${n} failed authentications within ${fmtDuration(span)} (threshold ${p.threshold} per ${fmtDuration(p.window)}), last to ${peer}; check whether a credential was changed, otherwise treat it as password guessing: block the source and review accounts on the target.`,
              evidence: { failures: n, span_ms: span, window_ms: p.window, threshold: p.threshold, last_peer: peer, rate_factor: Math.round(rate * 10) / 10 },
              mitre: authFailures.mitre,
            },
            p.incident_gap,
          );
        }
      }
    } else if (s.f.length >= Math.ceil(p.threshold / 2) && peer === s.lp) {
      // Only a success on the target that was being guessed: the device's routine login to its
      // own backend right after it attacked a neighbour says nothing about the attack working.
      const n = this.recent(s, e.ts);
      if (n >= Math.ceil(p.threshold / 2)) {
        f = raiseThrottled((s.inc ??= {}),
          {
            detector: this.id,
            key: 'success_after_failures',
            device_id: e.device_id,
            device_class: e.device_class,
            ts: e.ts,
            score: 0.75,
            observed: `success after ${n} failures`,
            expected: 'no success right after a failure burst',
            explanation: `${e.device_id} (${e.device_class}) authenticated successfully to ${peer} right after ${n} failures within ${fmtDuration(p.window)}; treat the account as possibly compromised: verify the session with its owner and rotate the credential.`,
            evidence: { failures: n, peer, window_ms: p.window, failure_rate: fmt(n / (p.window / 60_000)) + '/min' },
            mitre: ['T1110', 'T1078', 'T0859'],
          },
          p.incident_gap,
        );
        // One success reported per burst.
        s.f = [];
        s.i = 0;
      }
    }
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    return this.result(s, f === null ? NONE : [f]);
  }
}

const NONE: FindingDraft[] = [];
