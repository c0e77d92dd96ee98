/**
 * Large-volume infusion pumps on a hospital's clinical network, reporting to the pump server
 * (HTTPS). Operating modes switch both the metrics and the cadence: infusing, a status every
 * `status_s` with rate, volume and line pressure; in standby, a short status every few minutes,
 * or nothing at all when the pump is switched off on its dock between patients.
 */
import { every, ntp } from '../../classes.js';
import { round, type Process } from '../../device.js';
import { DAY, HOUR, MINUTE, localTime } from '../../time.js';
import type { SimEvent } from '../../types.js';
import { num, str } from '../params.js';
import type { ClassDef } from './types.js';

const SERVER = { ip: '10.30.0.20', port: 443, protocol: 'tcp', app: 'https', tls: true };
const NTP = '10.30.0.123';

interface Infusion {
  start: number;
  end: number;
  rate: number;
}

export const INFUSION_PUMP: ClassDef = {
  cls: 'infusion_pump',
  prefix: 'pump',
  net: 31,
  siteSize: [8, 40],
  firmware: { current: '12.1.2', next: '12.3.0', older: ['9.33.0', '11.4.1'] },
  params: {
    idle: { pick: ['standby', 'standby', 'off'], why: 'between infusions a pump stays on in standby, or is switched off on its dock' },
    status_s: { pick: [10, 30, 60], why: 'status interval while infusing' },
    standby_min: { pick: [5, 10, 15], why: 'status interval in standby' },
    infusions_per_day: { uniform: [1, 5], why: 'programs started per pump per day on a ward' },
  },
  uplink: () => ({ ...SERVER }),
  infra: { ntp: NTP },
  eventsPerDay: (p) => {
    const busyH = Math.min(20, num(p, 'infusions_per_day') * 2.5);
    const standby = str(p, 'idle') === 'off' ? 0 : ((24 - busyH) * 60) / num(p, 'standby_min');
    return ((2 * 3600) / num(p, 'status_s')) * busyH + 2 * standby + 24;
  },
  model(dev, start, _end, p) {
    const r = dev.rng;
    const statusMs = num(p, 'status_s') * 1000;
    const standbyMs = num(p, 'standby_min') * MINUTE;
    const off = str(p, 'idle') === 'off';
    const perDay = num(p, 'infusions_per_day');
    const p0 = r.uniform(30, 70); // line pressure at low rates, mmHg
    dev.telemetryEveryMs = standbyMs;
    dev.noise = { rate_ml_h: 2, pressure_mmhg: 4, battery_pct: 0.2 };
    dev.active = false;
    let battery = 100;
    let infusions: Infusion[] = [];
    let plannedUntil = start;
    let volume = 0;
    let cur: Infusion | undefined;

    function plan(ts: number): Infusion | undefined {
      while (plannedUntil < ts + DAY) {
        // Starts follow ward rounds: more by day than at night.
        let t = plannedUntil + r.exp(DAY / perDay);
        const lt = localTime(dev.zone, t);
        if (lt.hour < 6 && r.chance(0.6)) t += (6 - lt.hour) * HOUR;
        const dur = r.logUniform(0.3, 12) * HOUR;
        const last = infusions[infusions.length - 1];
        if (!last || t > last.end + 5 * MINUTE) infusions.push({ start: t, end: t + dur, rate: round(r.logUniform(2, 250), 1) });
        plannedUntil = t;
      }
      infusions = infusions.filter((i) => i.end > ts);
      const i = infusions[0];
      return i && i.start <= ts ? i : undefined;
    }
    const report = (ts: number, m: Record<string, number>, out: SimEvent[], bytes: number): void => {
      dev.telemetry(ts, m, out);
      dev.uplinkSession(ts + 50 + r.int(0, 200), bytes + r.int(0, 200), 200 + r.int(0, 80), 40 + r.int(0, 200), out);
    };

    // One clock at the fast cadence; in standby it reports only every standby interval.
    let lastStandby = Number.NEGATIVE_INFINITY;
    const tick = every(start + r.int(0, statusMs - 1), statusMs, 400, r, (ts, out) => {
      const inf = plan(ts);
      if (inf !== cur) {
        cur = inf;
        volume = 0;
        dev.active = inf !== undefined;
        // A pump switched off on its dock boots for the next patient with its counter at 0.
        if (inf && off) dev.seq = 0;
        lastStandby = Number.NEGATIVE_INFINITY;
      }
      if (inf) {
        volume += (inf.rate * statusMs) / HOUR;
        // On battery while the patient moves, now and then.
        battery = r.chance(0.002) ? battery : Math.min(100, battery + 0.05);
        report(ts, { rate_ml_h: inf.rate, volume_ml: round(volume, 1), pressure_mmhg: Math.round(p0 + 0.25 * inf.rate + r.normal(0, 4)), battery_pct: Math.round(battery) }, out, 900);
        return;
      }
      if (off || ts - lastStandby < standbyMs - 1000) return;
      lastStandby = ts;
      report(ts, { battery_pct: Math.round(battery) }, out, 350);
    });
    const procs: Process[] = [tick];
    // A pump that is switched off does not poll NTP either; the world's idle habit is the model's own here.
    if (!off) procs.push(ntp(dev, NTP, start));
    // Drug library sync once a day.
    procs.push(every(start + r.int(0, DAY - 1), DAY, 5 * MINUTE, r, (ts, out) => void (dev.active || !off ? dev.uplinkSession(ts, 1_500 + r.int(0, 500), 40_000 + r.int(0, 20_000), 800 + r.int(0, 1200), out) : false)));
    return procs;
  },
  spoofable: ['rate_ml_h', 'pressure_mmhg'],
  stuckable: ['pressure_mmhg'],
  duplicates: false,
  buffers: false,
};
