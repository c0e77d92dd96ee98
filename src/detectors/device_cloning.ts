/**
 * device_cloning: one device id used from two source addresses at overlapping times — a cloned
 * identity (copied credentials or certificate) or a rogue device impersonating a real one.
 *
 * An address change alone (DHCP renewal, failover) is one switch and never fires. A clone shows
 * as alternation: A, B, A, B... within a short window, because both devices keep talking. Devices
 * that are legitimately multi-homed alternate too; if that happens during learning the device is
 * marked multi-homed and only alternation involving an address never seen in learning fires.
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { reusedResult, CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { touchCapped } from './lib/capped.js';
import { fmtDuration } from './lib/format.js';
import { ATTACK } from './fleet.js';

export interface DeviceCloningParams extends Record<string, unknown> {
  overlap: number;
  min_switches: number;
  learning: number;
  incident_gap: number;
}

export interface DeviceCloningState {
  t0: number;
  /** Source address → last seen; count. */
  ips: Record<string, number>;
  n: number;
  /** Last source address and recent switch times. */
  last: string;
  sw: number[];
  /** Multi-homed in learning, and the addresses it used then. */
  mh: boolean;
  known: string[];
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const MAX_IPS = 8;

export const deviceCloning: DetectorSpec<DeviceCloningParams> = {
  name: 'device_cloning',
  family: 'connection',
  summary:
    'One device id seen from two source addresses at overlapping times (alternating A, B, A, B within a short window): a cloned identity or an impersonating rogue device. Plain address changes never fire; devices multi-homed during learning only fire for new addresses.',
  params: {
    overlap: { type: 'duration', description: 'Window in which alternation between addresses counts.', default: '10m' },
    min_switches: { type: 'integer', description: 'Address switches within the window that indicate two live sources.', default: 4, minimum: 2, maximum: 64 },
    learning: { type: 'duration', description: 'Event time during which alternation marks the device as multi-homed.', default: '24h' },
    incident_gap: { type: 'duration', description: 'Alternation closer than this extends one finding.', default: '1h' },
  },
  example:
    'meter-0042 (smart_meter) is sending from 10.1.4.17 and 10.9.0.250 at the same time (6 switches within 10m); treat the identity as cloned: find which address is the real device, block the other and rotate the device credentials.',
  mitre: ['T0849', 'T0848', 'T1036'],
  fleet: ATTACK,
  create(params, id) {
    return new DeviceCloningDetector(params, id);
  },
};

class DeviceCloningDetector implements DetectorInstance<DeviceCloningState> {
  readonly spec = deviceCloning;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<DeviceCloningState>();
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes: number;

  constructor(
    private readonly p: DeviceCloningParams,
    readonly id: string,
  ) {
    this.maxStateBytes = 150 + MAX_IPS * 2 * 64 + (p.min_switches + 1) * 15 + 110;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection' && ev.src_ip.length > 0;
  }

  init(ev: M2MEvent): DeviceCloningState {
    return { t0: ev.ts, ips: {}, n: 0, last: '', sw: [], mh: false, known: [], inc: null };
  }

  step(s: DeviceCloningState, ev: M2MEvent): StepResult<DeviceCloningState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    const src = e.src_ip;
    const learning = e.ts - s.t0 < p.learning;
    let out: FindingDraft[] = NONE;
    if (s.last !== '' && src !== s.last) {
      const otherSeen = s.ips[s.last];
      if (otherSeen !== undefined && e.ts - otherSeen <= p.overlap && s.ips[src] !== undefined && e.ts - s.ips[src]! <= p.overlap) {
        // Back to an address that was live moments ago while another is live too.
        s.sw.push(e.ts);
        const from = e.ts - p.overlap;
        while (s.sw.length > 0 && s.sw[0]! < from) s.sw.shift();
        if (s.sw.length > p.min_switches) s.sw.shift();
        if (s.sw.length >= p.min_switches) {
          if (learning) {
            s.mh = true;
            for (const ip of [src, s.last]) if (!s.known.includes(ip) && s.known.length < MAX_IPS) s.known.push(ip);
          } else if (!s.mh || !s.known.includes(src) || !s.known.includes(s.last)) {
            const f = this.finding(s, e, s.last);
            if (f !== null) out = [f];
          }
        }
      }
    }
    s.n = touchCapped(s.ips, s.n, src, e.ts, MAX_IPS);
    s.last = src;
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    return this.result(s, out);
  }

  private finding(s: DeviceCloningState, e: ConnectionEvent, other: string): FindingDraft | null {
    const pair = [e.src_ip, other].sort();
    return raiseThrottled((s.inc ??= {}),
      {
        detector: this.id,
        key: 'clone',
        device_id: e.device_id,
        device_class: e.device_class,
        ts: e.ts,
        score: 0.7,
        observed: `${pair[0]} and ${pair[1]} alternating`,
        expected: s.mh ? `addresses ${s.known.join(', ')}` : 'one source address at a time',
        explanation: `${e.device_id} (${e.device_class}) is sending from ${pair[0]} and ${pair[1]} at the same time (${s.sw.length} switches within ${fmtDuration(this.p.overlap)}); treat the identity as cloned: find which address is the real device, block the other and rotate the device credentials.`,
        evidence: { addresses: pair, switches: s.sw.length, overlap_ms: this.p.overlap, multi_homed: s.mh, known_addresses: s.known, last_seen: { ...s.ips } },
        mitre: deviceCloning.mitre,
      },
      this.p.incident_gap,
    );
  }
}

const NONE: FindingDraft[] = [];
