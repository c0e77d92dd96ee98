#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm install`).
// Errors and exit codes are handled inside cli(); only a missing build reaches the catch.
import('../dist/cli/main.js').then((m) => m.cli(process.argv)).catch((err) => {
  const missing = err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js');
  process.stderr.write(missing ? 'm2m-sentinel: not built yet: run `npm install` (or `npm run build`) in the repository first\n' : `m2m-sentinel: ${err && err.message ? err.message : err}\n`);
  process.exit(missing ? 2 : 3);
});
