#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm install`).
import('../dist/cli/main.js').then((m) => m.main(process.argv)).catch((err) => {
  process.stderr.write(`m2m-sentinel: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
