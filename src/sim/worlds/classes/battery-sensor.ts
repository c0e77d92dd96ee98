/**
 * Battery-powered NB-IoT sensors (LwM2M over CoAP, plain or DTLS): they sample every few minutes,
 * sleep in power-saving mode, and wake every few hours to send what they sampled in one burst.
 * The readings keep the time they were sampled, so they arrive hours after their timestamp by
 * design; the world's delivery layer holds them until the wake (see delivery.ts, batchMs).
 */
import { every } from '../../classes.js';
import { round, type Process } from '../../device.js';
import { DAY, HOUR, MINUTE, localTime } from '../../time.js';
import { num, str } from '../params.js';
import { deviceWorld } from '../device-world.js';
import type { ClassDef } from './types.js';

const SERVERS = {
  private: { ip: '10.60.0.10', port: 5684, protocol: 'udp', app: 'coap', tls: true },
  cloud: { ip: '203.0.113.80', port: 5684, protocol: 'udp', app: 'coap', tls: true },
};

function wakeMs(p: Record<string, unknown>): number {
  // A device never wakes more often than it samples.
  return Math.max(num(p as never, 'wake_h') * HOUR, num(p as never, 'sample_min') * MINUTE);
}

export const BATTERY_SENSOR: ClassDef = {
  cls: 'battery_sensor',
  prefix: 'nbiot',
  net: 60,
  siteSize: [10, 200],
  firmware: { current: '0.9.14', next: '0.9.20', older: ['0.8.2', '0.9.3'] },
  params: {
    kind: { pick: ['environment', 'water_meter', 'tank_level'], why: 'what the sensor measures: room or cold-chain climate, a water meter register, a tank level' },
    sample_min: { pick: [5, 10, 15, 30, 60], why: 'sampling interval of the sensing element' },
    wake_h: { log: [0.5, 12], why: 'NB-IoT/LTE-M devices in PSM wake every few hours to report (battery life of years)' },
    secure: { pick: [true, true, false], why: 'LwM2M over DTLS (5684) is the norm; plain CoAP (5683) on a private APN still occurs' },
    server: { pick: ['private', 'cloud'], why: "the operator's LwM2M server on the APN, or a public IoT cloud" },
  },
  uplink: (p) => {
    const s = { ...SERVERS[str(p, 'server') === 'cloud' ? 'cloud' : 'private'] };
    if (p.secure === false) Object.assign(s, { port: 5683, tls: false });
    return s;
  },
  infra: {},
  eventsPerDay: (p) => 1440 / num(p, 'sample_min') + (24 * HOUR) / wakeMs(p) + 1,
  model(dev, start, _end, p) {
    const r = dev.rng;
    const kind = str(p, 'kind');
    const sampleMs = num(p, 'sample_min') * MINUTE;
    const wake = wakeMs(p);
    dev.telemetryEveryMs = sampleMs;
    let battery = r.uniform(3.4, 3.65);
    const drainPerDay = r.uniform(0.0004, 0.002);
    const rssi0 = r.int(-115, -78);
    const outdoor = r.chance(0.5);
    const t0 = outdoor ? r.uniform(4, 16) : r.uniform(18, 23);
    let volume = round(r.uniform(10, 900), 3);
    let level = r.uniform(30, 95);
    const useRate = r.uniform(0.15, 0.6); // tank % per hour while drawn from
    dev.noise = { temperature_c: outdoor ? 0.5 : 0.2, humidity_pct: 1.5, level_pct: 0.3, rssi_dbm: 3 };
    dev.spoofable = kind === 'environment' ? ['temperature_c', 'humidity_pct'] : kind === 'tank_level' ? ['level_pct'] : [];
    dev.stuckable = kind === 'environment' ? ['temperature_c', 'humidity_pct'] : kind === 'tank_level' ? ['level_pct'] : ['volume_m3'];
    let samples = 0;

    const sample = every(start + r.int(0, sampleMs - 1), sampleMs, 1500, r, (ts, out) => {
      const lt = localTime(dev.zone, ts);
      const day = Math.sin(((lt.hour - 9) / 24) * 2 * Math.PI);
      battery -= (drainPerDay * sampleMs) / DAY;
      const m: Record<string, number> = { battery_v: round(battery, 2), rssi_dbm: Math.round(rssi0 + r.normal(0, 3)) };
      if (kind === 'environment') {
        const temp = t0 + (outdoor ? 5 : 1) * day + r.normal(0, outdoor ? 0.5 : 0.2);
        m.temperature_c = round(temp, 1);
        m.humidity_pct = round(Math.max(5, Math.min(100, 55 - (outdoor ? 12 : 4) * day + r.normal(0, 1.5))), 1);
      } else if (kind === 'water_meter') {
        // A household draws water mornings and evenings, a trickle otherwise.
        const lph = 4 + 60 * Math.exp(-((lt.hour - 7.5) ** 2) / 1.5) + 45 * Math.exp(-((lt.hour - 19.5) ** 2) / 3);
        volume += (lph * r.uniform(0.3, 1.7) * sampleMs) / HOUR / 1000;
        m.volume_m3 = round(volume, 3);
      } else {
        level -= (useRate * sampleMs) / HOUR * (0.5 + Math.max(0, day));
        if (level < 18) level = r.uniform(85, 97); // the supplier refills it
        m.level_pct = round(level + r.normal(0, 0.3), 1);
        m.temperature_c = round(t0 + 4 * day + r.normal(0, 0.5), 1);
      }
      dev.telemetry(ts, m, out);
      samples++;
    });

    // The wake: one CoAP exchange carrying every sample since the last one, at the same instant
    // the delivery layer releases them.
    const first = start + r.int(0, wake - 1);
    deviceWorld(dev).batch = { first, everyMs: wake };
    const report = every(first, wake, 0, r, (ts, out) => {
      const n = samples;
      samples = 0;
      dev.uplinkSession(ts + 200 + r.int(0, 800), 60 + 14 * n + r.int(0, 20), 20 + r.int(0, 10), 300 + r.int(0, 2500), out);
    });
    // LwM2M registration update once a day (lifetime 24 h).
    const reg = every(start + r.int(0, DAY - 1), DAY, 60_000, r, (ts, out) => void dev.uplinkSession(ts, 180 + r.int(0, 40), 60 + r.int(0, 20), 500 + r.int(0, 1500), out));
    const procs: Process[] = [sample, report, reg];
    return procs;
  },
  spoofable: ['temperature_c', 'humidity_pct', 'level_pct'],
  stuckable: ['temperature_c', 'humidity_pct', 'level_pct', 'volume_m3'],
  duplicates: true,
  buffers: true,
};
