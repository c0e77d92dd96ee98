/**
 * The Docker image installs from the committed files: the Dockerfile's own `npm ci` commands,
 * run with --dry-run in a clean copy of package.json and package-lock.json (no Docker engine
 * here), succeed; the full image gets the embedded engine and the slim one does not. Also the
 * image's shape: multi-stage, non-root, healthcheck, a context without node_modules.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/bin.js';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** Stages by name, each with its instructions (continuation lines joined). */
function stages(text: string): Map<string, string[]> {
  const lines = text.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const l of lines) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(l);
    if (from) {
      cur = [];
      out.set(from[1] ?? `stage-${out.size}`, cur);
    } else cur?.push(l);
  }
  return out;
}

function sh(cmd: string, cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile('sh', ['-c', cmd], { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, npm_config_loglevel: 'warn' } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
}

const st = stages(dockerfile);

describe('Dockerfile', () => {
  it('is multi-stage, runs as a non-root user with a healthcheck, and has a slim target', () => {
    expect([...st.keys()]).toEqual(expect.arrayContaining(['build', 'deps', 'deps-slim', 'runtime', 'slim', 'full']));
    // The default target is the last stage: the full image.
    expect([...st.keys()].at(-1)).toBe('full');
    const runtime = st.get('runtime')!;
    expect(runtime.find((l) => /^USER\s/.test(l))).toMatch(/^USER\s+node$/);
    expect(runtime.some((l) => /^HEALTHCHECK\s.*\/healthz/.test(l))).toBe(true);
    expect(runtime.some((l) => /HTTP_HOST=0\.0\.0\.0/.test(l))).toBe(true);
    expect(st.get('slim')!.join('\n')).toContain('--from=deps-slim');
    expect(st.get('full')!.join('\n')).toContain('--from=deps ');
    // What the stages copy from the context exists, and .dockerignore does not hide it.
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const l of [...st.values()].flat()) {
      const copy = /^COPY\s+(?!--from)(?:--\S+\s+)*(.+)\s+\S+$/.exec(l);
      if (!copy) continue;
      for (const src of copy[1]!.split(/\s+/)) {
        expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
        expect(ignore, `.dockerignore hides ${src}`).not.toContain(src);
      }
    }
    for (const heavy of ['node_modules', 'data', 'dist', '.git']) expect(ignore).toContain(heavy);
  });

  it('copies every directory the service reads beside dist/ at run time (the console\'s web/ files, pipelines, schemas)', () => {
    const copied = new Set(st.get('runtime')!.flatMap((l) => /^COPY\s+(?!--from)(?:--\S+\s+)*(\S+)\s+\S+$/.exec(l)?.[1] ?? []));
    // Only what a developer's machine has: the local broker script serves the demo, not the image.
    const notInImage = new Set(['scripts']);
    const used = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) for (const m of readFileSync(join(ROOT, p), 'utf8').matchAll(/new URL\(['`]\.\.\/\.\.\/([A-Za-z][\w.-]*)\//g)) used.add(m[1]!);
      }
    };
    walk('src');
    expect(used.size).toBeGreaterThan(0);
    for (const d of used) if (!notInImage.has(d)) expect(copied.has(d), `the image lacks ${d}/`).toBe(true);
    for (const d of ['pipelines', 'schemas', 'bin', 'package.json']) expect(copied.has(d), d).toBe(true);
  });

  it('its npm ci commands succeed from the committed lock in a clean copy: full with the embedded engine, slim without', async () => {
    const installs = [...st.entries()].flatMap(([stage, lines]) => lines.filter((l) => /^RUN npm ci\b/.test(l)).map((l) => ({ stage, cmd: l.replace(/^RUN\s+/, '') })));
    expect(installs.map((i) => i.stage)).toEqual(['build', 'deps', 'deps-slim']);
    const results = new Map<string, string>();
    for (const { stage, cmd } of installs) {
      const dir = mkdtempSync(join(tmpdir(), `m2m-docker-${stage}-`));
      for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f));
      const r = await sh(`${cmd} --dry-run`, dir);
      expect(r.code, `${stage}: ${cmd}\n${r.out}`).toBe(0);
      results.set(stage, r.out);
    }
    expect(results.get('deps')).toMatch(/^add chdb /m);
    expect(results.get('deps')).not.toMatch(/^add (typescript|vitest) /m);
    expect(results.get('deps-slim')).not.toMatch(/^add (chdb|@chdb\/)/m);
    expect(results.get('deps-slim')).toMatch(/^add kafkajs /m);
    expect(results.get('build')).toMatch(/^add typescript /m);
  }, 300_000);

  it('the lock lists every optional platform package npm ci looks for (scripts/lock-platforms.mjs --check)', async () => {
    const r = await sh('node scripts/lock-platforms.mjs --check', ROOT);
    expect(r.code, r.out).toBe(0);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { optionalDependencies?: Record<string, string> }> };
    for (const name of Object.keys(lock.packages['node_modules/chdb']!.optionalDependencies ?? {})) expect(lock.packages[`node_modules/${name}`], name).toBeDefined();
  });
});
