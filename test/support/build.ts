/**
 * The CLI tests run the built binary (bin/m2m-sentinel.js → dist/), as a user does. A dist/ older
 * than the sources would have them judge yesterday's code and pass or fail for it, so the suite
 * rebuilds first when any source is newer than the build (after `npm ci` in a clean clone it is
 * not, and nothing happens).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Whether dist/ is missing or older than a file under src/ (or the build's tsconfig). */
export function buildIsStale(root: string): boolean {
  const out = join(root, 'dist/cli/main.js');
  if (!existsSync(out)) return true;
  const built = statSync(out).mtimeMs;
  const inputs = Math.max(newestMtime(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs, statSync(join(root, 'tsconfig.build.json')).mtimeMs);
  return inputs > built;
}

export function ensureBuilt(root: string): void {
  if (!buildIsStale(root)) return;
  process.stderr.write('[build] dist/ is older than src/: rebuilding (npm run build) so the CLI tests run this code\n');
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
}
