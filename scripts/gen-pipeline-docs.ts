// Regenerates docs/pipelines.md only; `npm run gen` regenerates every generated file (scripts/generated.ts).
//   npx tsx scripts/gen-pipeline-docs.ts [--check]
import { gen } from './gen.js';

process.exit(await gen(['docs/pipelines.md', ...process.argv.slice(2)]));
