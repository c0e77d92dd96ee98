/**
 * Builds the bench tool into bench/.build/ against the built service: each bench/**\/*.ts is
 * transpiled alone (types were checked by `npm run typecheck`, which covers bench/), and every
 * import that points into src/ is pointed at the same module in dist/. So `npm run bench`
 * measures exactly what `npm run build` ships, in plain node processes (no TypeScript loader in
 * the measured heaps, threads or start-up), with one instance of each service module.
 *
 *   node bench/build.mjs     (npm run bench does it after npm run build)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const bench = dirname(fileURLToPath(import.meta.url));
const repo = resolve(bench, '..');
const src = join(repo, 'src') + sep;
const dist = join(repo, 'dist');
const out = join(bench, '.build');

/** bench/**\/*.ts, without the build itself. */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name.startsWith('.') ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** A specifier as the built file must say it: into dist/ for the service, unchanged otherwise. */
function respecify(spec, from, to) {
  if (!spec.startsWith('.')) return spec;
  const target = resolve(dirname(from), spec);
  if (!target.startsWith(src)) return spec;
  const rel = relative(dirname(to), join(dist, target.slice(src.length))).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

function rewriter(from, to) {
  return (ctx) => (file) => {
    const f = ctx.factory;
    const lit = (s) => f.createStringLiteral(respecify(s.text, from, to));
    const visit = (node) => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        return f.updateImportDeclaration(node, node.modifiers, node.importClause, lit(node.moduleSpecifier), node.attributes);
      }
      if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        return f.updateExportDeclaration(node, node.modifiers, node.isTypeOnly, node.exportClause, lit(node.moduleSpecifier), node.attributes);
      }
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])) {
        return f.updateCallExpression(node, node.expression, node.typeArguments, [lit(node.arguments[0])]);
      }
      return ts.visitEachChild(node, visit, ctx);
    };
    return ts.visitNode(file, visit);
  };
}

rmSync(out, { recursive: true, force: true });
for (const file of sources(bench)) {
  const target = join(out, relative(bench, file)).replace(/\.ts$/, '.js');
  const r = ts.transpileModule(readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
    transformers: { before: [rewriter(file, target)] },
  });
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, r.outputText);
}
