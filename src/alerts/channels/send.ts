/**
 * Alert channels: each takes the OCSF document and delivers it once, throwing on failure so the
 * delivery worker retries with backoff. Receivers dedupe on the alert id header / field.
 */
import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { AlertRouteConfig } from '../../config/types.js';
import type { OcsfDetectionFinding } from '../ocsf.js';
import { renderCef, renderSlack } from './render.js';

export type Send = (alert: OcsfDetectionFinding) => Promise<void>;

export function signBody(body: string, secret: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${new URL(url).host}`);
  await res.arrayBuffer();
}

function webhook(o: Record<string, unknown>): Send {
  const url = String(o.url);
  const secret = o.secret ? String(o.secret) : undefined;
  const timeout = Number(o.timeout ?? 10_000);
  return async (a) => {
    const body = JSON.stringify(a);
    const headers: Record<string, string> = { 'x-m2m-alert-id': a.metadata.uid, 'user-agent': 'm2m-sentinel' };
    if (secret) headers['x-m2m-signature'] = signBody(body, secret);
    await post(url, body, headers, timeout);
  };
}

function slack(o: Record<string, unknown>): Send {
  const url = String(o.url);
  return (a) => post(url, JSON.stringify(renderSlack(a)), {}, Number(o.timeout ?? 10_000));
}

function syslog(o: Record<string, unknown>): Send {
  const host = String(o.host ?? '127.0.0.1');
  const port = Number(o.port ?? 514);
  const proto = String(o.protocol ?? 'udp');
  return (a) => {
    // RFC 5424 header, facility local4 (20), severity mapped from OCSF.
    const sev = [6, 6, 5, 4, 3, 2][a.severity_id] ?? 5;
    const line = `<${20 * 8 + sev}>1 ${new Date(a.time).toISOString()} - m2m-sentinel - - - ${renderCef(a)}`;
    if (proto === 'tcp') {
      return new Promise<void>((resolve, reject) => {
        const s = connect({ host, port }, () => s.end(`${line.length} ${line}`, () => resolve()));
        s.setTimeout(10_000, () => s.destroy(new Error('syslog tcp timeout')));
        s.on('error', reject);
      });
    }
    return new Promise<void>((resolve, reject) => {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.send(line, port, host, (err) => {
        s.close();
        if (err) reject(err);
        else resolve();
      });
    });
  };
}

/**
 * One OCSF document per line (NDJSON), as documented: container log collectors and `jq` read it
 * as is. Logs go to stderr, so nothing else is interleaved on stdout.
 */
function stdout(): Send {
  return (a) =>
    new Promise<void>((resolve, reject) => {
      process.stdout.write(JSON.stringify(a) + '\n', (e) => (e ? reject(e) : resolve()));
    });
}

export function channelFor(r: AlertRouteConfig): Send | null {
  switch (r.type) {
    case 'webhook':
      return webhook(r.options);
    case 'slack':
      return slack(r.options);
    case 'syslog':
      return syslog(r.options);
    case 'stdout':
      return stdout();
    case 'kafka':
      // The Kafka route is the outbox topic itself; nothing further to deliver.
      return null;
  }
}
