/**
 * new_peer: first contact with a destination after the device's learning period.
 *
 * How surprising a new peer is depends on the device. A PLC that has talked to the same three
 * hosts for a day is a very different prior from a gateway that meets new cloud addresses every
 * hour (DNS-balanced endpoints rotate IPs). So the score is a tail probability built from the
 * device's own novelty rates (Laplace-smoothed, slowly forgetting):
 *   p = P(new IP) × P(new port, if the port is also new) × P(internet peer, if the device has
 *       only talked to internal addresses so far)
 * and mapped with scoreFromP. A new IP on a port the device already uses is usually low; a new
 * port to a new internet host from a device that never leaves the plant is high.
 *
 * Known peers and ports live in capped maps (least recently seen evicted), so state is bounded.
 */
import { closeStale, extendQuietly, isOpen, raise, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { clamp01, scoreFromP } from './score.js';
import { CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepContext, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { compact } from './lib/compact.js';
import { fmtDuration } from './lib/format.js';
import { isInternalIp } from './lib/ip.js';
import { peerSetHas, peerSetSighting, peerSetMaxBytes, peerSetNew, peerSetProtect, peerSetTouch, peerSetKeys, peerSetRevive, peerSetSize } from './peerset.js';
import type { PeerSet } from './peerset.js';
import { destinationRole, evidenceDestination } from './fleet.js';

export interface NewPeerParams extends Record<string, unknown> {
  learning: number;
  min_connections: number;
  peer: 'ip_port' | 'ip';
  min_score: number;
  max_peers: number;
  max_ports: number;
  incident_gap: number;
}

export interface NewPeerState {
  t0: number;
  /** Connections seen (halved with the novelty counts to forget slowly). */
  n: number;
  /** Connections that were a new IP / a new port / a new peer key / an internet peer. */
  ni: number;
  npt: number;
  nk: number;
  pub: number;
  /** Known peer keys, IPs and ports → last seen (minutes since epoch), scan-resistant. */
  k: PeerSet;
  ip: PeerSet;
  po: PeerSet;
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const MIN_PER_DAY = 24 * 60;
/** Counts halve past this many connections so novelty rates follow the device's present. */
const HALVE_AT = 4096;
/** Tail probabilities multiply; keep the product from claiming certainty. */
const MAX_SCORE = 0.95;

export const newPeer: DetectorSpec<NewPeerParams> = {
  name: 'new_peer',
  family: 'connection',
  summary:
    "A device connects to a destination (IP:port, or IP) it has not used during or since its learning period. Scored by the device's own novelty rates: new IPs on familiar ports are low, a new port to an internet host from a device that only talks inside the plant is high.",
  params: {
    learning: { type: 'duration', description: 'Event time after the first connection during which peers are learned silently.', default: '24h', examples: ['12h', '7d'] },
    min_connections: { type: 'integer', description: 'Connections to see before the learning period can end.', default: 20, minimum: 1 },
    peer: { type: 'string', description: 'What counts as a peer: ip_port (destination address and port) or ip.', enum: ['ip_port', 'ip'], default: 'ip_port' },
    min_score: { type: 'number', description: 'New peers scoring below this are learned without a finding.', default: 0.3, minimum: 0, maximum: 1 },
    max_peers: { type: 'integer', description: 'Known peers remembered per device (least recently seen evicted).', default: 256, minimum: 8, maximum: 8192 },
    max_ports: { type: 'integer', description: 'Known destination ports remembered per device.', default: 64, minimum: 4, maximum: 4096 },
    incident_gap: { type: 'duration', description: 'Repeat connections to the same new peer within this extend one finding.', default: '1h' },
  },
  example:
    'plc-07 (plc) connected to 203.0.113.9:4444/tcp, a peer never seen in 3d of history (it uses 3 peers on ports 502); confirm the destination is an approved service, otherwise isolate the device and review what initiated the connection.',
  mitre: ['T0869', 'T1071'],
  fleet: destinationRole(evidenceDestination),
  create(params, id) {
    return new NewPeerDetector(params, id);
  },
};

class NewPeerDetector implements DetectorInstance<NewPeerState> {
  readonly spec = newPeer;
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes: number;

  constructor(
    private readonly p: NewPeerParams,
    readonly id: string,
  ) {
    // Keys up to "ffff:...:ffff:65535" (~46 chars) + a minute timestamp; incidents per new peer.
    this.maxStateBytes = 256 + 2 * peerSetMaxBytes(p.max_peers, 48) + peerSetMaxBytes(p.max_ports, 10) + 64 * 110;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection';
  }

  init(ev: M2MEvent): NewPeerState {
    return { t0: ev.ts, n: 0, ni: 0, npt: 0, nk: 0, pub: 0, k: peerSetNew(), ip: peerSetNew(), po: peerSetNew(), inc: null };
  }

  revive(state: unknown): NewPeerState | undefined {
    const o = state as Partial<Record<keyof NewPeerState, unknown>> | null;
    if (typeof o !== 'object' || o === null || typeof o.inc !== 'object') return undefined;
    const t0 = o.t0, n = o.n, ni = o.ni, npt = o.npt, nk = o.nk, pub = o.pub;
    if (typeof t0 !== 'number' || typeof n !== 'number' || typeof ni !== 'number' || typeof npt !== 'number' || typeof nk !== 'number' || typeof pub !== 'number') return undefined;
    const k = peerSetRevive(o.k);
    const ip = peerSetRevive(o.ip);
    const po = peerSetRevive(o.po);
    if (k === undefined || ip === undefined || po === undefined) return undefined;
    return { t0, n, ni, npt, nk, pub, k, ip, po, inc: o.inc as IncidentBook | null };
  }

  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly res: StepResult<NewPeerState> = { state: undefined as unknown as NewPeerState, findings: NONE };

  step(s: NewPeerState, ev: M2MEvent, ctx: StepContext): StepResult<NewPeerState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    const minute = Math.floor(e.ts / 60_000);
    const portKey = `${e.dst_port}/${e.protocol}`;
    const key = p.peer === 'ip' ? e.dst_ip : e.dst_ip.includes(':') ? `[${e.dst_ip}]:${e.dst_port}` : `${e.dst_ip}:${e.dst_port}`;
    const sighting = peerSetSighting(s.k, key);
    const newKey = sighting !== sighting;
    const newIp = !peerSetHas(s.ip, e.dst_ip);
    const newPort = !peerSetHas(s.po, portKey);
    const external = !isInternalIp(e.dst_ip);

    let findings: FindingDraft[] = NONE;
    const learning = e.ts - s.t0 < p.learning || s.n < p.min_connections;
    const seenBefore = s.n;
    if (newKey && !learning) {
      // Probabilities under this device's history, before this connection is learned.
      const d = s.n + 2;
      let pr = newIp ? (s.ni + 1) / d : (s.nk + 1) / d;
      if (newPort) pr *= (s.npt + 1) / d;
      if (external && s.pub === 0) pr *= 1 / d;
      const score = Math.min(MAX_SCORE, clamp01(scoreFromP(pr)));
      if (score >= p.min_score) {
        const ports = peerSetKeys(s.po).slice(0, 5).join(', ');
        const what = newPort ? 'a new port' : newIp ? 'a new host on a familiar port' : 'a new host/port pair';
        findings = [
          raise((s.inc ??= {}),
            {
              detector: this.id,
              key,
              device_id: e.device_id,
              device_class: e.device_class,
              ts: e.ts,
              score,
              observed: `${key}/${e.protocol}${e.app_protocol ? ` (${e.app_protocol})` : ''}`,
              expected: `${peerSetSize(s.k)} known peers on ports ${ports || 'none'}`,
              explanation: `${e.device_id} (${e.device_class}) connected to ${key}/${e.protocol}, ${what}${external ? ' on the internet' : ''} never seen in ${fmtDuration(e.ts - s.t0)} of history (it uses ${peerSetSize(s.k)} peers on ports ${ports || 'none'}); confirm the destination is an approved service, otherwise isolate the device and review what initiated the connection.`,
              evidence: {
                peer: key,
                src_ip: e.src_ip,
                dst_ip: e.dst_ip,
                dst_port: e.dst_port,
                protocol: e.protocol,
                app_protocol: e.app_protocol ?? null,
                new_ip: newIp,
                new_port: newPort,
                external,
                first_external: external && s.pub === 0,
                p_value: compact(pr),
                known_peers: peerSetSize(s.k),
                connections_seen: seenBefore,
              },
              mitre: newPeer.mitre,
            },
            p.incident_gap,
          ),
        ];
      }
    } else if (!newKey && !learning && s.inc !== null && isOpen(s.inc, key, e.ts, p.incident_gap) && !extendQuietly(s.inc, key, e.ts, 0, p.incident_gap)) {
      // Repeat contact with a peer that is still an open incident extends it; a device that keeps
      // talking to it (a C2 channel, every few seconds) updates the finding as raiseThrottled
      // allows, not at every connection.
      const f = raiseThrottled(s.inc,
        {
          detector: this.id,
          key,
          device_id: e.device_id,
          device_class: e.device_class,
          ts: e.ts,
          score: 0,
          observed: `${key}/${e.protocol}`,
          expected: `${peerSetSize(s.k)} known peers`,
          explanation: `${e.device_id} (${e.device_class}) keeps connecting to ${key}/${e.protocol}, a peer first seen recently; confirm the destination is an approved service, otherwise isolate the device.`,
          evidence: { peer: key, src_ip: e.src_ip, dst_ip: e.dst_ip, dst_port: e.dst_port, protocol: e.protocol, repeat: true },
          mitre: newPeer.mitre,
        },
        p.incident_gap,
      );
      if (f !== null) findings = [f];
    }

    // Learn.
    s.n++;
    if (newIp) s.ni++;
    if (newPort) s.npt++;
    if (newKey) s.nk++;
    if (external) s.pub++;
    if (s.n >= HALVE_AT) {
      s.n = Math.round(s.n / 2);
      s.ni = Math.round(s.ni / 2);
      s.npt = Math.round(s.npt / 2);
      s.nk = Math.round(s.nk / 2);
      // Keep "has been external" sticky: halving to 0 would re-arm first-external.
      s.pub = Math.max(s.pub > 0 ? 1 : 0, Math.round(s.pub / 2));
    }
    // The fleet view counts, per class, the devices that use each destination: tell it when one
    // becomes established for this device (learned, or seen a second time: a scan's targets,
    // seen once, never are) and again at its first use each day (UTC).
    if (sighting >= 0 ? Math.floor(minute / MIN_PER_DAY) !== Math.floor(sighting / MIN_PER_DAY) : learning || sighting < 0) {
      ctx.facts.push({ k: 'peer', d: e.device_id, c: e.device_class, ts: e.ts, ip: e.dst_ip, port: e.dst_port });
    }
    // Whatever the device uses while it is learned is its normal, even if seen only once.
    const touch = learning ? peerSetProtect : peerSetTouch;
    s.k = touch(s.k, key, minute, p.max_peers);
    s.ip = touch(s.ip, e.dst_ip, minute, p.max_peers);
    s.po = touch(s.po, portKey, minute, p.max_ports);
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    const r = this.res;
    r.state = s;
    r.findings = findings;
    return r;
  }
}

const NONE: FindingDraft[] = [];
