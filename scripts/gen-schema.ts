// Writes schemas/pipeline.schema.json from the detector registry and route specs.
//   npx tsx scripts/gen-schema.ts          write it
//   npx tsx scripts/gen-schema.ts --check  exit 1 if the committed file is stale
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderEditorSchema } from '../src/config/schema.js';

const out = fileURLToPath(new URL('../schemas/pipeline.schema.json', import.meta.url));
const text = renderEditorSchema();
if (process.argv.includes('--check')) {
  let cur = '';
  try {
    cur = readFileSync(out, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (cur !== text) {
    process.stderr.write(`${out} is stale: run npx tsx scripts/gen-schema.ts\n`);
    process.exit(1);
  }
  process.stdout.write(`${out} is up to date\n`);
} else {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
  process.stdout.write(`wrote ${out}\n`);
}
