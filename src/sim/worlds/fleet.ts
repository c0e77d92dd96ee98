/**
 * Assembles a world from its spec: devices of its classes on sites in its zones, their habits,
 * the benign changes, the incidents, and generation in true time, handed to the delivery layer,
 * which turns it into wire lines in arrival order.
 *
 * As in the plain simulator (src/sim/fleet.ts), generation walks the span in chunks and every
 * random draw made at run time comes from a stream of one device, so the output does not depend
 * on the chunk size and memory stays bounded.
 */
import { SimDevice, drainChunks, orderOf, type Process } from '../device.js';
import { cgnatIp } from '../net.js';
import { Rng } from '../prng.js';
import { DAY, HOUR, MINUTE, dstTransitions, iso } from '../time.js';
import type { BenignLabel, DeviceClass, IncidentKind, IncidentLabel, LabelsFile, SimEvent } from '../types.js';
import { classDef } from './classes/index.js';
import { applyChange, backlogUpload, type WorldDevice } from './changes.js';
import { Delivery, type DeliveryStats } from './delivery.js';
import { deviceWorld, gapAt } from './device-world.js';
import { habitHook, newHabits } from './habits.js';
import { MIN_EVIDENCE, WORM_WAIT_MS, drawOutbreak, eligible, injectContext, injectImplant, injectPlain, injectWorm, plainDuration, witness, type Placed } from './incidents.js';
import type { DrawnWorldSpec } from './spec.js';
import { worldZone } from './zones.js';

export interface WorldLabels extends LabelsFile {
  world: DrawnWorldSpec;
  delivery: DeliveryStats;
}

export interface WorldFleet {
  start: number;
  end: number;
  devices: WorldDevice[];
  labels: WorldLabels;
  /** Wire lines in arrival order, chunk by chunk; labels are final after the last chunk. */
  lines(chunkMs?: number): Generator<{ lines: string[]; until: number; events: number }>;
}

/** Largest-remainder apportionment of n devices over the shares. */
function apportion(n: number, shares: number[]): number[] {
  const total = shares.reduce((s, x) => s + x, 0);
  const raw = shares.map((s) => (n * s) / total);
  const out = raw.map((x) => Math.floor(x));
  const order = raw.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0, left = n - out.reduce((s, x) => s + x, 0); k < left; k++) out[order[k % order.length]![1]]!++;
  return out;
}

export function createWorld(spec: DrawnWorldSpec): WorldFleet {
  const start = Date.parse(spec.start);
  const end = start + spec.days * DAY;
  const span = end - start;
  const warmup = Math.min(spec.warmup_h * HOUR, 0.4 * span);
  const rng = Rng.derive(spec.seed, 'fleet');
  const drng = Rng.derive(spec.seed, 'delivery-plan');
  const zones = spec.zones.map((z) => [worldZone(z.zone), z.weight] as const);

  // ---- devices
  const counts = apportion(spec.devices, spec.classes.map((c) => c.share));
  const devices: WorldDevice[] = [];
  const width = Math.max(4, String(spec.devices).length);
  spec.classes.forEach((habits, ci) => {
    const def = classDef(habits.cls);
    const n = counts[ci]!;
    let site = 0;
    let left = 0;
    let host = 0;
    let packed = 0;
    let zone = zones[0]![0];
    let uplink = def.uplink(habits.params, 0, rng);
    for (let i = 0; i < n; i++) {
      if (left === 0) {
        site++;
        left = rng.int(habits.site_size[0], habits.site_size[1]);
        host = 0;
        zone = rng.weighted(zones);
        uplink = def.uplink(habits.params, site, Rng.derive(spec.seed, `site:${habits.cls}:${site}`));
      }
      left--;
      const id = `${def.prefix}-${String(i + 1).padStart(width, '0')}`;
      const devRng = Rng.derive(spec.seed, `device:${id}`);
      let ip: string;
      if (def.net === 'cgnat') ip = cgnatIp(devRng);
      else {
        // A /24 (or two) per site while they last, then small sites share subnets.
        const o3 = site * 2 + Math.floor(host / 250);
        ip = o3 < 250 ? `10.${def.net}.${o3}.${(host % 250) + 2}` : `10.${def.net}.${250 + Math.floor(packed / 250) % 6}.${(packed % 250) + 2}`;
        if (o3 >= 250) packed++;
      }
      host++;
      const dev = new SimDevice(devices.length, id, habits.cls as DeviceClass, zone, site, ip, devRng, def.firmware.current, { ...uplink });
      dev.spoofable = [...def.spoofable];
      dev.stuckable = [...def.stuckable];
      const h = newHabits();
      const idle = def.idle?.(habits.params);
      if (idle) h.idle = idle;
      const keep = def.keepEvery?.(habits.params) ?? 1;
      if (keep > 1) h.keepEvery.push({ at: Number.NEGATIVE_INFINITY, n: keep });
      const ctl = habitHook(dev, h);
      dev.hook = ctl.hook;
      const w: WorldDevice = { dev, habits: h, rng: Rng.derive(spec.seed, `habits:${id}`), asBatchUpload: ctl.asBatchUpload };
      const dw = deviceWorld(dev);
      dw.dupRate = habits.duplicates;
      dw.latencyMs = Math.round(drng.logUniform(spec.delivery.latency_ms[0], spec.delivery.latency_ms[1]));
      if (drng.chance(spec.delivery.skew_share)) {
        const sign = drng.chance(0.5) ? 1 : -1;
        dw.skewMs = drng.chance(spec.delivery.skew_hour_share) ? sign * HOUR : Math.round(sign * drng.uniform(spec.delivery.skew_min[0], spec.delivery.skew_min[1]) * MINUTE);
      }
      dev.processes.push(...def.model(dev, start, end, habits.params));
      const batchMs = def.batchMs?.(habits.params) ?? 0;
      if (batchMs > 0) {
        h.batched = true;
        const first = start + Math.floor(w.rng.next() * batchMs);
        dw.batch = { first, everyMs: batchMs };
        dev.processes.push(batchUploads(w, first, batchMs));
      }
      devices.push(w);
    }
  });

  const benign: BenignLabel[] = [];
  const brng = Rng.derive(spec.seed, 'benign');

  // ---- connectivity gaps with store-and-forward (buffered classes).
  for (const habits of spec.classes) {
    if (habits.gaps_per_week <= 0) continue;
    for (const w of devices) {
      if (w.dev.cls !== habits.cls) continue;
      const k = brng.poisson((habits.gaps_per_week * spec.days) / 7);
      for (let i = 0; i < k; i++) {
        const len = brng.logUniform(habits.gap_min[0], habits.gap_min[1]) * MINUTE;
        const s = start + Math.floor(brng.next() * Math.max(1, span - len - HOUR));
        const dw = deviceWorld(w.dev);
        if (dw.gaps.some((g) => g.start < s + len + HOUR && g.end > s - HOUR)) continue;
        dw.gaps.push({ start: s, end: s + len });
        backlogUpload(w, s, s + len, brng);
        benign.push({ id: `benign-gap-${w.dev.id}-${dw.gaps.length}`, kind: 'store_and_forward', start: iso(s), end: iso(s + len), devices: [w.dev.id], detail: { minutes: Math.round(len / MINUTE), note: 'readings buffered and delivered at reconnect with their original timestamps' } });
      }
    }
  }

  // ---- drawn fleet changes.
  spec.changes.forEach((c, i) => applyChange(c, { start, end, devices, rng: brng, labels: benign }, i));

  // ---- daylight saving, from the calendar.
  for (const z of spec.zones) {
    const members = devices.filter((w) => w.dev.zone.name === z.zone).map((w) => w.dev.id);
    if (!members.length) continue;
    for (const t of dstTransitions(worldZone(z.zone), start, end)) benign.push({ id: `benign-dst-${z.zone}-${iso(t).slice(0, 10)}`, kind: 'dst_shift', start: iso(t), end: iso(t + HOUR), devices: members, detail: { zone: z.zone } });
  }

  // ---- habits that last the whole span, listed so false alerts can be traced to them.
  const habitLabel = (kind: string, members: WorldDevice[], detail: Record<string, unknown>): void => {
    if (members.length) benign.push({ id: `benign-habit-${kind}-${benign.length + 1}`, kind, start: iso(start), end: iso(end), devices: members.map((w) => w.dev.id), detail });
  };
  for (const habits of spec.classes) {
    const members = devices.filter((w) => w.dev.cls === habits.cls);
    const sleeps = members[0]?.habits.idle !== undefined || habits.params.idle === 'off' || habits.cls === 'battery_sensor' || habits.cls === 'ev_charger';
    if (sleeps) habitLabel('sleep_schedule', members, { device_class: habits.cls, params: habits.params });
    if (members.some((w) => deviceWorld(w.dev).batch)) habitLabel('batched_delivery', members, { device_class: habits.cls });
    if (habits.duplicates > 0) habitLabel('duplicate_delivery', members, { device_class: habits.cls, share: habits.duplicates });
  }
  const skewed = devices.filter((w) => deviceWorld(w.dev).skewMs !== 0);
  habitLabel('clock_skew', skewed, { skew_ms: Object.fromEntries(skewed.map((w) => [w.dev.id, deviceWorld(w.dev).skewMs])) });

  // ---- incidents
  const irng = Rng.derive(spec.seed, 'incidents');
  const ctx = injectContext(end, irng);
  const used = new Set<number>();
  const windows = new Map<number, Array<[number, number]>>();
  const placed: Array<{ label: IncidentLabel; dev: SimDevice; got: Placed }> = [];
  let serial = 0;
  const free = (d: SimDevice, s: number, e: number, checkQuiet: boolean): boolean => {
    const pad = 30 * MINUTE;
    if (checkQuiet && d.silences.some((x) => x.start < e + pad && x.end > s - pad)) return false;
    if (checkQuiet && deviceWorld(d).gaps.some((x) => x.start < e + pad && x.end > s - pad)) return false;
    return !(windows.get(d.idx) ?? []).some(([a, b]) => a < e + 2 * HOUR && b > s - 2 * HOUR);
  };
  const record = (kind: string, d: SimDevice, got: Placed): void => {
    used.add(d.idx);
    const w = windows.get(d.idx) ?? [];
    w.push([got.start, got.end]);
    windows.set(d.idx, w);
    serial++;
    const label: IncidentLabel = { id: `inc-${String(serial).padStart(4, '0')}`, device_id: d.id, device_class: d.cls, kind, start: iso(got.start), end: iso(got.end), detail: got.detail };
    placed.push({ label, dev: d, got });
  };
  const pool = (kind: string): SimDevice[] => devices.map((w) => w.dev).filter((d) => eligible(kind, d) && !used.has(d.idx));
  const k = spec.incidents_per_kind;

  if (spec.kinds.includes('implant_beacon')) {
    for (let i = 0; i < k; i++) {
      const cands = pool('implant_beacon');
      if (!cands.length) break;
      const d = irng.pick(cands);
      record('implant_beacon', d, injectImplant(d, start, end, Rng.derive(spec.seed, `incident:${serial + 1}`)));
    }
  }
  if (spec.kinds.includes('worm_spread')) {
    // One outbreak in one vulnerable class (any class with enough free devices); one device after another.
    const byClass = new Map<string, SimDevice[]>();
    for (const d of pool('worm_spread')) byClass.set(d.cls, [...(byClass.get(d.cls) ?? []), d]);
    const ranked = [...byClass.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
    const big = ranked.filter(([, ds]) => ds.length >= 2 * k);
    const best = big.length ? irng.pick(big) : ranked[0];
    if (best) {
      const o = drawOutbreak(irng);
      const cands = irng.shuffle([...best[1]]);
      let t = start + warmup + Math.floor(irng.next() * Math.max(1, 0.5 * (span - warmup)));
      for (const d of cands) {
        if (placed.filter((p) => p.label.kind === 'worm_spread').length >= k || t >= end - 2 * HOUR) break;
        if (!free(d, t, t + 6 * HOUR, true) || !free(d, t, t + WORM_WAIT_MS + 6 * HOUR, false)) continue;
        record('worm_spread', d, injectWorm(d, t, o, Rng.derive(spec.seed, `incident:${serial + 1}`), end));
        t += Math.max(MINUTE, Math.round(irng.exp(o.spreadMs)));
      }
    }
  }
  const plainKinds = spec.kinds.filter((x) => x !== 'implant_beacon' && x !== 'worm_spread') as IncidentKind[];
  for (let round = 0; round < k; round++) {
    for (const kind of plainKinds) {
      const all = devices.map((w) => w.dev).filter((d) => eligible(kind, d));
      if (!all.length) continue;
      // Class first, uniformly among those the kind applies to, as the plain simulator does.
      const classes = [...new Set(all.map((d) => d.cls))].sort();
      const cls = irng.pick(classes);
      const inClass = all.filter((d) => d.cls === cls);
      const fresh = inClass.filter((d) => !used.has(d.idx));
      const cands = fresh.length ? fresh : inClass;
      for (let attempt = 0; attempt < 40; attempt++) {
        const d = irng.pick(cands);
        let dur = plainDuration(kind, irng, d);
        const room = end - HOUR - (start + warmup);
        if (room <= 0) break;
        if (dur > room * 0.8) dur = room * 0.8;
        const s = start + warmup + Math.floor(irng.next() * (room - dur));
        if (!free(d, s, s + dur, true)) continue;
        record(kind, d, injectPlain(kind, d, s, dur, Rng.derive(spec.seed, `incident:${serial + 1}`), ctx));
        break;
      }
    }
  }
  for (const w of devices) w.dev.reboots.sort((a, b) => a - b);

  const classCounts: Record<string, number> = {};
  spec.classes.forEach((c, i) => (classCounts[c.cls] = counts[i]!));
  const delivery = new Delivery({ seed: spec.seed, dupDelayMs: [spec.delivery.dup_delay_s[0] * 1000, spec.delivery.dup_delay_s[1] * 1000] });
  const labels: WorldLabels = {
    version: 1,
    generator: 'm2m-sentinel robustness world',
    seed: spec.seed,
    start: iso(start),
    end: iso(end),
    devices: devices.length,
    classes: classCounts,
    incidents: [],
    benign: benign.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id < b.id ? -1 : 1)),
    world: spec,
    delivery: delivery.stats,
  };

  // Window incidents (firmware downgrades) are witnessed by any event of the device inside them.
  const windowsOf = new Map<SimDevice, Array<{ s: number; e: number; w: NonNullable<Placed['window']> }>>();
  for (const p of placed) if (p.got.window) windowsOf.set(p.dev, [...(windowsOf.get(p.dev) ?? []), { s: p.got.start, e: p.got.end, w: p.got.window }]);
  const byIdx = devices.map((w) => w.dev);

  function* lines(chunkMs = HOUR): Generator<{ lines: string[]; until: number; events: number }> {
    for (const { events, until } of drainChunks(byIdx, start, end, chunkMs)) {
      let n = 0;
      for (const e of events) {
        if (e.ts < start || e.ts >= end) continue;
        const dev = byIdx[Math.floor(orderOf(e) / 4294967296)]!;
        const ws = windowsOf.get(dev);
        if (ws) for (const x of ws) if (e.ts >= x.s && e.ts <= x.e) witness(x.w, e.ts);
        delivery.accept(e, dev);
        n++;
      }
      const last = until >= end;
      if (last) finalize();
      yield { lines: delivery.flush(last ? undefined : until), until, events: n };
    }
  }

  /** Labels to what was observable, in each device's own clock. */
  function finalize(): void {
    const kept: IncidentLabel[] = [];
    const dropped: IncidentLabel[] = [];
    for (const { label, dev, got } of placed) {
      const skew = deviceWorld(dev).skewMs;
      let first: number | undefined;
      let last: number | undefined;
      let n: number;
      if (got.evidence) {
        ({ firstTs: first, lastTs: last, evidence: n } = got.evidence);
        label.detail = { ...label.detail, scheduled_start: label.start, scheduled_end: label.end, altered_events: n };
      } else {
        const w = got.witness ?? got.window!;
        ({ first, last, events: n } = w);
        label.detail = { ...label.detail, events: n };
      }
      if (skew !== 0) label.detail = { ...label.detail, clock_skew_ms: skew };
      if (first === undefined || last === undefined || n < MIN_EVIDENCE) {
        dropped.push(label);
        continue;
      }
      // A window incident spans its window (the device's firmware says so all along); the others
      // span what they put on the wire.
      const s = got.window ? got.start : first;
      const e = got.window ? got.end : Math.max(last, first);
      label.start = iso(s + skew);
      label.end = iso(e + skew);
      kept.push(label);
    }
    kept.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id < b.id ? -1 : 1));
    labels.incidents = kept;
    if (dropped.length) labels.unobservable = dropped;
  }

  return { start, end, devices, labels, lines };
}

/** A batched device's uploads: one session per batch carrying the readings since the last. */
function batchUploads(w: WorldDevice, first: number, everyMs: number): Process {
  const d = w.dev;
  return {
    next: first,
    step(out) {
      const ts = this.next;
      if (!gapAt(deviceWorld(d), ts)) {
        const n = Math.max(1, Math.round(everyMs / d.telemetryEveryMs));
        w.asBatchUpload(() => d.uplinkSession(ts + 500 + w.rng.int(0, 2000), 400 + 180 * n + w.rng.int(0, 200), 120 + w.rng.int(0, 40), 200 + 10 * n + w.rng.int(0, 400), out));
      }
      this.next = ts + everyMs;
    },
  };
}
