/**
 * CCTV cameras: a continuous RTSP stream pulled by the site's video recorder, seen by the network
 * sensor as one flow record per export interval (NetFlow active timeout), with a bitrate that
 * follows scene activity; a health report every 5 minutes; and, on many models, a keep-alive to
 * the vendor's P2P cloud every few seconds to minutes, from the first day on.
 */
import { every, ntp } from '../../classes.js';
import { round, type Process } from '../../device.js';
import { HOUR, MINUTE, localTime } from '../../time.js';
import { num, str } from '../params.js';
import type { ClassDef } from './types.js';

const NVR = { ip: '10.70.0.10', port: 554, protocol: 'tcp', app: 'rtsp', tls: false };
const NTP = '10.70.0.123';
/** The vendor cloud answers on a handful of addresses; every camera of the fleet uses them. */
const VENDOR_CLOUD = ['198.51.100.21', '198.51.100.22', '198.51.100.45'];

export const IP_CAMERA: ClassDef = {
  cls: 'ip_camera',
  prefix: 'cam',
  net: 70,
  siteSize: [4, 40],
  firmware: { current: '5.7.3', next: '5.7.10', older: ['5.4.1', '5.5.0'] },
  params: {
    bitrate_mbps: { log: [0.5, 8], why: 'H.264/H.265 main streams from 720p to 4K' },
    flow_export_s: { pick: [60, 300], why: 'NetFlow/IPFIX active timeout of the site switch' },
    cloud_every_s: { pick: [0, 0, 30, 60, 300], why: 'vendor P2P cloud keep-alive, or none where the firewall blocks it' },
    scene: { pick: ['indoor', 'outdoor', 'parking'], why: 'when the scene is busy (motion raises the bitrate)' },
  },
  uplink: () => ({ ...NVR }),
  infra: { ntp: NTP },
  eventsPerDay: (p) => 86_400 / num(p, 'flow_export_s') + 288 + (num(p, 'cloud_every_s') > 0 ? 86_400 / num(p, 'cloud_every_s') : 0) + 24,
  model(dev, start, _end, p) {
    const r = dev.rng;
    const exportMs = num(p, 'flow_export_s') * 1000;
    const mbps = num(p, 'bitrate_mbps');
    const scene = str(p, 'scene');
    const cloudMs = num(p, 'cloud_every_s') * 1000;
    dev.telemetryEveryMs = 5 * MINUTE;
    dev.noise = { cpu_temp_c: 0.6, bitrate_kbps: mbps * 60, fps: 0.3 };
    const activity = (ts: number): number => {
      const lt = localTime(dev.zone, ts);
      const weekend = lt.dow === 0 || lt.dow === 6;
      if (scene === 'indoor') return weekend ? 0.1 : Math.max(0, Math.min(1, (lt.hour - 7) / 2)) * Math.max(0, Math.min(1, (19 - lt.hour) / 2));
      if (scene === 'parking') return 0.3 * Math.exp(-((lt.hour - 8) ** 2) / 2) + 0.3 * Math.exp(-((lt.hour - 17.5) ** 2) / 2);
      return 0.4 + 0.4 * Math.sin(((lt.hour - 9) / 24) * 2 * Math.PI);
    };
    const rate = (ts: number): number => mbps * (0.55 + 0.6 * activity(ts)) * Math.exp(r.normal(0, 0.08));
    const flows = every(start + r.int(0, exportMs - 1), exportMs, 200, r, (ts, out) => {
      const bytes = (rate(ts) * 1e6 * (exportMs / 1000)) / 8;
      dev.connection(ts, { dst_ip: NVR.ip, dst_port: NVR.port, protocol: 'tcp', app_protocol: 'rtsp', bytes_out: bytes, bytes_in: bytes * 0.002, duration_ms: exportMs, tls: false, auth: 'ok' }, out);
    });
    const health = every(start + r.int(0, 5 * MINUTE - 1), 5 * MINUTE, 1000, r, (ts, out) => {
      const lt = localTime(dev.zone, ts);
      dev.telemetry(ts, { cpu_temp_c: round(48 + 4 * Math.sin(((lt.hour - 10) / 24) * 2 * Math.PI) + 6 * activity(ts) + r.normal(0, 0.6), 1), bitrate_kbps: Math.round(rate(ts) * 1000), fps: Math.round(25 + r.normal(0, 0.3)) }, out);
    });
    const procs: Process[] = [flows, health, ntp(dev, NTP, start)];
    if (cloudMs > 0) {
      let host = r.pick(VENDOR_CLOUD);
      procs.push(
        every(start + r.int(0, cloudMs - 1), cloudMs, Math.round(cloudMs * 0.05), r, (ts, out) => {
          // The P2P client re-resolves its relay now and then and may land on another address.
          if (r.chance(0.002)) host = r.pick(VENDOR_CLOUD);
          dev.connection(ts, { dst_ip: host, dst_port: 443, protocol: 'udp', app_protocol: 'p2p', bytes_out: 90 + r.int(0, 30), bytes_in: 70 + r.int(0, 20), duration_ms: 30 + r.int(0, 200) }, out);
        }),
      );
      // Firmware/cloud time check once an hour, as the vendor SDKs do.
      procs.push(every(start + r.int(0, HOUR - 1), HOUR, 5000, r, (ts, out) => void dev.connection(ts, { dst_ip: VENDOR_CLOUD[0]!, dst_port: 443, protocol: 'tcp', app_protocol: 'https', bytes_out: 700 + r.int(0, 200), bytes_in: 1_400 + r.int(0, 400), duration_ms: 300 + r.int(0, 400), tls: true, auth: 'ok' }, out)));
    }
    return procs;
  },
  spoofable: [],
  stuckable: ['cpu_temp_c'],
  duplicates: false,
  buffers: false,
};
