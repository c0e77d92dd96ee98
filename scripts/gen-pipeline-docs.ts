// Regenerates the reference section of docs/pipelines.md (between the GENERATED markers) from
// the pipeline schema, the detector registry and the alert route specs.
//   npx tsx scripts/gen-pipeline-docs.ts          rewrite it
//   npx tsx scripts/gen-pipeline-docs.ts --check  exit 1 if it is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderReference, spliceReference } from '../src/config/docs.js';

const file = fileURLToPath(new URL('../docs/pipelines.md', import.meta.url));
let cur = '';
try {
  cur = readFileSync(file, 'utf8');
} catch {
  // a missing file gets just the reference
}
const next = spliceReference(cur, renderReference());
if (process.argv.includes('--check')) {
  if (next !== cur) {
    process.stderr.write(`${file} is stale: run npx tsx scripts/gen-pipeline-docs.ts\n`);
    process.exit(1);
  }
  process.stdout.write(`${file} is up to date\n`);
} else {
  writeFileSync(file, next);
  process.stdout.write(`wrote ${file}\n`);
}
