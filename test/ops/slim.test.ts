/**
 * The slim image's layout (`npm ci --omit=optional`: no embedded engine) as a user meets it: the
 * built command in a directory whose node_modules has everything but chdb. Commands that need no
 * ClickHouse work; one that needs the embedded engine says in one line to set CLICKHOUSE_URL
 * (exit 3, no stack trace); with CLICKHOUSE_URL set it goes to the server and never looks for chdb.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bin, ROOT, STACK_FRAME } from '../support/bin.js';

let app: string;

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'm2m-slim-'));
  // What the Dockerfile's runtime stage copies; code is copied so modules resolve from here.
  for (const f of ['package.json', 'bin', 'dist']) cpSync(join(ROOT, f), join(app, f), { recursive: true });
  for (const d of ['pipelines', 'schemas', 'web']) symlinkSync(join(ROOT, d), join(app, d));
  mkdirSync(join(app, 'node_modules'));
  for (const e of readdirSync(join(ROOT, 'node_modules'))) {
    if (e === 'chdb' || e === '@chdb' || e === '.bin') continue;
    symlinkSync(join(ROOT, 'node_modules', e), join(app, 'node_modules', e));
  }
});

const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  bin(args, { cwd: app, script: join(app, 'bin/m2m-sentinel.js'), env: { CLICKHOUSE_URL: undefined, CLICKHOUSE_DATA_DIR: join(app, 'data'), ...env } });

describe('the slim layout (no embedded engine)', () => {
  it('validates pipelines as the full one does', async () => {
    const r = await run(['validate', 'pipelines/default.yaml']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('OK pipelines/default.yaml');
  });

  it('without CLICKHOUSE_URL: one line saying to set it, exit 3, no stack trace', async () => {
    const r = await run(['query', 'SELECT 1']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/chdb\) is not installed.*set CLICKHOUSE_URL/);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });

  it('with CLICKHOUSE_URL: talks to the server (here: none listening) and never asks for chdb', async () => {
    const r = await run(['query', 'SELECT 1'], { CLICKHOUSE_URL: 'http://127.0.0.1:9/' });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).not.toContain('chdb');
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });
});
