/**
 * policy: hardening rules that SOCs audit, checked on every event with no learning:
 * - plaintext where TLS is required (ports / application protocols that must be encrypted);
 * - cleartext administration protocols (telnet, FTP, TFTP, rlogin) at all;
 * - connections outside the networks allowed for the device class (segmentation);
 * - unauthenticated sessions (auth: none), except on ports that have no authentication by nature;
 * - firmware below the minimum version for the device class.
 * Scores are fixed per rule, in the band each breach deserves. A breach that repeats (every
 * poll of a misconfigured device) is one finding per rule and target, extended for `incident_gap`.
 */
import { cappedKey, closeStale, raiseThrottled } from './incident.js';
import type { IncidentBook } from './incident.js';
import { reusedResult, type DetectorInstance, type DetectorSpec, type FindingDraft, type StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { inCidr, isInternalIp, parseCidr } from './lib/ip.js';
import { compareVersions } from './lib/versions.js';
import type { Cidr } from './lib/ip.js';

export interface PolicyParams extends Record<string, unknown> {
  require_tls_ports: number[];
  require_tls_app_protocols: string[];
  cleartext_admin_ports: number[];
  cleartext_admin_protocols: string[];
  allowed_cidrs: Record<string, string[]>;
  require_auth: boolean;
  auth_exempt_ports: number[];
  min_firmware: Record<string, string>;
  incident_gap: number;
}

export interface PolicyState {
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const MAX_OPEN = 32;

export const policy: DetectorSpec<PolicyParams> = {
  name: 'policy',
  family: 'policy',
  summary:
    'Hardening rules: plaintext where TLS is required, cleartext administration protocols, connections outside the networks allowed for the device class, unauthenticated sessions, and firmware below a minimum version. No learning; fixed scores per rule.',
  params: {
    require_tls_ports: {
      type: 'array',
      description: 'Destination ports on which connections must use TLS (`tls: false` fires; events without `tls` are not judged).',
      items: { type: 'integer', minimum: 0, maximum: 65535 },
      default: [443, 8443, 8883, 5671, 5684, 4843, 6514],
      examples: [[1883, 8883]],
    },
    require_tls_app_protocols: {
      type: 'array',
      description: 'Application protocols that must use TLS whatever the port (matched case-insensitively against app_protocol).',
      items: { type: 'string' },
      default: [],
      examples: [['mqtt', 'http', 'opcua']],
    },
    cleartext_admin_ports: {
      type: 'array',
      description: 'Ports of cleartext administration protocols, reported whenever used.',
      items: { type: 'integer', minimum: 0, maximum: 65535 },
      default: [21, 23, 69, 513],
    },
    cleartext_admin_protocols: {
      type: 'array',
      description: 'Application protocols that are cleartext administration, reported whenever used.',
      items: { type: 'string' },
      default: ['telnet', 'ftp', 'tftp', 'rlogin'],
    },
    allowed_cidrs: {
      type: 'object',
      description: "Device class → CIDRs its connections may go to; '*' applies to classes not listed. Empty: no segmentation rule.",
      default: {},
      schema: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string', format: 'cidr' } } },
      examples: [{ plc: ['10.20.0.0/16'], '*': ['10.0.0.0/8'] }],
    },
    require_auth: { type: 'boolean', description: 'Report sessions with `auth: none`.', default: true },
    auth_exempt_ports: {
      type: 'array',
      description: 'Ports whose protocols have no authentication by design (DNS, NTP, DHCP, mDNS).',
      items: { type: 'integer', minimum: 0, maximum: 65535 },
      default: [53, 67, 68, 123, 5353],
    },
    min_firmware: {
      type: 'object',
      description: "Device class → minimum firmware version (semver-style compare); '*' applies to classes not listed.",
      default: {},
      schema: { type: 'object', additionalProperties: { type: 'string', format: 'version' } },
      examples: [{ smart_meter: '4.2.0', '*': '1.0.0' }],
    },
    incident_gap: { type: 'duration', description: 'Repeats of one breach closer than this extend one finding.', default: '24h' },
  },
  example:
    'plc-07 (plc) connected to 203.0.113.9:443, outside the networks allowed for plc (10.20.0.0/16); block the flow at the firewall and find out why the device tried to leave its segment.',
  mitre: ['T0886', 'T0883', 'T1040', 'T0857'],
  create(params, id) {
    return new PolicyDetector(params, id);
  },
};

class PolicyDetector implements DetectorInstance<PolicyState> {
  readonly spec = policy;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<PolicyState>();
  readonly maxStateBytes = 32 + (MAX_OPEN + 8) * 130;
  private readonly tlsPorts: Set<number>;
  private readonly tlsApps: Set<string>;
  private readonly adminPorts: Set<number>;
  private readonly adminApps: Set<string>;
  private readonly exempt: Set<number>;
  private readonly cidrs = new Map<string, Cidr[]>();

  constructor(
    private readonly p: PolicyParams,
    readonly id: string,
  ) {
    this.tlsPorts = new Set(p.require_tls_ports);
    this.tlsApps = new Set(p.require_tls_app_protocols.map((s) => s.toLowerCase()));
    this.adminPorts = new Set(p.cleartext_admin_ports);
    this.adminApps = new Set(p.cleartext_admin_protocols.map((s) => s.toLowerCase()));
    this.exempt = new Set(p.auth_exempt_ports);
    for (const [cls, list] of Object.entries(p.allowed_cidrs)) {
      // The validator rejects bad CIDRs with their location; anything left here is skipped.
      this.cidrs.set(cls, list.map((t) => parseCidr(t)).filter((c): c is Cidr => c !== undefined));
    }
  }

  applies(): boolean {
    return true;
  }

  init(): PolicyState {
    return { inc: null };
  }

  step(s: PolicyState, ev: M2MEvent): StepResult<PolicyState> {
    const out: FindingDraft[] = [];
    if (ev.type === 'connection') this.connection(s, ev, out);
    if (typeof ev.firmware === 'string') this.firmware(s, ev, out);
    if (s.inc !== null) closeStale(s.inc, ev.ts, this.p.incident_gap);
    return this.result(s, out.length ? out : NONE);
  }

  private push(s: PolicyState, out: FindingDraft[], ev: M2MEvent, key: string, score: number, observed: string, expected: string, explanation: string, evidence: Record<string, unknown>, mitre: string[]): void {
    // Bound the book: past MAX_OPEN distinct targets, further ones share one incident per rule.
    const k = cappedKey((s.inc ??= {}), key, MAX_OPEN, `${key.slice(0, key.indexOf(':'))}:*`);
    const f = raiseThrottled((s.inc ??= {}),
      { detector: this.id, key: k, device_id: ev.device_id, device_class: ev.device_class, ts: ev.ts, score, observed, expected, explanation, evidence: { rule: key.slice(0, key.indexOf(':')), ...evidence }, mitre },
      this.p.incident_gap,
    );
    if (f !== null) out.push(f);
  }

  private connection(s: PolicyState, e: ConnectionEvent, out: FindingDraft[]): void {
    const app = e.app_protocol?.toLowerCase();
    const adminHit = this.adminPorts.has(e.dst_port) || (app !== undefined && this.adminApps.has(app));
    const tlsHit = !adminHit && e.tls === false && (this.tlsPorts.has(e.dst_port) || (app !== undefined && this.tlsApps.has(app)));
    const allowed = this.cidrs.size > 0 ? (this.cidrs.get(e.device_class) ?? this.cidrs.get('*')) : undefined;
    const authHit = this.p.require_auth && e.auth === 'none' && !this.exempt.has(e.dst_port);
    // Almost every event breaks no rule: build the texts only for those that do (hot path).
    if (!adminHit && !tlsHit && !authHit && (allowed === undefined || allowed.length === 0)) return;
    const dst = `${e.dst_ip}:${e.dst_port}`;
    const who = `${e.device_id} (${e.device_class})`;
    const proto = `${e.protocol}${e.app_protocol ? `/${e.app_protocol}` : ''}`;
    const ev = { dst_ip: e.dst_ip, dst_port: e.dst_port, protocol: e.protocol, app_protocol: e.app_protocol ?? null, tls: e.tls ?? null, auth: e.auth ?? null };

    if (adminHit) {
      if (e.tls !== true) {
        this.push(s, out, e, `cleartext_admin:${e.dst_port}`, 0.6, `${proto} to ${dst}`, 'no cleartext administration', `${who} used cleartext administration (${app ?? `port ${e.dst_port}`}) to ${dst}; credentials and commands travel readable on the network: disable the service and move administration to SSH or TLS.`, ev, ['T1040', 'T0842', 'T0886']);
      }
    } else if (tlsHit) {
      this.push(s, out, e, `plaintext:${e.dst_port}`, 0.5, `plaintext ${proto} to ${dst}`, 'TLS', `${who} connected to ${dst} (${proto}) without TLS where TLS is required; fix the client configuration (or look for a downgrade by an on-path device) and rotate any credentials sent in the clear.`, ev, ['T1040', 'T0842']);
    }

    if (allowed !== undefined && allowed.length > 0) {
      let ok = false;
      for (const c of allowed) if (inCidr(e.dst_ip, c)) { ok = true; break; }
      if (!ok) {
        const external = !isInternalIp(e.dst_ip);
        const nets = allowed.map((c) => c.text).join(', ');
        this.push(s, out, e, `segmentation:${e.dst_ip}`, external ? 0.75 : 0.65, `${proto} to ${dst}`, nets, `${who} connected to ${dst}${external ? ' on the internet' : ''}, outside the networks allowed for ${e.device_class} (${nets}); block the flow at the firewall and find out why the device tried to leave its segment.`, { ...ev, allowed: nets, external }, external ? ['T0883', 'T1133', 'T0886'] : ['T0886', 'T1021']);
      }
    }

    if (authHit) {
      const external = !isInternalIp(e.dst_ip);
      this.push(s, out, e, `unauthenticated:${e.dst_port}`, external ? 0.6 : 0.45, `unauthenticated ${proto} session to ${dst}`, 'authenticated sessions', `${who} had an unauthenticated ${proto} session with ${dst}${external ? ' on the internet' : ''}; enable authentication on the service, or restrict who can reach it if the protocol has none.`, { ...ev, external }, ['T0886', 'T0812']);
    }
  }

  private firmware(s: PolicyState, ev: M2MEvent, out: FindingDraft[]): void {
    const min = this.p.min_firmware[ev.device_class] ?? this.p.min_firmware['*'];
    const fw = ev.firmware!;
    if (min === undefined || compareVersions(fw, min) >= 0) return;
    this.push(s, out, ev, `firmware:${fw}`, 0.5, fw, `≥ ${min}`, `${ev.device_id} (${ev.device_class}) runs firmware ${fw}, below the minimum ${min} for ${ev.device_class}; schedule an update and check the advisories fixed since ${fw} for exposure meanwhile.`, { firmware: fw, minimum: min }, ['T0857', 'T0866']);
  }
}

const NONE: FindingDraft[] = [];
