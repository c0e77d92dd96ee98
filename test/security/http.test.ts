/**
 * The HTTP API under attack, against the real server and the embedded ClickHouse engine: no
 * token, a wrong one, guessing, a role too low, bad parameters (limit=-1 used to echo
 * ClickHouse's error text), oversized and slow requests, floods, and the bind address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { startHttp } from '../../src/server/http.js';
import { loadAccessFile, parseAccess, type Access } from '../../src/server/access.js';
import { formatConfigError } from '../../src/config/errors.js';
import { openClickHouse, type ClickHouseHandle } from '../../src/storage/clickhouse.js';
import { migrate } from '../../src/storage/migrations.js';
import { insertFindings } from '../../src/storage/findings.js';
import { finalize } from '../../src/pipeline/engine.js';
import { tempDir } from '../support/kafka.js';

const VIEWER = 'v'.repeat(8) + '0123456789abcdef0123456789';
const ADMIN = 'a'.repeat(8) + 'fedcba9876543210fedcba9876';
let ch: ClickHouseHandle;
let server: Server;
let base = '';
let access: Access;

const get = (path: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(base + path, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

beforeAll(async () => {
  const dir = tempDir('m2m-http');
  ch = openClickHouse({ dataDir: join(dir, 'ch') });
  await migrate(ch.client, { database: 'm2m', table: 'findings', ttlDays: 30 });
  const now = Date.now();
  await insertFindings(ch.client, 'm2m', 'findings', [1, 2].map((v) => finalize('p', {
    detector: 'fanout', key: 'dst', device_id: 'cam-1', device_class: 'camera', first_ts: now - 3_600_000, last_ts: now - 3_600_000 + v, count: v,
    score: 0.7, severity: 'high', observed: 1, expected: 1, explanation: 'x', evidence: {}, mitre: [],
  })));
  const file = join(dir, 'access.yaml');
  writeFileSync(file, 'tokens:\n  - { name: grafana, role: viewer, token_env: T_VIEW }\n  - { name: ops, role: admin, token_env: T_ADMIN }\n');
  const a = loadAccessFile(file, { T_VIEW: VIEWER, T_ADMIN: ADMIN });
  expect(a.errors).toEqual([]);
  access = a.access!;
  server = await startHttp({ port: 0, access, findings: { client: ch.client, database: 'm2m', table: 'findings' }, ratePerSecond: 50 });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await ch.client.close();
});

describe('binding', () => {
  it('listens on 127.0.0.1 unless told otherwise', () => {
    expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
  });
});

describe('authentication', () => {
  it('serves /healthz and /readyz to anyone, everything else only with a valid bearer token', async () => {
    expect((await get('/healthz')).status).not.toBe(401);
    expect((await get('/readyz')).status).not.toBe(401);
    for (const p of ['/metrics', '/api/findings']) {
      const r = await get(p);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await get(p, VIEWER.slice(0, -1) + 'x')).status).toBe(401);
      expect((await get(p, VIEWER, { authorization: `Basic ${Buffer.from('a:' + VIEWER).toString('base64')}` })).status).toBe(401);
    }
    const m = await get('/metrics', VIEWER);
    expect(m.status).toBe(200);
    expect(await m.text()).toContain('m2m_');
    const f = await get('/api/findings', ADMIN);
    expect(f.status).toBe(200);
    const rows = (await f.json()) as Array<{ version: string }>;
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]!.version)).toBe(2);
  });

  it('without an access file, protected endpoints say how to configure one', async () => {
    const s = await startHttp({ port: 0 });
    try {
      const r = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`);
      expect(r.status).toBe(401);
      expect(((await r.json()) as { error: string }).error).toMatch(/--access/);
    } finally {
      s.close();
    }
  });

  it('an access file never holds a token, and errors never echo one', () => {
    const r = parseAccess('tokens:\n  - { name: a, role: viewer, token: hunter2hunter2hunter2hunter2 }\n  - { name: b, role: root, token_env: SHORT }\n', 'access.yaml', { SHORT: 'tiny-secret' });
    const msgs = r.errors.map(formatConfigError);
    expect(r.access).toBeUndefined();
    expect(msgs).toContainEqual(expect.stringMatching(/^access\.yaml:2:\d+: tokens\[0\]\.token: a token is never written into the access file/));
    expect(msgs).toContainEqual(expect.stringMatching(/^access\.yaml:3:\d+: tokens\[1\]\.role: must be one of viewer, analyst, admin/));
    expect(msgs).toContainEqual(expect.stringMatching(/token from SHORT is too short \(11 characters\)/));
    expect(msgs.join('\n')).not.toMatch(/hunter2|tiny-secret/);
  });

  it('limits online guessing: after ten failures a client is refused for a while, even with a good token', async () => {
    const s = await startHttp({ port: 0, access });
    const b = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    try {
      const codes: number[] = [];
      for (let i = 0; i < 12; i++) codes.push((await fetch(b + '/metrics', { headers: { authorization: `Bearer guess-${i}-${'x'.repeat(30)}` } })).status);
      expect(codes.slice(0, 10).every((c) => c === 401)).toBe(true);
      expect(codes.slice(10)).toEqual([429, 429]);
      expect((await fetch(b + '/metrics', { headers: { authorization: `Bearer ${VIEWER}` } })).status).toBe(429);
      expect((await fetch(b + '/healthz')).status).not.toBe(429);
    } finally {
      s.close();
    }
  });
});

describe('parameters', () => {
  it('answers 400 naming the parameter for bad values, and never ClickHouse text', async () => {
    for (const [q, param] of [
      ['limit=-1', 'limit'],
      ['limit=0', 'limit'],
      ['limit=9999999', 'limit'],
      ['limit=1e3', 'limit'],
      ['min_score=2', 'min_score'],
      ['min_score=NaN', 'min_score'],
      ['since=yesterday', 'since'],
      ['since=2020-01-01T00:00:00Z', 'since'],
      ['device_id=', 'device_id'],
      ['limit=10&format=TabSeparated', 'format'],
    ] as const) {
      const r = await get(`/api/findings?${q}`, VIEWER);
      const body = (await r.json()) as { error: string; parameter: string };
      expect([q, r.status]).toEqual([q, 400]);
      expect(body.parameter).toBe(param);
      expect(body.error).not.toMatch(/Code: \d+|DB::Exception|SELECT|ClickHouse/i);
    }
  });

  it('a failure inside is a generic 500 with a request id; the detail stays in the log', async () => {
    const broken = await startHttp({ port: 0, access, findings: { client: ch.client, database: 'm2m', table: 'no_such_table' } });
    try {
      const r = await fetch(`http://127.0.0.1:${(broken.address() as AddressInfo).port}/api/findings`, { headers: { authorization: `Bearer ${VIEWER}` } });
      expect(r.status).toBe(500);
      const body = (await r.json()) as Record<string, string>;
      expect(Object.keys(body).sort()).toEqual(['error', 'request_id']);
      expect(body.error).toBe('internal error');
      expect(body.request_id).toBe(r.headers.get('x-request-id'));
    } finally {
      broken.close();
    }
  });
});

describe('request limits', () => {
  it('refuses oversized bodies and request lines, and methods other than GET', async () => {
    expect((await fetch(base + '/metrics', { method: 'POST', body: 'x'.repeat(100_000), headers: { authorization: `Bearer ${VIEWER}` } })).status).toBe(413);
    expect((await get('/api/findings?device_id=' + 'd'.repeat(5_000), VIEWER)).status).toBe(414);
    expect((await fetch(base + '/metrics', { method: 'DELETE', headers: { authorization: `Bearer ${VIEWER}` } })).status).toBe(405);
  });

  it('rate-limits a flooding client with 429 and Retry-After', async () => {
    // One request a second (burst 2): even on a machine slow enough to take seconds over the 30
    // requests, most of them must find the bucket empty.
    const s = await startHttp({ port: 0, access, ratePerSecond: 1 });
    const b = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    try {
      const rs = await Promise.all(Array.from({ length: 30 }, () => fetch(b + '/healthz')));
      const limited = rs.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThanOrEqual(20);
      expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      s.close();
    }
  });

  it('closes a connection that sends its headers too slowly (slowloris)', async () => {
    const port = (server.address() as AddressInfo).port;
    const closed = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      const s = connect(port, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
      const drip = setInterval(() => s.write('X-A: b\r\n'), 1_000);
      s.on('close', () => {
        clearInterval(drip);
        resolve(Date.now() - t0);
      });
      s.on('error', () => undefined);
    });
    expect(closed).toBeLessThan(20_000);
  }, 30_000);
});
