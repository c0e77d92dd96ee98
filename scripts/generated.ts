// Every file the repository generates from code, in one table: `npm run gen` rewrites them all
// (scripts/gen.ts), test/architecture/generated.test.ts fails when a committed one differs from what its
// generator writes now. A new generated file is one entry here.
//
// Not listed, on purpose: outputs of measurements that take minutes and a broker (bench/results*,
// the generated part of docs/quality.md, the robustness report); their own commands rewrite them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderReference, spliceReference } from '../src/config/docs.js';
import { loadPipelines } from '../src/config/load.js';
import { renderEditorSchema } from '../src/config/schema.js';
import { renderDetectorDocs } from '../src/detectors/docs.js';
import { renderAclScript } from '../src/pipeline/acls.js';
import { renderWorldDocs } from '../src/sim/worlds/docs.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Generated {
  /** Path from the repository root. */
  file: string;
  /** What it is generated from, for the stale message. */
  from: string;
  /** The file's whole text as it should be; `current` is the committed text ('' if missing). */
  render(current: string): string | Promise<string>;
  mode?: number;
}

export const GENERATED: readonly Generated[] = [
  { file: 'schemas/pipeline.schema.json', from: 'the detector registry and route specs (src/config/schema.ts)', render: () => renderEditorSchema() },
  // Only the reference section between the GENERATED markers; the prose around it is written by hand.
  { file: 'docs/pipelines.md', from: 'the schema, the detector registry and route specs (src/config/docs.ts)', render: (cur) => spliceReference(cur, renderReference()) },
  { file: 'docs/detectors.md', from: 'the detector registry (src/detectors/docs.ts)', render: () => renderDetectorDocs() },
  { file: 'docs/worlds.md', from: 'the world ranges and classes (src/sim/worlds/docs.ts)', render: () => renderWorldDocs() },
  {
    file: 'deploy/kafka/acls.sh',
    from: 'the shipped pipelines (src/pipeline/acls.ts)',
    // Routes switched on by variables are irrelevant to ACLs; defaults make every file load.
    render: async () => renderAclScript((await loadPipelines([fileURLToPath(new URL('../pipelines/', import.meta.url))], {})).pipelines),
    mode: 0o755,
  },
];

export function readCurrent(file: string, root = ROOT): string {
  try {
    return readFileSync(`${root}/${file}`, 'utf8');
  } catch {
    return ''; // missing counts as stale
  }
}

/** Files of `entries` whose committed text differs from what their generator writes now. */
export async function staleFiles(entries: readonly Generated[] = GENERATED, read: (file: string) => string = readCurrent): Promise<Generated[]> {
  const out: Generated[] = [];
  for (const g of entries) {
    const cur = read(g.file);
    if ((await g.render(cur)) !== cur) out.push(g);
  }
  return out;
}
