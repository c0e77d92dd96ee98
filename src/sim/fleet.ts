/**
 * Fleet assembly: devices on sites in time zones, benign fleet changes, labeled incidents, and
 * event generation in event-time order.
 *
 * Generation walks the span in chunks: every process emits what falls in the chunk, the chunk is
 * sorted and handed out. Processes only ever look forward from their own `next`, so the output is
 * independent of the chunk size, and memory stays bounded by one chunk of events.
 */
import { patientMonitor, plc, posTerminal, smartMeter, vehicle } from './classes.js';
import { SimDevice, drainChunks, oneShot } from './device.js';
import { INJECTORS } from './incidents.js';
import type { Evidence } from './device.js';
import { PLAN, cgnatIp } from './net.js';
import { Rng } from './prng.js';
// The detectors' own version order, so the simulator's downgrades are downgrades to them.
import { compareVersions } from '../detectors/lib/versions.js';
import { DAY, HOUR, MINUTE, ZONES, dstTransitions, iso, weekdayWindows, type Zone } from './time.js';
import {
  DEVICE_CLASSES,
  INCIDENT_KINDS,
  type BenignLabel,
  type DeviceClass,
  type IncidentKind,
  type IncidentLabel,
  type LabelsFile,
  type SimEvent,
} from './types.js';

export interface BenignOptions {
  rollout: boolean;
  maintenance: boolean;
  outage: boolean;
}

export interface SimOptions {
  devices: number;
  days: number;
  seed: number;
  /** Epoch ms. */
  start: number;
  incidentsPerKind: number;
  kinds?: readonly IncidentKind[];
  /** Share of each class in the fleet (normalised). */
  mix?: Partial<Record<DeviceClass, number>>;
  benign?: Partial<BenignOptions>;
  /** No incident starts before start + warmup (baselines need history). Default min(2 d, 40 % of span). */
  warmupMs?: number;
}

export const DEFAULT_MIX: Record<DeviceClass, number> = {
  smart_meter: 0.4,
  vehicle: 0.15,
  plc: 0.12,
  patient_monitor: 0.11,
  pos_terminal: 0.22,
};

const ID_PREFIX: Record<DeviceClass, string> = {
  smart_meter: 'meter',
  vehicle: 'veh',
  plc: 'plc',
  patient_monitor: 'pmon',
  pos_terminal: 'pos',
};

/** Site sizes per class: meters per concentrator, vans per depot, PLCs per cell, beds per ward, tills per store. */
const SITE_SIZE: Record<DeviceClass, [number, number]> = {
  smart_meter: [20, 120],
  vehicle: [10, 50],
  plc: [6, 20],
  patient_monitor: [8, 24],
  pos_terminal: [1, 6],
};

const ZONE_WEIGHTS: ReadonlyArray<readonly [Zone, number]> = [
  [ZONES[0]!, 0.45],
  [ZONES[1]!, 0.15],
  [ZONES[2]!, 0.15],
  [ZONES[3]!, 0.15],
  [ZONES[4]!, 0.1],
];

const FIRMWARE: Record<DeviceClass, { current: string; next?: string; older: string[] }> = {
  smart_meter: { current: '4.2.1', next: '4.3.0', older: ['3.9.7', '4.0.2', '4.1.0'] },
  vehicle: { current: '2.8.4', next: '2.9.0', older: ['2.5.1', '2.6.0', '2.7.3'] },
  plc: { current: '3.1.7', older: ['2.4.0', '3.0.2'] },
  patient_monitor: { current: '1.12.0', next: '1.12.3', older: ['1.9.8', '1.10.2'] },
  pos_terminal: { current: '7.4.2', next: '7.5.0', older: ['6.8.1', '7.1.0'] },
};

export interface Fleet {
  start: number;
  end: number;
  devices: SimDevice[];
  labels: LabelsFile;
  /** Sorted events per chunk of event time. */
  chunks(chunkMs?: number): Generator<{ events: SimEvent[]; until: number }>;
}

export function createFleet(opts: SimOptions): Fleet {
  if (!(opts.devices >= 1)) throw new Error('a fleet needs at least one device');
  if (!(opts.days > 0)) throw new Error('days must be positive');
  const start = opts.start;
  const end = start + Math.round(opts.days * DAY);
  const span = end - start;
  const warmup = opts.warmupMs ?? Math.min(2 * DAY, 0.4 * span);
  const benign: BenignOptions = { rollout: true, maintenance: true, outage: true, ...opts.benign };
  const rng = Rng.derive(opts.seed, 'fleet');

  // ---- devices: apportion classes, then fill sites.
  const mix = { ...DEFAULT_MIX, ...opts.mix };
  const classes = DEVICE_CLASSES.filter((c) => (mix[c] ?? 0) > 0);
  const total = classes.reduce((s, c) => s + mix[c], 0);
  const counts = new Map<DeviceClass, number>();
  let assigned = 0;
  for (const c of classes) {
    const n = Math.floor((opts.devices * mix[c]) / total);
    counts.set(c, n);
    assigned += n;
  }
  for (let i = 0; assigned < opts.devices; i++, assigned++) {
    const c = classes[i % classes.length]!;
    counts.set(c, counts.get(c)! + 1);
  }

  const devices: SimDevice[] = [];
  const width = Math.max(4, String(opts.devices).length);
  for (const cls of classes) {
    const n = counts.get(cls)!;
    let site = 0;
    let left = 0;
    let host = 0;
    let zone: Zone = ZONES[0]!;
    let plcOpcua = false;
    for (let i = 0; i < n; i++) {
      if (left === 0) {
        site++;
        left = rng.int(SITE_SIZE[cls][0], SITE_SIZE[cls][1]);
        host = 10;
        zone = rng.weighted(ZONE_WEIGHTS);
        plcOpcua = rng.chance(0.35);
      }
      left--;
      const id = `${ID_PREFIX[cls]}-${String(i + 1).padStart(width, '0')}`;
      const drng = Rng.derive(opts.seed, `device:${id}`);
      let ip: string;
      if (cls === 'vehicle') ip = cgnatIp(drng);
      else {
        // Sites larger than a /24 spill into the next third octet.
        const o3 = site * 2 + Math.floor(host / 250);
        ip = `10.${PLAN[cls].octet2}.${o3}.${(host % 250) + 2}`;
      }
      host++;
      const uplink =
        cls === 'smart_meter'
          ? PLAN.smart_meter.headEnd
          : cls === 'vehicle'
            ? PLAN.vehicle.backend
            : cls === 'plc'
              ? plcOpcua
                ? PLAN.plc.opcuaServer
                : PLAN.plc.modbusMaster
              : cls === 'patient_monitor'
                ? PLAN.patient_monitor.hl7
                : PLAN.pos_terminal.gateway;
      devices.push(new SimDevice(devices.length, id, cls, zone, site, ip, drng, FIRMWARE[cls].current, { ...uplink }));
    }
  }

  const benignLabels: BenignLabel[] = [];
  const brng = Rng.derive(opts.seed, 'benign');

  // ---- firmware rollouts: a wave per class across a day and a half.
  if (benign.rollout) {
    const rolled = classes.filter((c) => FIRMWARE[c].next !== undefined);
    rolled.forEach((cls, i) => {
      const fw = FIRMWARE[cls];
      const wStart = start + Math.round(span * (0.35 + 0.08 * i));
      const wEnd = Math.min(end - HOUR, wStart + Math.min(36 * HOUR, Math.round(span * 0.3)));
      const ids: string[] = [];
      for (const d of devices) {
        if (d.cls !== cls) continue;
        const at = wStart + Math.floor(brng.next() * (wEnd - wStart));
        const reboot = brng.int(90, 360) * 1000;
        // The image comes down the device's own backend session just before the reboot (POS
        // terminals get theirs from the terminal management system, not the payment gateway).
        const dl = at - brng.int(30, 120) * 1000;
        const [bo, bi, du] = [8_000 + brng.int(0, 12_000), brng.int(2e6, 12e6), brng.int(20_000, 120_000)];
        const tms = PLAN.pos_terminal.tms;
        d.processes.push(
          oneShot(dl, (out) =>
            d.cls === 'pos_terminal'
              ? d.connection(dl, { dst_ip: tms.ip, dst_port: tms.port, protocol: tms.protocol, app_protocol: tms.app, bytes_out: bo, bytes_in: bi, duration_ms: du, tls: true, auth: 'ok' }, out)
              : d.uplinkSession(dl, bo, bi, du, out),
          ),
        );
        d.silences.push({ start: at, end: at + reboot, catchup: false, backlogUpload: false });
        d.reboots.push(at + reboot);
        d.setFirmware(at + reboot, fw.next!);
        ids.push(d.id);
      }
      benignLabels.push({ id: `benign-rollout-${cls}`, kind: 'firmware_rollout', start: iso(wStart), end: iso(wEnd), devices: ids, detail: { device_class: cls, from: fw.current, to: fw.next, devices: ids.length } });
    });
  }

  // ---- maintenance windows: a plant cell stops production for a few hours, then power-cycles.
  if (benign.maintenance) {
    const cells = [...new Set(devices.filter((d) => d.cls === 'plc' && d.site % 4 !== 0).map((d) => d.site))];
    const nCells = Math.min(cells.length, span >= 3 * DAY ? 3 : 1);
    brng.shuffle(cells);
    for (const cell of cells.slice(0, nCells)) {
      const members = devices.filter((d) => d.cls === 'plc' && d.site === cell);
      const zone = members[0]!.zone;
      const durH = brng.uniform(3, 8);
      const slot = pickLocalWeekdaySlot(zone, start + warmup * 0.5, end, brng.uniform(7, 10), durH, brng);
      if (!slot) continue;
      const [ws, we] = slot;
      for (const d of members) {
        d.stops.push({ start: ws, end: we });
        const boot = brng.int(120, 300) * 1000;
        d.silences.push({ start: we - boot, end: we, catchup: false, backlogUpload: false });
        d.reboots.push(we);
      }
      benignLabels.push({ id: `benign-maintenance-cell-${cell}`, kind: 'maintenance_window', start: iso(ws), end: iso(we), devices: members.map((d) => d.id), detail: { plc_cell: cell, zone: zone.name } });
    }
  }

  // ---- network outages: a regional backhaul loss (meters + stores) and a cellular carrier loss.
  if (benign.outage) {
    const regional = devices.filter((d) => d.cls === 'smart_meter' || d.cls === 'pos_terminal');
    if (regional.length > 0) {
      const zone = brng.pick(regional).zone;
      const sites = [...new Set(regional.filter((d) => d.zone === zone).map((d) => `${d.cls}:${d.site}`))];
      const hit = new Set(brng.shuffle(sites).slice(0, Math.max(1, Math.ceil(sites.length * 0.5))));
      const members = regional.filter((d) => hit.has(`${d.cls}:${d.site}`));
      const dur = brng.logUniform(20, 180) * MINUTE;
      const os = start + warmup * 0.5 + Math.floor(brng.next() * Math.max(1, span - warmup * 0.5 - dur - HOUR));
      addOutage(members, os, dur, (d) => d.cls === 'smart_meter');
      benignLabels.push({ id: 'benign-outage-regional', kind: 'network_outage', start: iso(os), end: iso(os + dur), devices: members.map((d) => d.id), detail: { scope: 'regional backhaul', zone: zone.name, catchup: 'meters buffer readings; stores forward held transactions' } });
    }
    const vehicles = devices.filter((d) => d.cls === 'vehicle' && (d.idx & 1) === 0);
    if (vehicles.length > 0) {
      const dur = brng.logUniform(30, 120) * MINUTE;
      const os = start + warmup * 0.5 + Math.floor(brng.next() * Math.max(1, span - warmup * 0.5 - dur - HOUR));
      addOutage(vehicles, os, dur, () => true);
      benignLabels.push({ id: 'benign-outage-carrier', kind: 'network_outage', start: iso(os), end: iso(os + dur), devices: vehicles.map((d) => d.id), detail: { scope: 'cellular carrier', catchup: 'telematics units buffer and upload' } });
    }
  }

  function addOutage(members: SimDevice[], os: number, dur: number, catchup: (d: SimDevice) => boolean): void {
    for (const d of members) {
      const s = os + brng.int(0, 30_000);
      const e = os + dur + brng.int(0, 180_000);
      const cu = catchup(d);
      d.silences.push({ start: s, end: e, catchup: cu, backlogUpload: true });
      const perMin = d.cls === 'smart_meter' ? 30 : d.cls === 'vehicle' ? 4_000 : 600;
      const bytes = ((e - s) / MINUTE) * perMin;
      const at = e + brng.int(2_000, 60_000);
      d.processes.push(oneShot(at, (out) => d.uplinkSession(at, 2_000 + bytes, 400, 500 + bytes / 500, out)));
    }
  }

  // ---- daylight saving: not injected, just where the calendar puts it; labeled so reports can show it.
  for (const z of ZONES) {
    const members = devices.filter((d) => d.zone === z);
    if (members.length === 0) continue;
    for (const t of dstTransitions(z, start, end)) {
      benignLabels.push({ id: `benign-dst-${z.name}-${iso(t).slice(0, 10)}`, kind: 'dst_shift', start: iso(t), end: iso(t + HOUR), detail: { zone: z.name, devices: members.length } });
    }
  }

  // ---- normal behaviour.
  for (const d of devices) {
    const make = { smart_meter: smartMeter, vehicle, plc, patient_monitor: patientMonitor, pos_terminal: posTerminal }[d.cls];
    d.processes.push(...make(d, start, end));
  }

  // ---- incidents. Classes first (uniformly among those the kind applies to), then a device not
  // used yet, so every label is about a distinct device while the fleet is large enough.
  const irng = Rng.derive(opts.seed, 'incidents');
  const kinds = opts.kinds ?? INCIDENT_KINDS;
  const used = new Set<number>();
  const incidents: IncidentLabel[] = [];
  const ctx = {
    end,
    olderFirmware(cls: DeviceClass, current: string): string {
      const older = FIRMWARE[cls].older.filter((v) => compareVersions(v, current) < 0);
      return irng.pick(older.length ? older : FIRMWARE[cls].older);
    },
  };
  const windows = new Map<number, Array<[number, number]>>();
  const evidenceOf = new Map<IncidentLabel, Evidence>();
  let serial = 0;
  for (let round = 0; round < opts.incidentsPerKind; round++) {
    for (const kind of kinds) {
      const inj = INJECTORS[kind];
      const fits = (d: SimDevice): boolean => inj.classes.includes(d.cls) && (inj.eligible?.(d) ?? true);
      const eligible = inj.classes.filter((c) => devices.some((d) => d.cls === c && fits(d)));
      if (eligible.length === 0) continue;
      const cls = irng.pick(eligible);
      const pool = devices.filter((d) => d.cls === cls && fits(d));
      const fresh = pool.filter((d) => !used.has(d.idx));
      const candidates = fresh.length ? fresh : pool;
      let placed = false;
      for (let attempt = 0; attempt < 40 && !placed; attempt++) {
        const dev = irng.pick(candidates);
        let dur = inj.duration(irng, dev);
        const room = end - HOUR - (start + warmup);
        if (room <= 0) break;
        if (dur > room * 0.8) dur = room * 0.8;
        const s = start + warmup + Math.floor(irng.next() * (room - dur));
        const e = s + dur;
        // Keep ground truth observable: not inside a benign silence, not overlapping another incident.
        const pad = 30 * MINUTE;
        if (dev.silences.some((x) => x.start < e + pad && x.end > s - pad)) continue;
        const w = windows.get(dev.idx) ?? [];
        if (w.some(([a, b]) => a < e + 2 * HOUR && b > s - 2 * HOUR)) continue;
        // Its own stream: incident processes draw at run time, interleaved with other devices.
        const got = inj.inject(dev, s, dur, Rng.derive(opts.seed, `incident:${serial + 1}`), ctx);
        w.push([got.start, got.end]);
        windows.set(dev.idx, w);
        used.add(dev.idx);
        serial++;
        const label: IncidentLabel = { id: `inc-${String(serial).padStart(4, '0')}`, device_id: dev.id, device_class: dev.cls, kind, start: iso(got.start), end: iso(got.end), detail: got.detail };
        if (got.evidence) evidenceOf.set(label, got.evidence);
        incidents.push(label);
        placed = true;
      }
    }
  }
  incidents.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id < b.id ? -1 : 1));
  for (const d of devices) d.reboots.sort((a, b) => a - b);

  const classCounts: Record<string, number> = {};
  for (const [c, n] of counts) classCounts[c] = n;
  const labels: LabelsFile = {
    version: 1,
    generator: 'm2m-sentinel simulate',
    seed: opts.seed,
    start: iso(start),
    end: iso(end),
    devices: devices.length,
    classes: classCounts,
    incidents,
    benign: benignLabels.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)),
  };

  function* chunks(chunkMs = HOUR): Generator<{ events: SimEvent[]; until: number }> {
    for (const c of drainChunks(devices, start, end, chunkMs)) {
      const events = c.events.filter((e) => e.ts >= start && e.ts < end);
      if (c.until >= end) finalizeLabels();
      yield { events, until: c.until };
    }
  }

  /** Narrow modifier incidents to what they visibly changed; set aside those that changed nothing. */
  function finalizeLabels(): void {
    const kept: IncidentLabel[] = [];
    const dropped: IncidentLabel[] = [];
    for (const inc of labels.incidents) {
      const ev = evidenceOf.get(inc);
      if (!ev) {
        kept.push(inc);
        continue;
      }
      inc.detail = { ...inc.detail, scheduled_start: inc.start, scheduled_end: inc.end, altered_events: ev.evidence };
      if (ev.firstTs === undefined || ev.lastTs === undefined) {
        dropped.push(inc);
        continue;
      }
      inc.start = iso(ev.firstTs);
      inc.end = iso(Math.max(ev.lastTs, ev.firstTs));
      kept.push(inc);
    }
    kept.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id < b.id ? -1 : 1));
    labels.incidents = kept;
    if (dropped.length) labels.unobservable = dropped;
  }

  return { start, end, devices, labels, chunks };
}

/** A window of `durH` hours from local hour `fromH` on a weekday inside [lo, hi − 1 h). */
function pickLocalWeekdaySlot(zone: Zone, lo: number, hi: number, fromH: number, durH: number, rng: Rng): [number, number] | undefined {
  // Short spans may have no morning in the cell's zone: then take any hour that fits.
  for (const h of [fromH, ...Array.from({ length: 24 }, (_, i) => i)]) {
    const slots = weekdayWindows(zone, lo, hi - HOUR, h, durH);
    if (slots.length) return rng.pick(slots);
  }
  return undefined;
}
