/**
 * flood: one device hammering ONE destination — connections or bytes per minute to a single host
 * far above anything the device has sent to any single host before. That is what a bot taking
 * part in a DoS looks like from the bot's side (SYN/HTTP floods, UDP/DNS/NTP floods); fanout
 * covers many destinations, this covers one.
 *
 * Per device, the current window (default 1 minute) keeps connections and bytes_out per
 * destination in a small Space-Saving summary, so a scan of thousands of addresses cannot grow
 * the state and the busiest destination is never missed; counts are judged by their guaranteed
 * lower bound (count − inherited error), so the summary itself cannot invent a flood. When a
 * window closes, its busiest destination updates the device's baseline: a slowly decaying peak
 * per destination and window (half-life `baseline_half_life`), learned only from windows that
 * did not fire. A window fires when the busiest destination reaches both the absolute floor and
 * `factor` × that peak. Score: medium at the threshold, +0.15 per doubling beyond it.
 * Two kinds of burst are not floods and do not count: large downloads (bytes in ≫ bytes out: a
 * firmware image fetched in ranges) and the first minutes after the device comes back from a
 * silence (store-and-forward devices flush their backlog to their backend).
 */
import { closeStale, raiseThrottled, cappedKey } from './incident.js';
import type { IncidentBook } from './incident.js';
import { reusedResult, CONNECTION_ONLY } from './types.js';
import type { DetectorInstance, DetectorSpec, FindingDraft, StepResult } from './types.js';
import type { ConnectionEvent, M2MEvent } from '../events/types.js';
import { compact } from './lib/compact.js';
import { fmt, fmtBytes, fmtDuration } from './lib/format.js';
import { isInternalIp } from './lib/ip.js';
import { reviveNumbers } from './keyed.js';
import { ATTACK } from './fleet.js';

export interface FloodParams extends Record<string, unknown> {
  window: number;
  min_connections: number;
  min_bytes: number;
  factor: number;
  learning: number;
  baseline_half_life: number;
  incident_gap: number;
}


export interface FloodState {
  t0: number;
  /** Current window start and its per-destination summary. */
  ws: number;
  /**
   * Destinations of the window in the order they took their slot (Space-Saving evicts the first
   * smallest), and per slot [connections, bytes out, connection error, byte error] (errors
   * inherited by Space-Saving) in `dc`. Only the first `dn` slots are the window's: a roll
   * resets `dn` and later windows reuse the slots, so the arrays are allocated once per device.
   */
  dk: string[];
  dc: number[];
  dn: number;
  /** Whether the current window fired or fell in a resume grace (not learned). */
  an: boolean;
  /** Last event time, and when the device last came back from a silence. */
  lt: number;
  rs: number;
  /** Typical gap between the device's events (EWMA, ms): what counts as a silence is relative. */
  tg: number;
  /** Baseline: decaying peak connections / bytes to one destination per window. */
  pc: number;
  pb: number;
  /** Open incidents; null until the first (most devices never have one: an empty book per detector and device adds up). */
  inc: IncidentBook | null;
}

const SLOTS = 16;
const DOWNLOAD_BYTES = 64 * 1024;
/**
 * A gap this long, and four times the device's typical gap, is a silence; bursts in the grace
 * after it are backlog, not floods.
 */
const RESUME_GAP = 10 * 60_000;
const RESUME_GRACE = 5 * 60_000;
const MAX_OPEN = 4;

export const flood: DetectorSpec<FloodParams> = {
  name: 'flood',
  family: 'connection',
  summary:
    "Connections or bytes per minute to ONE destination far above the device's own peak per destination (a decaying maximum over past windows) and above an absolute floor: the device taking part in a DoS flood. Tracked with a bounded Space-Saving summary per window, so scans cannot grow state or hide the target.",
  params: {
    window: { type: 'duration', description: 'Counting window.', default: '1m', examples: ['30s', '5m'] },
    min_connections: { type: 'integer', description: 'Connections to one destination in a window below which nothing fires.', default: 20, minimum: 2 },
    min_bytes: { type: 'integer', description: 'Bytes out to one destination in a window below which nothing fires.', default: 1024 * 1024, minimum: 1 },
    factor: { type: 'number', description: "The busiest destination must also reach this multiple of the device's own peak per destination and window.", default: 4, minimum: 1 },
    learning: { type: 'duration', description: 'Event time to learn the peak before firing.', default: '24h' },
    baseline_half_life: { type: 'duration', description: 'Half-life of the learned peak, so a one-off busy period is eventually forgotten.', default: '3d' },
    incident_gap: { type: 'duration', description: 'Flood windows closer than this extend one finding.', default: '30m' },
  },
  example:
    'meter-0042 (smart_meter) opened 412 connections to 198.51.100.7:80/tcp within 1m (its peak to any one host is about 3 per 1m; threshold 20); treat it as DoS participation: isolate the device, and look for the bot that drives it (new processes, a recent login, a changed firmware).',
  mitre: ['T0814', 'T1498', 'T1499'],
  fleet: ATTACK,
  create(params, id) {
    return new FloodDetector(params, id);
  },
};

class FloodDetector implements DetectorInstance<FloodState> {
  readonly spec = flood;
  /** Reused: the engine reads a step's result at once and never keeps it. */
  private readonly result = reusedResult<FloodState>();
  readonly eventTypes = CONNECTION_ONLY;
  readonly maxStateBytes = 200 + SLOTS * (48 + 48) + MAX_OPEN * 140;
  private readonly decay: number;

  constructor(
    private readonly p: FloodParams,
    readonly id: string,
  ) {
    this.decay = Math.pow(0.5, p.window / Math.max(p.window, p.baseline_half_life));
  }

  applies(ev: M2MEvent): boolean {
    return ev.type === 'connection';
  }

  init(ev: M2MEvent): FloodState {
    return { t0: ev.ts, ws: this.windowStart(ev.ts), dk: [], dc: [], dn: 0, an: false, lt: ev.ts, rs: -Infinity, tg: 0, pc: 0, pb: 0, inc: null };
  }

  revive(state: unknown): FloodState | undefined {
    const o = state as Partial<Record<keyof FloodState, unknown>> | null;
    if (typeof o !== 'object' || o === null || !Array.isArray(o.dk) || typeof o.inc !== 'object') return undefined;
    const dc = reviveNumbers(o.dc);
    if (dc === undefined || dc.length !== 4 * o.dk.length || typeof o.dn !== 'number' || o.dn > o.dk.length) return undefined;
    return { ...(o as FloodState), dc };
  }

  private windowStart(ts: number): number {
    return Math.floor(ts / this.p.window) * this.p.window;
  }

  step(s: FloodState, ev: M2MEvent): StepResult<FloodState> {
    const e = ev as ConnectionEvent;
    const p = this.p;
    if (e.ts >= s.ws + p.window) this.roll(s, e.ts);
    else if (e.ts < s.ws) return this.result(s, NONE);
    // Back from a silence (outage, reboot): store-and-forward devices flush their backlog to
    // their backend in a burst, which is not a flood.
    const gap = e.ts - s.lt;
    if (gap > Math.max(RESUME_GAP, 4 * s.tg)) s.rs = e.ts;
    if (gap > 0) {
      s.tg = compact(s.tg === 0 ? gap : 0.9 * s.tg + 0.1 * Math.min(gap, 4 * s.tg));
      s.lt = e.ts;
    }
    const bytes = typeof e.bytes_out === 'number' && e.bytes_out > 0 ? e.bytes_out : 0;
    // A large download (firmware image fetched in ranges) is the device pulling, not flooding.
    const bin = typeof e.bytes_in === 'number' ? e.bytes_in : 0;
    if (bin >= DOWNLOAD_BYTES && bin >= 4 * bytes) return this.result(s, NONE);
    let dk = s.dk;
    let dc = s.dc;
    const dn = s.dn;
    let c = -1;
    for (let i = 0; i < dn; i++) {
      if (dk[i] === e.dst_ip) {
        c = i;
        break;
      }
    }
    if (c < 0) {
      let c0 = 0;
      let c1 = 0;
      if (dn < SLOTS) {
        if (dn === dk.length) {
          // Exact-length growth, once per device and slot: a push reserves 16+ spare slots.
          dk = s.dk = dk.concat(e.dst_ip);
          dc = s.dc = dc.concat(0, 0, 0, 0);
        }
        c = dn;
        s.dn = dn + 1;
      } else {
        // Space-Saving: the newcomer takes the smallest slot and inherits its counts as error,
        // and (as a key deleted and added) the last place in the order.
        let min = 0;
        for (let i = 1; i < dn; i++) if (dc[4 * i]! < dc[4 * min]!) min = i;
        c0 = dc[4 * min]!;
        c1 = dc[4 * min + 1]!;
        for (let i = min; i < dn - 1; i++) {
          dk[i] = dk[i + 1]!;
          for (let j = 0; j < 4; j++) dc[4 * i + j] = dc[4 * i + 4 + j]!;
        }
        c = dn - 1;
      }
      dk[c] = e.dst_ip;
      dc[4 * c] = c0;
      dc[4 * c + 1] = c1;
      dc[4 * c + 2] = c0;
      dc[4 * c + 3] = c1;
    }
    c *= 4;
    dc[c]!++;
    dc[c + 1]! += bytes;
    if (e.ts - s.t0 < p.learning) return this.result(s, NONE);
    if (e.ts - s.rs < RESUME_GRACE) {
      s.an = true;
      return this.result(s, NONE);
    }
    const conns = dc[c]! - dc[c + 2]!;
    const sent = dc[c + 1]! - dc[c + 3]!;
    const thC = Math.max(p.min_connections, Math.ceil(p.factor * s.pc));
    const thB = Math.max(p.min_bytes, p.factor * s.pb);
    const rc = conns / thC;
    const rb = sent / thB;
    if (rc < 1 && rb < 1) return this.result(s, NONE);
    s.an = true;
    const f = this.finding(s, e, conns, sent, thC, thB, rc >= rb ? 'connections' : 'bytes', Math.max(rc, rb));
    for (const _ in s.inc) {
      closeStale(s.inc, e.ts, p.incident_gap);
      break;
    }
    return this.result(s, f === null ? NONE : [f]);
  }

  /** Close the window: learn its busiest destination unless it fired, and start a new one. */
  private roll(s: FloodState, ts: number): void {
    if (!s.an) {
      let mc = 0;
      let mb = 0;
      const dc = s.dc;
      const end = 4 * s.dn;
      for (let j = 0; j < end; j += 4) {
        if (dc[j]! - dc[j + 2]! > mc) mc = dc[j]! - dc[j + 2]!;
        if (dc[j + 1]! - dc[j + 3]! > mb) mb = dc[j + 1]! - dc[j + 3]!;
      }
      // Windows with no traffic decay the peak too: elapsed windows since the last one.
      const gaps = Math.min(1e6, Math.max(1, Math.floor((ts - s.ws) / this.p.window)));
      const k = Math.pow(this.decay, gaps);
      s.pc = compact(Math.max(s.pc * k, mc));
      s.pb = compact(Math.max(s.pb * k, mb));
    }
    s.ws = this.windowStart(ts);
    s.dn = 0;
    s.an = false;
  }

  private finding(s: FloodState, e: ConnectionEvent, conns: number, sent: number, thC: number, thB: number, by: 'connections' | 'bytes', ratio: number): FindingDraft | null {
    const score = Math.min(0.95, 0.5 + 0.15 * Math.log2(ratio));
    const win = fmtDuration(this.p.window);
    const dst = `${e.dst_ip}:${e.dst_port}/${e.protocol}`;
    const external = !isInternalIp(e.dst_ip);
    const observed = by === 'connections' ? `${conns} connections to ${e.dst_ip} in ${win}` : `${fmtBytes(sent)} to ${e.dst_ip} in ${win}`;
    const usual = by === 'connections' ? `about ${fmt(s.pc)} connections` : `about ${fmtBytes(s.pb)}`;
    const key = cappedKey((s.inc ??= {}), e.dst_ip, MAX_OPEN);
    return raiseThrottled((s.inc ??= {}),
      {
        detector: this.id,
        key,
        device_id: e.device_id,
        device_class: e.device_class,
        ts: e.ts,
        score,
        observed,
        expected: `${usual} to any one host per ${win} (threshold ${by === 'connections' ? thC : fmtBytes(thB)})`,
        explanation: `${e.device_id} (${e.device_class}) ${by === 'connections' ? `opened ${conns} connections` : `sent ${fmtBytes(sent)}`} to ${dst}${external ? ' on the internet' : ''} within ${win} (its peak to any one host is ${usual} per ${win}); treat it as DoS participation or a runaway client: isolate the device and look for what drives it (new processes, a recent login, changed firmware).`,
        evidence: {
          src_ip: e.src_ip,
          dst_ip: e.dst_ip,
          dst_port: e.dst_port,
          protocol: e.protocol,
          external,
          connections: conns,
          bytes_out: sent,
          peak_connections: compact(s.pc),
          peak_bytes: Math.round(s.pb),
          threshold_connections: thC,
          threshold_bytes: Math.round(thB),
          by,
          window_ms: this.p.window,
        },
        mitre: flood.mitre,
      },
      this.p.incident_gap,
    );
  }
}

const NONE: FindingDraft[] = [];
