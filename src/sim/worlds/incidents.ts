/**
 * Incidents of a world: the simulator's eleven kinds (src/sim/incidents.ts, on whichever classes
 * can show them) plus two that real fleets show and the plain simulator lacks:
 *
 * - implant_beacon: an implant already present when monitoring begins. One device calls one rare
 *   internet server (HTTP on port 80 most often) at intervals drawn from a wide jittered range
 *   (e.g. 200–350 s), from the first hour to the end of the span.
 * - worm_spread: devices of one class infected one after another over hours; each downloads from
 *   the same rare host, scans its neighbourhood on the worm's port, and checks in with that host.
 *   Every infected device is an incident of its own.
 *
 * Ground truth stays observable as in the plain simulator: a label covers the events the
 * incident actually put on the wire (a scan on a terminal that powers down at closing time ends
 * there), and an incident that put fewer than three there is listed as unobservable.
 */
import type { Evidence, Process, SimDevice } from '../device.js';
import { burst } from '../device.js';
import { INJECTORS, type InjectContext } from '../incidents.js';
import { publicIp } from '../net.js';
import type { Rng } from '../prng.js';
import { HOUR, MINUTE } from '../time.js';
import type { DeviceClass, IncidentKind, SimEvent } from '../types.js';
import { classDef } from './classes/index.js';
import { deviceWorld } from './device-world.js';
import { compareVersions } from '../../detectors/lib/versions.js';

const SECOND = 1000;
export const MIN_EVIDENCE = 3;

/** What an incident put on the wire, in true time. */
export interface Witness {
  events: number;
  first?: number;
  last?: number;
}

export function witness(w: Witness, ts: number): void {
  w.events++;
  if (w.first === undefined || ts < w.first) w.first = ts;
  if (w.last === undefined || ts > w.last) w.last = ts;
}

/** Wraps an incident's process so that every event it emits (after the device's habits) is witnessed. */
function witnessed(p: Process, w: Witness): Process {
  const q: Process = {
    next: p.next,
    step(out: SimEvent[]) {
      const n0 = out.length;
      p.step(out);
      for (let i = n0; i < out.length; i++) witness(w, out[i]!.ts);
      q.next = p.next;
    },
  };
  return q;
}

export interface Placed {
  start: number;
  end: number;
  detail: Record<string, unknown>;
  /** Modifier incidents count what they altered themselves. */
  evidence?: Evidence;
  /** Process incidents: filled as the world is generated. */
  witness?: Witness;
  /** Window incidents (firmware downgrade): any event of the device inside the window shows it. */
  window?: Witness;
}

/** Which classes a kind applies to: the plain classes as the simulator says, new ones by capability. */
export function eligible(kind: string, dev: SimDevice): boolean {
  const def = classDef(dev.cls);
  const plain = (['smart_meter', 'vehicle', 'plc', 'patient_monitor', 'pos_terminal'] as string[]).includes(dev.cls);
  if (kind === 'implant_beacon' || kind === 'worm_spread') return true;
  const inj = INJECTORS[kind as IncidentKind];
  if (!inj) return false;
  if (plain && !inj.classes.includes(dev.cls)) return false;
  if (kind === 'sensor_spoofing') return (dev.spoofable ?? def.spoofable).length > 0;
  if (kind === 'stuck_sensor') return (dev.stuckable ?? def.stuckable).length > 0;
  return inj.eligible?.(dev) ?? true;
}

export function injectContext(end: number, rng: Rng): InjectContext {
  return {
    end,
    olderFirmware(cls: DeviceClass, current: string): string {
      const older = classDef(cls).firmware.older.filter((v) => compareVersions(v, current) < 0);
      return rng.pick(older.length ? older : classDef(cls).firmware.older);
    },
  };
}

/** Run a plain injector and put a witness on the processes it added. */
export function injectPlain(kind: IncidentKind, dev: SimDevice, start: number, dur: number, rng: Rng, ctx: InjectContext): Placed {
  const before = dev.processes.length;
  const got = INJECTORS[kind].inject(dev, start, dur, rng, ctx);
  const placed: Placed = { start: got.start, end: got.end, detail: got.detail };
  if (got.evidence) placed.evidence = got.evidence;
  else if (dev.processes.length > before) {
    const w: Witness = { events: 0 };
    for (let i = before; i < dev.processes.length; i++) dev.processes[i] = witnessed(dev.processes[i]!, w);
    placed.witness = w;
  } else placed.window = { events: 0 };
  return placed;
}

/** An implant present from the start: one rare server, jittered intervals over the whole span. */
export function injectImplant(dev: SimDevice, start: number, end: number, r: Rng): Placed {
  const lo = r.logUniform(30, 600) * SECOND;
  const hi = lo * r.uniform(1.2, 2.5);
  const server = publicIp(r);
  const port = r.pick([80, 80, 80, 8080, 443]);
  const tls = port === 443;
  const req = r.int(180, 650);
  const w: Witness = { events: 0 };
  const first = start + Math.floor(r.next() * lo);
  dev.processes.push(
    witnessed(
      burst(first, end, () => r.uniform(lo, hi), (ts, out) => {
        const tasked = r.chance(0.01);
        dev.connection(ts, { dst_ip: server, dst_port: port, protocol: 'tcp', app_protocol: tls ? 'https' : 'http', bytes_out: req + r.int(0, 60), bytes_in: tasked ? r.int(5_000, 50_000) : r.int(150, 900), duration_ms: r.int(60, 900), tls }, out);
      }),
      w,
    ),
  );
  return { start: first, end, detail: { server, port, interval_s: [Math.round(lo / SECOND), Math.round(hi / SECOND)], present_from_start: true }, witness: w };
}

export interface Outbreak {
  host: string;
  dlPort: number;
  scanPort: number;
  /** Mean time between infections, ms. */
  spreadMs: number;
}

export function drawOutbreak(r: Rng): Outbreak {
  return {
    host: publicIp(r),
    dlPort: r.pick([80, 80, 8080, 443]),
    scanPort: r.pick([23, 2323, 22, 5555, 7547, 37215, 8291]),
    spreadMs: r.logUniform(5, 90) * MINUTE,
  };
}

/** A worm reaches a device only while it is on the network: a sleeping one is infected when it wakes (within 12 h). */
export const WORM_WAIT_MS = 12 * HOUR;

/**
 * One infected device of an outbreak: download, scan the neighbourhood, check in with the host.
 * The returned window is the planning window (the infection may wait for the device to wake);
 * the label is narrowed to what the device then sent.
 */
export function injectWorm(dev: SimDevice, at: number, o: Outbreak, r: Rng, spanEnd: number): Placed {
  const w: Witness = { events: 0 };
  const scanDur = r.logUniform(10, 120) * MINUTE;
  const rate = r.logUniform(0.1, 3);
  const activeDur = Math.max(scanDur, r.logUniform(1, 6) * HOUR);
  const checkIn = r.logUniform(60, 600) * SECOND;
  const detail = { host: o.host, download_port: o.dlPort, scan_port: o.scanPort, scan_rate_per_s: Math.round(rate * 100) / 100, scan_min: Math.round(scanDur / MINUTE), check_in_s: Math.round(checkIn / SECOND) };
  const gate: Process = {
    next: at,
    step() {
      const ts = gate.next;
      if (deviceWorld(dev).offline?.(ts) && ts < at + WORM_WAIT_MS) {
        gate.next = ts + 5 * MINUTE;
        return;
      }
      gate.next = Number.POSITIVE_INFINITY;
      if (ts < at + WORM_WAIT_MS) infect(dev, ts, Math.min(spanEnd - MINUTE, ts + activeDur), scanDur, rate, checkIn, o, r, w);
    },
  };
  dev.processes.push(gate);
  return { start: at, end: Math.min(spanEnd, at + WORM_WAIT_MS + activeDur), detail, witness: w };
}

function infect(dev: SimDevice, start: number, end: number, scanDur: number, rate: number, checkIn: number, o: Outbreak, r: Rng, w: Witness): void {
  const net = dev.ip.split('.').slice(0, 3).join('.');
  const tls = o.dlPort === 443;
  dev.processes.push(
    witnessed(
      burst(start, start + 1, () => 1, (ts, out) => {
        dev.connection(ts, { dst_ip: o.host, dst_port: o.dlPort, protocol: 'tcp', app_protocol: tls ? 'https' : 'http', bytes_out: 300 + r.int(0, 300), bytes_in: r.int(50_000, 800_000), duration_ms: r.int(500, 8_000), tls }, out);
      }),
      w,
    ),
    witnessed(
      burst(start + r.int(5, 60) * SECOND, Math.min(end, start + scanDur), () => r.exp(SECOND / rate), (ts, out) => {
        const local = r.chance(0.8);
        const dst = local ? `${net}.${r.int(1, 254)}` : publicIp(r);
        const answered = r.chance(local ? 0.05 : 0.01);
        const login = answered && (o.scanPort === 23 || o.scanPort === 2323 || o.scanPort === 22);
        dev.connection(ts, login ? { dst_ip: dst, dst_port: o.scanPort, protocol: 'tcp', app_protocol: o.scanPort === 22 ? 'ssh' : 'telnet', bytes_out: 200 + r.int(0, 200), bytes_in: 200 + r.int(0, 300), duration_ms: 500 + r.int(0, 3000), tls: false, auth: 'failed' } : { dst_ip: dst, dst_port: o.scanPort, protocol: 'tcp', bytes_out: 60, bytes_in: answered ? 60 : 0, duration_ms: r.int(0, 3000) }, out);
      }),
      w,
    ),
    witnessed(
      burst(start + checkIn, end, () => checkIn * r.uniform(0.8, 1.2), (ts, out) => {
        dev.connection(ts, { dst_ip: o.host, dst_port: o.dlPort, protocol: 'tcp', app_protocol: tls ? 'https' : 'http', bytes_out: 150 + r.int(0, 150), bytes_in: 100 + r.int(0, 400), duration_ms: r.int(50, 600), tls }, out);
      }),
      w,
    ),
  );
}

/** Durations of the plain kinds, drawn as the plain injectors do. */
export function plainDuration(kind: IncidentKind, r: Rng, dev: SimDevice): number {
  return INJECTORS[kind].duration(r, dev);
}
