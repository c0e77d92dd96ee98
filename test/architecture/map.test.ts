/** docs/architecture.md has one paragraph per folder of src/, and no paragraph for a folder that is gone. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Folder names of the `**name/**` paragraphs under "The folders of src/". */
function mappedFolders(doc: string): string[] {
  const section = doc.split(/^## The folders of src\/$/m)[1]?.split(/^## /m)[0] ?? '';
  return [...section.matchAll(/^\*\*([a-z][a-z0-9-]*)\/\*\*/gm)].map((m) => m[1]!);
}

describe('docs/architecture.md', () => {
  it('describes every folder of src/ and no other', () => {
    const folders = readdirSync('src', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(folders.length).toBeGreaterThan(10);
    expect(mappedFolders(readFileSync('docs/architecture.md', 'utf8')).sort()).toEqual(folders);
  });

  it('reads the paragraphs of that section only (the check can fail)', () => {
    const doc = '# A\n**cli/** before\n## The folders of src/\n\n**lib/**: x\n\n**events/**: y\n## Outside src/\n**bench/** z\n';
    expect(mappedFolders(doc)).toEqual(['lib', 'events']);
  });
});
