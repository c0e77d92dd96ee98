/**
 * `${VAR}` and `${VAR:-default}` interpolation, applied to the parsed YAML document rather than
 * to the text: a value can never inject YAML structure, and every scalar keeps its source range
 * so errors still point at the right line. `$${` is a literal `${`.
 *
 * Typing: an unquoted value that is exactly one reference takes the type of what it resolves to
 * (`port: ${SYSLOG_PORT:-514}` is the number 514), as if the text had been written there. A
 * value that is exactly one reference and resolves to the empty string is treated as absent, so
 * `secret: ${SOC_WEBHOOK_SECRET:-}` switches an optional setting off.
 */
import { isMap, isPair, isScalar, isSeq, Scalar, type Document, type Node, type YAMLMap } from 'yaml';

export type YamlPath = Array<string | number>;

export interface InterpolationIssue {
  code: 'undefined_variable' | 'bad_interpolation';
  path: YamlPath;
  /** Source offset of the reference, for line:column. */
  offset: number;
  message: string;
  found?: string;
  note?: string;
}

export interface SecretValue {
  path: YamlPath;
  /** The value as written, with references unexpanded: safe to show. */
  template: string;
}

export interface InterpolationResult {
  issues: InterpolationIssue[];
  /** Values that came from secret-named variables. */
  secrets: SecretValue[];
  /** Keys removed because their single reference resolved empty, with the variable names. */
  emptied: Array<{ path: YamlPath; vars: string[] }>;
  /** Values left unexpanded (inside routes switched off by if_env), with their text. */
  unresolved: Array<{ path: YamlPath; template: string }>;
  /**
   * Every value that came from a variable, with its text as written. Messages show that text,
   * never the value: a credential can sit in a variable whose name does not look secret.
   */
  interpolated: SecretValue[];
}

export interface InterpolationOptions {
  /** Paths under which undefined variables are tolerated and left unexpanded. */
  lenient?: YamlPath[];
}

/** Variable names whose values are credentials. */
const SECRET_VAR_RE = /SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|API_?KEY|(?:^|_)KEY(?:$|_)|PRIVATE/i;

const REF_RE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const EXPR_RE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;
const NUMBER_RE = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** The text as written, minus the defaults of secret variables (a default is a secret too). */
export function safeTemplate(t: string): string {
  return t.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*):-[^}]*\}/g, (m, n: string) => (SECRET_VAR_RE.test(n) ? `\${${n}}` : m));
}

function under(path: YamlPath, prefixes: YamlPath[]): boolean {
  return prefixes.some((p) => p.length <= path.length && p.every((seg, i) => seg === path[i]));
}

export function interpolateDocument(doc: Document, env: Record<string, string | undefined>, opts: InterpolationOptions = {}): InterpolationResult {
  const res: InterpolationResult = { issues: [], secrets: [], emptied: [], unresolved: [], interpolated: [] };
  const lenient = opts.lenient ?? [];
  const toDelete: Array<{ map: YAMLMap; key: unknown }> = [];

  const visitScalar = (node: Scalar, path: YamlPath, parent: YAMLMap | null, key: unknown): void => {
    if (typeof node.value !== 'string' || !node.value.includes('${')) return;
    const text = node.value;
    const start = node.range?.[0] ?? 0;
    // Quotes shift the reference one character right of the node start.
    const quoteShift = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE ? 1 : 0;
    let out = '';
    let last = 0;
    let refs = 0;
    let whole = false;
    let secret = false;
    let unresolved = false;
    const vars: string[] = [];
    for (const m of text.matchAll(REF_RE)) {
      const at = m.index;
      out += text.slice(last, at);
      last = at + m[0].length;
      if (m[0] === '$${') {
        out += '${';
        continue;
      }
      refs++;
      if (m[1] === undefined) {
        res.issues.push({ code: 'bad_interpolation', path, offset: start + quoteShift + at, message: 'unterminated ${ reference', found: JSON.stringify(text), note: 'close it with }, or write $${ for a literal ${' });
        out += m[0];
        continue;
      }
      const expr = EXPR_RE.exec(m[1]);
      if (!expr) {
        res.issues.push({
          code: 'bad_interpolation',
          path,
          offset: start + quoteShift + at,
          message: `bad reference ${m[0]}`,
          found: JSON.stringify(m[0]),
          note: 'write ${VAR} or ${VAR:-default} (VAR: letters, digits and _, not starting with a digit)',
        });
        out += m[0];
        continue;
      }
      const name = expr[1]!;
      const def = expr[2];
      vars.push(name);
      if (SECRET_VAR_RE.test(name)) secret = true;
      const v = env[name];
      // `:-` means "unset or empty", as in POSIX shells.
      if (v !== undefined && (def === undefined || v !== '')) out += v;
      else if (def !== undefined) out += def;
      else if (under(path, lenient)) {
        unresolved = true;
        out += m[0];
      } else {
        res.issues.push({
          code: 'undefined_variable',
          path,
          offset: start + quoteShift + at,
          message: `environment variable ${name} is not set`,
          found: m[0],
          note: `set ${name}, or give a default: \${${name}:-value}`,
        });
        out += m[0];
      }
      if (refs === 1 && at === 0 && last === text.length) whole = true;
    }
    out += text.slice(last);
    if (refs === 0) {
      node.value = out;
      return;
    }
    if (unresolved) {
      node.value = out;
      res.unresolved.push({ path, template: text });
      return;
    }
    if (secret) res.secrets.push({ path, template: safeTemplate(text) });
    res.interpolated.push({ path, template: safeTemplate(text) });
    if (whole && out === '' && parent) {
      toDelete.push({ map: parent, key });
      res.emptied.push({ path, vars });
      return;
    }
    if (whole && node.type === Scalar.PLAIN) {
      if (NUMBER_RE.test(out)) {
        node.value = Number(out);
        return;
      }
      if (out === 'true' || out === 'false') {
        node.value = out === 'true';
        return;
      }
    }
    node.value = out;
  };

  const visit = (node: Node | null | undefined, path: YamlPath, parent: YAMLMap | null, key: unknown): void => {
    if (!node) return;
    if (isScalar(node)) visitScalar(node, path, parent, key);
    else if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        visit(pair.value as Node | null, [...path, String(k)], node, pair.key);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item as Node | null, [...path, i], null, undefined));
    }
  };

  visit(doc.contents as Node | null, [], null, undefined);
  for (const { map, key } of toDelete) map.delete(key);
  return res;
}
