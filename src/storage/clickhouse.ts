/**
 * The one place that decides which ClickHouse we talk to. Everything else takes the returned
 * @clickhouse/client and never knows whether it is the embedded engine (chdb, in-process,
 * persisted under a data directory) or a ClickHouse server.
 */
import { createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';
import type { createChdbConnection as CreateChdbConnection } from 'chdb/connection';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { PinoClickHouseLogger } from './clickhouse-log.js';

// The embedded engine is a ~150 MiB native library; a service talking to a ClickHouse server
// never loads it.
const require = createRequire(import.meta.url);
const loadChdb = (): typeof CreateChdbConnection => {
  try {
    return (require('chdb/connection') as { createChdbConnection: typeof CreateChdbConnection }).createChdbConnection;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    // chdb is an optional dependency: the slim image and `npm ci --omit=optional` leave it out.
    throw Object.assign(new Error('the embedded ClickHouse engine (chdb) is not installed here (slim image or --omit=optional): set CLICKHOUSE_URL to a ClickHouse server'), { userFacing: true });
  }
};

export interface ClickHouseOptions {
  /** Server URL (http://user:pass@host:8123). Unset = embedded. */
  url?: string;
  /** Embedded engine data directory. */
  dataDir?: string;
}

export interface ClickHouseHandle {
  client: ClickHouseClient;
  mode: 'embedded' | 'server';
  /** Where the data lives: the data directory or the server URL without credentials. */
  location: string;
}

export function clickHouseOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ClickHouseOptions {
  const o: ClickHouseOptions = {};
  if (env.CLICKHOUSE_URL) o.url = env.CLICKHOUSE_URL;
  o.dataDir = env.CLICKHOUSE_DATA_DIR ?? './data';
  return o;
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

export function openClickHouse(opts: ClickHouseOptions = clickHouseOptionsFromEnv()): ClickHouseHandle {
  const settings = {
    date_time_input_format: 'best_effort' as const,
    // Findings are small and few; wait for the insert to be durable before we commit offsets.
    async_insert: 0 as const,
  };
  const log = { LoggerClass: PinoClickHouseLogger };
  if (opts.url) {
    const client = createClient({ url: opts.url, clickhouse_settings: settings, request_timeout: 30_000, log });
    return { client, mode: 'server', location: redactUrl(opts.url) };
  }
  const dir = resolve(opts.dataDir ?? './data');
  mkdirSync(dir, { recursive: true });
  // chdb types its Connection against the separately published @clickhouse/client-common, which
  // @clickhouse/client now bundles; the runtime contract is the same, the declarations differ.
  const connection = loadChdb()({ path: dir }) as unknown as NonNullable<ClickHouseClientConfigOptions['connection']>;
  const client = createClient({ connection, clickhouse_settings: settings, log });
  return { client, mode: 'embedded', location: dir };
}

/** Quote an identifier that came from configuration (database or table name). */
export function ident(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid ClickHouse identifier: ${name}`);
  return '`' + name + '`';
}

export async function queryRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return (await rs.json()) as T[];
}
