/** Regenerates docs/detectors.md from the detector registry: `npx tsx scripts/gen-detector-docs.ts`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderDetectorDocs } from '../src/detectors/docs.js';

const out = fileURLToPath(new URL('../docs/detectors.md', import.meta.url));
writeFileSync(out, renderDetectorDocs());
process.stdout.write(`wrote ${out}\n`);
