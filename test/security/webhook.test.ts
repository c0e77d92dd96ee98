/**
 * The webhook as a receiver sees it: a signature over timestamp and body that a replayed capture
 * fails, redirects never followed (the body and signature would go elsewhere), and internal
 * targets refused when deny_private is set — checked on the address connected to.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { channelFor, signBody } from '../../src/alerts/channels/send.js';
import { alertFor } from '../support/alerts.js';

interface Hit {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

function server(handler: (h: Hit, res: import('node:http').ServerResponse) => void): Promise<{ s: Server; url: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const h = { path: req.url ?? '', headers: req.headers, body };
      hits.push(h);
      handler(h, res);
    });
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r({ s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, hits })));
}

/** The verification docs/security.md prescribes, written as a receiver would. */
function verify(h: Hit, secret: string, nowS: number, toleranceS = 300): boolean {
  const sig = String(h.headers['x-m2m-signature'] ?? '');
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
  if (!m || m[1] !== String(h.headers['x-m2m-timestamp'])) return false;
  const t = Number(m[1]);
  if (Math.abs(nowS - t) > toleranceS) return false;
  const want = createHmac('sha256', secret).update(`${t}.${h.body}`).digest();
  const got = Buffer.from(m[2]!, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

let soc: Awaited<ReturnType<typeof server>>;
let elsewhere: Awaited<ReturnType<typeof server>>;
beforeAll(async () => {
  elsewhere = await server((_h, res) => res.writeHead(204).end());
  soc = await server((h, res) => {
    if (h.path === '/moved') res.writeHead(307, { location: `${elsewhere.url}/stolen` }).end();
    else res.writeHead(204).end();
  });
});
afterAll(() => {
  soc.s.close();
  elsewhere.s.close();
});

describe('webhook signature', () => {
  it('signs "<timestamp>.<body>": a fresh delivery verifies, the same capture replayed later does not', async () => {
    const a = alertFor();
    await channelFor({ type: 'webhook', name: 'w', options: { url: `${soc.url}/hook`, secret: 's3cret' } })!(a);
    const h = soc.hits.at(-1)!;
    const now = Math.floor(Date.now() / 1000);
    expect(verify(h, 's3cret', now)).toBe(true);
    expect(verify(h, 'other', now)).toBe(false);
    // A replay an hour later (same body, same headers) falls outside the window.
    expect(verify(h, 's3cret', now + 3600)).toBe(false);
    // Moving the timestamp into the window breaks the MAC: it covers the timestamp.
    const moved = { ...h, headers: { ...h.headers, 'x-m2m-timestamp': String(now + 3600), 'x-m2m-signature': String(h.headers['x-m2m-signature']).replace(/^t=\d+/, `t=${now + 3600}`) } };
    expect(verify(moved, 's3cret', now + 3600)).toBe(false);
    expect(signBody('{}', 'k', 1700000000)).toBe(`t=1700000000,v1=${createHmac('sha256', 'k').update('1700000000.{}').digest('hex')}`);
  });
});

describe('webhook transport', () => {
  it('never follows a redirect: the delivery fails and nothing reaches the other host', async () => {
    const before = elsewhere.hits.length;
    await expect(channelFor({ type: 'webhook', name: 'w', options: { url: `${soc.url}/moved`, secret: 's3cret' } })!(alertFor())).rejects.toThrow(/307.*redirects are not followed/);
    expect(elsewhere.hits.length).toBe(before);
  });

  it('with deny_private, refuses loopback by address and by a name that resolves to it', async () => {
    const port = new URL(soc.url).port;
    const n = soc.hits.length;
    const send = (url: string) => channelFor({ type: 'webhook', name: 'w', options: { url, deny_private: true } })!(alertFor());
    await expect(send(`http://127.0.0.1:${port}/hook`)).rejects.toThrow(/internal address/);
    await expect(send(`http://localhost:${port}/hook`)).rejects.toThrow(/internal address/);
    await expect(send(`http://[::ffff:127.0.0.1]:${port}/hook`)).rejects.toThrow(/internal address/);
    await expect(channelFor({ type: 'slack', name: 's', options: { url: `http://169.254.169.254:${port}/x`, deny_private: true } })!(alertFor())).rejects.toThrow(/internal address/);
    expect(soc.hits.length).toBe(n);
    // Without the option the same (internal) target is a normal delivery.
    await channelFor({ type: 'webhook', name: 'w', options: { url: `http://localhost:${port}/hook` } })!(alertFor());
    expect(soc.hits.length).toBe(n + 1);
  });
});
