// Regenerates schemas/pipeline.schema.json only; `npm run gen` regenerates every generated file (scripts/generated.ts).
//   npx tsx scripts/gen-schema.ts [--check]
import { gen } from './gen.js';

process.exit(await gen(['schemas/pipeline.schema.json', ...process.argv.slice(2)]));
