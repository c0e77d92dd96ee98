/**
 * The one HTTP POST of the alert channels (webhook, Slack). Built on node:http(s) rather than
 * fetch for two guarantees fetch does not give cheaply:
 * - redirects are never followed: a 3xx is a failed delivery. Following one re-POSTs the body
 *   and its signature to wherever the receiver (or whoever took over its DNS) points;
 * - with `denyPrivate`, the address actually connected to is checked, after DNS resolution, in
 *   the socket's own lookup, so a name that resolves to 127.0.0.1, 10.x or 169.254.169.254 (a
 *   cloud metadata service) is refused even if it resolved elsewhere a moment before
 *   (DNS rebinding).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

class DeliveryRefused extends Error {}

export interface PostOptions {
  timeoutMs: number;
  /** Refuse loopback, private, link-local, CGNAT and multicast targets. */
  denyPrivate?: boolean;
}

/** Responses are read only to free the socket; a receiver cannot make us buffer more than this. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Where an alert must not go with deny_private. BlockList also matches IPv4-mapped IPv6 forms
 * (::ffff:127.0.0.1, ::ffff:7f00:1) against the IPv4 rules, which hand-written prefix checks miss.
 */
const INTERNAL = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) {
  INTERNAL.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [['::', 127], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) INTERNAL.addSubnet(net, bits, 'ipv6');

function isInternalAddress(ip: string): boolean {
  const v = isIP(ip);
  return v !== 0 && INTERNAL.check(ip, v === 6 ? 'ipv6' : 'ipv4');
}

function checkedLookup(host: string): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return (callback as (e: NodeJS.ErrnoException | null, a: LookupAddress[] | string, f?: number) => void)(err, [] as LookupAddress[]);
      const list = addresses as LookupAddress[];
      const bad = list.find((a) => isInternalAddress(a.address));
      if (bad) {
        const e = new DeliveryRefused(`refused: ${host} resolves to internal address ${bad.address} (deny_private is set)`);
        return (callback as (e: Error, a: string, f: number) => void)(e, '', 4);
      }
      if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0]!;
      (callback as (e: null, a: string, f: number) => void)(null, first.address, first.family);
    });
  };
}

/** POST `body`; resolves on a 2xx, rejects with a short reason otherwise (the outbox retries). */
export function postJson(url: string, body: string, headers: Record<string, string>, o: PostOptions): Promise<void> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new DeliveryRefused(`refused: ${u.protocol} is not http or https`));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (o.denyPrivate && isInternalAddress(host)) return Promise.reject(new DeliveryRefused(`refused: ${host} is an internal address (deny_private is set)`));
  const opts: RequestOptions = {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
    timeout: o.timeoutMs,
  };
  if (o.denyPrivate) opts.lookup = checkedLookup(host);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<void>((resolve, reject) => {
    const req = request(u, opts, (res) => {
      let got = 0;
      res.on('data', (d: Buffer) => {
        got += d.length;
        if (got > MAX_RESPONSE_BYTES) res.destroy();
      });
      res.on('close', () => {
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 300) resolve();
        else if (code >= 300 && code < 400) reject(new DeliveryRefused(`HTTP ${code} from ${u.host}: redirects are not followed (the body and its signature would go elsewhere); configure the final URL`));
        else reject(new Error(`HTTP ${code} from ${u.host}`));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${o.timeoutMs} ms posting to ${u.host}`)));
    req.on('error', reject);
    req.end(body);
  });
}
