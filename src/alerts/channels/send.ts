/**
 * Alert channels: each takes the OCSF document and delivers it once, throwing on failure so the
 * delivery worker retries with backoff. Receivers dedupe on the alert id header / field.
 */
import { createHmac } from 'node:crypto';
import type { AlertRouteConfig } from '../../config/types.js';
import type { OcsfDetectionFinding } from '../ocsf.js';
import { postJson } from './http-post.js';
import { renderJson, renderSlack } from './render.js';
import { sendSyslog, syslogOptions } from './syslog.js';

export type Send = (alert: OcsfDetectionFinding) => Promise<void>;

/** Header carrying the signing time (Unix seconds); the signature covers it. */
const TIMESTAMP_HEADER = 'x-m2m-timestamp';
const SIGNATURE_HEADER = 'x-m2m-signature';

/**
 * HMAC-SHA256 over `<timestamp>.<body>` (as Stripe signs webhooks), as `t=<timestamp>,v1=<hex>`.
 * The timestamp is inside the MAC, so a receiver that refuses old timestamps (docs/security.md:
 * five minutes) cannot be fed a captured alert again later.
 */
export function signBody(body: string, secret: string, timestampS: number = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex');
  return `t=${timestampS},v1=${mac}`;
}

function webhook(o: Record<string, unknown>): Send {
  const url = String(o.url);
  const secret = o.secret ? String(o.secret) : undefined;
  const post = { timeoutMs: Number(o.timeout ?? 10_000), denyPrivate: o.deny_private === true };
  return async (a) => {
    const body = JSON.stringify(a);
    const headers: Record<string, string> = { 'x-m2m-alert-id': a.metadata.uid, 'user-agent': 'm2m-sentinel' };
    if (secret) {
      // Each attempt is signed afresh: a retry hours later must still pass the receiver's window.
      const t = Math.floor(Date.now() / 1000);
      headers[TIMESTAMP_HEADER] = String(t);
      headers[SIGNATURE_HEADER] = signBody(body, secret, t);
    }
    await postJson(url, body, headers, post);
  };
}

function slack(o: Record<string, unknown>): Send {
  const url = String(o.url);
  const post = { timeoutMs: Number(o.timeout ?? 10_000), denyPrivate: o.deny_private === true };
  return (a) => postJson(url, JSON.stringify(renderSlack(a)), {}, post);
}

function syslog(o: Record<string, unknown>): Send {
  const so = syslogOptions(o);
  return (a) => sendSyslog(so, a);
}

/**
 * One OCSF document per line (NDJSON), as documented: container log collectors and `jq` read it
 * as is. Logs go to stderr, so nothing else is interleaved on stdout. renderJson also escapes the
 * characters some line readers split on (U+2028/9, NEL), so a device cannot forge a second line.
 */
function stdout(): Send {
  return (a) =>
    new Promise<void>((resolve, reject) => {
      process.stdout.write(renderJson(a) + '\n', (e) => (e ? reject(e) : resolve()));
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
