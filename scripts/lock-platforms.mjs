#!/usr/bin/env node
// Completes package-lock.json with the platform packages of other machines.
//
// Why: chdb (the embedded ClickHouse) ships its native library as optional packages, one per
// platform (@chdb/lib-darwin-arm64, -linux-x64-gnu, ...). `npm install` on a machine whose
// registry does not serve some of them records only those it could fetch, and `npm ci` then
// refuses the lock ("Missing: @chdb/lib-darwin-arm64@ from lock file"), on every machine, which
// is what broke the Docker build. npm records a platform package it cannot install here as an
// entry with its version and os/cpu/libc; this script writes those entries, taking os/cpu/libc
// from the package name (the <os>-<cpu>[-gnu|-musl] convention these packages follow) and the
// fields shared by all platforms from a sibling that is locked. An entry it writes has no
// integrity hash (the registry here cannot give one): npm ci on that platform fetches it by
// version, as npm install would.
//
//   node scripts/lock-platforms.mjs          complete the lock
//   node scripts/lock-platforms.mjs --check  exit 1 when entries are missing (test/ops/install.test.ts runs it)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const file = process.argv.find((a) => a.endsWith('.json')) ?? fileURLToPath(new URL('../package-lock.json', import.meta.url));
const lock = JSON.parse(readFileSync(file, 'utf8'));
const pkgs = lock.packages;

const PLATFORM = /-(darwin|linux|win32|freebsd|android)-(x64|arm64|arm|ia32|riscv64|ppc64|s390x)(?:-(gnu|musl|msvc))?$/;

/** Entries npm ci will look for and the lock lacks: optional dependencies of locked packages. */
export function missingPlatformEntries(packages) {
  const out = [];
  for (const [path, meta] of Object.entries(packages)) {
    for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
      const nested = `${path ? path + '/' : ''}node_modules/${name}`;
      if (packages[nested] || packages[`node_modules/${name}`]) continue;
      out.push({ name, range, parent: path });
    }
  }
  return out;
}

const missing = missingPlatformEntries(pkgs);
if (process.argv.includes('--check')) {
  if (missing.length) {
    process.stderr.write(`package-lock.json lacks ${missing.map((m) => `${m.name}@${m.range}`).join(', ')}: run node scripts/lock-platforms.mjs\n`);
    process.exit(1);
  }
  process.stdout.write('package-lock.json lists every optional platform package\n');
  process.exit(0);
}

let added = 0;
for (const m of missing) {
  const plat = PLATFORM.exec(m.name);
  if (!plat || !/^\d+\.\d+\.\d+(?:-[\w.]+)?$/.test(m.range)) {
    process.stderr.write(`skipped ${m.name}@${m.range}: not a platform package pinned to one version; add it by hand\n`);
    continue;
  }
  const scope = m.name.slice(0, m.name.lastIndexOf('/') + 1);
  const sibling = Object.entries(pkgs).find(([p, meta]) => p.startsWith(`node_modules/${scope}`) && meta.version === m.range && meta.optional)?.[1];
  const entry = { version: m.range, cpu: [plat[2]] };
  if (plat[3] === 'gnu') entry.libc = ['glibc'];
  if (plat[3] === 'musl') entry.libc = ['musl'];
  if (sibling?.license) entry.license = sibling.license;
  entry.optional = true;
  entry.os = [plat[1]];
  pkgs[`node_modules/${m.name}`] = entry;
  added++;
}
// npm keeps packages sorted by path, the root ("") first.
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
process.stdout.write(`added ${added} platform entr${added === 1 ? 'y' : 'ies'} to ${file}\n`);
