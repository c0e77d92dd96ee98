/**
 * Where the bench finds the repository. It runs from its sources (tsx: bench/*.ts) or from the
 * build `npm run bench` makes (bench/.build/*.js, see build.mjs), one directory deeper.
 */
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = here.endsWith(`${sep}.build`) ? join(here, '..', '..') : join(here, '..');

/** A path inside the repository. */
export const root = (p: string): string => `${repo}${sep}${p}`;

/** A module of the bench beside this one, in whichever form (source or build) is running. */
export function benchModule(name: string): { file: string; fromSource: boolean } {
  const fromSource = import.meta.url.endsWith('.ts');
  return { file: join(here, `${name}.${fromSource ? 'ts' : 'js'}`), fromSource };
}
