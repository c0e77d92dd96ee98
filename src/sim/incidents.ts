/**
 * Labeled incidents. Each injector lays an attack (or a sensor fault) over one device's normal
 * life for a bounded window and returns the ground-truth label detail. Magnitudes are drawn from
 * wide, mostly log-uniform ranges so that the benchmark contains the quiet cases a SOC actually
 * misses, not only floods; the ranges are documented in docs/quality.md.
 */
import type { Evidence, Process, SimDevice } from './device.js';
import { burst, newEvidence, round } from './device.js';
import { PLAN, cgnatIp, publicIp } from './net.js';
import type { Rng } from './prng.js';
import { HOUR, MINUTE } from './time.js';
import type { DeviceClass, IncidentKind, SimEvent } from './types.js';

const SECOND = 1000;

export interface Injection {
  start: number;
  end: number;
  detail: Record<string, unknown>;
  /** For modifiers: what they changed; the label is narrowed to it after generation. */
  evidence?: Evidence;
}

/** Modifiers must alter a few events to count as an incident; at most a day past their schedule. */
const MIN_EVIDENCE = 3;
const MAX_EXTENSION = 24 * HOUR;

/**
 * A sensor fault is only a fault while it shows: one scheduled over an idle line (flow stuck at
 * the 0 it reads anyway) stays on until it has altered half the readings its schedule implies
 * (at most an hour's worth), so its label never covers a few minutes of visible effect.
 */
function sensorEvidence(dev: SimDevice, duration: number, end: number, ctx: InjectContext): Evidence {
  const readings = Math.round((0.5 * duration) / dev.telemetryEveryMs);
  const cap = Math.max(MIN_EVIDENCE, Math.round(HOUR / dev.telemetryEveryMs));
  return newEvidence(Math.max(MIN_EVIDENCE, Math.min(readings, cap)), Math.min(ctx.end, end + MAX_EXTENSION));
}

export interface Injector {
  classes: readonly DeviceClass[];
  /** Further conditions on the device (e.g. it must have a TLS session to downgrade). */
  eligible?(dev: SimDevice): boolean;
  /** Duration drawn before placement, so the window fits in the simulated span. */
  duration(rng: Rng, dev: SimDevice): number;
  inject(dev: SimDevice, start: number, duration: number, rng: Rng, ctx: InjectContext): Injection;
}

export interface InjectContext {
  /** End of the simulated span. */
  end: number;
  /** Older firmware versions per class, for downgrades. */
  olderFirmware(cls: DeviceClass, current: string): string;
}

const ALL: readonly DeviceClass[] = ['smart_meter', 'vehicle', 'plc', 'patient_monitor', 'pos_terminal'];

function subnet24(ip: string): string {
  return ip.split('.').slice(0, 3).join('.');
}

export const INJECTORS: Record<IncidentKind, Injector> = {
  // Mirai-style horizontal telnet scanning: SYNs to random addresses on 23/2323, a few answer.
  mirai_scan: {
    classes: ['smart_meter', 'vehicle', 'pos_terminal', 'patient_monitor', 'plc'],
    duration: (r) => r.logUniform(10, 90) * MINUTE,
    inject(dev, start, duration, r) {
      const rate = r.logUniform(0.15, 4); // probes per second
      const localShare = r.uniform(0, 0.3);
      const end = start + duration;
      dev.processes.push(
        burst(start, end, () => r.exp(SECOND / rate), (ts, out) => {
          const port = r.chance(0.85) ? 23 : 2323;
          const dst = r.chance(localShare) ? `${subnet24(dev.ip)}.${r.int(1, 254)}` : publicIp(r);
          const answered = r.chance(0.02);
          dev.connection(
            ts,
            answered
              ? { dst_ip: dst, dst_port: port, protocol: 'tcp', app_protocol: 'telnet', bytes_out: 180 + r.int(0, 80), bytes_in: 220 + r.int(0, 200), duration_ms: 800 + r.int(0, 3000), tls: false, auth: 'failed' }
              : { dst_ip: dst, dst_port: port, protocol: 'tcp', bytes_out: 60, bytes_in: r.chance(0.3) ? 40 : 0, duration_ms: r.int(0, 3000) },
            out,
          );
        }),
      );
      return { start, end, detail: { rate_per_s: round(rate, 3), ports: [23, 2323], local_share: round(localShare, 2) } };
    },
  },

  // Periodic check-ins to a new external host, with jitter and missed beats.
  c2_beaconing: {
    classes: ALL,
    duration: (r) => r.logUniform(3, 30) * HOUR,
    inject(dev, start, duration, r) {
      const interval = r.logUniform(30, 900) * SECOND;
      const jitter = r.uniform(0, 0.3);
      const c2 = publicIp(r);
      const port = r.pick([443, 443, 8443, 8080, 4444, 1883]);
      const tls = port === 443 || port === 8443;
      const base = r.int(120, 600);
      const end = start + Math.max(duration, 12 * interval);
      dev.processes.push(
        burst(start, end, () => interval * (1 + r.uniform(-jitter, jitter)), (ts, out) => {
          if (r.chance(0.05)) return; // missed beat (device busy, packet loss)
          const tasked = r.chance(0.03);
          dev.connection(ts, { dst_ip: c2, dst_port: port, protocol: 'tcp', app_protocol: tls ? 'https' : undefined, bytes_out: base + r.int(0, 40), bytes_in: tasked ? r.int(2_000, 20_000) : r.int(80, 200), duration_ms: r.int(80, 600), tls }, out);
        }),
      );
      return { start, end, detail: { c2, port, interval_s: round(interval / SECOND, 1), jitter: round(jitter, 2) } };
    },
  },

  // Data theft: sustained uploads far above the device's normal volume, to a drop site or
  // smuggled through the device's own allowed uplink.
  exfiltration: {
    classes: ALL,
    duration: (r) => r.logUniform(15, 240) * MINUTE,
    inject(dev, start, duration, r) {
      const total = r.logUniform(2e6, 5e8);
      // Modbus/OPC UA replies cannot carry bulk data to the master unnoticed, so PLCs use a drop site.
      const viaUplink = dev.cls !== 'plc' && r.chance(0.35);
      const dst = viaUplink ? dev.uplink.ip : publicIp(r);
      const port = viaUplink ? dev.uplink.port : r.pick([443, 443, 22, 21, 8080]);
      const gap = r.logUniform(10, 120) * SECOND;
      const n = Math.max(3, Math.round(duration / gap));
      const end = start + duration;
      dev.processes.push(
        burst(start, end, () => gap * r.uniform(0.7, 1.3), (ts, out) => {
          const bytes = (total / n) * Math.exp(r.normal(0, 0.3));
          dev.connection(ts, { dst_ip: dst, dst_port: port, protocol: 'tcp', app_protocol: viaUplink ? dev.uplink.app : port === 22 ? 'ssh' : port === 21 ? 'ftp' : 'https', bytes_out: bytes, bytes_in: r.int(200, 2_000), duration_ms: Math.min(gap, 200 + bytes / 2_000), tls: viaUplink ? dev.uplink.tls : port === 443, auth: 'ok' }, out);
        }),
      );
      return { start, end, detail: { total_bytes: Math.round(total), dst_ip: dst, dst_port: port, via_uplink: viaUplink, sessions: n } };
    },
  },

  // Credential guessing from the device: SSH/telnet on neighbours, or its own broker account.
  brute_force: {
    classes: ALL,
    duration: (r) => r.logUniform(5, 60) * MINUTE,
    inject(dev, start, duration, r) {
      const rate = r.logUniform(0.08, 2); // attempts per second
      // Modbus has no authentication to guess, so PLCs on Modbus only attack neighbours.
      const mode = r.weighted([
        ['ssh_local', 0.4],
        ['telnet_local', 0.25],
        ['ssh_public', 0.15],
        ['uplink', dev.uplink.app === 'modbus' ? 0 : 0.2],
      ] as const);
      let dst: string;
      let port: number;
      let app: string;
      let tls = false;
      if (mode === 'uplink') {
        dst = dev.uplink.ip;
        port = dev.uplink.port;
        app = dev.uplink.app;
        tls = dev.uplink.tls;
      } else {
        dst = mode === 'ssh_public' ? publicIp(r) : `${subnet24(dev.ip)}.${r.int(2, 254)}`;
        port = mode === 'telnet_local' ? 23 : 22;
        app = port === 23 ? 'telnet' : 'ssh';
      }
      const end = start + duration;
      const succeeds = r.chance(0.2);
      dev.processes.push(
        burst(start, end, () => r.exp(SECOND / rate), (ts, out) => {
          const ok = succeeds && ts + 2 * SECOND / rate >= end;
          dev.connection(ts, { dst_ip: dst, dst_port: port, protocol: 'tcp', app_protocol: app, bytes_out: 300 + r.int(0, 400), bytes_in: 200 + r.int(0, 300), duration_ms: 200 + r.int(0, 1500), tls, auth: ok ? 'ok' : 'failed' }, out);
        }),
      );
      return { start, end, detail: { rate_per_s: round(rate, 3), target: mode, dst_ip: dst, dst_port: port, succeeds } };
    },
  },

  // A second device using the same identity from another address, concurrently.
  device_cloning: {
    classes: ['smart_meter', 'vehicle', 'patient_monitor', 'pos_terminal'],
    duration: (r) => r.logUniform(1, 12) * HOUR,
    inject(dev, start, duration, r) {
      const cloneIp = r.chance(0.5) ? publicIp(r) : dev.cls === 'vehicle' ? cgnatIp(r) : `10.${r.int(50, 99)}.${r.int(0, 255)}.${r.int(2, 254)}`;
      const every = Math.max(MINUTE, dev.telemetryEveryMs);
      const end = start + duration;
      let seq = -1;
      dev.processes.push(
        burst(start + r.int(0, Math.floor(every / 2)), end, () => every + r.int(-2_000, 2_000), (ts, out) => {
          if (seq < 0) seq = Math.max(0, dev.seq - r.int(0, 50));
          const metrics: Record<string, number> = {};
          for (const [k, v] of Object.entries(dev.lastMetrics)) metrics[k] = round(v * (1 + r.normal(0, 0.02)), 2);
          if (Object.keys(metrics).length === 0) metrics.heartbeat = 1;
          dev.emit(out, { type: 'telemetry', device_id: dev.id, device_class: dev.cls, ts, metrics, firmware: dev.firmwareAt(ts), seq: seq++ });
          const u = dev.uplink;
          dev.connection(ts + 200 + r.int(0, 300), { src_ip: cloneIp, dst_ip: u.ip, dst_port: u.port, protocol: u.protocol, app_protocol: u.app, bytes_out: 400 + r.int(0, 300), bytes_in: 100 + r.int(0, 50), duration_ms: 80 + r.int(0, 300), tls: u.tls, auth: 'ok' }, out);
        }),
      );
      return { start, end, detail: { clone_ip: cloneIp, every_s: every / SECOND } };
    },
  },

  // Falsified readings: a level offset, a slow ramp, or a multiplicative theft (meters).
  sensor_spoofing: {
    classes: ['smart_meter', 'plc', 'patient_monitor'],
    duration: (r, dev) => r.logUniform(dev.cls === 'smart_meter' ? 3 : 1, 10) * HOUR,
    inject(dev, start, duration, r, ctx) {
      const metric = r.pick(dev.spoofable ?? SPOOFABLE[dev.cls]!);
      const sd = dev.noise[metric] ?? 1;
      const end = start + duration;
      // Multiplicative falsification only makes sense for quantities (energy theft, flow);
      // vital signs and temperatures get offsets and ramps.
      const scalable = metric === 'current_a' || metric === 'power_kw' || metric === 'flow_m3h';
      const mode = r.weighted([
        ['offset', 0.5],
        ['ramp', 0.3],
        ['scale', scalable ? 0.4 : 0],
      ] as const);
      const sign = r.chance(0.5) ? 1 : -1;
      const ev = sensorEvidence(dev, duration, end, ctx);
      let detail: Record<string, unknown>;
      if (mode === 'scale') {
        const factor = sign > 0 ? r.uniform(1.25, 1.8) : r.uniform(0.4, 0.75);
        dev.tmods.push({ kind: 'scale', metric, start, end, factor, ev });
        detail = { metric, mode, factor: round(factor, 3) };
      } else {
        const k = mode === 'offset' ? r.logUniform(4, 20) : r.logUniform(6, 30);
        const rampMs = mode === 'ramp' ? duration * r.uniform(0.3, 0.7) : 0;
        dev.tmods.push({ kind: 'offset', metric, start, end, delta: sign * k * sd, rampMs, ev });
        detail = { metric, mode, delta: round(sign * k * sd, 3), sigmas: round(k, 1), ramp_min: Math.round(rampMs / MINUTE) };
      }
      return { start, end, detail, evidence: ev };
    },
  },

  // A transmitter that keeps reporting its last value.
  stuck_sensor: {
    classes: ['smart_meter', 'plc', 'patient_monitor', 'pos_terminal'],
    duration: (r, dev) => (dev.cls === 'smart_meter' ? r.logUniform(3, 12) : r.logUniform(0.5, 6)) * HOUR,
    inject(dev, start, duration, r, ctx) {
      const metric = r.pick(dev.stuckable ?? STUCKABLE[dev.cls]!);
      const end = start + duration;
      const ev = sensorEvidence(dev, duration, end, ctx);
      dev.tmods.push({ kind: 'stuck', metric, start, end, ev });
      return { start, end, detail: { metric }, evidence: ev };
    },
  },

  // Flood towards one victim: many short TCP connections, or UDP flows of high volume.
  dos_participation: {
    classes: ALL,
    duration: (r) => r.logUniform(5, 40) * MINUTE,
    inject(dev, start, duration, r) {
      const victim = publicIp(r);
      const udp = r.chance(0.3);
      const end = start + duration;
      if (udp) {
        const port = r.pick([53, 123, 80, 443]);
        const bps = r.logUniform(2e4, 2e6);
        dev.processes.push(
          burst(start, end, () => 10 * SECOND, (ts, out) => {
            dev.connection(ts, { dst_ip: victim, dst_port: port, protocol: 'udp', bytes_out: bps * 10 * r.uniform(0.8, 1.2), bytes_in: 0, duration_ms: 10_000 }, out);
          }),
        );
        return { start, end, detail: { victim, port, protocol: 'udp', bytes_per_s: Math.round(bps) } };
      }
      const port = r.pick([80, 443, 443, 22]);
      const rate = r.logUniform(0.5, 20);
      dev.processes.push(
        burst(start, end, () => r.exp(SECOND / rate), (ts, out) => {
          dev.connection(ts, { dst_ip: victim, dst_port: port, protocol: 'tcp', bytes_out: 60 + r.int(0, 500), bytes_in: r.chance(0.2) ? 40 : 0, duration_ms: r.int(0, 500) }, out);
        }),
      );
      return { start, end, detail: { victim, port, protocol: 'tcp', rate_per_s: round(rate, 2) } };
    },
  },

  // Reaching into segments the device has no business with (IT/OT crossing, other plant cells).
  lateral_movement: {
    classes: ALL,
    duration: (r) => r.logUniform(10, 120) * MINUTE,
    inject(dev, start, duration, r) {
      const hosts = r.int(1, 12);
      const count = Math.round(r.logUniform(5, 80));
      const targets: Array<{ ip: string; port: number; app: string }> = [];
      for (let i = 0; i < hosts; i++) {
        const t = r.weighted([
          ['corp', 0.5],
          ['ot', dev.cls === 'plc' ? 0.4 : 0.2],
          ['other', 0.3],
        ] as const);
        if (t === 'corp') {
          const [port, app] = r.pick([[445, 'smb'], [3389, 'rdp'], [22, 'ssh'], [5985, 'winrm'], [135, 'msrpc']] as const);
          targets.push({ ip: `10.0.${r.int(0, 30)}.${r.int(2, 254)}`, port, app });
        } else if (t === 'ot') {
          const [port, app] = r.pick([[502, 'modbus'], [102, 's7comm'], [44818, 'enip'], [20000, 'dnp3']] as const);
          let cell = r.int(1, 30);
          if (dev.cls === 'plc' && cell === dev.site) cell = dev.site + 1;
          targets.push({ ip: `10.${PLAN.plc.octet2}.${cell}.${r.int(10, 250)}`, port, app });
        } else {
          const seg = r.pick([10, 30, 40].filter((o) => !dev.ip.startsWith(`10.${o}.`)));
          const [port, app] = r.pick([[22, 'ssh'], [80, 'http'], [443, 'https'], [8080, 'http']] as const);
          targets.push({ ip: `10.${seg}.${r.int(1, 30)}.${r.int(2, 254)}`, port, app });
        }
      }
      const end = start + duration;
      dev.processes.push(
        burst(start, end, () => r.exp(duration / count), (ts, out) => {
          const t = r.pick(targets);
          dev.connection(ts, { dst_ip: t.ip, dst_port: t.port, protocol: 'tcp', app_protocol: t.app, bytes_out: r.int(300, 20_000), bytes_in: r.int(200, 50_000), duration_ms: r.int(50, 30_000), tls: false, auth: r.chance(0.4) ? 'failed' : 'ok' }, out);
        }),
      );
      return { start, end, detail: { hosts, connections: count, targets: targets.map((t) => `${t.ip}:${t.port}`) } };
    },
  },

  // Sessions that must be encrypted go out in clear (stripped TLS, or moved to a plaintext port).
  plaintext_downgrade: {
    classes: ['smart_meter', 'vehicle', 'patient_monitor', 'pos_terminal', 'plc'],
    // Modbus PLCs have no TLS to strip; only OPC UA (secured) ones qualify.
    eligible: (dev) => dev.uplink.tls,
    duration: (r) => r.logUniform(1, 12) * HOUR,
    inject(dev, start, duration, r, ctx) {
      const u = dev.uplink;
      const end = start + duration;
      const toPort = u.port === 8883 && r.chance(0.3) ? 1883 : undefined;
      const ev = newEvidence(MIN_EVIDENCE, Math.min(ctx.end, end + MAX_EXTENSION));
      dev.cmods.push(toPort === undefined ? { kind: 'plaintext', start, end, port: u.port, ev } : { kind: 'plaintext', start, end, port: u.port, toPort, ev });
      return { start, end, detail: { port: u.port, to_port: toPort ?? u.port, app: u.app }, evidence: ev };
    },
  },

  // Flashing an older, vulnerable image: a short reboot, then the old version in every message.
  firmware_downgrade: {
    classes: ALL,
    duration: (r) => r.logUniform(2, 24) * HOUR,
    inject(dev, start, duration, r, ctx) {
      const from = dev.firmwareAt(start);
      const to = ctx.olderFirmware(dev.cls, from);
      const rebootMs = r.int(60, 240) * SECOND;
      // Ops notice and re-flash half of them; the rest stay downgraded to the end of the span.
      const restored = r.chance(0.5);
      // A scheduled rollout later in the span re-flashes the device anyway: the label ends there.
      const nextChange = dev.firmware.find(([since]) => since > start)?.[0] ?? ctx.end;
      const end = Math.min(restored ? Math.min(ctx.end, start + duration) : ctx.end, nextChange);
      dev.silences.push({ start, end: start + rebootMs, catchup: false, backlogUpload: false });
      dev.reboots.push(start + rebootMs);
      dev.setFirmware(start + rebootMs, to);
      if (restored && end < nextChange) {
        dev.setFirmware(end, from);
        dev.reboots.push(end);
      }
      dev.reboots.sort((a, b) => a - b);
      return { start, end, detail: { from, to, restored } };
    },
  },
};

const SPOOFABLE: Partial<Record<DeviceClass, string[]>> = {
  smart_meter: ['current_a', 'power_kw', 'voltage'],
  plc: ['temperature_c', 'pressure_bar', 'flow_m3h'],
  patient_monitor: ['heart_rate', 'spo2', 'temp_c'],
};

const STUCKABLE: Partial<Record<DeviceClass, string[]>> = {
  smart_meter: ['voltage', 'temperature_c', 'current_a'],
  plc: ['temperature_c', 'pressure_bar', 'flow_m3h'],
  patient_monitor: ['heart_rate', 'temp_c', 'resp_rate'],
  pos_terminal: ['cpu_temp_c'],
};
