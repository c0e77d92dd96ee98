// Regenerates docs/worlds.md only; `npm run gen` regenerates every generated file (scripts/generated.ts).
//   npx tsx scripts/gen-world-docs.ts [--check]
import { gen } from './gen.js';

process.exit(await gen(['docs/worlds.md', ...process.argv.slice(2)]));
