// Development runner: the CLI straight from TypeScript sources (no build), e.g.
//   npx tsx scripts/dev-cli.ts simulate -n 50 -d 1 -o /tmp/f.ndjson
import { main } from '../src/cli/main.js';

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`m2m-sentinel: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
