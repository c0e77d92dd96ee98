/**
 * The simulated fleet's network plan. Documented in fixtures/README.md so pipeline authors can
 * write segmentation policy (allowed networks per device class) against it.
 */
import type { Rng } from './prng.js';

export interface Service {
  ip: string;
  port: number;
  protocol: 'tcp' | 'udp';
  app: string;
  tls: boolean;
}

/** Per class: where devices live and the services they normally use. */
export const PLAN = {
  smart_meter: {
    /** 10.10.<site>.<host> */
    octet2: 10,
    headEnd: { ip: '10.1.0.10', port: 8883, protocol: 'tcp', app: 'mqtt', tls: true } as Service,
    profileUpload: { ip: '10.1.0.11', port: 443, protocol: 'tcp', app: 'https', tls: true } as Service,
    ntp: '10.1.0.123',
    dns: '10.1.0.53',
  },
  vehicle: {
    /** Cellular CGNAT 100.64.0.0/10; the address changes with the data session. */
    backend: { ip: '203.0.113.10', port: 8883, protocol: 'tcp', app: 'mqtt', tls: true } as Service,
    dns: '100.64.0.2',
  },
  plc: {
    /** 10.20.<cell>.<host>; 10.20.0.0/24 holds the SCADA/HMI servers. */
    octet2: 20,
    modbusMaster: { ip: '10.20.0.1', port: 502, protocol: 'tcp', app: 'modbus', tls: false } as Service,
    opcuaServer: { ip: '10.20.0.2', port: 4840, protocol: 'tcp', app: 'opcua', tls: true } as Service,
    ntp: '10.20.0.123',
  },
  patient_monitor: {
    /** 10.30.<ward>.<host> */
    octet2: 30,
    hl7: { ip: '10.30.0.10', port: 2575, protocol: 'tcp', app: 'hl7', tls: true } as Service,
    ntp: '10.30.0.123',
    dns: '10.30.0.53',
  },
  pos_terminal: {
    /** 10.40.<store>.<host>; the store router .1 answers DNS and NTP. */
    octet2: 40,
    gateway: { ip: '203.0.113.50', port: 443, protocol: 'tcp', app: 'https', tls: true } as Service,
    tms: { ip: '203.0.113.60', port: 443, protocol: 'tcp', app: 'https', tls: true } as Service,
  },
} as const;

function isReserved(a: number, b: number): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a >= 224 ||
    (a === 100 && b >= 64 && b < 128) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19 || b === 51)) ||
    (a === 203 && b === 0)
  );
}

/** A routable public IPv4 address (attack targets, C2 servers, drop sites). */
export function publicIp(rng: Rng): string {
  for (;;) {
    const a = rng.int(1, 223);
    const b = rng.int(0, 255);
    if (isReserved(a, b)) continue;
    return `${a}.${b}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
  }
}

export function cgnatIp(rng: Rng): string {
  return `100.${rng.int(64, 127)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}
