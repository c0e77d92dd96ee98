/** The service's HTTP face: health, readiness, Prometheus metrics and a small findings API. */
import { createServer, type Server } from 'node:http';
import type { ClickHouseClient } from '@clickhouse/client';
import { registry } from '../obs/metrics.js';
import { isReady, overall, snapshot } from './health.js';
import { selectFindings } from '../storage/findings.js';
import { logger } from '../obs/log.js';
import type { ConsoleHandler } from './console.js';

export interface HttpOptions {
  port: number;
  host?: string;
  findings?: { client: ClickHouseClient; database: string; table: string };
  /**
   * The analyst API and web console (console.ts). When present it answers every path but
   * /healthz and /readyz, each behind authentication.
   */
  console?: ConsoleHandler;
}

export function startHttp(opts: HttpOptions): Promise<Server> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === '/healthz') return json(overall() === 'down' ? 503 : 200, { status: overall(), components: snapshot() });
      if (url.pathname === '/readyz') return json(isReady() ? 200 : 503, { ready: isReady(), components: snapshot() });
      if (opts.console) {
        if (!(await opts.console.handle(req, res, url))) json(404, { error: 'not found', see: '/api/openapi.json' });
        return;
      }
      if (url.pathname === '/metrics') {
        res.writeHead(200, { 'content-type': registry.contentType });
        return res.end(await registry.metrics());
      }
      if (url.pathname === '/api/findings' && opts.findings) {
        const q: Parameters<typeof selectFindings>[3] = { limit: Math.min(Number(url.searchParams.get('limit') ?? 100), 5000) };
        const device = url.searchParams.get('device_id');
        if (device) q.device_id = device;
        const minScore = url.searchParams.get('min_score');
        if (minScore) q.min_score = Number(minScore);
        return json(200, await selectFindings(opts.findings.client, opts.findings.database, opts.findings.table, q));
      }
      json(404, { error: 'not found', endpoints: ['/healthz', '/readyz', '/metrics', '/api/findings?device_id=&min_score=&limit='] });
    } catch (e) {
      logger().warn({ err: String(e), path: url.pathname }, 'http handler failed');
      json(500, { error: String(e) });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Localhost unless told otherwise: the console and API are not for the whole network by default.
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve(server));
  });
}
