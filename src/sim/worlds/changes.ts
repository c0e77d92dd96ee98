/**
 * Benign fleet changes of a world: what operators do to a fleet and what happens to it, each
 * listed under `benign` in the labels with the devices it touched. None of them is an incident;
 * a detector that alerts on them floods an analyst.
 *
 * Besides the drawn changes (ChangeSpec) the world's habits are listed too (sleep schedules,
 * batched delivery, duplicates, skewed clocks, connectivity gaps), so a false alert can be traced
 * to the habit it fell in.
 */
import type { Process, SimDevice } from '../device.js';
import { oneShot } from '../device.js';
import { publicIp } from '../net.js';
import type { Rng } from '../prng.js';
import { DAY, HOUR, MINUTE, iso, weekdayWindows, type Zone } from '../time.js';
import type { BenignLabel, SimEvent } from '../types.js';
import { classDef } from './classes/index.js';
import { deviceWorld } from './device-world.js';
import type { Habits } from './habits.js';
import type { ChangeSpec } from './spec.js';

export interface WorldDevice {
  dev: SimDevice;
  habits: Habits;
  /** The device's world stream, for draws at run time (never a shared one: see fleet.ts). */
  rng: Rng;
  /** Runs fn as the device's batch upload (habits let its own session through). */
  asBatchUpload<T>(fn: () => T): T;
}

export interface ChangeContext {
  start: number;
  end: number;
  devices: WorldDevice[];
  rng: Rng;
  labels: BenignLabel[];
}

function periodic(first: number, everyMs: number, jitter: number, rng: Rng, fn: (ts: number, out: SimEvent[]) => void): Process {
  let slot = first;
  const p: Process = {
    next: first,
    step(out) {
      fn(p.next, out);
      slot += everyMs;
      p.next = slot + Math.floor(rng.next() * jitter * everyMs);
    },
  };
  return p;
}

/** A new address for a server: same kind of network as the old one, another subnet. */
function successor(ip: string, rng: Rng): string {
  if (ip.startsWith('10.')) {
    const [, b] = ip.split('.');
    return `10.${b}.${rng.int(100, 199)}.${rng.int(2, 250)}`;
  }
  return publicIp(rng);
}

const ids = (xs: WorldDevice[]): string[] => xs.map((x) => x.dev.id);

/** Backlog upload after a gap: the buffered readings go up in one session. */
export function backlogUpload(w: WorldDevice, gapStart: number, gapEnd: number, rng: Rng): void {
  const d = w.dev;
  const at = gapEnd + rng.int(2_000, 60_000);
  const bytes = ((gapEnd - gapStart) / d.telemetryEveryMs) * 300;
  d.processes.push(oneShot(at, (out) => void w.asBatchUpload(() => d.uplinkSession(at, 2_000 + bytes, 400, 500 + bytes / 500, out))));
}

export function applyChange(c: ChangeSpec, ctx: ChangeContext, index: number): void {
  const { start, end, rng } = ctx;
  const span = end - start;
  const members = ctx.devices.filter((w) => w.dev.cls === c.cls);
  if (members.length === 0) return;
  const def = classDef(c.cls);
  const id = `benign-${index + 1}-${c.kind.replace(/_/g, '-')}-${c.cls}`;

  if (c.kind === 'endpoint_migration') {
    const t0 = start + Math.round(c.at * span);
    // Every backend address of the class (ip:port as each device uses it) gets a successor.
    const olds = new Map<string, { ip: string; port: number }>();
    for (const w of members) for (const ip of [w.dev.uplink.ip, ...(def.endpoints ?? [])]) olds.set(`${ip}:${w.dev.uplink.port}`, { ip, port: w.dev.uplink.port });
    const keys = [...olds.keys()].sort();
    const succ = new Map<string, string>();
    for (const ip of [...new Set(keys.map((k) => olds.get(k)!.ip))]) succ.set(ip, successor(ip, rng));
    // Only MQTT moves port (8883 → 443 with ALPN); other protocols keep theirs.
    const portOf = (p: number): number => (c.new_port !== null && p === 8883 ? c.new_port : p);
    let last = t0;
    for (const w of members) {
      const at = t0 + Math.floor(rng.next() * c.spread_h * HOUR);
      last = Math.max(last, at);
      for (const k of keys) {
        const o = olds.get(k)!;
        if (o.port === w.dev.uplink.port) w.habits.redirects.push({ at, from: o, to: { ip: succ.get(o.ip)!, port: portOf(o.port) } });
      }
    }
    ctx.labels.push({ id, kind: c.kind, start: iso(t0), end: iso(last), devices: ids(members), detail: { device_class: c.cls, from: keys, to: keys.map((k) => `${succ.get(olds.get(k)!.ip)}:${portOf(olds.get(k)!.port)}`) } });
    return;
  }

  if (c.kind === 'firmware_rollout') {
    const t0 = start + Math.round(c.at * span);
    const t1 = Math.min(end - HOUR, t0 + Math.round(c.days * DAY));
    const service = successor(members[0]!.dev.uplink.ip, rng);
    const touched: WorldDevice[] = [];
    for (const w of members) {
      const d = w.dev;
      // Canary devices first, then the rest of the wave.
      const canary = rng.chance(c.canary);
      const lo = canary ? t0 : t0 + 0.3 * (t1 - t0);
      const at = Math.round(lo + rng.next() * (canary ? 0.2 : 0.7) * (t1 - t0));
      if (at >= end - HOUR) continue;
      const reboot = rng.int(90, 360) * 1000;
      const dl = at - rng.int(30, 120) * 1000;
      const [bo, bi, du] = [8_000 + rng.int(0, 12_000), rng.int(2e6, 12e6), rng.int(20_000, 120_000)];
      d.processes.push(oneShot(dl, (out) => void d.uplinkSession(dl, bo, bi, du, out)));
      d.silences.push({ start: at, end: at + reboot, catchup: false, backlogUpload: false });
      d.reboots.push(at + reboot);
      d.setFirmware(at + reboot, def.firmware.next);
      const up = at + reboot;
      if (c.new_peer_every_min !== null) {
        const every = c.new_peer_every_min * MINUTE;
        const prng = w.rng;
        d.processes.push(periodic(up + rng.int(5_000, 60_000), every, 0.1, prng, (ts, out) => void d.connection(ts, { dst_ip: service, dst_port: 443, protocol: 'tcp', app_protocol: 'https', bytes_out: 600 + prng.int(0, 400), bytes_in: 300 + prng.int(0, 200), duration_ms: 150 + prng.int(0, 400), tls: true, auth: 'ok' }, out)));
      }
      if (c.report_slower > 1) w.habits.keepEvery.push({ at: up, n: c.report_slower * (w.habits.keepEvery[w.habits.keepEvery.length - 1]?.n ?? 1) });
      if (c.new_metric === 'rssi_dbm') {
        const base = rng.int(-105, -65);
        const mrng = w.rng;
        w.habits.extraMetrics.push({ at: up, name: 'rssi_dbm', value: () => base + Math.round(mrng.normal(0, 2)) });
      } else if (c.new_metric === 'uptime_s') {
        w.habits.extraMetrics.push({ at: up, name: 'uptime_s', value: (ts) => Math.floor((ts - up) / 1000) });
      }
      touched.push(w);
    }
    ctx.labels.push({ id, kind: c.kind, start: iso(t0), end: iso(t1), devices: ids(touched), detail: { device_class: c.cls, from: def.firmware.current, to: def.firmware.next, canary: c.canary, new_peer: c.new_peer_every_min !== null ? `${service}:443 every ${c.new_peer_every_min} min` : null, report_slower: c.report_slower, new_metric: c.new_metric } });
    return;
  }

  if (c.kind === 'site_outage') {
    const sites = [...new Set(members.map((w) => w.dev.site))];
    const site = rng.pick(sites);
    const hit = members.filter((w) => w.dev.site === site);
    const t0 = start + Math.round(c.at * span);
    const dur = c.minutes * MINUTE;
    for (const w of hit) {
      const s = t0 + rng.int(0, 20_000);
      const e = Math.min(end, t0 + dur + rng.int(0, 180_000));
      if (c.power) {
        // Power is back: devices boot (counters restart) a minute or two later.
        w.dev.silences.push({ start: s, end: e + rng.int(30_000, 150_000), catchup: false, backlogUpload: false });
        w.dev.reboots.push(e);
      } else if (def.buffers) {
        deviceWorld(w.dev).gaps.push({ start: s, end: e });
        backlogUpload(w, s, e, rng);
      } else {
        w.dev.silences.push({ start: s, end: e, catchup: false, backlogUpload: false });
      }
    }
    ctx.labels.push({ id, kind: c.kind, start: iso(t0), end: iso(t0 + dur), devices: ids(hit), detail: { device_class: c.cls, site, cause: c.power ? 'power cut (devices reboot)' : def.buffers ? 'WAN loss (readings buffered, uploaded on reconnect)' : 'WAN loss (nothing buffered)' } });
    return;
  }

  if (c.kind === 'infra_replaced') {
    const old = def.infra[c.service];
    if (!old) return;
    const neu = successor(old, rng);
    const t0 = start + Math.round(c.at * span);
    let last = t0;
    for (const w of members) {
      const at = t0 + Math.floor(rng.next() * c.spread_h * HOUR);
      last = Math.max(last, at);
      w.habits.redirects.push({ at, from: { ip: old }, to: { ip: neu } });
    }
    ctx.labels.push({ id, kind: c.kind, start: iso(t0), end: iso(last), devices: ids(members), detail: { device_class: c.cls, service: c.service, from: old, to: neu } });
    return;
  }

  if (c.kind === 'maintenance_window') {
    const cells = [...new Set(members.filter((w) => w.dev.site % 4 !== 0).map((w) => w.dev.site))];
    rng.shuffle(cells);
    for (const cell of cells.slice(0, c.cells)) {
      const hit = members.filter((w) => w.dev.site === cell);
      const zone = hit[0]!.dev.zone;
      const slot = weekdaySlot(zone, start + 0.15 * span, end - HOUR, rng.uniform(7, 10), rng.uniform(3, 8), rng);
      if (!slot) continue;
      const [ws, we] = slot;
      for (const w of hit) {
        w.dev.stops.push({ start: ws, end: we });
        w.dev.silences.push({ start: we - rng.int(120, 300) * 1000, end: we, catchup: false, backlogUpload: false });
        w.dev.reboots.push(we);
      }
      ctx.labels.push({ id: `${id}-cell-${cell}`, kind: c.kind, start: iso(ws), end: iso(we), devices: ids(hit), detail: { plc_cell: cell, zone: zone.name } });
    }
  }
}

/** A weekday window of `durH` hours from local hour `fromH`, inside [lo, hi). */
function weekdaySlot(zone: Zone, lo: number, hi: number, fromH: number, durH: number, rng: Rng): [number, number] | undefined {
  const slots = weekdayWindows(zone, lo, hi, fromH, durH);
  return slots.length ? rng.pick(slots) : undefined;
}
