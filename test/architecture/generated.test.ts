/** Every generated file is what its generator writes now (scripts/generated.ts; fix: npm run gen). */
import { describe, expect, it } from 'vitest';
import { GENERATED, readCurrent, staleFiles } from '../../scripts/generated.js';
import { BEGIN_MARKER } from '../../src/config/docs.js';

/** The text with one word changed inside its generated part (after the marker where there is one). */
function handEdit(text: string): string {
  const at = text.indexOf(BEGIN_MARKER);
  const from = at < 0 ? 0 : at + BEGIN_MARKER.length;
  return text.slice(0, from) + text.slice(from).replace(/[a-z]{4,}/, 'edited');
}

describe('generated files', () => {
  it('are up to date (run: npm run gen)', async () => {
    expect((await staleFiles()).map((g) => `${g.file} (from ${g.from})`)).toEqual([]);
  }, 120_000);

  it('cover the schema, the pipeline reference, the detector and world docs and the ACL script', () => {
    expect(GENERATED.map((g) => g.file).sort()).toEqual(['deploy/kafka/acls.sh', 'docs/detectors.md', 'docs/pipelines.md', 'docs/worlds.md', 'schemas/pipeline.schema.json']);
  });

  it('a hand edit to any of them is caught, and the hand-written prose around the pipeline reference is not (the check can fail)', async () => {
    for (const g of GENERATED) {
      const edited = (file: string): string => (file === g.file ? handEdit(readCurrent(file)) : readCurrent(file));
      expect((await staleFiles(GENERATED, edited)).map((s) => s.file), g.file).toEqual([g.file]);
    }
    expect((await staleFiles(GENERATED, () => '')).length).toBe(GENERATED.length);
    const prose = (file: string): string => (file === 'docs/pipelines.md' ? readCurrent(file).replace(/[a-z]{4,}/, 'edited') : readCurrent(file));
    expect(await staleFiles(GENERATED, prose)).toEqual([]);
  }, 120_000);
});
