/**
 * Syslog transports for CEF alerts: UDP (RFC 5426), TCP with octet counting (RFC 6587) and TLS
 * (RFC 5425, the standard's port 6514), where the collector's certificate is checked against
 * the configured CA (or the system's) and its name against `servername` (default: the host).
 * Framing counts bytes (escape.ts octetFrame), so no message can carry a second one.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { OcsfDetectionFinding } from '../ocsf.js';
import { octetFrame } from './escape.js';
import { renderCef } from './render.js';

export type SyslogProtocol = 'udp' | 'tcp' | 'tls';

export interface SyslogOptions {
  host: string;
  port: number;
  protocol: SyslogProtocol;
  /** TLS: PEM file of the CA(s) that signed the collector's certificate; default: the system's. */
  ca?: string;
  /** TLS: the name the collector's certificate must carry; default: host. */
  servername?: string;
  /** TLS client authentication (mutual TLS): PEM certificate and key files. */
  cert?: string;
  key?: string;
  timeoutMs: number;
}

const SYSLOG_TLS_PORT = 6514;

export function syslogOptions(o: Record<string, unknown>): SyslogOptions {
  const protocol = String(o.protocol ?? 'udp') as SyslogProtocol;
  const s: SyslogOptions = {
    host: String(o.host ?? '127.0.0.1'),
    port: Number(o.port ?? (protocol === 'tls' ? SYSLOG_TLS_PORT : 514)),
    protocol,
    timeoutMs: Number(o.timeout ?? 10_000),
  };
  for (const k of ['ca', 'servername', 'cert', 'key'] as const) if (typeof o[k] === 'string' && o[k] !== '') s[k] = o[k] as string;
  return s;
}

/** RFC 5424 header, facility local4 (20), severity from OCSF; the message is the CEF record. */
export function syslogLine(a: OcsfDetectionFinding): string {
  const sev = [6, 6, 5, 4, 3, 2][a.severity_id] ?? 5;
  const t = new Date(a.time);
  const ts = Number.isFinite(t.getTime()) ? t.toISOString() : '-';
  return `<${20 * 8 + sev}>1 ${ts} - m2m-sentinel - - - ${renderCef(a)}`;
}

function streamSend(s: Socket, frame: Buffer, timeoutMs: number, ready: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    s.setTimeout(timeoutMs, () => s.destroy(new Error('syslog timeout')));
    s.once('error', reject);
    s.once(ready, () => s.end(frame, () => resolve()));
  });
}

export function sendSyslog(o: SyslogOptions, a: OcsfDetectionFinding): Promise<void> {
  const line = syslogLine(a);
  if (o.protocol === 'tcp') return streamSend(netConnect({ host: o.host, port: o.port }), octetFrame(line), o.timeoutMs, 'connect');
  if (o.protocol === 'tls') {
    const servername = o.servername ?? (isIP(o.host) ? undefined : o.host);
    const s = tlsConnect({
      host: o.host,
      port: o.port,
      ...(servername ? { servername } : {}),
      ...(o.ca ? { ca: readFileSync(o.ca) } : {}),
      ...(o.cert ? { cert: readFileSync(o.cert) } : {}),
      ...(o.key ? { key: readFileSync(o.key) } : {}),
      rejectUnauthorized: true,
      // Node checks the certificate's names against servername, or host when it is an address.
      minVersion: 'TLSv1.2',
    });
    return streamSend(s, octetFrame(line), o.timeoutMs, 'secureConnect');
  }
  return new Promise<void>((resolve, reject) => {
    const s = createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
    s.send(Buffer.from(line, 'utf8'), o.port, o.host, (err) => {
      s.close();
      if (err) reject(err);
      else resolve();
    });
  });
}
