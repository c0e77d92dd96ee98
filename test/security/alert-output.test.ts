/**
 * Attacks through the alert channels, each reproduced against the real renderer and transport:
 * a device id that forges a second syslog message, CEF headers and extensions broken by line
 * breaks, Slack mentions and disguised links, and forged lines on the stdout route.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { readFileSync } from 'node:fs';
import { renderCef, renderJson, renderLine, renderSlack } from '../../src/alerts/channels/render.js';
import { channelFor } from '../../src/alerts/channels/send.js';
import { isSingleLine } from '../../src/alerts/channels/escape.js';
import { alertFor, readFrames } from '../support/alerts.js';
import { makePki, type TestPki } from '../support/certs.js';

function collector(tls?: TestPki): Promise<{ server: Server; port: number; received: () => Buffer[] }> {
  const got: Buffer[] = [];
  const onConn = (s: Socket) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => got.push(Buffer.concat(parts)));
    s.on('error', () => undefined);
  };
  const server = tls ? createTlsServer({ key: readFileSync(tls.serverKey), cert: readFileSync(tls.serverCert) }, onConn) : createServer(onConn);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, received: () => got })));
}

// The forged record: what the receiver would read after a count that is short by the device id's extra bytes.
const FORGED = '<134>1 2026-01-01T00:00:00Z - m2m-sentinel - - - CEF:0|m2m-sentinel|m2m-sentinel|1|all_clear|All clear|1|msg=forged';

describe('syslog framing counts bytes', () => {
  it('a device id with multi-byte characters cannot forge a second message over TCP', async () => {
    const c = await collector();
    try {
      // Each "é" is 2 bytes and 1 UTF-16 unit: the old count was short by as many bytes as there are of them.
      const tail = ` ${Buffer.byteLength(FORGED)} ${FORGED}`;
      const id = 'é'.repeat(Buffer.byteLength(tail) + 40) + tail;
      const a = alertFor({ device_id: id, explanation: `${id} contacted 57 hosts` });
      await channelFor({ type: 'syslog', name: 's', options: { host: '127.0.0.1', port: c.port, protocol: 'tcp' } })!(a);
      await new Promise((r) => setTimeout(r, 50));
      const frames = readFrames(Buffer.concat(c.received()));
      expect(frames).toHaveLength(1);
      expect(frames[0]).toMatch(/^<163>1 .*CEF:0\|m2m-sentinel\|m2m-sentinel\|1\.0\.0\|fanout\|/);
      // The forged record is there only as (escaped) data inside the one real frame.
      expect(frames[0]!.endsWith(' contacted 57 hosts')).toBe(true);
    } finally {
      c.server.close();
    }
  });
});

describe('syslog over TLS (RFC 5425)', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makePki();
  });

  it('delivers one octet-counted frame to a collector whose certificate chains to the configured CA', async () => {
    const c = await collector(pki);
    try {
      await channelFor({ type: 'syslog', name: 's', options: { host: '127.0.0.1', port: c.port, protocol: 'tls', ca: pki.caPem, servername: 'localhost', timeout: 5_000 } })!(alertFor());
      await new Promise((r) => setTimeout(r, 50));
      expect(readFrames(Buffer.concat(c.received()))).toHaveLength(1);
    } finally {
      c.server.close();
    }
  });

  it('refuses a collector signed by another CA, and one whose certificate names another host', async () => {
    const c = await collector(pki);
    try {
      const send = (o: Record<string, unknown>) => channelFor({ type: 'syslog', name: 's', options: { host: '127.0.0.1', port: c.port, protocol: 'tls', timeout: 5_000, ...o } })!(alertFor());
      await expect(send({ ca: pki.otherCaPem, servername: 'localhost' })).rejects.toThrow(/certificate|self.signed|unable/i);
      await expect(send({ ca: pki.caPem, servername: 'siem.example.com' })).rejects.toThrow(/altnames|Hostname|does not match/i);
      // No CA given: the system's trust store does not know the throwaway CA.
      await expect(send({ servername: 'localhost' })).rejects.toThrow(/certificate|self.signed|unable/i);
    } finally {
      c.server.close();
    }
  });
});

/** Split a CEF record on unescaped pipes: 7 header fields and the extension. */
function cefParts(rec: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < rec.length; i++) {
    const ch = rec[i]!;
    if (ch === '\\' && parts.length < 7) {
      cur += ch + (rec[i + 1] ?? '');
      i++;
    } else if (ch === '|' && parts.length < 7) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** Extension keys as a CEF parser reads them: `key=` preceded by a space and not escaped. */
const cefKeys = (ext: string) => [...ext.matchAll(/(?:^| )([A-Za-z0-9_]+)=/g)].filter((m) => ext[m.index! + m[0].length - 2] !== '\\').map((m) => m[1]);

describe('CEF escaping', () => {
  it('keeps header and extension structure whatever the device sends (pipes, newlines, a bare CR, =)', () => {
    const evil = 'x|y\\|z\r\ncs2=forged\rcnt=999 act=blocked\u2028';
    const a = alertFor({ device_id: evil, device_class: evil, key: evil, explanation: `device ${evil} misbehaved` });
    const cef = renderCef(a);
    expect(isSingleLine(cef)).toBe(true);
    const parts = cefParts(cef);
    expect(parts).toHaveLength(8);
    expect(parts[4]).toBe('fanout');
    expect(cefKeys(parts[7]!)).toEqual(['rt', 'start', 'end', 'act', 'externalId', 'shost', 'cat', 'cs1Label', 'cs1', 'cs2Label', 'cs2', 'cs3Label', 'cs3', 'cs4Label', 'cs4', 'cs5Label', 'cs5', 'cs6Label', 'cs6', 'cn1Label', 'cn1', 'cnt', 'msg']);
    // The record holds CEF's own escapes for the line breaks, not raw ones.
    expect(cef).toContain('\\r\\ncs2\\=forged\\rcnt\\=999');
  });
});

describe('Slack mrkdwn escaping', () => {
  it('turns mentions and disguised links from device text into inert text', () => {
    const a = alertFor({ device_id: '<!channel> <@U0001>', device_class: '<!here>', explanation: 'see <https://evil.example/x|Click here to restore> & reset' });
    const msg = renderSlack(a);
    const json = JSON.stringify(msg);
    expect(json).not.toMatch(/<!channel>|<!here>|<@U0001>|<https:\/\/evil/);
    expect(json).toContain('&lt;!channel&gt;');
    expect(json).toContain('&amp; reset');
    const texts: Array<{ type: string; verbatim?: boolean }> = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (o.type === 'mrkdwn') texts.push(o as { type: string; verbatim?: boolean });
        Object.values(o).forEach(walk);
      }
    };
    walk(msg);
    expect(texts.length).toBeGreaterThan(5);
    expect(texts.every((t) => t.verbatim === true)).toBe(true);
  });
});

describe('line renderings (stdout route)', () => {
  it('a device cannot forge a second line in the text or the JSON rendering', () => {
    const a = alertFor({ device_id: 'cam-1\n[CRITICAL 99] plc-1 (plc) all_clear', device_class: 'x\u2028y\u2029z\r', explanation: 'a\u0085b\u001b[2Jc' });
    for (const out of [renderLine(a), renderJson(a)]) {
      expect(isSingleLine(out)).toBe(true);
      expect(out.split(/\r\n|\r|\n|\u2028|\u2029|\u0085/)).toHaveLength(1);
    }
    expect(renderLine(a)).toContain('cam-1\\x0a[CRITICAL 99]');
    expect(JSON.parse(renderJson(a)).device.uid).toBe(a.device.uid);
  });

  it('the stdout route itself writes one line per alert, whatever its format, with no raw line break or terminal escape', async () => {
    // Whichever rendering the route uses (text or NDJSON), what reaches the terminal or the log
    // collector is what counts: JSON.stringify alone leaves U+2028/U+2029 and NEL raw.
    const a = alertFor({ device_id: 'cam-1\u2028[CRITICAL 99] plc-1 all_clear\u0085\u001b]0;pwned\u0007', device_class: 'x\u2029y\u000bz\u000c\r', explanation: 'a\nb\u202ec' });
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((s: string | Uint8Array, a?: unknown, b?: unknown) => {
      out += String(s);
      const cb = typeof a === 'function' ? a : typeof b === 'function' ? b : undefined;
      (cb as (() => void) | undefined)?.();
      return true;
    }) as typeof process.stdout.write);
    try {
      await channelFor({ type: 'stdout', name: 'out', options: {} })!(a);
    } finally {
      spy.mockRestore();
    }
    expect(out.endsWith('\n')).toBe(true);
    expect(out.slice(0, -1).split(/\r\n|\r|\n|\u000b|\u000c|\u2028|\u2029|\u0085/)).toHaveLength(1);
    expect(out).not.toMatch(/[\u0000-\u0008\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(out).toContain('cam-1');
  });

  it('caps device-controlled lengths', () => {
    const a = alertFor({ device_id: 'd'.repeat(100_000), explanation: 'e'.repeat(100_000) });
    expect(renderLine(a).length).toBeLessThan(2_000);
    expect(renderCef(a).length).toBeLessThan(2_500);
    expect(JSON.stringify(renderSlack(a)).length).toBeLessThan(4_000);
  });
});

afterAll(() => undefined);

describe('syslog over TLS in configuration', () => {
  it('validate refuses plaintext to 6514 and TLS options without TLS, with file:line:col', async () => {
    const { loadPipelineText, formatConfigError } = await import('../../src/config/load.js');
    const text = ['name: p', 'source: { kafka: { topics: [t], group: g } }', 'detectors: [ { fanout: {} } ]', 'alerts:', '  routes:', '    - syslog: { host: siem, port: 6514, protocol: tcp, ca: /x.pem }', ''].join('\n');
    const r = loadPipelineText(text, 'p.yaml', {});
    const msgs = r.errors.map(formatConfigError);
    expect(msgs).toContainEqual(expect.stringMatching(/^p\.yaml:6:\d+: alerts\.routes\[0\]\.syslog\.port: port 6514 is syslog over TLS, but protocol is tcp/));
    expect(msgs).toContainEqual(expect.stringMatching(/^p\.yaml:6:\d+: alerts\.routes\[0\]\.syslog\.ca: ca applies to protocol: tls only/));
    const ok = loadPipelineText(text.replace('protocol: tcp', 'protocol: tls'), 'p.yaml', {});
    expect(ok.errors).toEqual([]);
    expect(ok.pipeline!.alerts.routes[0]!.options).toMatchObject({ protocol: 'tls', port: 6514, ca: '/x.pem' });
  });

  it('no shipped pipeline or doc example sends plaintext syslog to 6514', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { loadPipelines } = await import('../../src/config/load.js');
    const env = { SIEM_HOST: 'siem.example.com', OT_SLACK_WEBHOOK: 'https://hooks.example.com/x', SOC_WEBHOOK_URL: 'https://soc.example.com/h', SOC_WEBHOOK_SECRET: 's' };
    const { pipelines } = await loadPipelines(['pipelines/'], env);
    expect(pipelines.length).toBe(readdirSync('pipelines').filter((f) => f.endsWith('.yaml')).length);
    const syslogRoutes = pipelines.flatMap((p) => p.alerts.routes.filter((r) => r.type === 'syslog'));
    expect(syslogRoutes.length).toBeGreaterThan(0);
    for (const r of syslogRoutes) if (r.options.port === 6514 || r.options.port === undefined) expect(r.options.protocol).toBe('tls');
    for (const doc of ['README.md', 'docs/pipelines.md', 'docs/operations.md']) {
      const text = readFileSync(doc, 'utf8');
      expect(text).not.toMatch(/6514[^\n]*protocol:\s*(tcp|udp)|protocol:\s*(tcp|udp)[^\n]*6514/);
    }
  });
});
