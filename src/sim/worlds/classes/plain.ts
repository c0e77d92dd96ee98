/**
 * The plain simulator's five classes (src/sim/classes.ts), with the habits a world may vary:
 * what they send while idle, how often they report, and whether readings travel in batches.
 * Their models are unchanged; the habits are laid over them by the world's device hook.
 */
import { patientMonitor, plc, posTerminal, smartMeter, vehicle, dnsLookup } from '../../classes.js';
import { PLAN } from '../../net.js';
import { MINUTE, HOUR } from '../../time.js';
import { num, str } from '../params.js';
import type { ClassDef } from './types.js';

const meter: ClassDef = {
  cls: 'smart_meter',
  prefix: 'meter',
  net: PLAN.smart_meter.octet2,
  siteSize: [20, 120],
  firmware: { current: '4.2.1', next: '4.3.0', older: ['3.9.7', '4.0.2', '4.1.0'] },
  params: {
    report_every_min: { pick: [15, 15, 30, 60], why: 'meters record 15-minute intervals; many push each one, others hourly or half-hourly to save airtime' },
    batch_upload_min: { pick: [0, 0, 60, 240], why: 'AMI head ends often collect interval data in batches a few times a day (DLMS push schedules), so readings arrive up to hours after their timestamp' },
  },
  uplink: () => ({ ...PLAN.smart_meter.headEnd }),
  infra: { ntp: PLAN.smart_meter.ntp, dns: PLAN.smart_meter.dns },
  eventsPerDay: (p) => (1440 / num(p, 'report_every_min')) * (num(p, 'batch_upload_min') > 0 ? 1 : 2) + 42,
  model: (dev, start, end) => smartMeter(dev, start, end),
  keepEvery: (p) => num(p, 'report_every_min') / 15,
  batchMs: (p) => num(p, 'batch_upload_min') * MINUTE,
  spoofable: ['current_a', 'power_kw', 'voltage'],
  stuckable: ['voltage', 'temperature_c', 'current_a'],
  duplicates: true,
  buffers: true,
};

const car: ClassDef = {
  cls: 'vehicle',
  prefix: 'veh',
  net: 'cgnat',
  siteSize: [10, 50],
  firmware: { current: '2.8.4', next: '2.9.0', older: ['2.5.1', '2.6.0', '2.7.3'] },
  params: {
    parked: { pick: ['hourly', 'hourly', 'silent', 'wake'], why: 'telematics units either keep an hourly heartbeat when parked, sleep when the ignition is off to save the battery, or wake every few hours for a battery check' },
    wake_h: { log: [2, 12], why: 'periodic wake-ups of sleeping units are configured in hours' },
    seq_reset_on_wake: { pick: [false, false, true], why: 'most units keep their message counter across sleep; some restart it at every boot' },
  },
  uplink: () => ({ ...PLAN.vehicle.backend }),
  infra: { dns: PLAN.vehicle.dns },
  eventsPerDay: (p) => (str(p, 'parked') === 'hourly' ? 1400 : 1350),
  model: (dev, start, end) => vehicle(dev, start, end),
  idle: (p) => {
    const mode = str(p, 'parked');
    if (mode === 'hourly') return undefined;
    const seqResetOnWake = p.seq_reset_on_wake === true;
    return mode === 'silent' ? { mode: 'silent', seqResetOnWake } : { mode: 'heartbeat', everyMs: num(p, 'wake_h') * HOUR, seqResetOnWake };
  },
  spoofable: [],
  stuckable: [],
  duplicates: true,
  buffers: true,
};

const line: ClassDef = {
  cls: 'plc',
  prefix: 'plc',
  net: PLAN.plc.octet2,
  siteSize: [6, 20],
  firmware: { current: '3.1.7', next: '3.2.0', older: ['2.4.0', '3.0.2'] },
  params: {
    stopped: { pick: ['polled', 'polled', 'off'], why: 'SCADA keeps polling a stopped line, unless the machine cabinet is switched off between shifts and at weekends' },
  },
  uplink: (_p, _site, rng) => ({ ...(rng.chance(0.35) ? PLAN.plc.opcuaServer : PLAN.plc.modbusMaster) }),
  infra: { ntp: PLAN.plc.ntp },
  eventsPerDay: (p) => (str(p, 'stopped') === 'off' ? 2000 : 2900),
  model: (dev, start, end) => plc(dev, start, end),
  idle: (p) => (str(p, 'stopped') === 'off' ? { mode: 'silent', seqResetOnWake: true } : undefined),
  spoofable: ['temperature_c', 'pressure_bar', 'flow_m3h'],
  stuckable: ['temperature_c', 'pressure_bar', 'flow_m3h'],
  duplicates: false,
  buffers: false,
};

const monitor: ClassDef = {
  cls: 'patient_monitor',
  prefix: 'pmon',
  net: PLAN.patient_monitor.octet2,
  siteSize: [8, 24],
  firmware: { current: '1.12.0', next: '1.12.3', older: ['1.9.8', '1.10.2'] },
  params: {},
  uplink: () => ({ ...PLAN.patient_monitor.hl7 }),
  infra: { ntp: PLAN.patient_monitor.ntp, dns: PLAN.patient_monitor.dns },
  eventsPerDay: () => 1760,
  model: (dev, start, end) => patientMonitor(dev, start, end),
  spoofable: ['heart_rate', 'spo2', 'temp_c'],
  stuckable: ['heart_rate', 'temp_c', 'resp_rate'],
  duplicates: false,
  buffers: false,
};

const till: ClassDef = {
  cls: 'pos_terminal',
  prefix: 'pos',
  net: PLAN.pos_terminal.octet2,
  siteSize: [1, 6],
  firmware: { current: '7.4.2', next: '7.5.0', older: ['6.8.1', '7.1.0'] },
  params: {
    closed: { pick: ['awake', 'awake', 'off', 'hourly'], why: 'terminals stay on overnight, are powered down when the shop closes, or drop to an hourly health report in standby' },
    seq_reset_on_wake: { pick: [true, false], why: 'a terminal powered down at night restarts its counter at boot unless it persists it' },
  },
  uplink: () => ({ ...PLAN.pos_terminal.gateway }),
  infra: {},
  eventsPerDay: (p) => (str(p, 'closed') === 'awake' ? 520 : 330),
  model: (dev, start, end) => posTerminal(dev, start, end),
  idle: (p) => {
    const mode = str(p, 'closed');
    if (mode === 'awake') return undefined;
    const seqResetOnWake = p.seq_reset_on_wake === true;
    if (mode === 'hourly') return { mode: 'heartbeat', everyMs: HOUR, seqResetOnWake: false };
    return {
      mode: 'silent',
      seqResetOnWake,
      // A terminal that was off misses its nightly check-in and does it when it boots.
      onWake(dev, ts, out) {
        const router = `10.${PLAN.pos_terminal.octet2}.${dev.site}.1`;
        dnsLookup(dev, ts + 800, router, out);
        const s = PLAN.pos_terminal.tms;
        dev.connection(ts + 900, { dst_ip: s.ip, dst_port: s.port, protocol: s.protocol, app_protocol: s.app, bytes_out: 3_000 + dev.rng.int(0, 1_000), bytes_in: 6_000 + dev.rng.int(0, 3_000), duration_ms: 900 + dev.rng.int(0, 800), tls: true, auth: 'ok' }, out);
      },
    };
  },
  spoofable: [],
  stuckable: ['cpu_temp_c'],
  duplicates: false,
  buffers: false,
};

export const PLAIN_CLASSES: readonly ClassDef[] = [meter, car, line, monitor, till];
