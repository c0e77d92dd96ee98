// Exports of src/ that nothing imports: dead code that still looks like an API, so the next
// engineer keeps it alive. Uses the TypeScript compiler (no extra tool): every import in src/,
// test/, scripts/ and bench/ marks the declarations it reaches (each re-export on the way
// included), and `export * as`, import() and import types mark their whole module; a value exported by src/ and reached by none is reported. A use inside its own file
// does not count (the `export` keyword is then what is unused). Types are left out: an interface
// exported beside the function whose signature names it documents that signature.
//   npx tsx scripts/unused-exports.ts      list them; exit 1 if any (test/architecture/unused-exports.test.ts)
import ts from 'typescript';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Exports whose callers are not imports the compiler sees, each with its reason. Keys are
 * `path#name` relative to the repository root.
 */
export const ENTRY_POINTS: Readonly<Record<string, string>> = {
  'src/cli/main.ts#cli': 'the CLI entry: bin/m2m-sentinel.js imports dist/cli/main.js at run time (plain JS, outside the program)',
  'src/cli/main.ts#main': 'the CLI without its exit handling, run in-process by test/e2e/demo.test.ts through a `tsx -e` string the compiler does not see',
};

/**
 * Unused exports found when the check was added, in files other streams were changing at the
 * time (issue 23). Remove an entry with its export (delete the value, or drop `export` if the
 * file uses it); the check fails on an entry that is no longer unused, so this list only shrinks.
 */
export const KNOWN_UNUSED: ReadonlySet<string> = new Set<string>([]);

export interface UnusedExport {
  file: string;
  line: number;
  name: string;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every value exported by src/ that no other file of the program imports, minus ENTRY_POINTS. */
export function findUnusedExports(root: string = ROOT, entryPoints: Readonly<Record<string, string>> = ENTRY_POINTS): UnusedExport[] {
  const configPath = resolve(root, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error(`cannot read ${configPath}`);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: { ...parsed.options, noEmit: true } });
  const checker = program.getTypeChecker();
  const own = program.getSourceFiles().filter((f) => !f.isDeclarationFile && !f.fileName.includes('/node_modules/'));

  // Declarations reached from another file, by the file that declares them.
  const used = new Set<ts.Symbol>();
  const wholeModules = new Set<ts.Symbol>();
  const resolveAlias = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const markModule = (spec: ts.Node | undefined): void => {
    const m = spec && checker.getSymbolAtLocation(spec);
    if (m) wholeModules.add(m);
  };
  // Every hop of an import's alias chain is a use: `import { x } from './b'` uses b's re-export
  // of x and a's declaration of x, but not a's x through some other path.
  const markName = (name: ts.Node): void => {
    let s = checker.getSymbolAtLocation(name);
    for (let hops = 0; s && hops < 32; hops++) {
      used.add(s);
      if (!(s.flags & ts.SymbolFlags.Alias)) break;
      s = checker.getImmediateAliasedSymbol(s);
    }
  };

  for (const sf of own) {
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node)) {
        const clause = node.importClause;
        if (clause?.name) markName(clause.name);
        const nb = clause?.namedBindings;
        if (nb && ts.isNamespaceImport(nb)) markModule(node.moduleSpecifier);
        else if (nb) for (const el of nb.elements) markName(el.name);
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && node.exportClause && ts.isNamespaceExport(node.exportClause)) {
        markModule(node.moduleSpecifier);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        // import('./x.js'): whatever the caller takes from it, the module is used as a whole.
        markModule(node.arguments[0]);
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
        markModule(node.argument.literal);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }

  const out: UnusedExport[] = [];
  const srcDir = resolve(root, 'src') + '/';
  for (const sf of own) {
    if (!resolve(sf.fileName).startsWith(srcDir)) continue;
    const mod = checker.getSymbolAtLocation(sf);
    if (!mod || wholeModules.has(mod)) continue;
    const file = relative(root, sf.fileName);
    for (const e of checker.getExportsOfModule(mod)) {
      if (used.has(e) || !(resolveAlias(e).flags & ts.SymbolFlags.Value)) continue;
      if (entryPoints[`${file}#${e.name}`] !== undefined) continue;
      const decl = e.declarations?.[0];
      const line = decl ? decl.getSourceFile().getLineAndCharacterOfPosition(decl.getStart()).line + 1 : 0;
      out.push({ file, line, name: e.name });
    }
  }
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** What the check reports: new unused exports, and KNOWN_UNUSED entries that are used (or gone) now. */
export function checkExports(unused: readonly UnusedExport[], known: ReadonlySet<string> = KNOWN_UNUSED): { fresh: UnusedExport[]; stale: string[] } {
  const found = new Set(unused.map((u) => `${u.file}#${u.name}`));
  return { fresh: unused.filter((u) => !known.has(`${u.file}#${u.name}`)), stale: [...known].filter((k) => !found.has(k)) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { fresh, stale } = checkExports(findUnusedExports());
  for (const u of fresh) process.stdout.write(`${u.file}:${u.line}  ${u.name}  exported, imported nowhere\n`);
  for (const k of stale) process.stdout.write(`${k}  listed in KNOWN_UNUSED but not an unused export now: remove the entry\n`);
  process.stdout.write(`${fresh.length} new unused export(s), ${stale.length} stale allow-list entr${stale.length === 1 ? 'y' : 'ies'}\n`);
  process.exit(fresh.length || stale.length ? 1 : 0);
}
