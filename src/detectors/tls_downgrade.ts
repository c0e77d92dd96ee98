/**
 * tls_downgrade: a session that this device has always encrypted goes out in clear — TLS
 * stripped by an on-path device, a client misconfigured into plaintext, or a downgrade to the
 * protocol's cleartext port (MQTT 8883 → 1883). Needs no configuration: it learns, per device,
 * which services are normally TLS.
 *
 * A service is identified three ways, each with its own TLS / plaintext tally:
 * - the destination port and transport (443/tcp): the same service now in clear;
 * - the application protocol (mqtt, hl7, opcua): the protocol the device speaks over TLS, now
 *   in clear on any port (catches the move to the cleartext port when the source labels the
 *   protocol by content);
 * - the destination host: a server the device only ever reached over TLS, now reached in clear
 *   on another port. Weaker (a host may serve OCSP or a redirect over HTTP by design), so it is
 *   scored low on its own.
 * A key counts as "always TLS" once it has `min_tls_sessions` TLS sessions and at most
 * `max_plain_share` of its sessions in clear. Plaintext sessions on such a key are not learned
 * while the finding is open, so a lasting downgrade stays one incident instead of becoming normal.
 * Events without a `tls` field say nothing about encryption and are skipped.
 */
import { closeStale, isOpen, raiseThrottled, cappedKey } from './incident.js';
import type { IncidentBook } from './incident.js';
import { CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { fmt, fmtDuration } from './lib/format.js';
import { reviveNumbers } from './keyed.js';

export interface TlsDowngradeParams extends Record<string, unknown> {
  learning: number;
  min_tls_sessions: number;
  max_plain_share: number;
  max_keys: number;
  incident_gap: number;
}

/**
 * The tallied keys as parallel arrays, in the order they were first tallied (eviction breaks ties
 * by it), so that no key string is built per event: key i is the port `kp[i]` over transport
 * `ks[i]` (kind PORT), the application protocol `ks[i]` (APP) or the destination host `ks[i]`
 * (HOST). `c` holds [TLS sessions, plaintext sessions, last seen (minutes)] per key.
 */
export interface TlsDowngradeState {
  t0: number;
  kd: number[];
  kp: number[];
  ks: string[];
  c: number[];
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const PORT = 0;
const APP = 1;
const HOST = 2;

/** Tallies halve past this many sessions so the share follows the device's present. */
const HALVE_AT = 2048;
const MAX_OPEN = 8;

type Level = 'port' | 'app' | 'host';
const LEVEL_SCORE: Record<Level, number> = { port: 0.6, app: 0.6, host: 0.4 };

export const tlsDowngrade: DetectorSpec<TlsDowngradeParams> = {
  name: 'tls_downgrade',
  family: 'connection',
  summary:
    "Plaintext on a service this device has always used over TLS (same port, same application protocol, or same server), learned per device with no configuration: stripped TLS, a client pushed into cleartext, or a move to the protocol's cleartext port. Events without a `tls` field are not judged.",
  params: {
    learning: { type: 'duration', description: 'Event time after the first TLS-bearing session before any finding.', default: '24h', examples: ['12h', '3d'] },
    min_tls_sessions: { type: 'integer', description: 'TLS sessions a port / protocol / server needs before plaintext on it is a finding.', default: 10, minimum: 2 },
    max_plain_share: {
      type: 'number',
      description: 'A service counts as always-TLS while at most this share of its sessions were plaintext.',
      default: 0.01,
      minimum: 0,
      maximum: 0.5,
    },
    max_keys: { type: 'integer', description: 'Ports, protocols and servers tallied per device (those with the fewest TLS sessions are evicted first).', default: 48, minimum: 8, maximum: 1024 },
    incident_gap: { type: 'duration', description: 'Plaintext sessions on one service closer than this extend one finding.', default: '6h' },
  },
  example:
    'pmon-07 (patient_monitor) sent a plaintext tcp/hl7 session to 10.30.0.10:2575, a port it had used with TLS 1,412 times in 3d and never in clear; look for a TLS-stripping device on the path or a configuration change, and treat data and credentials sent since as exposed.',
  mitre: ['T1557', 'T1040', 'T0830'],
  create(params, id) {
    return new TlsDowngradeDetector(params, id);
  },
};

class TlsDowngradeDetector implements DetectorInstance<TlsDowngradeState> {
  readonly spec = tlsDowngrade;
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes: number;

  constructor(
    private readonly p: TlsDowngradeParams,
    readonly id: string,
  ) {
    // Keys up to "h:" + an IPv6 address; tallies are three short numbers; incidents per service.
    this.maxStateBytes = 64 + p.max_keys * (48 + 30) + MAX_OPEN * 160;
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection' && typeof ev.tls === 'boolean';
  }

  init(ev: M2MEvent): TlsDowngradeState {
    return { t0: ev.ts, kd: [], kp: [], ks: [], c: [], inc: null };
  }

  revive(state: unknown): TlsDowngradeState | undefined {
    const o = state as Partial<Record<keyof TlsDowngradeState, unknown>> | null;
    if (typeof o !== 'object' || o === null || typeof o.t0 !== 'number' || typeof o.inc !== 'object' || !Array.isArray(o.ks)) return undefined;
    const kd = reviveNumbers(o.kd);
    const kp = reviveNumbers(o.kp);
    const c = reviveNumbers(o.c);
    const ks: string[] = [];
    for (const k of o.ks as unknown[]) {
      if (typeof k !== 'string') return undefined;
      ks.push(k);
    }
    const n = ks.length;
    if (kd === undefined || kp === undefined || c === undefined || kd.length !== n || kp.length !== n || c.length !== 3 * n) return undefined;
    return { t0: o.t0, kd, kp, ks, c, inc: o.inc as IncidentBook | null };
  }

  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly res: StepResult<TlsDowngradeState> = { state: undefined as unknown as TlsDowngradeState, findings: NONE };

  /** Index of a key, or -1. */
  private static find(s: TlsDowngradeState, kind: number, port: number, str: string): number {
    const kd = s.kd;
    for (let i = 0; i < kd.length; i++) if (kd[i] === kind && s.ks[i] === str && s.kp[i] === port) return i;
    return -1;
  }

  /** The key is "always TLS" under this device's history; returns its TLS count or 0. */
  private established(s: TlsDowngradeState, i: number): number {
    if (i < 0) return 0;
    const tls = s.c[3 * i]!;
    const plain = s.c[3 * i + 1]!;
    if (tls < this.p.min_tls_sessions) return 0;
    return plain <= this.p.max_plain_share * (tls + plain) ? tls : 0;
  }

  step(s: TlsDowngradeState, ev: M2MEvent): StepResult<TlsDowngradeState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    const minute = Math.floor(e.ts / 60_000);
    const app = e.app_protocol ? e.app_protocol.toLowerCase() : undefined;
    const F = TlsDowngradeDetector.find;
    let out: FindingDraft[] = NONE;
    let suppressLearning = false;

    if (e.tls === false && e.ts - s.t0 >= p.learning) {
      const incKey = `${e.dst_ip}:${e.dst_port}`;
      // The most specific always-TLS key wins: the same port, then the protocol, then the host.
      let level: Level | undefined;
      let n = 0;
      if ((n = this.established(s, F(s, PORT, e.dst_port, e.protocol))) > 0) level = 'port';
      else if (app !== undefined && (n = this.established(s, F(s, APP, 0, app))) > 0) level = 'app';
      else if ((n = this.established(s, F(s, HOST, 0, e.dst_ip))) > 0) level = 'host';
      if (level !== undefined) {
        suppressLearning = true;
        const f = this.finding(s, e, level, n, incKey, app);
        if (f !== null) out = [f];
      } else if (s.inc !== null && isOpen(s.inc, incKey, e.ts, p.incident_gap)) {
        suppressLearning = true;
      }
    }

    if (!suppressLearning) {
      const i = e.tls ? 0 : 1;
      this.tally(s, PORT, e.dst_port, e.protocol, i, minute);
      if (app !== undefined) this.tally(s, APP, 0, app, i, minute);
      this.tally(s, HOST, 0, e.dst_ip, i, minute);
    }
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    const r = this.res;
    r.state = s;
    r.findings = out;
    return r;
  }

  private tally(s: TlsDowngradeState, kind: number, port: number, str: string, i: 0 | 1, minute: number): void {
    let k = TlsDowngradeDetector.find(s, kind, port, str);
    if (k < 0) {
      if (s.ks.length >= this.p.max_keys) this.evict(s);
      // Exact-length growth: a push would reserve 16+ spare slots in each of four arrays.
      s.kd = s.kd.concat(kind);
      s.kp = s.kp.concat(port);
      s.ks = s.ks.concat(str);
      s.c = s.c.concat(0, 0, minute);
      k = s.ks.length - 1;
    }
    const c = s.c;
    const j = 3 * k;
    c[j + i]!++;
    c[j + 2] = minute;
    if (c[j]! + c[j + 1]! >= HALVE_AT) {
      c[j] = Math.round(c[j]! / 2);
      // Keep a plaintext history from rounding away to "never".
      c[j + 1] = c[j + 1]! > 0 ? Math.max(1, Math.round(c[j + 1]! / 2)) : 0;
    }
  }

  /** Drop the key with the fewest TLS sessions (oldest first on ties): it proves least. */
  private evict(s: TlsDowngradeState): void {
    let victim = -1;
    let vt = Infinity;
    let vm = Infinity;
    const c = s.c;
    for (let k = 0; k < s.ks.length; k++) {
      if (c[3 * k]! < vt || (c[3 * k] === vt && c[3 * k + 2]! < vm)) {
        vt = c[3 * k]!;
        vm = c[3 * k + 2]!;
        victim = k;
      }
    }
    s.kd.splice(victim, 1);
    s.kp.splice(victim, 1);
    s.ks.splice(victim, 1);
    c.splice(3 * victim, 3);
  }

  private finding(s: TlsDowngradeState, e: ConnectionEvent, level: Level, tlsCount: number, key: string, app: string | undefined): FindingDraft | null {
    // More TLS history makes the break more certain: 10 sessions → the level's base, ×10 → +0.1.
    // The host alone never reaches medium: servers may offer plaintext by design (OCSP, redirects).
    const score = Math.min(level === 'host' ? 0.45 : 0.85, LEVEL_SCORE[level] + 0.1 * Math.log10(Math.max(1, tlsCount / this.p.min_tls_sessions)));
    const proto = `${e.protocol}${e.app_protocol ? `/${e.app_protocol}` : ''}`;
    const dst = `${e.dst_ip}:${e.dst_port}`;
    const what =
      level === 'port'
        ? `a port it had used with TLS ${fmt(tlsCount)} times`
        : level === 'app'
          ? `a protocol (${app}) it had spoken over TLS ${fmt(tlsCount)} times`
          : `a server it had reached only over TLS (${fmt(tlsCount)} sessions)`;
    const hist = fmtDuration(e.ts - s.t0);
    key = cappedKey((s.inc ??= {}), key, MAX_OPEN);
    return raiseThrottled((s.inc ??= {}),
      {
        detector: this.id,
        key,
        device_id: e.device_id,
        device_class: e.device_class,
        ts: e.ts,
        score,
        observed: `plaintext ${proto} to ${dst}`,
        expected: `TLS (${fmt(tlsCount)} TLS sessions by ${level})`,
        explanation: `${e.device_id} (${e.device_class}) sent a plaintext ${proto} session to ${dst}, ${what} in ${hist} and rarely or never in clear; look for a TLS-stripping device on the path or a configuration change, and treat data and credentials sent since as exposed.`,
        evidence: { src_ip: e.src_ip, dst_ip: e.dst_ip, dst_port: e.dst_port, protocol: e.protocol, app_protocol: e.app_protocol ?? null, matched_by: level, tls_sessions: tlsCount, history_ms: e.ts - s.t0 },
        mitre: level === 'host' ? ['T1557', 'T1040'] : tlsDowngrade.mitre,
      },
      this.p.incident_gap,
    );
  }
}

const NONE: FindingDraft[] = [];
