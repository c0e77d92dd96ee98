/**
 * Normal life of each device class: its reporting rhythm, its readings (with daily and weekly
 * seasonality, noise and slow drift) and its ordinary connections. Incidents and benign changes
 * are layered on top elsewhere; nothing here is anomalous on purpose.
 */
import { SimDevice, round, type Process } from './device.js';
import { PLAN, cgnatIp } from './net.js';
import type { Rng } from './prng.js';
import { DAY, HOUR, MINUTE, localTime } from './time.js';
import type { SimEvent } from './types.js';

const SECOND = 1000;

function bump(h: number, mu: number, sd: number): number {
  const d = h - mu;
  return Math.exp(-(d * d) / (2 * sd * sd));
}

/** Smooth 0..1 step between hours a and b (ramps of `w` hours), for opening hours and shifts. */
function window01(h: number, a: number, b: number, w = 0.5): number {
  const up = 1 / (1 + Math.exp(-(h - a) / (w / 4)));
  const down = 1 / (1 + Math.exp((h - b) / (w / 4)));
  return up * down;
}

/** Periodic process with a fixed phase and small timing jitter (the device's own clock). */
export function every(
  first: number,
  periodMs: number,
  jitterMs: number,
  rng: Rng,
  fn: (ts: number, out: SimEvent[]) => void,
): Process {
  let slot = first;
  const p: Process = {
    next: first,
    step(out) {
      fn(p.next, out);
      slot += periodMs;
      p.next = slot + (jitterMs > 0 ? Math.floor(rng.next() * jitterMs) : 0);
    },
  };
  return p;
}

/** Poisson-ish background process (DNS lookups, NTP polls with random phase). */
function poissonProc(start: number, meanMs: number, rng: Rng, fn: (ts: number, out: SimEvent[]) => void): Process {
  const p: Process = {
    next: start + Math.floor(rng.exp(meanMs)),
    step(out) {
      fn(p.next, out);
      p.next += Math.max(SECOND, Math.floor(rng.exp(meanMs)));
    },
  };
  return p;
}

export function ntp(dev: SimDevice, server: string, start: number): Process {
  // Embedded SNTP clients poll hourly; each device has its own phase.
  const first = start + Math.floor(dev.rng.next() * HOUR);
  return every(first, HOUR, 200, dev.rng, (ts, out) => {
    dev.connection(
      ts,
      { dst_ip: server, dst_port: 123, protocol: 'udp', app_protocol: 'ntp', bytes_out: 76, bytes_in: 76, duration_ms: 3 + dev.rng.int(0, 30) },
      out,
    );
  });
}

export function dnsLookup(dev: SimDevice, ts: number, server: string, out: SimEvent[]): void {
  dev.connection(
    ts,
    {
      dst_ip: server,
      dst_port: 53,
      protocol: 'udp',
      app_protocol: 'dns',
      bytes_out: 60 + dev.rng.int(0, 20),
      bytes_in: 90 + dev.rng.int(0, 60),
      duration_ms: 2 + dev.rng.int(0, 40),
    },
    out,
  );
}

// ---------------------------------------------------------------------------------------------
// Smart meters: 15-minute interval readings (IEC 62056 style), pushed over MQTT/TLS to the head
// end; a nightly load-profile upload; NTP; DNS before TLS sessions.

export function smartMeter(dev: SimDevice, start: number, _end: number): Process[] {
  const r = dev.rng;
  const plan = PLAN.smart_meter;
  const commercial = r.chance(0.2);
  const scale = r.logUniform(0.6, 2.5) * (commercial ? 3 : 1);
  const morning = r.uniform(6.3, 8.0);
  const evening = r.uniform(18.0, 20.5);
  const pf = r.uniform(0.9, 0.98);
  const driftPerDay = r.normal(0, 0.15); // enclosure temperature drift (ageing, sun exposure)
  const tempBias = r.uniform(-3, 3);
  const vNominal = r.uniform(228, 234);
  let energy = round(r.uniform(1_000, 40_000), 2);
  dev.telemetryEveryMs = 15 * MINUTE;
  dev.noise = { voltage: 0.7, current_a: 0.15 * scale * 2, power_kw: 0.12 * scale, temperature_c: 0.3 };
  const offset = r.int(0, 40) * SECOND; // meters read at :00/:15... plus their own clock skew

  function loadKw(h: number, dow: number): number {
    const weekend = dow === 0 || dow === 6;
    if (commercial) {
      const open = weekend ? (dow === 6 ? 0.35 * window01(h, 9, 14, 1) : 0) : window01(h, 7.5, 18.5, 1);
      return 0.25 + 1.6 * open * (1 + 0.15 * bump(h, 12.5, 1.5));
    }
    const m = weekend ? morning + 1.8 : morning;
    return 0.22 + 0.55 * bump(h, m, 0.9) + (weekend ? 0.45 : 0.15) * bump(h, 13, 2.2) + 1.0 * bump(h, evening, 1.6);
  }

  const firstSlot = Math.ceil(start / (15 * MINUTE)) * 15 * MINUTE + offset;
  const reading = every(firstSlot, 15 * MINUTE, 3 * SECOND, r, (ts, out) => {
    const lt = localTime(dev.zone, ts);
    const kw = Math.max(0.02, scale * loadKw(lt.hour, lt.dow) * Math.exp(r.normal(0, 0.12)));
    // Feeder voltage sags in the evening peak.
    const voltage = vNominal - 2.2 * bump(lt.hour, 19.5, 2) + r.normal(0, 0.7);
    const current = (kw * 1000) / (voltage * pf);
    energy += kw * 0.25;
    const days = (ts - start) / DAY;
    const ambient = 11 + 5 * Math.sin(((lt.hour - 9) / 24) * 2 * Math.PI);
    const temp = ambient + tempBias + 1.5 * (kw / scale) + driftPerDay * days + r.normal(0, 0.3);
    dev.telemetry(
      ts,
      {
        voltage: round(voltage, 1),
        current_a: round(current, 2),
        power_kw: round(kw, 3),
        energy_kwh: round(energy, 2),
        temperature_c: round(temp, 1),
      },
      out,
    );
    const t2 = ts + 150 + r.int(0, 400);
    dev.uplinkSession(t2, 380 + r.int(0, 120), 90 + r.int(0, 30), 60 + r.int(0, 180), out);
  });

  // Nightly load-profile upload between 02:00 and 04:00 local.
  const profileHour = r.uniform(2, 4);
  const profile: Process = {
    next: 0,
    step(out) {
      const ts = profile.next;
      dnsLookup(dev, ts, plan.dns, out);
      const s = plan.profileUpload;
      dev.connection(
        ts + 30 + r.int(0, 50),
        { dst_ip: s.ip, dst_port: s.port, protocol: s.protocol, app_protocol: s.app, bytes_out: 18_000 + r.int(0, 6_000), bytes_in: 2_500 + r.int(0, 500), duration_ms: 800 + r.int(0, 1500), tls: true, auth: 'ok' },
        out,
      );
      profile.next = nextLocal(dev, ts + HOUR, profileHour, r);
    },
  };
  profile.next = nextLocal(dev, start, profileHour, r);

  const dns = poissonProc(start, 90 * MINUTE, r, (ts, out) => dnsLookup(dev, ts, plan.dns, out));
  return [reading, profile, dns, ntp(dev, plan.ntp, start)];
}

/** Next instant at local wall-clock hour `h` after `ts` (with a few minutes of jitter). */
function nextLocal(dev: SimDevice, ts: number, h: number, r: Rng): number {
  const lt = localTime(dev.zone, ts);
  let t = lt.dayStartUtc + h * HOUR + r.int(0, 300) * SECOND;
  if (t <= ts) {
    const lt2 = localTime(dev.zone, lt.dayStartUtc + DAY + 2 * HOUR);
    t = lt2.dayStartUtc + h * HOUR + r.int(0, 300) * SECOND;
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Vehicle telematics: a 10 s stream during trips, hourly heartbeats when parked. Commuter cars
// drive twice a day on weekdays; delivery vans make many short trips during working hours.

interface Trip {
  start: number;
  end: number;
}

export function vehicle(dev: SimDevice, start: number, _end: number): Process[] {
  const r = dev.rng;
  const plan = PLAN.vehicle;
  const van = r.chance(0.4);
  const commuteOut = r.uniform(6.5, 8.5);
  const commuteBack = r.uniform(16, 18.5);
  const commuteMin = r.uniform(15, 50);
  dev.telemetryEveryMs = 10 * SECOND;
  dev.noise = { speed_kmh: 8, rpm: 250, coolant_temp_c: 1.5, fuel_pct: 0.3, battery_v: 0.08 };
  let fuel = r.uniform(30, 95);
  let speed = 0;
  let coolant = 15;
  let batteryRest = r.uniform(12.45, 12.75);

  function planDay(dayStartUtc: number, dow: number): Trip[] {
    const trips: Trip[] = [];
    const at = (h: number, mins: number): void => {
      const s = dayStartUtc + h * HOUR;
      trips.push({ start: s, end: s + Math.max(5, mins) * MINUTE });
    };
    const weekend = dow === 0 || dow === 6;
    if (van) {
      if (dow === 0) return trips;
      let h = r.uniform(7, 8.5);
      const stopH = weekend ? 13 : r.uniform(16, 18);
      while (h < stopH) {
        const mins = r.uniform(10, 45);
        at(h, mins);
        h += mins / 60 + r.uniform(0.2, 1.2);
      }
    } else if (weekend) {
      const n = r.int(0, 2);
      for (let i = 0; i < n; i++) at(r.uniform(9 + i * 4, 12 + i * 4), r.uniform(10, 60));
    } else {
      at(commuteOut + r.normal(0, 0.25), commuteMin * r.uniform(0.85, 1.3));
      if (r.chance(0.25)) at(r.uniform(12, 13.5), r.uniform(10, 30));
      at(commuteBack + r.normal(0, 0.4), commuteMin * r.uniform(0.9, 1.5));
    }
    trips.sort((a, b) => a.start - b.start);
    // Overlapping plans merge into one longer trip.
    const merged: Trip[] = [];
    for (const t of trips) {
      const last = merged[merged.length - 1];
      if (last && t.start <= last.end + MINUTE) last.end = Math.max(last.end, t.end);
      else merged.push({ ...t });
    }
    return merged;
  }

  dev.active = false; // parked until the first trip
  let trips: Trip[] = [];
  let plannedUntil = start;
  let tripIdx = 0;
  let inTrip = false;
  let sample = 0;
  let nextHeartbeat = start + r.int(0, 59) * MINUTE;

  function ensurePlanned(ts: number): void {
    while (plannedUntil <= ts + DAY) {
      const lt = localTime(dev.zone, plannedUntil + HOUR);
      const day = planDay(lt.dayStartUtc, lt.dow).filter((t) => t.start >= plannedUntil);
      trips.push(...day);
      plannedUntil = lt.dayStartUtc + DAY;
    }
    while (tripIdx > 0 && trips.length > 64) {
      trips.shift();
      tripIdx--;
    }
  }

  const proc: Process = {
    next: start,
    step(out) {
      const ts = proc.next;
      ensurePlanned(ts);
      while (tripIdx < trips.length && trips[tripIdx]!.end <= ts) tripIdx++;
      const trip = trips[tripIdx];
      if (trip && ts >= trip.start) {
        if (!inTrip) {
          inTrip = true;
          dev.active = true;
          sample = 0;
          // A new data session often comes with a new carrier-assigned address.
          if (r.chance(0.5)) dev.ip = cgnatIp(r);
          if (fuel < 15) fuel = r.uniform(85, 98);
          dnsLookup(dev, ts, plan.dns, out);
          dev.uplinkSession(ts + 40 + r.int(0, 60), 900 + r.int(0, 300), 4_200 + r.int(0, 600), 250 + r.int(0, 400), out);
        }
        const highway = bump((ts - trip.start) / (trip.end - trip.start), 0.5, 0.2);
        const target = 35 + 70 * highway;
        speed = Math.max(0, Math.min(140, speed + 0.25 * (target - speed) + r.normal(0, 6)));
        if (r.chance(0.06)) speed = Math.max(0, speed * r.uniform(0, 0.3)); // lights, junctions
        const rpm = speed < 2 ? 750 + r.normal(0, 30) : 900 + speed * 22 + r.normal(0, 120);
        coolant += (90 - coolant) * 0.035 + r.normal(0, 0.3);
        fuel = Math.max(0, fuel - speed * 0.00012 - 0.0008);
        dev.telemetry(
          ts,
          {
            speed_kmh: round(speed, 1),
            rpm: Math.round(rpm),
            coolant_temp_c: round(coolant, 1),
            fuel_pct: round(fuel, 1),
            battery_v: round(14.1 + r.normal(0, 0.08), 2),
          },
          out,
        );
        if (++sample % 6 === 0) dev.uplinkSession(ts + 200 + r.int(0, 300), 650 + r.int(0, 200), 120 + r.int(0, 40), 90 + r.int(0, 200), out);
        proc.next = ts + 10 * SECOND + r.int(0, 250);
        return;
      }
      if (inTrip) {
        inTrip = false;
        dev.active = false;
        speed = 0;
        nextHeartbeat = ts + HOUR;
      }
      if (ts >= nextHeartbeat) {
        const lt = localTime(dev.zone, ts);
        coolant += (8 + 6 * Math.sin(((lt.hour - 9) / 24) * 2 * Math.PI) - coolant) * 0.5;
        batteryRest -= 0.0008;
        dev.telemetry(ts, { battery_v: round(batteryRest + r.normal(0, 0.03), 2), coolant_temp_c: round(coolant, 1) }, out);
        dev.uplinkSession(ts + 300 + r.int(0, 300), 420 + r.int(0, 80), 110 + r.int(0, 30), 200 + r.int(0, 300), out);
        nextHeartbeat = ts + HOUR + r.int(-20, 20) * SECOND;
      }
      const nt = trips[tripIdx];
      proc.next = nt && nt.start < nextHeartbeat ? Math.max(ts + 1, nt.start) : nextHeartbeat;
    },
  };
  return [proc];
}

// ---------------------------------------------------------------------------------------------
// PLCs: polled on a strict 60 s cycle by the SCADA master (Modbus/TCP) or the OPC UA server;
// process values follow the plant's shift pattern (two shifts on weekdays, a short Saturday, or
// a continuous process that never stops).

export function plc(dev: SimDevice, start: number, _end: number): Process[] {
  const r = dev.rng;
  const plan = PLAN.plc;
  const opcua = dev.uplink.port === plan.opcuaServer.port;
  const continuous = dev.site % 4 === 0;
  const rpmNominal = r.pick([1450, 1480, 2900, 960]);
  const tempNominal = r.uniform(55, 80);
  const pressureNominal = r.uniform(3, 8);
  const flowNominal = r.uniform(20, 120);
  const replyBytes = opcua ? 520 + r.int(0, 200) : 180 + r.int(0, 80);
  const driftPerDay = r.normal(0, 0.02); // pressure transmitter drift, bar/day
  dev.telemetryEveryMs = MINUTE;
  dev.noise = { motor_rpm: 4, temperature_c: 0.4, pressure_bar: 0.03, flow_m3h: flowNominal * 0.02, cycle_time_ms: 0.3 };
  let level = 0; // production level 0..1, lags the schedule (ramp up/down)
  let temp = tempNominal - 30;

  function scheduled(ts: number): number {
    if (continuous) return 1;
    const lt = localTime(dev.zone, ts);
    if (lt.dow === 0) return 0;
    if (lt.dow === 6) return lt.hour >= 6 && lt.hour < 14 ? 1 : 0;
    return lt.hour >= 6 && lt.hour < 22 ? 1 : 0;
  }

  const phase = r.int(0, 59_999);
  const first = Math.ceil(start / MINUTE) * MINUTE + phase;
  const poll = every(first, MINUTE, 50, r, (ts, out) => {
    const u = dev.uplink;
    dev.connection(
      ts,
      { dst_ip: u.ip, dst_port: u.port, protocol: 'tcp', app_protocol: u.app, bytes_out: replyBytes + r.int(0, 8), bytes_in: opcua ? 180 : 12, duration_ms: 4 + r.int(0, 25), tls: u.tls, auth: opcua ? 'ok' : 'none' },
      out,
    );
  });

  const telemetry = every(first + 500, MINUTE, 40, r, (ts, out) => {
    const target = dev.stopped(ts) ? 0 : scheduled(ts);
    level += (target - level) * 0.15;
    if (Math.abs(level - target) < 0.01) level = target;
    dev.active = target > 0 || level > 0;
    temp += (tempNominal * (0.55 + 0.45 * level) - temp) * 0.05 + r.normal(0, 0.4);
    const days = (ts - start) / DAY;
    dev.telemetry(
      ts,
      {
        motor_rpm: Math.round(level > 0.02 ? rpmNominal * level + r.normal(0, 4) : 0),
        temperature_c: round(temp, 2),
        pressure_bar: round(Math.max(0, 1 + (pressureNominal - 1) * level + driftPerDay * days + r.normal(0, 0.03)), 3),
        flow_m3h: round(Math.max(0, flowNominal * level * (1 + r.normal(0, 0.02))), 2),
        cycle_time_ms: round(10 + 2.5 * level + r.normal(0, 0.3), 2),
      },
      out,
    );
  });
  return [poll, telemetry, ntp(dev, plan.ntp, start)];
}

// ---------------------------------------------------------------------------------------------
// Patient monitors: vitals every minute (blood pressure every 15 min), batched HL7 ORU messages
// over MLLP/TLS every 5 minutes to the interface engine; circadian rhythm in heart rate.

export function patientMonitor(dev: SimDevice, start: number, _end: number): Process[] {
  const r = dev.rng;
  const plan = PLAN.patient_monitor;
  const hr0 = r.uniform(62, 92);
  const spo20 = r.uniform(94, 99);
  const rr0 = r.uniform(12, 20);
  const t0 = r.uniform(36.4, 37.4);
  const sys0 = r.uniform(105, 145);
  dev.telemetryEveryMs = MINUTE;
  dev.noise = { heart_rate: 3, spo2: 0.6, resp_rate: 1.2, temp_c: 0.1, nibp_sys: 6 };
  let n = 0;
  const first = Math.ceil(start / MINUTE) * MINUTE + r.int(0, 59) * SECOND;
  const vitals = every(first, MINUTE, 200, r, (ts, out) => {
    const lt = localTime(dev.zone, ts);
    const night = bump(lt.hour, 3.5, 2.5);
    const m: Record<string, number> = {
      heart_rate: Math.round(hr0 - 8 * night + r.normal(0, 3)),
      spo2: Math.min(100, Math.round(spo20 + r.normal(0, 0.6))),
      resp_rate: Math.round(rr0 - 1.5 * night + r.normal(0, 1.2)),
      temp_c: round(t0 - 0.3 * night + r.normal(0, 0.1), 1),
    };
    if (n++ % 15 === 0) m.nibp_sys = Math.round(sys0 - 10 * night + r.normal(0, 6));
    dev.telemetry(ts, m, out);
  });
  const hl7 = every(first + 20 * SECOND, 5 * MINUTE, 2 * SECOND, r, (ts, out) => {
    dev.uplinkSession(ts, 1_800 + r.int(0, 900), 140 + r.int(0, 40), 30 + r.int(0, 120), out);
  });
  const dns = poissonProc(start, 2 * HOUR, r, (ts, out) => dnsLookup(dev, ts, plan.dns, out));
  return [vitals, hl7, dns, ntp(dev, plan.ntp, start)];
}

// ---------------------------------------------------------------------------------------------
// POS terminals: card transactions (TLS to the payment gateway) as a Poisson process following
// the store's opening hours with lunch and after-work peaks; 5-minute health telemetry around the
// clock; a nightly check-in with the terminal management system.

export function posTerminal(dev: SimDevice, start: number, _end: number): Process[] {
  const r = dev.rng;
  const plan = PLAN.pos_terminal;
  const router = `10.${plan.octet2}.${dev.site}.1`;
  const peak = r.logUniform(8, 40); // transactions per hour at the busiest time
  const long = r.chance(0.3);
  const sundayOpen = r.chance(0.4);
  dev.telemetryEveryMs = 5 * MINUTE;
  dev.noise = { txn_count: 1.5, cpu_temp_c: 0.8, mem_used_pct: 1 };
  let txnSince = 0;
  let mem = r.uniform(35, 45);

  function rate(ts: number): number {
    const lt = localTime(dev.zone, ts);
    const h = lt.hour;
    let open: number;
    if (lt.dow === 0) open = sundayOpen ? window01(h, 10, 18, 0.2) : 0;
    else open = long ? window01(h, 7, 22, 0.2) : window01(h, 8, 20, 0.2);
    const shape = 0.35 + 0.65 * bump(h, 12.5, 1.2) + 0.8 * bump(h, 17.8, 1.5);
    const sat = lt.dow === 6 ? 1.3 : 1;
    return (peak * open * Math.min(1, shape) * sat) / HOUR;
  }
  const maxRate = (peak * 1.3) / HOUR;

  const txn: Process = {
    next: start + Math.floor(r.exp(1 / maxRate)),
    step(out) {
      const ts = txn.next;
      if (r.next() < rate(ts) / maxRate) {
        const g = plan.gateway;
        const auth = r.chance(0.0015) ? 'failed' : 'ok';
        if (dev.connection(ts, { dst_ip: g.ip, dst_port: g.port, protocol: g.protocol, app_protocol: g.app, bytes_out: 1_300 + r.int(0, 1_100), bytes_in: 900 + r.int(0, 600), duration_ms: 300 + r.int(0, 1_200), tls: true, auth }, out)) {
          txnSince++;
        }
      }
      txn.next = ts + Math.max(SECOND, Math.floor(r.exp(1 / maxRate)));
    },
  };

  const first = Math.ceil(start / (5 * MINUTE)) * 5 * MINUTE + r.int(0, 299) * SECOND;
  const health = every(first, 5 * MINUTE, SECOND, r, (ts, out) => {
    const lt = localTime(dev.zone, ts);
    // Open (or about to open / just closed): staff are at the till.
    dev.active = rate(ts) > 0.01 * maxRate || rate(ts + 30 * MINUTE) > 0.01 * maxRate;
    mem = lt.hour >= 3 && lt.hour < 3.09 ? r.uniform(35, 45) : Math.min(92, mem + r.uniform(0, 0.12));
    dev.telemetry(
      ts,
      {
        txn_count: txnSince,
        cpu_temp_c: round(41 + 0.35 * txnSince + 3 * Math.sin(((lt.hour - 10) / 24) * 2 * Math.PI) + r.normal(0, 0.8), 1),
        mem_used_pct: round(mem, 1),
      },
      out,
    );
    txnSince = 0;
  });

  const tmsHour = r.uniform(1, 4);
  const tms: Process = {
    next: nextLocal(dev, start, tmsHour, r),
    step(out) {
      const ts = tms.next;
      dnsLookup(dev, ts, router, out);
      const s = plan.tms;
      dev.connection(ts + 40, { dst_ip: s.ip, dst_port: s.port, protocol: s.protocol, app_protocol: s.app, bytes_out: 3_000 + r.int(0, 1_000), bytes_in: 6_000 + r.int(0, 3_000), duration_ms: 900 + r.int(0, 800), tls: true, auth: 'ok' }, out);
      tms.next = nextLocal(dev, ts + HOUR, tmsHour, r);
    },
  };
  const dns = poissonProc(start, 60 * MINUTE, r, (ts, out) => dnsLookup(dev, ts, router, out));
  return [txn, health, tms, dns, ntp(dev, router, start)];
}
