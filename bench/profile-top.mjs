#!/usr/bin/env node
// Summarise a V8 .cpuprofile (from `bench --profile <dir>` or node --cpu-prof): self time by
// function and by file, so hot paths can be compared across runs without a GUI.
//   node bench/profile-top.mjs bench/profiles/pipeline-*.cpuprofile [--top 30]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const topIdx = args.indexOf('--top');
const top = topIdx >= 0 ? Number(args.splice(topIdx, 2)[1]) : 30;
for (const file of args) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = p.timeDeltas;
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map();
  const files = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const url = cf.url.replace(/^file:\/\/.*?\/(node_modules|dist|src)\//, '$1/');
    const key = `${cf.functionName || '(anon)'}  ${url}:${cf.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const fk = url || `(${cf.functionName})`;
    files.set(fk, (files.get(fk) ?? 0) + us);
  }
  const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5) + '%';
  console.log(`\n${file}: ${(total / 1e6).toFixed(2)} s sampled`);
  console.log('  by file:');
  for (const [k, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(us)}  ${k}`);
  console.log('  by function (self):');
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
}
