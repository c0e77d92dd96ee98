/** Regenerates docs/worlds.md from the world ranges and class definitions: `npx tsx scripts/gen-world-docs.ts`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderWorldDocs } from '../src/sim/worlds/docs.js';

const out = fileURLToPath(new URL('../docs/worlds.md', import.meta.url));
writeFileSync(out, renderWorldDocs());
process.stdout.write(`wrote ${out}\n`);
