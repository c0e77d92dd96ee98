/**
 * One simulated device: identity, addressing, firmware history and the modifiers that benign
 * changes and incidents lay over its normal behaviour. Behaviours (class models, attacks) are
 * processes that call telemetry()/connection() here; the modifiers are applied in one place so
 * that, for example, a stuck sensor freezes the reading whichever process produced it.
 */
import type { Rng } from './prng.js';
import type { Zone } from './time.js';
import type { DeviceClass, SimEvent } from './types.js';

/** A schedulable behaviour: emits events at `next` (event time) and moves `next` forward. */
export interface Process {
  next: number;
  step(out: SimEvent[]): void;
}

/** A process that runs fn once, at `at`. */
export function oneShot(at: number, fn: (out: SimEvent[]) => void): Process {
  const p: Process = {
    next: at,
    step(out) {
      fn(out);
      p.next = Number.POSITIVE_INFINITY;
    },
  };
  return p;
}

/** A process that runs fn at times produced by `gap` inside [start, end). */
export function burst(start: number, end: number, gap: () => number, fn: (ts: number, out: SimEvent[]) => void): Process {
  const p: Process = {
    next: start,
    step(out) {
      if (p.next >= end) {
        p.next = Number.POSITIVE_INFINITY;
        return;
      }
      fn(p.next, out);
      p.next += Math.max(1, Math.round(gap()));
      if (p.next >= end) p.next = Number.POSITIVE_INFINITY;
    },
  };
  return p;
}

/**
 * Total order for events with equal timestamps (common at millisecond resolution in a big fleet):
 * device index, then the device's own emission count. A symbol key, so it never reaches the wire.
 */
const ORDER = Symbol('order');

export function orderOf(e: SimEvent): number {
  return (e as unknown as Record<symbol, number>)[ORDER] ?? 0;
}

/**
 * Run `devices` through event time in chunks of `chunkMs` from `start` to `end`: each chunk's
 * events sorted by time, then position (orderOf). Within a device, processes share its state
 * (address, last readings, sequence, random stream), so they run in event-time order, ties by
 * position: the interleaving, and hence the output, does not depend on where chunk boundaries
 * fall. Events a process dates at or past the chunk's end are carried into the next chunk; those
 * outside [start, end) are left for the caller to drop. A chunk's processes run only when the
 * caller asks for it, after it has handled the one before.
 */
export function* drainChunks(devices: readonly SimDevice[], start: number, end: number, chunkMs: number): Generator<{ events: SimEvent[]; until: number }> {
  let carry: SimEvent[] = [];
  for (let t0 = start; t0 < end; t0 += chunkMs) {
    const t1 = Math.min(end, t0 + chunkMs);
    const buf: SimEvent[] = carry;
    for (const d of devices) {
      const ps = d.processes;
      for (;;) {
        let best: Process | undefined;
        for (const p of ps) if (p.next < t1 && (best === undefined || p.next < best.next)) best = p;
        if (!best) break;
        best.step(buf);
      }
    }
    buf.sort((a, b) => a.ts - b.ts || orderOf(a) - orderOf(b));
    let cut = 0;
    while (cut < buf.length && buf[cut]!.ts < t1) cut++;
    carry = buf.slice(cut);
    buf.length = cut;
    yield { events: buf, until: t1 };
  }
}

export interface Silence {
  start: number;
  end: number;
  /** Telemetry is buffered on the device and keeps its event time (store-and-forward). */
  catchup: boolean;
  /** After the silence, the backlog is uploaded in one burst to the device's uplink. */
  backlogUpload: boolean;
}

/**
 * What a modifier actually changed. A fault or downgrade can be invisible for a while (a flow
 * meter stuck at 0 while the line is idle, TLS stripped on a payment terminal at night when it
 * makes no sessions), so modifiers stay on past their scheduled end until they have altered
 * `minEvidence` events (bounded by `maxEnd`), and the label is set to the span of the evidence.
 */
export interface Evidence {
  minEvidence: number;
  maxEnd: number;
  evidence: number;
  firstTs?: number;
  lastTs?: number;
}

export function newEvidence(minEvidence: number, maxEnd: number): Evidence {
  return { minEvidence, maxEnd, evidence: 0 };
}

function active(m: { start: number; end: number; ev: Evidence }, ts: number): boolean {
  if (ts < m.start) return false;
  return ts < m.end || (m.ev.evidence < m.ev.minEvidence && ts < m.ev.maxEnd);
}

function witness(ev: Evidence, ts: number): void {
  ev.evidence++;
  if (ev.firstTs === undefined) ev.firstTs = ts;
  ev.lastTs = ts;
}

export type TelemetryMod = { metric: string; start: number; end: number; ev: Evidence } & (
  | { kind: 'stuck'; value?: number }
  | { kind: 'offset'; delta: number; rampMs: number }
  | { kind: 'scale'; factor: number }
);

export interface ConnMod {
  kind: 'plaintext';
  start: number;
  end: number;
  ev: Evidence;
  /** Only sessions to this port are downgraded. */
  port: number;
  /** Moves the session to a plaintext port (e.g. MQTT 8883 → 1883) instead of dropping TLS in place. */
  toPort?: number;
}

/**
 * A world's habits laid over a class model (src/sim/worlds): whether the device sends what its
 * model produced (a sleeping terminal does not), and what it looks like on the wire (a migrated
 * endpoint). Called before a telemetry reading takes its sequence number, so a device that
 * sleeps has no gaps in `seq`. Returns false to drop the event.
 */
export interface DeviceHook {
  telemetry?(ts: number, metrics: Record<string, number>, out: SimEvent[]): boolean;
  connection?(ts: number, c: ConnectionSpec, out: SimEvent[]): boolean;
}

export interface ConnectionSpec {
  dst_ip: string;
  dst_port: number;
  protocol: string;
  app_protocol?: string;
  bytes_out: number;
  bytes_in: number;
  duration_ms: number;
  tls?: boolean;
  auth?: 'ok' | 'failed' | 'none';
  src_ip?: string;
}

export interface Uplink {
  ip: string;
  port: number;
  protocol: string;
  app: string;
  tls: boolean;
}

export class SimDevice {
  seq = 0;
  silences: Silence[] = [];
  tmods: TelemetryMod[] = [];
  cmods: ConnMod[] = [];
  processes: Process[] = [];
  /** Planned production stops (maintenance windows): the process idles, the device stays up. */
  stops: Array<{ start: number; end: number }> = [];
  /** [since, version], ascending. */
  firmware: Array<[number, string]>;
  /** Reboots reset the telemetry sequence counter (firmware installs). */
  reboots: number[] = [];
  private rebootIdx = 0;
  private emitted = 0;
  /** The latest reading per metric, for stuck sensors and clones. */
  lastMetrics: Record<string, number> = {};
  /** The device's usual backend session, for clones, downgrades and catch-up uploads. */
  uplink: Uplink;
  /** Typical noise (sd) per metric, so incident magnitudes are in units of the device's own noise. */
  noise: Record<string, number> = {};
  /** Typical telemetry interval, for clones. */
  telemetryEveryMs = 60_000;
  /**
   * Whether the device is doing its job right now (a vehicle on a trip, a line producing, a store
   * open), set by the class model; worlds decide what an idle device sends.
   */
  active = true;
  /** Set by a world only; the plain simulator never has one. */
  hook: DeviceHook | undefined;
  /** Metrics a spoofing or stuck-sensor incident may pick, for classes the injectors do not list. */
  spoofable: string[] | undefined;
  stuckable: string[] | undefined;

  constructor(
    readonly idx: number,
    readonly id: string,
    readonly cls: DeviceClass,
    readonly zone: Zone,
    readonly site: number,
    public ip: string,
    readonly rng: Rng,
    firmware: string,
    uplink: Uplink,
  ) {
    this.firmware = [[Number.NEGATIVE_INFINITY, firmware]];
    this.uplink = uplink;
  }

  firmwareAt(ts: number): string {
    let v = this.firmware[0]![1];
    for (const [since, ver] of this.firmware) {
      if (since <= ts) v = ver;
      else break;
    }
    return v;
  }

  setFirmware(since: number, version: string): void {
    this.firmware.push([since, version]);
    this.firmware.sort((a, b) => a[0] - b[0]);
  }

  stopped(ts: number): boolean {
    for (const s of this.stops) if (ts >= s.start && ts < s.end) return true;
    return false;
  }

  silenceAt(ts: number): Silence | undefined {
    for (const s of this.silences) if (ts >= s.start && ts < s.end) return s;
    return undefined;
  }

  /** True when the device is up and connected (no silence of any kind). */
  online(ts: number): boolean {
    return this.silenceAt(ts) === undefined;
  }

  telemetry(ts: number, metrics: Record<string, number>, out: SimEvent[]): void {
    const sil = this.silenceAt(ts);
    if (sil && !sil.catchup) return;
    if (this.hook?.telemetry && !this.hook.telemetry(ts, metrics, out)) return;
    while (this.rebootIdx < this.reboots.length && this.reboots[this.rebootIdx]! <= ts) {
      this.rebootIdx++;
      this.seq = 0;
    }
    for (const m of this.tmods) {
      if (!active(m, ts)) continue;
      const v = metrics[m.metric];
      if (v === undefined) continue;
      let nv: number;
      if (m.kind === 'stuck') {
        if (m.value === undefined) m.value = this.lastMetrics[m.metric] ?? v;
        nv = m.value;
      } else if (m.kind === 'offset') {
        const ramp = m.rampMs > 0 ? Math.min(1, (ts - m.start) / m.rampMs) : 1;
        nv = round(v + m.delta * ramp, 3);
      } else {
        nv = round(v * m.factor, 3);
      }
      if (nv !== v) witness(m.ev, ts);
      metrics[m.metric] = nv;
    }
    for (const k in metrics) this.lastMetrics[k] = metrics[k]!;
    this.emit(out, {
      type: 'telemetry',
      device_id: this.id,
      device_class: this.cls,
      ts,
      metrics,
      firmware: this.firmwareAt(ts),
      seq: this.seq++,
    });
  }

  /** A connection (flow/session record) from this device. Returns false when suppressed by a silence. */
  connection(ts: number, c: ConnectionSpec, out: SimEvent[]): boolean {
    if (this.silenceAt(ts)) return false;
    if (this.hook?.connection && !this.hook.connection(ts, c, out)) return false;
    let port = c.dst_port;
    let tls = c.tls;
    for (const m of this.cmods) {
      if (port !== m.port || tls !== true || !active(m, ts)) continue;
      tls = false;
      if (m.toPort !== undefined) port = m.toPort;
      witness(m.ev, ts);
    }
    const ev: SimEvent = {
      type: 'connection',
      device_id: this.id,
      device_class: this.cls,
      ts,
      src_ip: c.src_ip ?? this.ip,
      dst_ip: c.dst_ip,
      dst_port: port,
      protocol: c.protocol,
    };
    if (c.app_protocol !== undefined) ev.app_protocol = c.app_protocol;
    ev.bytes_out = Math.round(c.bytes_out);
    ev.bytes_in = Math.round(c.bytes_in);
    ev.duration_ms = Math.round(c.duration_ms);
    if (tls !== undefined) ev.tls = tls;
    if (c.auth !== undefined) ev.auth = c.auth;
    ev.firmware = this.firmwareAt(ts);
    this.emit(out, ev);
    return true;
  }

  /** Every event of this device goes through here, to be stamped with its tie-break order. */
  emit(out: SimEvent[], ev: SimEvent): void {
    (ev as unknown as Record<symbol, number>)[ORDER] = this.idx * 4294967296 + this.emitted++;
    out.push(ev);
  }

  /** A session on the device's usual uplink. */
  uplinkSession(ts: number, bytesOut: number, bytesIn: number, durationMs: number, out: SimEvent[]): boolean {
    const u = this.uplink;
    return this.connection(
      ts,
      {
        dst_ip: u.ip,
        dst_port: u.port,
        protocol: u.protocol,
        app_protocol: u.app,
        bytes_out: bytesOut,
        bytes_in: bytesIn,
        duration_ms: durationMs,
        tls: u.tls,
        auth: 'ok',
      },
      out,
    );
  }
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
