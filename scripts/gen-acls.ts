// Writes deploy/kafka/acls.sh: the kafka-acls.sh commands granting the service's principal what
// the shipped pipelines need (src/pipeline/acls.ts), for the secured compose setup.
//   npx tsx scripts/gen-acls.ts          rewrite it
//   npx tsx scripts/gen-acls.ts --check  exit 1 if it is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderAclScript } from '../src/pipeline/acls.js';
import { loadPipelines } from '../src/config/load.js';

const file = fileURLToPath(new URL('../deploy/kafka/acls.sh', import.meta.url));
// Routes switched on by variables are irrelevant to ACLs; defaults make every file load.
const { pipelines } = await loadPipelines([fileURLToPath(new URL('../pipelines/', import.meta.url))], {});
const next = renderAclScript(pipelines);
if (process.argv.includes('--check')) {
  if (readFileSync(file, 'utf8') !== next) {
    process.stderr.write(`${file} is stale: run npx tsx scripts/gen-acls.ts\n`);
    process.exit(1);
  }
} else {
  writeFileSync(file, next, { mode: 0o755 });
  process.stdout.write(`wrote ${file}\n`);
}
