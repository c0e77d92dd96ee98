/**
 * EV charging stations speaking OCPP 1.6J over a TLS WebSocket to a charging-station management
 * system (CSMS). Their reporting rhythm switches with activity, which is the point: while a car
 * charges, MeterValues every `sample_s`; while idle, only clock-aligned readings (if configured)
 * and OCPP Heartbeats. When cars come depends on the site (workplace, public, depot, home).
 */
import { every } from '../../classes.js';
import { round, type Process } from '../../device.js';
import type { Rng } from '../../prng.js';
import { DAY, HOUR, MINUTE, localTime } from '../../time.js';
import type { SimEvent } from '../../types.js';
import { num, str } from '../params.js';
import type { ClassDef } from './types.js';

const CSMS = { ip: '203.0.113.70', port: 443, protocol: 'tcp', app: 'ocpp-wss', tls: true };

interface Session {
  start: number;
  end: number;
  needKwh: number;
}

/** Plug-in sessions for one local day, by site type. */
function planDay(site: string, dayStartUtc: number, dow: number, r: Rng): Session[] {
  const at = (h: number, dwellH: number): Session => ({ start: dayStartUtc + h * HOUR, end: dayStartUtc + (h + dwellH) * HOUR, needKwh: r.uniform(5, 55) });
  const weekend = dow === 0 || dow === 6;
  if (site === 'workplace') return weekend || r.chance(0.15) ? [] : [at(r.normal(8.5, 0.8), r.uniform(3, 9))];
  if (site === 'depot') return dow === 0 ? [] : [at(r.uniform(16.5, 20), r.uniform(9, 13))];
  if (site === 'residential') return r.chance(0.3) ? [] : [at(r.uniform(17, 21.5), r.uniform(9, 14))];
  // public: a few short stays through the day
  const out: Session[] = [];
  let h = r.uniform(7, 10);
  while (h < 21) {
    const dwell = r.uniform(0.3, 2);
    out.push(at(h, dwell));
    h += dwell + r.exp(weekend ? 2.5 : 1.8);
  }
  return out;
}

export const EV_CHARGER: ClassDef = {
  cls: 'ev_charger',
  prefix: 'evse',
  net: 50,
  siteSize: [2, 24],
  firmware: { current: '1.8.3', next: '1.9.0', older: ['1.6.2', '1.7.5'] },
  params: {
    site: { pick: ['workplace', 'public', 'depot', 'residential'], why: 'when cars plug in and how long they stay depends on the site' },
    aligned_min: { pick: [0, 15, 15, 30, 60], why: 'OCPP ClockAlignedDataInterval: meter readings at fixed clock times while idle (0 = not configured, the charger only heartbeats)' },
    heartbeat_min: { pick: [5, 15, 30, 60], why: 'OCPP HeartbeatInterval set by the CSMS at boot; 5 min to an hour in practice' },
    sample_s: { pick: [30, 60, 60, 120, 300], why: 'OCPP MeterValueSampleInterval during a transaction' },
    dc: { pick: [false, false, true], why: 'AC wallboxes (11–22 kW) are the majority, DC fast chargers (50–150 kW) the rest' },
  },
  uplink: () => ({ ...CSMS }),
  infra: {},
  eventsPerDay: (p) => {
    const aligned = num(p, 'aligned_min');
    const chargingH = { workplace: 4.5, public: 5, depot: 9, residential: 8 }[str(p, 'site')] ?? 6;
    return (aligned > 0 ? (2 * 1440) / aligned : 0) + 1440 / num(p, 'heartbeat_min') + ((2 * 3600) / num(p, 'sample_s')) * chargingH + 6;
  },
  model(dev, start, _end, p) {
    const r = dev.rng;
    const site = str(p, 'site');
    const dc = p.dc === true;
    const maxKw = dc ? r.pick([50, 150]) : r.pick([11, 22]);
    const sampleMs = num(p, 'sample_s') * 1000;
    const alignedMs = num(p, 'aligned_min') * MINUTE;
    let energy = round(r.uniform(500, 30_000), 1);
    const vNom = dc ? r.uniform(380, 420) : r.uniform(228, 234);
    const tempBias = r.uniform(-2, 4);
    dev.telemetryEveryMs = alignedMs > 0 ? alignedMs : sampleMs;
    dev.noise = { power_kw: 0.1, current_a: 0.5, voltage: 1.5, connector_temp_c: 0.4 };
    dev.active = false;

    let sessions: Session[] = [];
    let plannedUntil = start - DAY;
    let cur: Session | undefined;
    let delivered = 0;
    const ambient = (ts: number): number => 12 + 6 * Math.sin(((localTime(dev.zone, ts).hour - 9) / 24) * 2 * Math.PI);
    const send = (ts: number, metrics: Record<string, number>, out: SimEvent[], bytes: number): void => {
      dev.telemetry(ts, metrics, out);
      dev.uplinkSession(ts + 80 + r.int(0, 200), bytes + r.int(0, 120), 120 + r.int(0, 40), 40 + r.int(0, 150), out);
    };
    function sessionAt(ts: number): Session | undefined {
      while (plannedUntil <= ts + DAY) {
        const lt = localTime(dev.zone, plannedUntil + 2 * HOUR);
        sessions.push(...planDay(site, lt.dayStartUtc, lt.dow, r).filter((s) => s.start >= plannedUntil && s.start > (sessions[sessions.length - 1]?.end ?? 0)));
        plannedUntil = lt.dayStartUtc + DAY;
      }
      sessions = sessions.filter((s) => s.end > ts);
      const s = sessions[0];
      return s && s.start <= ts ? s : undefined;
    }

    // MeterValues during a transaction (checked every sample interval).
    const sampler = every(start + r.int(0, sampleMs - 1), sampleMs, 300, r, (ts, out) => {
      const s = sessionAt(ts);
      if (s !== cur) {
        // StartTransaction / StopTransaction and StatusNotification travel over the same socket.
        dev.uplinkSession(ts, 420 + r.int(0, 80), 180 + r.int(0, 40), 60 + r.int(0, 120), out);
        cur = s;
        delivered = 0;
        dev.active = s !== undefined;
      }
      if (!s) return;
      const left = s.needKwh - delivered;
      // Constant power, then a taper as the battery fills, then nothing (suspended by the car).
      const kw = left <= 0 ? 0 : Math.min(maxKw * r.uniform(0.93, 1), Math.max(1.2, (left / s.needKwh) * maxKw * 4)) * (dc ? r.uniform(0.6, 1) : 1);
      const used = (kw * sampleMs) / HOUR;
      delivered += used;
      energy += used;
      const v = vNom + r.normal(0, 1.5);
      const m: Record<string, number> = {
        power_kw: round(kw, 2),
        current_a: round((kw * 1000) / (v * (dc ? 1 : 1.732)), 1),
        voltage: round(v, 1),
        energy_kwh: round(energy, 2),
        connector_temp_c: round(ambient(ts) + tempBias + 0.35 * kw * (dc ? 0.2 : 1) + r.normal(0, 0.4), 1),
      };
      if (dc) m.soc_pct = Math.min(100, Math.round(20 + (80 * delivered) / s.needKwh));
      send(ts, m, out, 520);
    });
    const procs: Process[] = [sampler];

    // Clock-aligned readings while idle.
    if (alignedMs > 0) {
      const first = Math.ceil(start / alignedMs) * alignedMs + r.int(0, 3000);
      procs.push(
        every(first, alignedMs, 800, r, (ts, out) => {
          if (cur) return;
          send(ts, { energy_kwh: round(energy, 2), voltage: round(vNom + r.normal(0, 1.5), 1), connector_temp_c: round(ambient(ts) + tempBias + r.normal(0, 0.4), 1) }, out, 300);
        }),
      );
    }
    // OCPP Heartbeat: a tiny exchange on the socket whatever the charger is doing.
    const hb = num(p, 'heartbeat_min') * MINUTE;
    procs.push(every(start + r.int(0, hb - 1), hb, 2000, r, (ts, out) => void dev.uplinkSession(ts, 90 + r.int(0, 10), 110 + r.int(0, 10), 20 + r.int(0, 60), out)));
    return procs;
  },
  spoofable: ['power_kw', 'current_a', 'connector_temp_c'],
  stuckable: ['connector_temp_c', 'voltage'],
  duplicates: true,
  buffers: true,
};
