/** No value is exported from src/ that nothing imports (scripts/unused-exports.ts). */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkExports, ENTRY_POINTS, findUnusedExports, KNOWN_UNUSED } from '../../scripts/unused-exports.js';

describe('unused exports', () => {
  it('src/ exports nothing that no file imports, beyond the entry points and the shrinking known list (run: npx tsx scripts/unused-exports.ts)', () => {
    const { fresh, stale } = checkExports(findUnusedExports());
    expect(fresh.map((u) => `${u.file}:${u.line} ${u.name}`)).toEqual([]);
    expect(stale).toEqual([]);
  }, 300_000);

  it('every entry point says why it has no importer', () => {
    for (const [key, why] of Object.entries(ENTRY_POINTS)) {
      expect(key).toMatch(/^src\/.+\.ts#\w+$/);
      expect(why.length, key).toBeGreaterThan(20);
    }
    for (const key of KNOWN_UNUSED) expect(key).toMatch(/^src\/.+\.ts#\w+$/);
  });

  describe('on a project made for the purpose (the check can fail)', () => {
    const root = mkdtempSync(join(tmpdir(), 'unused-exports-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const write = (path: string, text: string): void => {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true }, include: ['src', 'test'] }));
    write('package.json', '{"type":"module"}');
    write(
      'src/a.ts',
      [
        'export const imported = 1;',
        'export function nobody(): number { return 2; }',
        'export const onlyHere = 3;',
        'export const entry = 4;',
        'export const reexported = 5;',
        'export interface Shape { x: number }',
        'export const sum = (s: Shape): number => s.x + onlyHere;',
      ].join('\n'),
    );
    write('src/b.ts', "import { imported, sum } from './a.js';\nexport { reexported } from './a.js';\nexport const b = imported + sum({ x: 1 });\n");
    write('src/lazy.ts', 'export const loadedWhole = 1;\nexport const alsoWhole = 2;\n');
    write('test/b.test.ts', "import { b } from '../src/b.js';\nexport const t = b + (await import('../src/lazy.js')).loadedWhole;\n");

    it('reports what no other file imports, a value used only in its own file included; not types, not dynamically imported modules', () => {
      const got = findUnusedExports(root, { 'src/a.ts#entry': 'an entry point for this test, loaded by name' }).map((u) => `${u.file}#${u.name}`);
      // b.ts re-exports `reexported` and nothing imports it from there: both are dead.
      expect(got.sort()).toEqual(['src/a.ts#nobody', 'src/a.ts#onlyHere', 'src/a.ts#reexported', 'src/b.ts#reexported'].sort());
    });

    it('fails on a new one and on a known entry that is no longer unused', () => {
      const unused = findUnusedExports(root, {});
      const { fresh, stale } = checkExports(unused, new Set(['src/a.ts#nobody', 'src/a.ts#imported']));
      expect(fresh.map((u) => `${u.file}#${u.name}`).sort()).toEqual(['src/a.ts#entry', 'src/a.ts#onlyHere', 'src/a.ts#reexported', 'src/b.ts#reexported']);
      expect(stale).toEqual(['src/a.ts#imported']);
    });
  });
});
