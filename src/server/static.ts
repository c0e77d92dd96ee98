/**
 * The console's static files: its own script and styles (web/) and uPlot from node_modules,
 * served from a fixed list (no path from the request ever reaches the file system), so the
 * console needs nothing from the internet.
 */
import type { ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const web = (f: string) => fileURLToPath(new URL(`../../web/${f}`, import.meta.url));
const uplot = (f: string) => join(dirname(require.resolve('uplot')), f);

const FILES: Record<string, { path: () => string; type: string }> = {
  'console.js': { path: () => web('console.js'), type: 'text/javascript; charset=utf-8' },
  'alert.js': { path: () => web('alert.js'), type: 'text/javascript; charset=utf-8' },
  'console.css': { path: () => web('console.css'), type: 'text/css; charset=utf-8' },
  'uplot.js': { path: () => uplot('uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uplot.css': { path: () => uplot('uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

export function serveStatic(res: ServerResponse, name: string, headers: Record<string, string>): void {
  const f = FILES[name];
  if (!f) {
    res.writeHead(404, { 'content-type': 'text/plain', ...headers });
    return void res.end('not found');
  }
  let body = cache.get(name);
  if (!body) cache.set(name, (body = readFileSync(f.path())));
  res.writeHead(200, { 'content-type': f.type, 'cache-control': 'private, max-age=300', ...headers });
  res.end(body);
}
