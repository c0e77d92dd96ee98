/**
 * The analyst's side of the service: the JSON API and the web console, on the service's HTTP
 * server (http.ts hands it every path but /healthz and /readyz).
 *
 * Who: a session (cookie, after logging in with a user of the access file) or an API token
 * (Authorization: Bearer, access.ts), each with a role: viewer reads, analyst also acknowledges,
 * resolves and comments, admin also reads the audit log. Nothing but the login page answers
 * without one. State-changing requests from a session must carry its CSRF token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka, Producer } from 'kafkajs';
import type { PipelineConfig } from '../config/types.js';
import { allows, authenticate, type Access, type Role } from './access.js';
import { verifyPassword, type User } from './users.js';
import { Sessions, clearedCookie, csrfOk, sessionCookie, type Session } from './sessions.js';
import { createAudit } from './audit.js';
import { InputError, alertQuery, comment, encodeCursor, exportFormat, findingsPageQuery, readBody, resolution, MAX_EXPORT } from './api-params.js';
import { applyAction, type AnalystAction } from './actions.js';
import { alertPage, devicePage, loginPage, queuePage, queueTable, type PageUser } from './pages.js';
import { openApi } from './openapi.js';
import { serveStatic } from './static.js';
import { alertSeries, deviceRecent } from './readings.js';
import { alertEvents, alertsVersion, getAlert, latestDoc, listAlerts, type AlertView } from '../storage/alert-queries.js';
import { findingsOfAlert, listFindings, deviceFacts } from '../storage/finding-queries.js';
import { outboxMessage, outboxTopic } from '../alerts/outbox.js';
import { registry } from '../obs/metrics.js';
import { logger } from '../obs/log.js';
import { queryRows, ident } from '../storage/clickhouse.js';
import { maintenanceApi } from './maintenance-api.js';
import type { MaintenanceBook } from '../alerts/maintenance.js';

export interface ConsoleOptions {
  client: ClickHouseClient;
  pipelines: PipelineConfig[];
  kafka?: Kafka;
  access?: Access;
  users: User[];
  productVersion: string;
  /** The service's book of ad hoc maintenance windows (maintenance-api.ts). */
  maintenance?: () => MaintenanceBook | undefined;
}

interface Who {
  name: string;
  role: Role;
  session?: Session;
}

type Ctx = { req: IncomingMessage; res: ServerResponse; url: URL; who: Who; params: string[] };
interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  role: Role;
  html?: boolean;
  handle(c: Ctx): Promise<void>;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
};

function send(res: ServerResponse, code: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', ...SECURITY_HEADERS, ...headers });
  res.end(body);
}
const json = (res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}) => send(res, code, 'application/json; charset=utf-8', JSON.stringify(body), headers);
const html = (res: ServerResponse, code: number, body: string, headers: Record<string, string> = {}) => send(res, code, 'text/html; charset=utf-8', body, headers);

/** Failed logins allowed per client address in LOGIN_WINDOW_MS before it must wait (online guessing). */
const MAX_FAILED_LOGINS = 10;
const LOGIN_WINDOW_MS = 5 * 60_000;

/** A path segment, decoded; a malformed escape is the client's mistake, not a 500. */
function segment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new InputError('path', 'malformed percent-encoding in the path');
  }
}

const CSV_COLUMNS: Array<keyof AlertView> = ['alert_id', 'severity', 'state', 'resolution', 'device_id', 'device_class', 'detector', 'key', 'first_ts', 'last_ts', 'closed_ts', 'count', 'findings', 'score', 'explanation', 'acted_by', 'pipeline'];
/** CSV cell: quoted, and a leading = + - @ neutralised so a spreadsheet never runs device text as a formula. */
const csvCell = (v: unknown): string => {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
};

export function createConsole(o: ConsoleOptions) {
  const log = logger().child({ component: 'console' });
  const first = o.pipelines[0]!.findings.clickhouse;
  const db = first.database;
  const table = first.table;
  const sessions = new Sessions();
  const audit = createAudit(o.client, db);
  const byName = new Map(o.pipelines.map((p) => [p.name, p]));
  const usersByName = new Map(o.users.map((u) => [u.name, u]));
  const windows = maintenanceApi({ ...(o.kafka ? { kafka: o.kafka } : {}), ...(o.maintenance ? { book: o.maintenance } : {}) });
  let producer: Producer | undefined;
  const publish = async (pipeline: string, doc: Parameters<typeof outboxMessage>[0]) => {
    if (!o.kafka) throw new InputError('kafka', 'this console has no Kafka connection to publish the change', 503);
    const cfg = byName.get(pipeline) ?? o.pipelines[0]!;
    if (!producer) {
      const p = o.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      producer = p;
    }
    await producer.send({ topic: outboxTopic(cfg), acks: -1, messages: [outboxMessage(doc, cfg.name)] });
  };
  const actionDeps = {
    client: o.client,
    database: db,
    findingsTable: table,
    productVersion: o.productVersion,
    detectorKind: (p: string, d: string) => byName.get(p)?.detectors.find((x) => x.id === d)?.type,
    publish,
  };
  const pageUser = (w: Who): PageUser => ({ name: w.name, role: w.role, csrf: w.session?.csrf ?? '' });
  const remote = (req: IncomingMessage) => req.socket.remoteAddress ?? '';

  async function alertDetail(id: string) {
    const alert = await getAlert(o.client, db, id);
    if (!alert) throw new InputError('alert', `no alert ${JSON.stringify(id.slice(0, 64))}`, 404);
    const [findings, events, doc] = await Promise.all([findingsOfAlert(o.client, db, table, alert), alertEvents(o.client, db, id), latestDoc(o.client, db, id)]);
    return { alert, findings, events, doc };
  }

  async function counts(): Promise<Record<string, number>> {
    const rows = await queryRows<{ severity: string; n: string }>(o.client, `SELECT toString(severity) AS severity, count() AS n FROM ${ident(db)}.alerts FINAL WHERE closed_ts IS NULL GROUP BY severity`);
    return Object.fromEntries(rows.map((r) => [r.severity, Number(r.n)]));
  }

  const act = (action: AnalystAction): Route['handle'] => async (c) => {
    const body = await readBody(c.req);
    const input = { ...(action === 'resolve' ? { reason: resolution(body) } : {}) } as { comment?: string; reason?: ReturnType<typeof resolution> };
    const cm = comment(body, action === 'comment');
    if (cm) input.comment = cm;
    const id = c.params[0]!;
    try {
      const r = await applyAction(actionDeps, id, action, c.who.name, input);
      audit.record({ actor: c.who.name, role: c.who.role, action: `alert.${action}`, target: id, detail: input.reason ?? cm?.slice(0, 200) ?? '', remote: remote(c.req), outcome: 'ok' });
      json(c.res, 200, { alert: r.alert, published: { uid: r.doc.metadata.uid, activity: r.doc.activity_name, status: r.doc.status ?? null } });
    } catch (e) {
      audit.record({ actor: c.who.name, role: c.who.role, action: `alert.${action}`, target: id, detail: e instanceof Error ? e.message.slice(0, 200) : '', remote: remote(c.req), outcome: e instanceof InputError && e.status < 500 ? 'denied' : 'failed' });
      throw e;
    }
  };

  const routes: Route[] = [
    { method: 'GET', pattern: /^\/$/, role: 'viewer', html: true, handle: async (c) => send(c.res, 303, 'text/plain', '', { location: '/alerts' }) },
    {
      method: 'GET', pattern: /^\/alerts$/, role: 'viewer', html: true,
      handle: async (c) => {
        const p = c.url.searchParams;
        const q = alertQuery(p);
        const [page, cnt] = await Promise.all([listAlerts(o.client, db, q), counts()]);
        const data = { items: page.items, next: page.next_cursor ? encodeCursor(page.next_cursor) : null, counts: cnt, params: p };
        if (p.get('fragment') === '1') return html(c.res, 200, queueTable(data));
        html(c.res, 200, queuePage(pageUser(c.who), data));
      },
    },
    {
      method: 'GET', pattern: /^\/alerts\/([0-9a-f]{32})$/, role: 'viewer', html: true,
      handle: async (c) => {
        const d = await alertDetail(c.params[0]!);
        const kind = byName.get(d.alert.pipeline)?.detectors.find((x) => x.id === d.alert.detector)?.type ?? d.alert.detector;
        html(c.res, 200, alertPage(pageUser(c.who), { ...d, detectorKind: kind, canAct: allows({ name: c.who.name, role: c.who.role, kind: 'token' }, 'analyst') }));
      },
    },
    {
      method: 'GET', pattern: /^\/devices\/([^/]{1,256})$/, role: 'viewer', html: true,
      handle: async (c) => {
        const device = segment(c.params[0]!);
        const [facts, alerts, recent] = await Promise.all([deviceFacts(o.client, db, table, device), listAlerts(o.client, db, { device_id: device, limit: 100, sort: 'time' }), deviceRecent(o.kafka, o.pipelines, device)]);
        html(c.res, 200, devicePage(pageUser(c.who), { facts, alerts: alerts.items, recent }));
      },
    },
    { method: 'GET', pattern: /^\/api\/me$/, role: 'viewer', handle: async (c) => json(c.res, 200, { name: c.who.name, role: c.who.role, csrf: c.who.session?.csrf ?? null }) },
    {
      method: 'GET', pattern: /^\/api\/alerts$/, role: 'viewer',
      handle: async (c) => {
        const r = await listAlerts(o.client, db, alertQuery(c.url.searchParams));
        json(c.res, 200, { items: r.items, next_cursor: r.next_cursor ? encodeCursor(r.next_cursor) : null });
      },
    },
    {
      method: 'GET', pattern: /^\/api\/alerts\/export$/, role: 'viewer',
      handle: async (c) => {
        const fmt = exportFormat(c.url.searchParams);
        const r = await listAlerts(o.client, db, alertQuery(c.url.searchParams, MAX_EXPORT));
        audit.record({ actor: c.who.name, role: c.who.role, action: 'alerts.export', target: fmt, detail: `${r.items.length} rows ${c.url.search.slice(0, 200)}`, remote: remote(c.req), outcome: 'ok' });
        const name = `alerts-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '')}.${fmt}`;
        const disp = { 'content-disposition': `attachment; filename="${name}"` };
        if (fmt === 'ndjson') return send(c.res, 200, 'application/x-ndjson; charset=utf-8', r.items.map((a) => JSON.stringify(a)).join('\n') + (r.items.length ? '\n' : ''), disp);
        send(c.res, 200, 'text/csv; charset=utf-8', [CSV_COLUMNS.join(','), ...r.items.map((a) => CSV_COLUMNS.map((k) => csvCell(a[k])).join(','))].join('\r\n') + '\r\n', disp);
      },
    },
    { method: 'GET', pattern: /^\/api\/alerts\/([0-9a-f]{32})$/, role: 'viewer', handle: async (c) => {
      const d = await alertDetail(c.params[0]!);
      json(c.res, 200, { alert: d.alert, findings: d.findings, history: d.events, document: d.doc ? (JSON.parse(d.doc) as unknown) : null });
    } },
    { method: 'GET', pattern: /^\/api\/alerts\/([0-9a-f]{32})\/series$/, role: 'viewer', handle: async (c) => {
      const d = await alertDetail(c.params[0]!);
      json(c.res, 200, await alertSeries(o.kafka, byName.get(d.alert.pipeline) ?? o.pipelines[0]!, d.alert, d.findings));
    } },
    { method: 'POST', pattern: /^\/api\/alerts\/([0-9a-f]{32})\/acknowledge$/, role: 'analyst', handle: act('acknowledge') },
    { method: 'POST', pattern: /^\/api\/alerts\/([0-9a-f]{32})\/resolve$/, role: 'analyst', handle: act('resolve') },
    { method: 'POST', pattern: /^\/api\/alerts\/([0-9a-f]{32})\/comment$/, role: 'analyst', handle: act('comment') },
    {
      method: 'GET', pattern: /^\/api\/findings$/, role: 'viewer',
      handle: async (c) => {
        const q = findingsPageQuery(c.url.searchParams);
        const r = await listFindings(o.client, db, table, q);
        const items = q.min_score !== undefined ? r.items.filter((f) => f.score >= q.min_score!) : r.items;
        json(c.res, 200, { items, next_cursor: r.next_cursor ? encodeCursor(r.next_cursor) : null });
      },
    },
    {
      method: 'GET', pattern: /^\/api\/findings\/export$/, role: 'viewer',
      handle: async (c) => {
        const fmt = exportFormat(c.url.searchParams);
        const r = await listFindings(o.client, db, table, findingsPageQuery(c.url.searchParams, MAX_EXPORT));
        audit.record({ actor: c.who.name, role: c.who.role, action: 'findings.export', target: fmt, detail: `${r.items.length} rows`, remote: remote(c.req), outcome: 'ok' });
        const cols = ['finding_id', 'severity', 'score', 'device_id', 'device_class', 'detector', 'key', 'first_ts', 'last_ts', 'count', 'observed', 'expected', 'src_ip', 'dst_ip', 'dst_port', 'metric', 'explanation'] as const;
        if (fmt === 'ndjson') return send(c.res, 200, 'application/x-ndjson; charset=utf-8', r.items.map((f) => JSON.stringify(f)).join('\n') + (r.items.length ? '\n' : ''), { 'content-disposition': 'attachment; filename="findings.ndjson"' });
        send(c.res, 200, 'text/csv; charset=utf-8', [cols.join(','), ...r.items.map((f) => cols.map((k) => csvCell(f[k])).join(','))].join('\r\n') + '\r\n', { 'content-disposition': 'attachment; filename="findings.csv"' });
      },
    },
    { method: 'GET', pattern: /^\/api\/devices\/([^/]{1,256})$/, role: 'viewer', handle: async (c) => {
      const device = segment(c.params[0]!);
      const [facts, alerts, recent] = await Promise.all([deviceFacts(o.client, db, table, device), listAlerts(o.client, db, { device_id: device, limit: 100, sort: 'time' }), deviceRecent(o.kafka, o.pipelines, device)]);
      json(c.res, 200, { ...facts, recent, open_alerts: alerts.items.filter((a) => a.state !== 'resolved') });
    } },
    { method: 'GET', pattern: /^\/api\/stream$/, role: 'viewer', handle: async (c) => stream(c) },
    { method: 'GET', pattern: /^\/api\/openapi\.json$/, role: 'viewer', handle: async (c) => json(c.res, 200, openApi(o.productVersion)) },
    { method: 'GET', pattern: /^\/api\/audit$/, role: 'admin', handle: async (c) => json(c.res, 200, { items: await audit.recent() }) },
    // Ad hoc maintenance windows (maintenance-api.ts): findings kept, alerts held.
    { method: 'GET', pattern: /^\/api\/maintenance$/, role: 'viewer', handle: async (c) => json(c.res, 200, await windows.list()) },
    {
      method: 'POST', pattern: /^\/api\/maintenance$/, role: 'analyst',
      handle: async (c) => {
        const w = await windows.add(await readBody(c.req), c.who.name);
        audit.record({ actor: c.who.name, role: c.who.role, action: 'maintenance.add', target: String(w.id), detail: JSON.stringify(w).slice(0, 200), remote: remote(c.req), outcome: 'ok' });
        json(c.res, 201, w);
      },
    },
    {
      method: 'POST', pattern: /^\/api\/maintenance\/([A-Za-z0-9._:-]{1,128})\/remove$/, role: 'analyst',
      handle: async (c) => {
        await windows.remove(c.params[0]!);
        audit.record({ actor: c.who.name, role: c.who.role, action: 'maintenance.remove', target: c.params[0]!, detail: '', remote: remote(c.req), outcome: 'ok' });
        json(c.res, 200, { removed: c.params[0] });
      },
    },
    { method: 'GET', pattern: /^\/metrics$/, role: 'viewer', handle: async (c) => send(c.res, 200, registry.contentType, await registry.metrics()) },
    { method: 'GET', pattern: /^\/static\/([a-z.]{1,20})$/, role: 'viewer', handle: async (c) => serveStatic(c.res, c.params[0]!, SECURITY_HEADERS) },
    {
      method: 'POST', pattern: /^\/logout$/, role: 'viewer',
      handle: async (c) => {
        if (c.who.session) sessions.end(c.who.session.id);
        audit.record({ actor: c.who.name, role: c.who.role, action: 'logout', target: '', remote: remote(c.req), outcome: 'ok' });
        json(c.res, 200, { ok: true }, { 'set-cookie': clearedCookie });
      },
    },
  ];

  // Live updates: one ClickHouse poll per second for all listeners, an event when alerts change.
  const listeners = new Set<ServerResponse>();
  let lastVersion = '';
  let poller: NodeJS.Timeout | undefined;
  function stream(c: Ctx): Promise<void> {
    c.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', ...SECURITY_HEADERS });
    c.res.write(`retry: 3000\nevent: hello\ndata: {}\n\n`);
    listeners.add(c.res);
    c.req.socket.setTimeout(0);
    c.req.on('close', () => listeners.delete(c.res));
    if (!poller) {
      poller = setInterval(() => {
        if (!listeners.size) return;
        void alertsVersion(o.client, db)
          .then((v) => {
            if (v === lastVersion) return;
            const first = lastVersion === '';
            lastVersion = v;
            if (!first) for (const r of listeners) r.write(`event: alerts\ndata: ${JSON.stringify({ version: v })}\n\n`);
          })
          .catch((e: unknown) => log.debug({ err: String(e) }, 'live update poll failed'));
      }, 1_000);
      poller.unref();
    }
    return Promise.resolve();
  }

  /** Failed logins per client address: [count, window start]. Bounded like the sessions. */
  const failed = new Map<string, [number, number]>();
  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const from = remote(req);
    const f = failed.get(from);
    if (f && Date.now() - f[1] < LOGIN_WINDOW_MS && f[0] >= MAX_FAILED_LOGINS) {
      audit.record({ actor: '(throttled)', role: '', action: 'login', target: '', remote: from, outcome: 'denied' });
      return html(res, 429, loginPage('Too many failed logins from this address; wait a few minutes.'), { 'retry-after': String(Math.ceil(LOGIN_WINDOW_MS / 1000)) });
    }
    // A login form posted from another site is refused (the browser names the page's origin).
    const origin = req.headers.origin;
    if (origin && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) return html(res, 403, loginPage('This form must be sent from the console itself.'));
    const body = await readBody(req);
    const name = typeof body.username === 'string' ? body.username.slice(0, 64) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    const next = typeof body.next === 'string' && /^\/[A-Za-z0-9/_?=&.%-]*$/.test(body.next) && !body.next.startsWith('//') ? body.next : '/alerts';
    const user = usersByName.get(name);
    const ok = await verifyPassword(password, user?.hash);
    if (!ok || !user) {
      const cur = failed.get(from);
      if (!cur || Date.now() - cur[1] >= LOGIN_WINDOW_MS) {
        if (failed.size >= 10_000) failed.delete(failed.keys().next().value!);
        failed.set(from, [1, Date.now()]);
      } else cur[0] += 1;
      audit.record({ actor: name || '(empty)', role: '', action: 'login', target: '', remote: remote(req), outcome: 'denied' });
      return html(res, 401, loginPage('Wrong user or password.', next));
    }
    const s = sessions.create(user.name, user.role);
    audit.record({ actor: user.name, role: user.role, action: 'login', target: '', remote: remote(req), outcome: 'ok' });
    send(res, 303, 'text/plain', '', { location: next, 'set-cookie': sessionCookie(s) });
  }

  return {
    /** Handle a request; false if no route of the console matches (the caller answers 404). */
    async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
      const path = url.pathname;
      try {
        if (path === '/login') {
          if (req.method === 'POST') await login(req, res);
          else html(res, 200, loginPage(undefined, url.searchParams.get('next') ?? '/alerts'));
          return true;
        }
        const method = req.method === 'HEAD' ? 'GET' : req.method;
        let match: RegExpExecArray | null = null;
        const route = routes.find((r) => (match = r.pattern.exec(path)) !== null && r.method === method) ?? null;
        if (!route) {
          if (routes.some((r) => r.pattern.test(path))) return json(res, 405, { error: `${req.method} not allowed here` }), true;
          return false;
        }
        const session = sessions.of(req);
        const token = session ? undefined : authenticate(o.access, req.headers.authorization);
        const who: Who | undefined = session ? { name: session.user, role: session.role, session } : token ? { name: token.name, role: token.role } : undefined;
        if (!who) {
          if (route.html) return send(res, 303, 'text/plain', '', { location: `/login?next=${encodeURIComponent(path + url.search)}` }), true;
          return json(res, 401, { error: 'log in or send Authorization: Bearer <token>' }, { 'www-authenticate': 'Bearer realm="m2m-sentinel"' }), true;
        }
        if (!allows({ name: who.name, role: who.role, kind: 'token' }, route.role)) {
          audit.record({ actor: who.name, role: who.role, action: `${method} ${path}`, target: '', remote: remote(req), outcome: 'denied' });
          return json(res, 403, { error: `role ${who.role} may not do this (needs ${route.role})` }), true;
        }
        if (method === 'POST' && session && !csrfOk(req, session)) return json(res, 403, { error: 'missing or wrong CSRF token (x-csrf-token header)' }), true;
        await route.handle({ req, res, url, who, params: (match as RegExpExecArray | null)?.slice(1) ?? [] });
      } catch (e) {
        if (e instanceof InputError) json(res, e.status, { error: e.message, parameter: e.parameter });
        else {
          const id = Math.random().toString(36).slice(2, 10);
          log.warn({ request_id: id, path, err: e instanceof Error ? e.message : String(e) }, 'console request failed');
          json(res, 500, { error: 'internal error', request_id: id });
        }
      }
      return true;
    },
    async close(): Promise<void> {
      if (poller) clearInterval(poller);
      for (const r of listeners) r.end();
      listeners.clear();
      await producer?.disconnect().catch(() => undefined);
    },
  };
}
export type ConsoleHandler = ReturnType<typeof createConsole>;
