// Regenerates docs/detectors.md only; `npm run gen` regenerates every generated file (scripts/generated.ts).
//   npx tsx scripts/gen-detector-docs.ts [--check]
import { gen } from './gen.js';

process.exit(await gen(['docs/detectors.md', ...process.argv.slice(2)]));
