/**
 * Ad hoc maintenance windows over the analyst API: viewers list, analysts add and remove (each
 * audited), input is checked, and the windows are the ones every instance reads from the topic.
 */
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { followMaintenance } from '../../src/alerts/maintenance-topic.js';
import { createConsole } from '../../src/server/console.js';
import { startHttp } from '../../src/server/http.js';
import { parseAccess } from '../../src/server/access.js';
import { openClickHouse } from '../../src/storage/clickhouse.js';
import { migrate } from '../../src/storage/migrations.js';
import { kafka, tempDir, testPipeline, uid, waitFor } from '../support/kafka.js';

describe('/api/maintenance', () => {
  it('viewer lists, analyst adds and removes; bad input is a 400 naming it', async () => {
    const k = kafka();
    const topic = uid('maint-api');
    process.env.M2M_MAINTENANCE_TOPIC = topic;
    const name = uid('mapi');
    const cfg = testPipeline(name, [['policy', {}]]);
    cfg.findings.clickhouse.database = name.replace(/-/g, '_');
    const ch = openClickHouse({ dataDir: join(tempDir('m2m-mapi'), 'ch') });
    await migrate(ch.client, { database: cfg.findings.clickhouse.database, table: 'findings', ttlDays: 30 });
    const { access } = parseAccess('tokens:\n  - { name: grafana, role: viewer, token_env: T_V }\n  - { name: soar, role: analyst, token_env: T_A }\n', 'access.yaml', { T_V: 'viewer-token-0123456789abcdef', T_A: 'analyst-token-0123456789abcdef' });
    const book = await followMaintenance(k, topic);
    const api = createConsole({ client: ch.client, pipelines: [cfg], kafka: k, access: access!, users: [], productVersion: 't', maintenance: () => book.book });
    const server = await startHttp({ port: 0, console: api });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const call = (method: string, path: string, token: string, body?: unknown) =>
      fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const V = 'viewer-token-0123456789abcdef';
    const A = 'analyst-token-0123456789abcdef';
    try {
      expect((await call('POST', '/api/maintenance', V, { devices: ['plc-07'], for: '2h' })).status).toBe(403);
      const bad = await call('POST', '/api/maintenance', A, { devices: ['plc-07'], for: 'soon' });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ parameter: 'for' });
      expect((await call('POST', '/api/maintenance', A, { for: '2h' })).status).toBe(400);
      const added = await call('POST', '/api/maintenance', A, { devices: ['plc-07'], for: '2h', reason: 'swap', pipeline: name });
      expect(added.status).toBe(201);
      const w = (await added.json()) as { id: string; created_by: string };
      expect(w.created_by).toBe('soar');
      await waitFor(async () => book.book.all().some((x) => x.id === w.id), 20_000);
      const list = (await (await call('GET', '/api/maintenance', V)).json()) as { items: Array<{ id: string; devices: string[] }> };
      expect(list.items).toEqual([expect.objectContaining({ id: w.id, devices: ['plc-07'] })]);
      expect((await call('POST', '/api/maintenance/mw-nope/remove', A)).status).toBe(404);
      expect((await call('POST', `/api/maintenance/${w.id}/remove`, A)).status).toBe(200);
      await waitFor(async () => book.book.all().length === 0, 20_000);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await api.close();
      await book.stop();
      await ch.client.close();
      delete process.env.M2M_MAINTENANCE_TOPIC;
    }
  }, 120_000);
});
