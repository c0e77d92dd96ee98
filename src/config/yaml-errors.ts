/**
 * YAML syntax errors as ConfigErrors a data engineer can act on. The parser's own text names
 * its grammar ("Implicit map keys need to be followed by map values"); what the user needs is
 * the slip that usually causes it ("a colon is missing after the key") and where it is. Every
 * error the parser found is reported, not only the first, so one run fixes a file.
 */
import type { YAMLError } from 'yaml';
import type { ConfigError } from './errors.js';

interface Rewrite {
  message: string;
  note?: string;
}

/** Parser message (first line) → what the user most likely wrote wrong. */
function rewrite(e: YAMLError, src: string): Rewrite {
  const raw = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  if (src.includes('${') && /[{[]/.test(src.slice(0, src.indexOf('${')))) {
    return { message: 'unquoted ${...} inside { } or [ ]', note: 'quote it there, e.g. { url: "${SOC_WEBHOOK_URL}" }' };
  }
  switch (e.code) {
    case 'MULTIPLE_DOCS':
      return { message: 'a pipeline file holds one YAML document', note: 'put each pipeline in its own file' };
    case 'DUPLICATE_KEY':
      return { message: 'duplicate key', note: 'each key may appear once per map; a later one would silently win' };
    case 'TAB_AS_INDENT':
      return { message: 'tab used for indentation', note: 'YAML indentation must use spaces, not tabs' };
    case 'BLOCK_AS_IMPLICIT_KEY':
      return { message: 'a map nested on one line', note: 'write "fanout: { window: 5m }", or put "window: 5m" on its own line, indented under fanout' };
    case 'MULTILINE_IMPLICIT_KEY':
      return { message: 'a key runs over several lines', note: 'a key ends with ": " on its own line; check the line above for a missing colon or quote' };
    case 'BAD_DQ_ESCAPE':
      return { message: 'invalid escape in a "double-quoted" string', note: "use single quotes for text with backslashes, e.g. 'C:\\data'" };
    default:
      break;
  }
  if (/Implicit map keys need to be followed by map values/.test(raw)) return { message: 'a key without a value', note: 'a colon and a space are missing after the key, e.g. "group: sentinel" rather than "group sentinel"' };
  if (/Missing closing .?quote/i.test(raw)) return { message: 'a quoted string is not closed', note: 'add the closing quote on the same line' };
  if (/must be sufficiently indented and end with a ([\]}])/.test(raw)) {
    const close = /end with a ([\]}])/.exec(raw)![1];
    return { message: `an unclosed ${close === ']' ? '[ list ]' : '{ map }'}`, note: `close it with ${close} on the same line, or write it as indented block lines` };
  }
  if (/All (sequence|collection) items must start at the same column/.test(raw)) return { message: 'misaligned list item', note: 'items of one list start at the same column ("- " under "- ")' };
  if (e.code === 'BAD_INDENT') return { message: `bad indentation: ${raw.charAt(0).toLowerCase()}${raw.slice(1)}`, note: 'keys of one map start at the same column; nested keys are indented further, with spaces' };
  return { message: raw.charAt(0).toLowerCase() + raw.slice(1) };
}

/** Every syntax error of a parsed document, one per line, in file order. */
export function yamlSyntaxErrors(errors: readonly YAMLError[], text: string, file: string, pos: (offset: number) => { line: number; column: number }): ConfigError[] {
  const lines = text.split('\n');
  const out: ConfigError[] = [];
  const seenLines = new Set<number>();
  for (const e of errors) {
    const { line, column } = pos(e.pos[0]);
    // One slip often makes the parser complain twice on a line (an unclosed "[" and "{"):
    // the first complaint is the one that explains it.
    if (seenLines.has(line)) continue;
    seenLines.add(line);
    const r = rewrite(e, lines[line - 1] ?? '');
    const err: ConfigError = { code: e.code === 'MULTIPLE_DOCS' ? 'multiple_documents' : 'yaml_syntax', file, line, column, path: '', message: r.message };
    if (r.note !== undefined) err.note = r.note;
    out.push(err);
  }
  return out.sort((a, b) => a.line - b.line || a.column - b.column);
}
