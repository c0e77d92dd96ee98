// Regenerates every generated file (the table in scripts/generated.ts).
//   npm run gen                      rewrite them all
//   npx tsx scripts/gen.ts --check   exit 1 naming each stale file, write nothing
//   npx tsx scripts/gen.ts docs/detectors.md ...   only those
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED, ROOT, readCurrent, staleFiles } from './generated.js';

export async function gen(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const only = argv.filter((a) => !a.startsWith('--'));
  const unknown = only.filter((f) => !GENERATED.some((g) => g.file === f));
  if (unknown.length) {
    process.stderr.write(`not a generated file: ${unknown.join(', ')} (see scripts/generated.ts)\n`);
    return 2;
  }
  const entries = only.length ? GENERATED.filter((g) => only.includes(g.file)) : GENERATED;
  const stale = await staleFiles(entries);
  if (check) {
    for (const g of stale) process.stderr.write(`${g.file} is stale (generated from ${g.from}): run npm run gen\n`);
    if (!stale.length) process.stdout.write(`${entries.length} generated file(s) up to date\n`);
    return stale.length ? 1 : 0;
  }
  for (const g of stale) {
    writeFileSync(`${ROOT}/${g.file}`, await g.render(readCurrent(g.file)), g.mode === undefined ? {} : { mode: g.mode });
    process.stdout.write(`wrote ${g.file}\n`);
  }
  process.stdout.write(`${entries.length - stale.length} of ${entries.length} generated file(s) were already up to date\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(await gen(process.argv.slice(2)));
