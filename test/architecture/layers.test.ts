/**
 * Imports in src/ only point down the layers. Each file belongs to the layer of the longest
 * entry of LAYERS that names it (a folder, or a file that sits lower than its folder); a file may
 * import its own layer and the ones below. An import that points up, or a folder with no layer,
 * fails with file:line. Type-only imports count: they couple as much as any.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** Bottom first. */
const LAYERS: Array<{ layer: string; holds: string[] }> = [
  { layer: 'lib', holds: ['src/lib'] },
  { layer: 'events', holds: ['src/events'] },
  // The detector contract and the helpers detectors share (addresses, robust statistics, regimes…):
  // a helper never reaches into a detector.
  { layer: 'detectors/lib', holds: ['src/detectors/lib', 'src/detectors/types.ts'] },
  { layer: 'detectors', holds: ['src/detectors'] },
  // The health registry has no imports: every layer reports to it, server/ serves it.
  { layer: 'obs', holds: ['src/obs', 'src/server/health.ts'] },
  // Contracts the configuration validates against: broker security settings, the alert outbox.
  { layer: 'config', holds: ['src/config', 'src/kafka/security.ts', 'src/alerts/outbox.ts'] },
  // The pure engine: events through a pipeline's detectors, shared by the service and the backtest.
  { layer: 'engine', holds: ['src/pipeline/engine.ts', 'src/pipeline/tick-wheel.ts', 'src/pipeline/device-cap.ts', 'src/pipeline/build.ts', 'src/pipeline/time.ts', 'src/pipeline/knobs.ts'] },
  // What is kept of an alert (the record, the router's checkpointed state): checkpoints and alert rows name it.
  { layer: 'alert-record', holds: ['src/alerts/record.ts'] },
  { layer: 'state', holds: ['src/state'] },
  { layer: 'storage', holds: ['src/storage'] },
  { layer: 'kafka', holds: ['src/kafka'] },
  { layer: 'alerts', holds: ['src/alerts'] },
  { layer: 'fleet', holds: ['src/fleet'] },
  { layer: 'pipeline', holds: ['src/pipeline'] },
  { layer: 'server', holds: ['src/server'] },
  // The service: pipelines, HTTP and delivery routes started together.
  { layer: 'service', holds: ['src/pipeline/service.ts'] },
  { layer: 'sim', holds: ['src/sim'] },
  { layer: 'eval', holds: ['src/eval'] },
  { layer: 'cli', holds: ['src/cli'] },
];

/**
 * Upward imports known and not yet fixed, each with what fixing it takes. The list can only
 * shrink: an entry that no longer occurs fails the test too, so it is removed when fixed.
 */
const KNOWN: Array<{ from: string; to: string; why: string }> = [];

const layerOf = (file: string): { layer: string; rank: number } | undefined => {
  let best: { layer: string; rank: number; len: number } | undefined;
  LAYERS.forEach((l, rank) => {
    for (const h of l.holds) {
      if ((file === h || file.startsWith(`${h}/`)) && (!best || h.length > best.len)) best = { layer: l.layer, rank, len: h.length };
    }
  });
  return best && { layer: best.layer, rank: best.rank };
};

interface Finding {
  at: string;
  from: string;
  to: string;
  message: string;
}

/** Relative module specifiers of a source text, with their lines: import/export … from, import(), import type. */
function specifiers(file: string, text: string): Array<{ spec: string; line: number }> {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Array<{ spec: string; line: number }> = [];
  const add = (lit: ts.Expression | undefined) => {
    if (lit && ts.isStringLiteralLike(lit)) out.push({ spec: lit.text, line: sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1 });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) add(n.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) add(n.moduleReference.expression);
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) add(n.arguments[0]);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) add(n.argument.literal);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** What is wrong with one file's imports (file: repository-relative, posix). */
function check(file: string, text: string): Finding[] {
  const own = layerOf(file);
  if (!own) return [{ at: file, from: file, to: '', message: `${file}: no layer declared for ${posix.dirname(file)}/ (add it to LAYERS in test/architecture/layers.test.ts)` }];
  const found: Finding[] = [];
  for (const { spec, line } of specifiers(file, text)) {
    if (!spec.startsWith('.')) continue;
    const to = posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts');
    if (!to.startsWith('src/')) continue;
    const target = layerOf(to);
    if (!target) found.push({ at: `${file}:${line}`, from: file, to, message: `${file}:${line} imports ${to}, which is in no layer` });
    else if (target.rank > own.rank) found.push({ at: `${file}:${line}`, from: file, to, message: `${file}:${line} imports ${to}: ${own.layer} must not import ${target.layer} (above it)` });
  }
  return found;
}

const repo = join(dirname(new URL(import.meta.url).pathname), '..', '..');
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('layers', () => {
  it('every import in src points down (or sideways), every folder has a layer', () => {
    const all = sources(join(repo, 'src')).flatMap((abs) => {
      const file = relative(repo, abs).split(/[\\/]/).join('/');
      return check(file, readFileSync(abs, 'utf8'));
    });
    const known = (f: Finding) => KNOWN.some((k) => k.from === f.from && k.to === f.to);
    expect(all.filter((f) => !known(f)).map((f) => f.message)).toEqual([]);
    const stale = KNOWN.filter((k) => !all.some((f) => f.from === k.from && f.to === k.to));
    expect(stale.map((k) => `${k.from} → ${k.to} no longer occurs: remove it from KNOWN`)).toEqual([]);
  });

  it('flags an upward import with its line, in every form of import', () => {
    const text = ["import type { EngineSnapshot } from '../pipeline/engine.js';", "import { x } from '../pipeline/runner.js';", "export { y } from '../cli/main.js';", "const m = await import('../alerts/delivery.js');", "type T = import('../server/http.js').X;"].join('\n');
    expect(check('src/events/decode.ts', text).map((f) => f.at)).toEqual(['src/events/decode.ts:1', 'src/events/decode.ts:2', 'src/events/decode.ts:3', 'src/events/decode.ts:4', 'src/events/decode.ts:5']);
    expect(check('src/events/decode.ts', text)[1]!.message).toBe('src/events/decode.ts:2 imports src/pipeline/runner.ts: events must not import pipeline (above it)');
  });

  it('lets a file import its own layer and the ones below, and packages', () => {
    const text = ["import { retry } from '../lib/retry.js';", "import type { Finding } from '../detectors/types.js';", "import { x } from './runner.js';", "import { Kafka } from 'kafkajs';"].join('\n');
    expect(check('src/pipeline/service.ts', text)).toEqual([]);
  });

  it('places a file named in LAYERS by its own entry, not its folder', () => {
    // engine.ts is below state, so state may import it; runner.ts is not.
    expect(check('src/state/changelog.ts', "import type { X } from '../pipeline/engine.js';")).toEqual([]);
    expect(check('src/state/changelog.ts', "import type { X } from '../pipeline/runner.js';")).toHaveLength(1);
  });

  it('refuses a folder with no layer', () => {
    expect(check('src/nowhere/x.ts', '')[0]!.message).toContain('no layer declared for src/nowhere/');
    expect(check('src/lib/x.ts', "import { y } from '../nowhere/y.js';")[0]!.message).toContain('which is in no layer');
  });
});
