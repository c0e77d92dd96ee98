/**
 * The service's HTTP face: health, readiness, Prometheus metrics and a small findings API.
 *
 * Exposure is opt-in: it binds 127.0.0.1 unless told otherwise (`--http-host`), and everything
 * but /healthz and /readyz needs a bearer token from the access file (access.ts) with a role.
 * Requests are bounded in size, time and rate, bad parameters are a 400 that says which and why,
 * and a failure is a generic 500 with a request id: the detail (a ClickHouse error can quote the
 * query, table names, settings) goes to the log, not to the client.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ClickHouseClient } from '@clickhouse/client';
import { registry } from '../obs/metrics.js';
import { isReady, overall, snapshot } from './health.js';
import { selectFindings } from '../storage/findings.js';
import { logger } from '../obs/log.js';
import { allows, authenticate, type Access, type Principal, type Role } from './access.js';
import { RateLimiter } from './limits.js';
import { findingsQuery, ParamError } from './params.js';
import type { ConsoleHandler } from './console.js';

export const DEFAULT_HTTP_HOST = '127.0.0.1';

export interface HttpOptions {
  port: number;
  /** Interface to bind; default 127.0.0.1 (set 0.0.0.0 or :: deliberately, e.g. in a container). */
  host?: string;
  /** Tokens and roles; without it every protected endpoint answers 401. */
  access?: Access;
  findings?: { client: ClickHouseClient; database: string; table: string };
  /** Requests per second per client address (burst: twice that). Default 20. */
  ratePerSecond?: number;
  /**
   * The analyst API and web console (console.ts). When present it answers every path but
   * /healthz and /readyz, each behind authentication; the limits here apply to it too.
   */
  console?: ConsoleHandler;
}

/** Longest time a request may take, headers to last byte of the answer. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Largest request body accepted (the API takes none yet; the console's forms are small). */
const MAX_BODY_BYTES = 64 * 1024;
/** Longest request line (path and query). */
const MAX_URL_LENGTH = 4096;

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  principal: Principal | undefined;
  json(code: number, body: unknown): void;
}

interface Route {
  path: string;
  /** Role needed; null: public (health and readiness only). */
  role: Role | null;
  handle(c: RequestContext): Promise<void> | void;
}

export function startHttp(opts: HttpOptions): Promise<Server> {
  const log = logger().child({ component: 'http' });
  const rate = opts.ratePerSecond ?? 20;
  const limiter = new RateLimiter({ perSecond: rate, burst: rate * 2 });
  // Failed authentications: a few a minute per client, so a token cannot be guessed online.
  const authFailures = new RateLimiter({ perSecond: 10 / 60, burst: 10 });
  const routes: Route[] = [
    { path: '/healthz', role: null, handle: (c) => c.json(overall() === 'down' ? 503 : 200, { status: overall(), components: snapshot() }) },
    { path: '/readyz', role: null, handle: (c) => c.json(isReady() ? 200 : 503, { ready: isReady(), components: snapshot() }) },
    {
      path: '/metrics',
      role: 'viewer',
      handle: async (c) => {
        c.res.writeHead(200, { 'content-type': registry.contentType });
        c.res.end(await registry.metrics());
      },
    },
  ];
  if (opts.findings) {
    const f = opts.findings;
    routes.push({ path: '/api/findings', role: 'viewer', handle: async (c) => c.json(200, await selectFindings(f.client, f.database, f.table, findingsQuery(c.url.searchParams))) });
  }

  // Node enforces the header and request timeouts when it checks connections, every 30 s by
  // default: too coarse to stop a slow-headers client (slowloris) holding sockets.
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: 10_000, connectionsCheckingInterval: 1_000 }, async (req, res) => {
    const id = randomUUID();
    const json = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.headersSent) return void res.end();
      res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-request-id': id, ...headers });
      res.end(JSON.stringify(body));
    };
    const client = req.socket.remoteAddress ?? 'unknown';
    let path = '?';
    try {
      if ((req.url ?? '').length > MAX_URL_LENGTH) return json(414, { error: `request line longer than ${MAX_URL_LENGTH} characters` });
      const url = new URL(req.url ?? '/', 'http://localhost');
      path = url.pathname;
      const r = limiter.take(client);
      if (!r.ok) return json(429, { error: 'too many requests' }, { 'retry-after': String(r.retryAfterS) });
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > MAX_BODY_BYTES || (req.headers['transfer-encoding'] !== undefined && req.method !== 'POST')) return json(413, { error: `request body over ${MAX_BODY_BYTES} bytes` });
      if (opts.console && url.pathname !== '/healthz' && url.pathname !== '/readyz') {
        // The console authenticates every request itself (tokens, sessions) and answers its own errors.
        if (!(await opts.console.handle(req, res, url))) json(404, { error: 'not found', see: '/api/openapi.json' });
        return;
      }
      const route = routes.find((x) => x.path === url.pathname);
      if (!route) return json(404, { error: 'not found', endpoints: routes.map((x) => x.path) });
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: `${req.method} not allowed; use GET` }, { allow: 'GET, HEAD' });
      let principal: Principal | undefined;
      if (route.role !== null) {
        if (!authFailures.peek(client)) return json(429, { error: 'too many failed authentications; wait a minute' }, { 'retry-after': '60' });
        principal = authenticate(opts.access, req.headers.authorization);
        if (!principal) {
          authFailures.take(client);
          const why = opts.access ? 'a valid bearer token is required' : 'no access file is configured (--access <file> or M2M_ACCESS_FILE), so nothing but /healthz and /readyz is served';
          return json(401, { error: why }, { 'www-authenticate': 'Bearer realm="m2m-sentinel"' });
        }
        if (!allows(principal, route.role)) return json(403, { error: `role ${principal.role} may not use ${url.pathname} (needs ${route.role})` });
      }
      await route.handle({ req, res, url, principal, json });
    } catch (e) {
      if (e instanceof ParamError) return json(400, { error: e.message, parameter: e.parameter });
      log.warn({ request_id: id, path, err: e instanceof Error ? e.message : String(e) }, 'http handler failed');
      json(500, { error: 'internal error', request_id: id });
    }
  });
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  server.maxRequestsPerSocket = 1_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? DEFAULT_HTTP_HOST, () => {
      if (!opts.access) log.warn('no access file (--access / M2M_ACCESS_FILE): /metrics and the API answer 401 until one is configured');
      resolve(server);
    });
  });
}
