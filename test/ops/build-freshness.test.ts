/** The suite rebuilds dist/ before the CLI tests when a source is newer (test/support/build.ts). */
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIsStale } from '../support/build.js';

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'm2m-build-'));
  for (const d of ['src/cli', 'dist/cli']) mkdirSync(join(root, d), { recursive: true });
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'src/cli/main.ts', 'dist/cli/main.js']) writeFileSync(join(root, f), '');
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'src/cli/main.ts']) utimesSync(join(root, f), t(0), t(0));
  utimesSync(join(root, 'dist/cli/main.js'), t(10), t(10));
  return root;
}

describe('buildIsStale', () => {
  it('is false for a build newer than every source, true once a nested source changes or the build is missing', () => {
    const root = tree();
    expect(buildIsStale(root)).toBe(false);
    mkdirSync(join(root, 'src/alerts/channels'), { recursive: true });
    writeFileSync(join(root, 'src/alerts/channels/escape.ts'), '// edited now');
    expect(buildIsStale(root)).toBe(true);
    const other = tree();
    writeFileSync(join(other, 'tsconfig.build.json'), '{}');
    expect(buildIsStale(other)).toBe(true);
    expect(buildIsStale(join(other, 'nowhere'))).toBe(true);
  });
});
