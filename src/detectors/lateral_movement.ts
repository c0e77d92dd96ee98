/**
 * lateral_movement: a device reaching into parts of the internal network it has never used —
 * hosts outside its own segment and outside every segment it talked to while it was learned —
 * especially on administration and industrial-control ports, to several hosts, with failed logins.
 *
 * M2M devices have a small, stable internal footprint (their broker, historian, NTP, DNS), so the
 * first session from a meter to a file server's SMB port, or from a PLC into another cell's
 * Modbus, is the signal; new_peer alone scores it low because the device already uses internal
 * peers. Evidence adds up over a sliding window (default 1h):
 *   0.35 for any off-segment internal host never seen before,
 *   +0.2 if an administration / ICS port is among them (SMB, RDP, SSH, WinRM, Modbus, S7, ...),
 *   +0.1 per doubling of the distinct new hosts,
 *   +0.1 with failed authentication to them (+0.05 more at three failures),
 *   +0.05 with three or more distinct ports.
 * So one new host on an ordinary port stays low (a backend moved), one admin port is medium, and
 * a sweep over several admin hosts with failed logins is high or critical.
 *
 * Segments are /24 (IPv4) and /64 (IPv6) prefixes: the device's own, plus those it used while it
 * was learned. Internal is RFC 1918, CGNAT (100.64/10) and IPv6 ULA; link-local, multicast and
 * public destinations are other detectors' business.
 */
import { closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { reusedResult, CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { fmtDuration } from './lib/format.js';
import { ipv4ToInt, ipv6ToHextets } from './lib/ip.js';
import { peerSetHas, peerSetMaxBytes, peerSetNew, peerSetProtect, peerSetTouch, peerSetProtected, peerSetProtectedKeys, peerSetRevive } from './peerset.js';
import { expireBefore, numTimesNew, numTimesRevive, numTouchCapped, reviveNumbers, strIndex, strTimesNew, strTimesRevive, strTouchCapped } from './keyed.js';
import type { NumTimes, StrTimes } from './keyed.js';
import type { PeerSet } from './peerset.js';
import { destinationRole } from './fleet.js';

export interface LateralMovementParams extends Record<string, unknown> {
  learning: number;
  min_connections: number;
  window: number;
  sensitive_ports: number[];
  max_hosts: number;
  incident_gap: number;
}

export interface LateralMovementState {
  t0: number;
  c: number;
  /** Internal segments used while learning (protected) and internal hosts ever used. */
  nets: PeerSet;
  hosts: PeerSet;
  /** Window: new off-segment hosts → last seen, their ports → last seen, failed-auth times. */
  wh: StrTimes;
  wp: NumTimes;
  wf: number[];
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const MAX_WINDOW_HOSTS = 64;
const MAX_WINDOW_PORTS = 32;
const MAX_FAILS = 8;
const MAX_NETS = 64;

export const lateralMovement: DetectorSpec<LateralMovementParams> = {
  name: 'lateral_movement',
  family: 'connection',
  summary:
    "Connections to internal hosts outside the device's own segment and outside every segment it used while learned, scored by the evidence in a sliding window: administration / ICS ports (SMB, RDP, SSH, WinRM, Modbus, S7, EtherNet/IP, DNP3...), the number of new hosts, failed logins and distinct ports. One new host on an ordinary port stays low; an admin-port sweep is high.",
  params: {
    learning: { type: 'duration', description: 'Event time during which the device\'s internal segments are learned silently.', default: '24h', examples: ['12h', '7d'] },
    min_connections: { type: 'integer', description: 'Connections to see before the learning period can end.', default: 20, minimum: 1 },
    window: { type: 'duration', description: 'Sliding window over which new hosts, ports and failures add up.', default: '1h', examples: ['15m', '4h'] },
    sensitive_ports: {
      type: 'array',
      description: 'Administration and industrial-control ports whose use towards a new segment weighs more.',
      items: { type: 'integer', minimum: 0, maximum: 65535 },
      default: [22, 23, 135, 139, 445, 3389, 5900, 5985, 5986, 161, 502, 102, 44818, 20000, 2404, 47808, 1911, 9600, 18245, 4840],
    },
    max_hosts: { type: 'integer', description: 'Internal hosts remembered per device.', default: 128, minimum: 8, maximum: 4096 },
    incident_gap: { type: 'duration', description: 'Off-segment activity closer than this extends one finding.', default: '2h' },
  },
  example:
    'meter-0042 (smart_meter) reached 4 internal hosts outside its segments within 1h (10.0.3.7:445, 10.0.9.20:3389, 10.20.4.11:502, ...), on administration/ICS ports, with 6 failed logins; it normally talks only to 10.10.4.0/24, 10.1.0.0/24; isolate the device and check the targets for logons from it.',
  mitre: ['T0867', 'T1021', 'T0886', 'T1018'],
  fleet: destinationRole((f) => {
    const last = f.evidence.last as { dst_ip?: unknown; dst_port?: unknown } | undefined;
    return last === undefined ? undefined : { ip: last.dst_ip, port: last.dst_port };
  }),
  create(params, id) {
    return new LateralMovementDetector(params, id);
  },
};

/** Internal unicast, and its segment prefix; undefined for public, link-local, multicast. */
export function internalSegment(ip: string): string | undefined {
  const v4 = ipv4ToInt(ip);
  if (v4 >= 0) {
    const a = v4 >>> 24;
    const b = (v4 >>> 16) & 0xff;
    const internal = a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
    return internal ? ip.slice(0, ip.lastIndexOf('.')) : undefined;
  }
  if (ip.startsWith('::ffff:')) return internalSegment(ip.slice(7));
  const h = ipv6ToHextets(ip);
  if (h === undefined || (h[0]! & 0xfe00) !== 0xfc00) return undefined;
  return h.slice(0, 4).map((x) => x.toString(16)).join(':');
}

class LateralMovementDetector implements DetectorInstance<LateralMovementState> {
  readonly spec = lateralMovement;
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes: number;
  private readonly sensitive: Set<number>;

  constructor(
    private readonly p: LateralMovementParams,
    readonly id: string,
  ) {
    this.sensitive = new Set(p.sensitive_ports);
    this.maxStateBytes =
      200 + peerSetMaxBytes(MAX_NETS, 20) + peerSetMaxBytes(p.max_hosts, 40) + MAX_WINDOW_HOSTS * 60 + MAX_WINDOW_PORTS * 24 + MAX_FAILS * 15 + 4 * 140;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection';
  }

  init(ev: M2MEvent): LateralMovementState {
    return { t0: ev.ts, c: 0, nets: peerSetNew(), hosts: peerSetNew(), wh: strTimesNew(), wp: numTimesNew(), wf: [], inc: null };
  }

  revive(state: unknown): LateralMovementState | undefined {
    const o = state as Partial<Record<keyof LateralMovementState, unknown>> | null;
    if (typeof o !== 'object' || o === null || typeof o.t0 !== 'number' || typeof o.c !== 'number' || typeof o.inc !== 'object') return undefined;
    const nets = peerSetRevive(o.nets);
    const hosts = peerSetRevive(o.hosts);
    const wh = strTimesRevive(o.wh);
    const wp = numTimesRevive(o.wp);
    const wf = reviveNumbers(o.wf);
    if (nets === undefined || hosts === undefined || wh === undefined || wp === undefined || wf === undefined) return undefined;
    return { t0: o.t0, c: o.c, nets, hosts, wh, wp, wf, inc: o.inc as IncidentBook | null };
  }

  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<LateralMovementState>();

  step(s: LateralMovementState, ev: M2MEvent): StepResult<LateralMovementState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    if (s.c < 1e9) s.c++;
    const seg = internalSegment(e.dst_ip);
    if (seg === undefined) return this.result(s, NONE);
    const minute = Math.floor(e.ts / 60_000);
    const learning = e.ts - s.t0 < p.learning || s.c < p.min_connections;
    if (learning) {
      s.nets = peerSetProtect(s.nets, seg, minute, MAX_NETS);
      s.hosts = peerSetProtect(s.hosts, e.dst_ip, minute, p.max_hosts);
      return this.result(s, NONE);
    }
    const own = e.src_ip ? internalSegment(e.src_ip) : undefined;
    const offSegment = seg !== own && !peerSetProtected(s.nets, seg);
    const wi = strIndex(s.wh, e.dst_ip);
    const inWindow = wi >= 0 && e.ts - s.wh.t[wi]! <= p.window;
    let out: FindingDraft[] = NONE;
    if (offSegment && (inWindow || !peerSetHas(s.hosts, e.dst_ip))) {
      const from = e.ts - p.window;
      if (s.wh.k.length >= MAX_WINDOW_HOSTS) expireBefore(s.wh, from);
      strTouchCapped(s.wh, e.dst_ip, e.ts, MAX_WINDOW_HOSTS);
      numTouchCapped(s.wp, e.dst_port, e.ts, MAX_WINDOW_PORTS);
      if (e.auth === 'failed') {
        s.wf.push(e.ts);
        if (s.wf.length > MAX_FAILS) s.wf.shift();
      }
      const f = this.finding(s, e, from);
      if (f !== null) out = [f];
    }
    s.hosts = peerSetTouch(s.hosts, e.dst_ip, minute, p.max_hosts);
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    return this.result(s, out);
  }

  private finding(s: LateralMovementState, e: ConnectionEvent, from: number): FindingDraft | null {
    const hosts = expireBefore(s.wh, from);
    expireBefore(s.wp, from);
    while (s.wf.length > 0 && s.wf[0]! <= from) s.wf.shift();
    const ports = s.wp.k.map(String);
    const admin = ports.filter((x) => this.sensitive.has(Number(x)));
    const fails = s.wf.length;
    let score = 0.35;
    if (admin.length > 0) score += 0.2;
    score += 0.1 * Math.log2(Math.max(1, hosts));
    if (fails > 0) score += fails >= 3 ? 0.15 : 0.1;
    if (ports.length >= 3) score += 0.05;
    score = Math.min(0.95, Math.round(score * 1000) / 1000);
    const win = fmtDuration(this.p.window);
    const sample = s.wh.k.slice(-6);
    const known = peerSetProtectedKeys(s.nets).slice(0, 4).map((n) => (n.includes(':') ? `${n}::/64` : `${n}.0/24`));
    const traits = [admin.length > 0 ? `on administration/ICS ports (${admin.join(', ')})` : `on ports ${ports.slice(0, 5).join(', ')}`];
    if (fails > 0) traits.push(`with ${fails}${fails >= MAX_FAILS ? '+' : ''} failed logins`);
    return raiseThrottled((s.inc ??= {}),
      {
        detector: this.id,
        key: 'off_segment',
        device_id: e.device_id,
        device_class: e.device_class,
        ts: e.ts,
        score,
        observed: `${hosts} new internal host${hosts === 1 ? '' : 's'} off-segment in ${win}`,
        expected: `internal peers in ${known.join(', ') || 'its own segment'}`,
        explanation: `${e.device_id} (${e.device_class}) reached ${hosts} internal host${hosts === 1 ? '' : 's'} outside its segments within ${win} (${sample.join(', ')}${hosts > sample.length ? ', ...' : ''}), ${traits.join(', ')}; it normally talks only to ${known.join(', ') || 'its own segment'}: isolate the device and check the targets for logons from it.`,
        evidence: {
          hosts: sample,
          distinct_hosts: hosts,
          ports,
          sensitive_ports: admin,
          failed_auth: fails,
          last: { src_ip: e.src_ip, dst_ip: e.dst_ip, dst_port: e.dst_port, protocol: e.protocol, app_protocol: e.app_protocol ?? null, auth: e.auth ?? null },
          learned_segments: known,
          window_ms: this.p.window,
        },
        mitre: admin.length > 0 ? lateralMovement.mitre : ['T0886', 'T1018'],
      },
      this.p.incident_gap,
    );
  }
}

const NONE: FindingDraft[] = [];
