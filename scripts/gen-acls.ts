// Regenerates deploy/kafka/acls.sh only; `npm run gen` regenerates every generated file (scripts/generated.ts).
//   npx tsx scripts/gen-acls.ts [--check]
import { gen } from './gen.js';

process.exit(await gen(['deploy/kafka/acls.sh', ...process.argv.slice(2)]));
