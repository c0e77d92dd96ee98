/**
 * World parameters drawn from a seed. A world is one fleet as somebody else might run it: other
 * device classes and habits, other sleep and reporting rhythms, messages that arrive late, twice
 * or with a wrong clock, other fleet changes, a shorter learning period. Every value is drawn from
 * a range stated here (with the reason it is realistic), and the whole spec is written into the
 * world's labels file, so a reader sees what each world assumed.
 *
 * World 0 is the plain simulator's benchmark fleet (docs/quality.md), unchanged.
 */
import { hash32, Rng } from '../prng.js';
import { DAY, HOUR, dstTransitions, iso } from '../time.js';
import { INCIDENT_KINDS } from '../types.js';
import { NEW_CLASSES, WORLD_CLASSES, classDef } from './classes/index.js';
import { drawParam, drawParams, type ParamSpec, type Params } from './params.js';
import { WORLD_ZONES, worldZone } from './zones.js';

/** The simulator's incident kinds plus the two only worlds inject. */
export const WORLD_INCIDENT_KINDS = [...INCIDENT_KINDS, 'implant_beacon', 'worm_spread'] as const;

export interface ClassHabits {
  cls: string;
  /** Share of the fleet (the shares of a world sum to 1). */
  share: number;
  /** Devices per site. */
  site_size: [number, number];
  /** The class's own habits (ranges in its ClassDef.params). */
  params: Params;
  /** Share of telemetry messages delivered twice (0 for classes whose transport cannot). */
  duplicates: number;
  /** Connectivity gaps per device-week, readings buffered and uploaded at reconnect (0 = none). */
  gaps_per_week: number;
  /** Gap length range, minutes. */
  gap_min: [number, number];
}

export type ChangeSpec =
  | { kind: 'endpoint_migration'; cls: string; at: number; spread_h: number; new_port: number | null }
  | { kind: 'firmware_rollout'; cls: string; at: number; days: number; canary: number; new_peer_every_min: number | null; report_slower: number; new_metric: string | null }
  | { kind: 'site_outage'; cls: string; at: number; minutes: number; power: boolean }
  | { kind: 'infra_replaced'; cls: string; service: 'ntp' | 'dns'; at: number; spread_h: number }
  | { kind: 'maintenance_window'; cls: 'plc'; cells: number };

export interface DeliverySpec {
  /** Network latency per device, ms (a device's messages keep their order). */
  latency_ms: [number, number];
  /** Share of devices whose clock is off. */
  skew_share: number;
  /** Offset of those clocks in minutes (either sign)... */
  skew_min: [number, number];
  /** ...except this share of them, off by exactly an hour (daylight saving applied twice or never). */
  skew_hour_share: number;
  /** How long after the original a duplicate arrives, seconds. */
  dup_delay_s: [number, number];
}

export interface DrawnWorldSpec {
  version: 1;
  kind: 'drawn';
  index: number;
  seed: number;
  /** One line: what this world assumed. */
  summary: string;
  start: string;
  days: number;
  devices: number;
  /** No incident starts before this (the learning period a detector gets); implants are there from the start. */
  warmup_h: number;
  incidents_per_kind: number;
  kinds: string[];
  zones: Array<{ zone: string; weight: number }>;
  classes: ClassHabits[];
  delivery: DeliverySpec;
  changes: ChangeSpec[];
}

export interface BenchmarkWorldSpec {
  version: 1;
  kind: 'benchmark';
  index: number;
  seed: number;
  summary: string;
  start: string;
  days: number;
  devices: number;
  incidents_per_kind: number;
}

export type WorldSpec = DrawnWorldSpec | BenchmarkWorldSpec;

/** Today's benchmark fleet, exactly as scripts/gen-quality-fleet.sh makes it. */
export const BENCHMARK: BenchmarkWorldSpec = {
  version: 1,
  kind: 'benchmark',
  index: 0,
  seed: 2026,
  summary: "the plain simulator's benchmark fleet (docs/quality.md): 5 classes, 1,000 devices × 7 days, EU DST, 2-day learning, in event-time order",
  start: '2026-03-23T00:00:00.000Z',
  days: 7,
  devices: 1000,
  incidents_per_kind: 30,
};

/** World-level ranges; the class-level ones live with each class (ClassDef.params). */
export const WORLD_RANGES = {
  days: { int: [2, 7], why: 'monitoring often starts days, not weeks, before a verdict is wanted' },
  warmup_h: { log: [4, 48], why: 'incidents do not wait for a full week of learning; some come in the first hours' },
  start: { pick: ['eu_spring', 'eu_autumn', 'us_spring', 'us_autumn', 'plain', 'plain'], why: 'half of the worlds span a daylight-saving change' },
  start_day: { int: [0, 364], why: 'any day of 2026' },
  start_hour: { int: [0, 23], why: 'monitoring starts at any hour, not at midnight UTC' },
  classes: { int: [3, 6], why: 'fleets mix a few device classes' },
  class_weight: { log: [0.5, 4], why: 'one class often dominates' },
  site_scale: { log: [0.3, 3], why: 'sites are smaller or larger than ours' },
  zones: { int: [1, 4], why: 'fleets span one to a few time zones' },
  zone_weight: { log: [0.5, 4], why: 'most devices are usually in one zone' },
  dup_on: { pick: [false, true, true], why: 'not every MQTT/CoAP deployment sees redeliveries' },
  dup_rate: { log: [0.001, 0.03], why: 'QoS 1 redelivery after a lost PUBACK or a reconnect: 0.1–3 % of messages' },
  gaps_per_week: { log: [0.2, 7], why: 'cellular dead zones, WAN losses: from rare to daily' },
  gap_lo_min: { log: [5, 30], why: 'short losses' },
  gap_hi_min: { log: [60, 480], why: 'long losses with hours of buffered readings' },
  latency_lo_ms: { log: [20, 300], why: 'LAN to cellular' },
  latency_hi_ms: { log: [500, 4000], why: 'cellular and satellite backhaul' },
  skew_share: { uniform: [0, 0.15], why: 'devices without NTP, or with a broken RTC' },
  skew_lo_min: { uniform: [1, 5], why: 'drifted clocks' },
  skew_hi_min: { uniform: [5, 20], why: 'badly drifted clocks' },
  skew_hour_share: { uniform: [0, 0.3], why: 'local time sent as UTC, or DST applied twice' },
  dup_delay_lo_s: { uniform: [1, 10], why: 'retransmission timeout' },
  dup_delay_hi_s: { uniform: [20, 120], why: 'redelivery after a reconnect' },
  migration_p: { uniform: [0, 1], why: 'draw: a class moves to a new cloud endpoint (p = 0.6)' },
  migration_at: { uniform: [0.15, 0.85], why: 'any time, including inside the learning period' },
  migration_spread_h: { pick: [0, 0.5, 2, 8], why: 'a DNS switch (all at once) or a staged configuration push' },
  migration_port: { pick: [null, null, 443], why: 'same port, or MQTT moved to 443 (ALPN)' },
  rollouts: { int: [1, 2], why: 'firmware waves per span' },
  rollout_at: { uniform: [0.1, 0.6], why: 'any time' },
  rollout_days: { log: [0.5, 3], why: 'staged waves: canary, then the rest' },
  rollout_canary: { uniform: [0.01, 0.1], why: 'share updated on the first day' },
  rollout_new_peer_min: { pick: [null, null, 5, 15, 60], why: 'new firmware that adds a periodic service (telemetry/analytics endpoint)' },
  rollout_slower: { pick: [1, 1, 2], why: 'new firmware that reports half as often to save data' },
  rollout_metric: { pick: [null, 'rssi_dbm', 'uptime_s'], why: 'new firmware that adds a reading' },
  outage_p: { uniform: [0, 1], why: 'draw: a site outage (p = 0.7)' },
  outage_at: { uniform: [0.15, 0.9], why: 'any time' },
  outage_min: { log: [20, 480], why: 'from a router reboot to a long power cut' },
  outage_power: { pick: [true, false], why: 'power cut (devices reboot) or WAN loss (buffered classes catch up)' },
  infra_p: { uniform: [0, 1], why: 'draw: an NTP or DNS server replaced (p = 0.5)' },
  infra_at: { uniform: [0.15, 0.9], why: 'any time' },
  infra_spread_h: { log: [0.1, 24], why: 'devices pick the new server up as their DHCP leases renew' },
  maintenance_cells: { int: [1, 3], why: 'PLC cells stopped for planned maintenance' },
} as const satisfies ParamSpec;

export interface DrawOptions {
  /** Target events per world; sets the device count (default 1.2 M). */
  eventsPerWorld?: number;
  /** Cap on the span (quick checks); drawn worlds are otherwise 2–7 days. */
  maxDays?: number;
}

const DST_CHANGES: Record<string, number> = {
  eu_spring: Date.UTC(2026, 2, 29, 1),
  eu_autumn: Date.UTC(2026, 9, 25, 1),
  us_spring: Date.UTC(2026, 2, 8, 8),
  us_autumn: Date.UTC(2026, 10, 1, 7),
};

/** The seed of drawn world i under a base seed (world 0 is the benchmark). */
export function worldSeed(base: number, index: number): number {
  return hash32(`world:${base}:${index}`);
}

export function drawWorld(seed: number, index: number, opts: DrawOptions = {}): DrawnWorldSpec {
  const rng = Rng.derive(seed, 'world');
  const R = WORLD_RANGES;
  const d = <K extends keyof typeof R>(k: K): ReturnType<typeof drawParam> => drawParam(R[k], rng);
  const n = <K extends keyof typeof R>(k: K): number => d(k) as number;

  const days = Math.min(n('days'), opts.maxDays ?? Number.POSITIVE_INFINITY);
  const startKind = d('start') as string;
  const hour = n('start_hour');
  let start: number;
  if (startKind === 'plain') start = Date.UTC(2026, 0, 1) + n('start_day') * DAY + hour * HOUR;
  else start = DST_CHANGES[startKind]! - rng.int(0, days - 1) * DAY - rng.int(1, 20) * HOUR;
  const warmup = Math.round(Math.min(n('warmup_h'), 0.4 * days * 24) * 10) / 10;

  // Classes: at least one the plain simulator does not have.
  const k = n('classes');
  const pool = [...WORLD_CLASSES.map((c) => c.cls)];
  rng.shuffle(pool);
  let chosen = pool.slice(0, k);
  if (!chosen.some((c) => NEW_CLASSES.some((x) => x.cls === c))) chosen[0] = rng.pick(NEW_CLASSES).cls;
  chosen = [...new Set(chosen)].sort((a, b) => WORLD_CLASSES.findIndex((c) => c.cls === a) - WORLD_CLASSES.findIndex((c) => c.cls === b));
  const weights = chosen.map(() => n('class_weight'));
  const wsum = weights.reduce((s, w) => s + w, 0);
  const classes: ClassHabits[] = chosen.map((cls, i) => {
    const def = classDef(cls);
    const crng = Rng.derive(seed, `class:${cls}`);
    const scale = drawParam(R.site_scale, crng) as number;
    const dupOn = def.duplicates && (drawParam(R.dup_on, crng) as boolean);
    const dup = drawParam(R.dup_rate, crng) as number;
    const gpw = drawParam(R.gaps_per_week, crng) as number;
    const glo = drawParam(R.gap_lo_min, crng) as number;
    const ghi = drawParam(R.gap_hi_min, crng) as number;
    return {
      cls,
      share: Math.round((weights[i]! / wsum) * 1000) / 1000,
      site_size: [Math.max(1, Math.round(def.siteSize[0] * scale)), Math.max(1, Math.round(def.siteSize[1] * scale))],
      params: drawParams(def.params, crng),
      duplicates: dupOn ? dup : 0,
      gaps_per_week: def.buffers ? gpw : 0,
      gap_min: [glo, ghi],
    };
  });

  const nz = n('zones');
  const zonePool = WORLD_ZONES.map((z) => z.name);
  rng.shuffle(zonePool);
  // A world that spans a DST change has its sites where the change happens, at least partly.
  if (startKind !== 'plain') {
    const rule = startKind.startsWith('eu') ? 'eu' : 'us';
    const z = zonePool.find((x) => worldZone(x).dst === rule)!;
    zonePool.splice(zonePool.indexOf(z), 1);
    zonePool.unshift(z);
  }
  const zones = zonePool.slice(0, nz).map((zone) => ({ zone, weight: n('zone_weight') }));

  const delivery: DeliverySpec = {
    latency_ms: [n('latency_lo_ms'), n('latency_hi_ms')],
    skew_share: n('skew_share'),
    skew_min: [n('skew_lo_min'), n('skew_hi_min')],
    skew_hour_share: n('skew_hour_share'),
    dup_delay_s: [n('dup_delay_lo_s'), n('dup_delay_hi_s')],
  };

  const changes: ChangeSpec[] = [];
  const pickCls = (ok: (c: string) => boolean): string | undefined => {
    const xs = chosen.filter(ok);
    return xs.length ? rng.pick(xs) : undefined;
  };
  if (n('migration_p') < 0.6) {
    const cls = pickCls(() => true)!;
    changes.push({ kind: 'endpoint_migration', cls, at: n('migration_at'), spread_h: n('migration_spread_h'), new_port: d('migration_port') as number | null });
  }
  const nr = n('rollouts');
  for (let i = 0; i < nr; i++) {
    const cls = pickCls(() => true)!;
    changes.push({ kind: 'firmware_rollout', cls, at: n('rollout_at'), days: n('rollout_days'), canary: n('rollout_canary'), new_peer_every_min: d('rollout_new_peer_min') as number | null, report_slower: n('rollout_slower'), new_metric: d('rollout_metric') as string | null });
  }
  if (n('outage_p') < 0.7) {
    const cls = pickCls(() => true)!;
    changes.push({ kind: 'site_outage', cls, at: n('outage_at'), minutes: n('outage_min'), power: d('outage_power') as boolean });
  }
  if (n('infra_p') < 0.5) {
    const cls = pickCls((c) => Object.keys(classDef(c).infra).length > 0);
    if (cls) {
      const services = Object.keys(classDef(cls).infra).sort() as Array<'ntp' | 'dns'>;
      changes.push({ kind: 'infra_replaced', cls, service: rng.pick(services), at: n('infra_at'), spread_h: n('infra_spread_h') });
    }
  }
  if (chosen.includes('plc')) changes.push({ kind: 'maintenance_window', cls: 'plc', cells: n('maintenance_cells') });

  // Size last, so the same seed is the same world at any size.
  const budget = opts.eventsPerWorld ?? 1_200_000;
  const perDevice = classes.reduce((s, c) => s + c.share * classDef(c.cls).eventsPerDay(c.params), 0) * days;
  const devices = Math.max(20, Math.min(3000, Math.round(budget / perDevice)));
  const kinds = [...WORLD_INCIDENT_KINDS];
  // Enough per kind that one miss does not decide a kind's recall (6–12 in full-size worlds), on
  // about half the fleet at most; tiny quick-check worlds get fewer.
  const incidentsPerKind = Math.max(1, Math.min(12, Math.round((devices * 0.5) / kinds.length)));

  const spec: DrawnWorldSpec = {
    version: 1,
    kind: 'drawn',
    index,
    seed,
    summary: '',
    start: iso(start),
    days,
    devices,
    warmup_h: warmup,
    incidents_per_kind: incidentsPerKind,
    kinds,
    zones,
    classes,
    delivery,
    changes,
  };
  spec.summary = describeWorld(spec);
  return spec;
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

function classNote(c: ClassHabits): string {
  const p = c.params;
  const bits: string[] = [];
  switch (c.cls) {
    case 'smart_meter':
      bits.push(`every ${p.report_every_min} min`);
      if ((p.batch_upload_min as number) > 0) bits.push(`batched ${p.batch_upload_min} min`);
      break;
    case 'vehicle':
      bits.push(p.parked === 'hourly' ? 'hourly when parked' : p.parked === 'silent' ? 'silent when parked' : `wakes every ${Math.round(p.wake_h as number)} h when parked`);
      break;
    case 'plc':
      bits.push(p.stopped === 'off' ? 'off when the line stops' : 'polled when stopped');
      break;
    case 'pos_terminal':
      bits.push(p.closed === 'awake' ? 'on overnight' : p.closed === 'off' ? 'off when closed' : 'hourly when closed');
      break;
    case 'ev_charger':
      bits.push(`${p.site}`, p.dc ? 'DC' : 'AC', (p.aligned_min as number) > 0 ? `idle every ${p.aligned_min} min` : `heartbeat ${p.heartbeat_min} min only`);
      break;
    case 'battery_sensor':
      bits.push(`${p.kind}`, `wakes every ${(p.wake_h as number).toFixed(1)} h`);
      break;
    case 'infusion_pump':
      bits.push(p.idle === 'off' ? 'off between infusions' : 'standby between infusions');
      break;
    case 'ip_camera':
      bits.push((p.cloud_every_s as number) > 0 ? `cloud keep-alive ${p.cloud_every_s} s` : 'no cloud');
      break;
    case 'edge_gateway':
      bits.push(p.ntp === 'pool' ? 'NTP pool' : 'site NTP', `${p.endpoint_ips} endpoint IPs`);
      break;
  }
  if (c.duplicates > 0) bits.push(`${pct(c.duplicates)} dup`);
  if (c.gaps_per_week > 0) bits.push(`${c.gaps_per_week.toFixed(1)} gaps/wk`);
  return `${c.cls} ${Math.round(c.share * 100)}%${bits.length ? ` (${bits.join(', ')})` : ''}`;
}

/** One line saying what a world assumed. */
function describeWorld(s: DrawnWorldSpec): string {
  const start = Date.parse(s.start);
  const end = start + s.days * DAY;
  const dst = s.zones.some((z) => dstTransitions(worldZone(z.zone), start, end).length > 0) ? ', DST change' : '';
  const skew = s.delivery.skew_share > 0 ? `; ${pct(s.delivery.skew_share)} skewed clocks` : '';
  const ch = s.changes.map((c) => `${c.kind.replace(/_/g, ' ')} (${c.cls}${c.kind === 'firmware_rollout' && c.new_peer_every_min ? ', new peer' : ''}${c.kind === 'firmware_rollout' && c.report_slower > 1 ? ', slower' : ''}${c.kind === 'site_outage' ? (c.power ? ', power' : ', WAN') : ''})`);
  return `${s.days} d from ${s.start.slice(0, 13)}h${dst}, ${s.warmup_h} h learning; ${s.classes.map(classNote).join('; ')}${skew}; changes: ${ch.join(', ') || 'none'}`;
}
