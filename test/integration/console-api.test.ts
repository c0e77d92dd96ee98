/**
 * The analyst API on the real HTTP server, embedded ClickHouse and broker: authentication and
 * roles (tokens and a session with its CSRF token), validated input, cursor pages, the
 * lifecycle actions with their OCSF updates on the outbox, exports, the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { consumeAll, kafka, tempDir, testPipeline, uid } from '../support/kafka.js';
import { openClickHouse, queryRows, type ClickHouseHandle } from '../../src/storage/clickhouse.js';
import { migrate } from '../../src/storage/migrations.js';
import { insertFindings } from '../../src/storage/findings.js';
import { alertRow, insertAlertEvents, insertAlertRows } from '../../src/storage/alerts.js';
import { emptyRouterState, route } from '../../src/alerts/router.js';
import { eventRow, pipelineChangeDoc } from '../../src/alerts/ocsf.js';
import { finalize } from '../../src/pipeline/engine.js';
import { createConsole, type ConsoleHandler } from '../../src/server/console.js';
import { startHttp } from '../../src/server/http.js';
import { parseAccess } from '../../src/server/access.js';
import { hashPassword } from '../../src/server/users.js';
import { ensureTopics } from '../../src/kafka/topics.js';

const k = kafka();
const name = uid('capi');
const cfg = testPipeline(name, [['policy', {}]]);
cfg.findings.clickhouse.database = name.replace(/-/g, '_');
const db = cfg.findings.clickhouse.database;
const VIEWER = 'viewer-token-0123456789abcdef';
const ANALYST = 'analyst-token-0123456789abcdef';
let ch: ClickHouseHandle;
let server: Server;
let analyst: ConsoleHandler;
let base = '';
const ids: string[] = [];

beforeAll(async () => {
  ch = openClickHouse({ dataDir: join(tempDir('m2m-capi'), 'ch') });
  await migrate(ch.client, { database: db, table: 'findings', ttlDays: 30 });
  await ensureTopics(k, [{ topic: `${name}.alerts` }]);
  // Three alerts as the runner writes them: findings, alert versions, the Create events.
  const st = emptyRouterState();
  for (let i = 0; i < 3; i++) {
    const f = finalize(name, {
      detector: 'policy', key: `plaintext:${1883 + i}`, device_id: `plc-${i}`, device_class: 'plc', first_ts: Date.UTC(2026, 2, 1, i), last_ts: Date.UTC(2026, 2, 1, i), count: 1,
      score: [0.5, 0.75, 0.95][i]!, severity: (['medium', 'high', 'critical'] as const)[i]!, observed: 'plaintext mqtt', expected: 'TLS',
      explanation: i === 0 ? '=HYPERLINK("http://evil") plc-0 sent plaintext' : `plc-${i} sent plaintext MQTT`, evidence: { src_ip: '10.0.0.1', dst_ip: '10.0.0.9', dst_port: 1883 + i }, mitre: ['T0869'],
    });
    const [c] = route(st, f, { minSeverity: 'medium', suppressMs: 1_800_000 }, { topic: `${name}.events`, partition: 0, offset: String(i) });
    const doc = pipelineChangeDoc({ ...c!, kind: 'create' }, { productVersion: 't', autoCloseMs: 86_400_000 });
    await insertFindings(ch.client, db, 'findings', [f]);
    await insertAlertRows(ch.client, db, [alertRow(c!.alert, f.explanation)]);
    await insertAlertEvents(ch.client, db, [eventRow('create', doc, c!.alert.severity)]);
    ids.push(c!.alert.alert_id);
  }
  const { access, errors } = parseAccess(
    `tokens:\n  - { name: grafana, role: viewer, token_env: T_VIEWER }\n  - { name: soar, role: analyst, token_env: T_ANALYST }\n`,
    'access.yaml',
    { T_VIEWER: VIEWER, T_ANALYST: ANALYST },
  );
  expect(errors).toEqual([]);
  analyst = createConsole({ client: ch.client, pipelines: [cfg], kafka: k, access: access!, users: [{ name: 'alice', role: 'analyst', hash: await hashPassword('correct horse battery') }], productVersion: 't' });
  server = await startHttp({ port: 0, console: analyst });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => server?.close(() => r()));
  await analyst?.close();
  await ch?.client.close();
});

const get = (path: string, token?: string) => fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
const post = (path: string, body: unknown, headers: Record<string, string>) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('analyst API', () => {
  it('serves nothing but health without authentication, and checks roles', async () => {
    expect((await get('/healthz')).status).toBe(200);
    for (const p of ['/api/alerts', '/metrics', '/api/findings', '/api/openapi.json', `/api/alerts/${ids[0]}`]) expect((await get(p)).status, p).toBe(401);
    expect((await get('/alerts')).status).toBe(200); // redirected to the login page (fetch follows)
    expect((await get('/alerts')).url).toMatch(/\/login\?next=/);
    expect((await get('/api/alerts', 'not-a-token-at-all-000000000')).status).toBe(401);
    expect((await get('/api/alerts', VIEWER)).status).toBe(200);
    expect((await post(`/api/alerts/${ids[0]}/acknowledge`, {}, { authorization: `Bearer ${VIEWER}` })).status).toBe(403);
    expect((await get('/api/audit', ANALYST)).status).toBe(403);
    const spec = (await (await get('/api/openapi.json', VIEWER)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/alerts', '/api/alerts/{id}/resolve', '/api/findings']));
  });

  it('rejects bad input with a 400 that names the parameter', async () => {
    for (const [q, param] of [['severity=urgent', 'severity'], ['limit=0', 'limit'], ['since=yesterday', 'since'], ['cursor=xyz', 'cursor'], ['colour=red', 'colour']] as const) {
      const r = await get(`/api/alerts?${q}`, VIEWER);
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as { parameter: string }).parameter).toBe(param);
    }
    const r = await post(`/api/alerts/${ids[0]}/resolve`, { reason: 'meh' }, { authorization: `Bearer ${ANALYST}` });
    expect(r.status).toBe(400);
    expect((await get(`/api/alerts/${'0'.repeat(32)}`, VIEWER)).status).toBe(404);
  });

  it('filters and pages with a cursor, worst first', async () => {
    const all = (await (await get('/api/alerts', VIEWER)).json()) as { items: Array<{ severity: string; alert_id: string; state: string }> };
    expect(all.items.map((a) => a.severity)).toEqual(['critical', 'high', 'medium']);
    expect(all.items.every((a) => a.state === 'new')).toBe(true);
    const p1 = (await (await get('/api/alerts?limit=2', VIEWER)).json()) as { items: Array<{ alert_id: string }>; next_cursor: string };
    const p2 = (await (await get(`/api/alerts?limit=2&cursor=${p1.next_cursor}`, VIEWER)).json()) as { items: Array<{ alert_id: string }>; next_cursor: string | null };
    expect([...p1.items, ...p2.items].map((a) => a.alert_id)).toEqual(all.items.map((a) => a.alert_id));
    expect(p2.next_cursor).toBeNull();
    const high = (await (await get('/api/alerts?severity=high&q=PLC-2', VIEWER)).json()) as { items: Array<{ device_id: string }> };
    expect(high.items.map((a) => a.device_id)).toEqual(['plc-2']);
    const f = (await (await get('/api/findings?device_id=plc-1&since=2026-03-01T00:00:00Z&until=2026-03-01T02:00:00Z', VIEWER)).json()) as { items: Array<{ dst_port: number }> };
    expect(f.items.map((x) => x.dst_port)).toEqual([1884]);
  });

  it('acknowledges and resolves through the lifecycle, publishing each change and recording it', async () => {
    const id = ids[2]!;
    const auth = { authorization: `Bearer ${ANALYST}` };
    const ack = await post(`/api/alerts/${id}/acknowledge`, { comment: 'looking' }, auth);
    expect(ack.status).toBe(200);
    expect(((await ack.json()) as { alert: { state: string } }).alert.state).toBe('acknowledged');
    expect((await post(`/api/alerts/${id}/acknowledge`, {}, auth)).status).toBe(409);
    expect((await post(`/api/alerts/${id}/comment`, {}, auth)).status).toBe(400);
    expect((await post(`/api/alerts/${id}/comment`, { comment: 'called the site' }, auth)).status).toBe(200);
    const res = await post(`/api/alerts/${id}/resolve`, { reason: 'false_positive', comment: 'planned test' }, auth);
    expect(res.status).toBe(200);
    const detail = (await (await get(`/api/alerts/${id}`, VIEWER)).json()) as { alert: { state: string; resolution: string; acted_by: string; comments: number }; history: Array<{ action: string; actor: string }> };
    expect(detail.alert).toMatchObject({ state: 'resolved', resolution: 'false_positive', acted_by: 'soar', comments: 1 });
    expect(detail.history.map((h) => `${h.action}:${h.actor}`)).toEqual(['create:m2m-sentinel', 'acknowledge:soar', 'comment:soar', 'resolve:soar']);
    expect((await post(`/api/alerts/${id}/resolve`, { reason: 'benign' }, auth)).status).toBe(409);
    const out = await consumeAll(k, `${name}.alerts`, 3, 20_000);
    const docs = out.map((m) => JSON.parse(m.value!.toString()) as { activity_name: string; status: string; comment: string; finding_info: { uid: string }; unmapped: { actor: string } });
    expect(docs.map((d) => [d.finding_info.uid, d.activity_name, d.status, d.unmapped.actor, d.comment])).toEqual([
      [id, 'Update', 'In Progress', 'soar', 'looking'],
      [id, 'Update', 'In Progress', 'soar', 'called the site'],
      [id, 'Close', 'Resolved', 'soar', 'planned test'],
    ]);
  });

  it('logs a user in with a secure session cookie and demands its CSRF token for changes', async () => {
    const bad = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=alice&password=wrong' });
    expect(bad.status).toBe(401);
    const ok = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=alice&password=correct%20horse%20battery' });
    expect(ok.status).toBe(303);
    const setCookie = ok.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/Secure/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;
    const me = (await (await fetch(`${base}/api/me`, { headers: { cookie } })).json()) as { name: string; role: string; csrf: string };
    expect(me).toMatchObject({ name: 'alice', role: 'analyst' });
    expect((await get('/api/devices/%E0%A4%A', VIEWER)).status).toBe(400);
    expect((await post(`/api/alerts/${ids[1]}/acknowledge`, {}, { cookie })).status).toBe(403);
    expect((await post(`/api/alerts/${ids[1]}/acknowledge`, {}, { cookie, 'x-csrf-token': 'x'.repeat(me.csrf.length) })).status).toBe(403);
    expect((await post(`/api/alerts/${ids[1]}/acknowledge`, {}, { cookie, 'x-csrf-token': me.csrf })).status).toBe(200);
    const page = await fetch(`${base}/alerts/${ids[1]}`, { headers: { cookie } });
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const text = await page.text();
    expect(text).toContain('acknowledged');
    expect(text).not.toContain('<script>');
  });

  it('pushes a live update (server-sent event) when an alert changes', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${base}/api/stream`, { headers: { authorization: `Bearer ${VIEWER}` }, signal: ctl.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const seen = (re: RegExp, ms: number) =>
      (async () => {
        const end = Date.now() + ms;
        while (!re.test(text) && Date.now() < end) {
          const r = await Promise.race([reader.read(), new Promise<{ done: true; value: undefined }>((ok) => setTimeout(() => ok({ done: true, value: undefined }), 500))]);
          if (r.value) text += Buffer.from(r.value).toString();
        }
        return re.test(text);
      })();
    expect(await seen(/event: hello/, 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1_500)); // the poller's first look, which sends nothing
    expect(text).not.toMatch(/event: alerts/);
    expect((await post(`/api/alerts/${ids[0]}/comment`, { comment: 'watching' }, { authorization: `Bearer ${ANALYST}` })).status).toBe(200);
    expect(await seen(/event: alerts/, 5_000)).toBe(true);
    ctl.abort();
  });

  it('throttles repeated failed logins from one address', async () => {
    let last = 0;
    for (let i = 0; i < 12; i++) {
      last = (await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=mallory&password=guess${i}` })).status;
    }
    expect(last).toBe(429);
  });

  it('exports CSV with device text neutralised for spreadsheets, and NDJSON, and audits it all', async () => {
    const csv = await (await get('/api/alerts/export?format=csv', VIEWER)).text();
    const lines = csv.trim().split('\r\n');
    expect(lines[0]!.split(',')[0]).toBe('alert_id');
    expect(lines.length).toBe(4);
    expect(csv).toContain(`"'=HYPERLINK(""http://evil"") plc-0 sent plaintext"`);
    const nd = (await (await get('/api/alerts/export?format=ndjson&severity=critical', VIEWER)).text()).trim().split('\n');
    expect(nd.map((l) => (JSON.parse(l) as { severity: string }).severity)).toEqual(['critical']);
    await new Promise((r) => setTimeout(r, 300));
    const audit = await queryRows<{ actor: string; action: string; outcome: string }>(ch.client, `SELECT actor, action, outcome FROM ${db}.audit_log ORDER BY at`);
    expect(audit.map((a) => `${a.actor}:${a.action}:${a.outcome}`)).toEqual(
      expect.arrayContaining(['soar:alert.acknowledge:ok', 'soar:alert.resolve:ok', 'alice:login:denied', 'alice:login:ok', 'grafana:alerts.export:ok', 'grafana:POST /api/alerts/' + ids[0] + '/acknowledge:denied']),
    );
  });
});
