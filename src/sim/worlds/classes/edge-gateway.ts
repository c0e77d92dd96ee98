/**
 * Industrial edge gateways (embedded Linux boxes that poll field sensors and publish to a cloud
 * MQTT endpoint). Two habits of real ones matter here: a cloud endpoint served from several
 * addresses (a reconnect may land on any of them), and time from the public NTP pool, whose
 * servers are whatever pool.ntp.org resolves to that day.
 */
import { dnsLookup, every } from '../../classes.js';
import { round, type Process } from '../../device.js';
import { publicIp } from '../../net.js';
import { DAY, HOUR, localTime } from '../../time.js';
import { num, str } from '../params.js';
import type { ClassDef } from './types.js';

const ENDPOINTS = ['203.0.113.90', '203.0.113.91', '203.0.113.92', '203.0.113.93'];
const SITE_NTP = '10.80.0.123';
const SITE_DNS = '10.80.0.53';
const PUBLIC_DNS = '8.8.8.8';
const METRICS = ['tank_level_pct', 'pump_current_a', 'line_pressure_bar', 'ambient_temp_c', 'motor_temp_c', 'flow_lpm', 'vibration_mm_s', 'humidity_pct'];

export const EDGE_GATEWAY: ClassDef = {
  cls: 'edge_gateway',
  prefix: 'gw',
  net: 80,
  siteSize: [1, 4],
  firmware: { current: '3.4.0', next: '3.5.1', older: ['2.9.7', '3.2.2'] },
  params: {
    every_s: { pick: [10, 30, 60], why: 'publish interval of aggregated readings' },
    metrics: { int: [3, 8], why: 'readings per message: the field sensors on the gateway' },
    ntp: { pick: ['site', 'pool', 'pool'], why: 'chrony/ntpd on embedded Linux defaults to pool.ntp.org; some sites run their own server' },
    dns: { pick: ['site', 'public'], why: 'site resolver, or a public one hard-coded by the integrator' },
    endpoint_ips: { int: [1, 4], why: 'cloud MQTT endpoints are served from several addresses' },
    reconnect_h: { log: [1, 24], why: 'MQTT sessions are re-established after keep-alive failures or token refresh' },
  },
  uplink: () => ({ ip: ENDPOINTS[0]!, port: 8883, protocol: 'tcp', app: 'mqtt', tls: true }),
  endpoints: ENDPOINTS,
  infra: { ntp: SITE_NTP, dns: SITE_DNS },
  eventsPerDay: (p) => (2 * 86_400) / num(p, 'every_s') + 30 + 24 / num(p, 'reconnect_h'),
  model(dev, start, _end, p) {
    const r = dev.rng;
    const everyMs = num(p, 'every_s') * 1000;
    const names = METRICS.slice(0, num(p, 'metrics'));
    const dns = str(p, 'dns') === 'public' ? PUBLIC_DNS : SITE_DNS;
    const nEp = num(p, 'endpoint_ips');
    dev.telemetryEveryMs = everyMs;
    dev.noise = { tank_level_pct: 0.4, pump_current_a: 0.3, line_pressure_bar: 0.05, ambient_temp_c: 0.3, motor_temp_c: 0.4, flow_lpm: 2, vibration_mm_s: 0.15, humidity_pct: 1.2 };
    dev.spoofable = names;
    dev.stuckable = names;
    // A pump on the site cycles on and off; the other readings follow it or the weather.
    const onMin = r.uniform(10, 60);
    const offMin = r.uniform(10, 90);
    const nominalA = r.uniform(4, 30);
    let level = r.uniform(30, 80);
    let motorT = 25;
    const reading = (ts: number): Record<string, number> => {
      const lt = localTime(dev.zone, ts);
      const on = ((ts - start) / 60_000) % (onMin + offMin) < onMin;
      const amb = 15 + 8 * Math.sin(((lt.hour - 9) / 24) * 2 * Math.PI);
      level = Math.max(2, Math.min(98, level + (on ? 0.06 : -0.03) * (everyMs / 60_000)));
      motorT += ((on ? amb + 35 : amb) - motorT) * 0.05;
      const all: Record<string, number> = {
        tank_level_pct: round(level + r.normal(0, 0.4), 1),
        pump_current_a: round(on ? nominalA + r.normal(0, 0.3) : 0, 2),
        line_pressure_bar: round(on ? 4.2 + r.normal(0, 0.05) : 0.4 + r.normal(0, 0.05), 2),
        ambient_temp_c: round(amb + r.normal(0, 0.3), 1),
        motor_temp_c: round(motorT + r.normal(0, 0.4), 1),
        flow_lpm: round(on ? 120 + r.normal(0, 2) : 0, 1),
        vibration_mm_s: round(on ? 2.1 + Math.abs(r.normal(0, 0.15)) : 0.05, 2),
        humidity_pct: round(60 - 15 * Math.sin(((lt.hour - 9) / 24) * 2 * Math.PI) + r.normal(0, 1.2), 1),
      };
      const m: Record<string, number> = {};
      for (const k of names) m[k] = all[k]!;
      return m;
    };

    let endpoint = ENDPOINTS[0]!;
    let nextReconnect = start;
    const publish = every(start + r.int(0, everyMs - 1), everyMs, 300, r, (ts, out) => {
      if (ts >= nextReconnect) {
        dnsLookup(dev, ts, dns, out);
        endpoint = ENDPOINTS[r.int(0, nEp - 1)]!;
        dev.uplink = { ...dev.uplink, ip: endpoint };
        nextReconnect = ts + r.exp(num(p, 'reconnect_h') * HOUR);
      }
      dev.telemetry(ts, reading(ts), out);
      dev.uplinkSession(ts + 30 + r.int(0, 150), 260 + 24 * names.length + r.int(0, 40), 4 + r.int(0, 4), 20 + r.int(0, 80), out);
    });
    const procs: Process[] = [publish];
    if (str(p, 'ntp') === 'pool') {
      // pool.ntp.org hands out four servers; chrony keeps them until it re-resolves (daily-ish).
      let servers = [publicIp(r), publicIp(r), publicIp(r), publicIp(r)];
      let resolveAt = start + r.exp(DAY);
      procs.push(
        every(start + r.int(0, 1023_000), 1024_000, 20_000, r, (ts, out) => {
          if (ts >= resolveAt) {
            dnsLookup(dev, ts - 500, dns, out);
            servers = [publicIp(r), publicIp(r), publicIp(r), publicIp(r)];
            resolveAt = ts + r.exp(DAY);
          }
          dev.connection(ts, { dst_ip: r.pick(servers), dst_port: 123, protocol: 'udp', app_protocol: 'ntp', bytes_out: 76, bytes_in: 76, duration_ms: 15 + r.int(0, 60) }, out);
        }),
      );
    } else {
      procs.push(every(start + r.int(0, 1023_000), 1024_000, 20_000, r, (ts, out) => void dev.connection(ts, { dst_ip: SITE_NTP, dst_port: 123, protocol: 'udp', app_protocol: 'ntp', bytes_out: 76, bytes_in: 76, duration_ms: 2 + r.int(0, 10) }, out)));
    }
    return procs;
  },
  spoofable: METRICS,
  stuckable: METRICS,
  duplicates: true,
  buffers: true,
};
