/**
 * The generated part of docs/pipelines.md: every key of the pipeline schema and every detector
 * parameter and route option, with type, default, description and example. Rendered from the
 * same schema the validator uses, so the reference cannot describe a different language.
 */
import { DETECTORS } from '../detectors/registry.js';
import type { DetectorSpec } from '../detectors/types.js';
import { DURATION_PATTERN } from '../lib/duration.js';
import { ROUTE_SPECS } from './routes.js';
import { buildPipelineSchema, type JsonSchema } from './schema.js';

export const BEGIN_MARKER = '<!-- BEGIN GENERATED REFERENCE: npx tsx scripts/gen-pipeline-docs.ts -->';
const END_MARKER = '<!-- END GENERATED REFERENCE -->';

type S = JsonSchema & {
  type?: string | string[];
  properties?: Record<string, S>;
  items?: S;
  additionalProperties?: boolean | S;
  anyOf?: S[];
  enum?: unknown[];
  default?: unknown;
  examples?: unknown[];
  description?: string;
  pattern?: string;
  required?: string[];
};

export interface KeyDoc {
  /** Dotted path: `source.kafka.topics`, `detectors[].fanout.window`, `mapping.metrics.<metric>.rename`. */
  path: string;
  schema: S;
  required: boolean;
}

/** Paths under which the walk stops: detector parameters and route options are leaves here. */
const LEAF_PARENTS = [/^detectors\[\]\.[a-z0-9_]+$/, /^alerts\.routes\[\]\.[a-z0-9_]+$/];

/** Every key a pipeline file can hold, in schema order. The drift test checks each is documented. */
export function schemaKeys(schema: JsonSchema = buildPipelineSchema()): KeyDoc[] {
  const out: KeyDoc[] = [];
  const walk = (s: S, path: string, required: boolean): void => {
    if (path) out.push({ path, schema: s, required });
    const leafChildren = LEAF_PARENTS.some((r) => r.test(path));
    const req = new Set(s.required ?? []);
    for (const [k, child] of Object.entries(s.properties ?? {})) {
      const p = path ? `${path}.${k}` : k;
      if (leafChildren) out.push({ path: p, schema: child, required: req.has(k) });
      else walk(child, p, req.has(k));
    }
    if (s.items && typeof s.items === 'object' && (s.items.properties || s.items.additionalProperties)) walk(s.items, `${path}[]`, false);
    if (s.additionalProperties && typeof s.additionalProperties === 'object' && s.additionalProperties.properties) {
      const name = path.endsWith('.metrics') || path.endsWith('.min_deviation') ? '<metric>' : '<name>';
      walk(s.additionalProperties, `${path}.${name}`, false);
    }
    // Mapping rules: `field: path` or `field: { path, format, scale, offset }`; the map form's keys
    // are documented once under mapping.fields.<field>.
    if (s.anyOf && path.startsWith('mapping.fields.')) {
      for (const b of s.anyOf) {
        for (const [k, child] of Object.entries(b.properties ?? {})) {
          const p = `mapping.fields.<field>.${k}`;
          if (!out.some((o) => o.path === p)) out.push({ path: p, schema: child, required: k === 'path' });
        }
      }
    }
  };
  walk(schema as S, '', true);
  // The rule keys shared by every canonical field read best after the list of fields.
  const rules = out.filter((k) => k.path.startsWith('mapping.fields.<field>.'));
  const rest = out.filter((k) => !k.path.startsWith('mapping.fields.<field>.'));
  const lastField = rest.map((k) => k.path.startsWith('mapping.fields.')).lastIndexOf(true);
  rest.splice(lastField + 1, 0, ...rules);
  return rest;
}

function flow(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length ? `{ ${entries.map(([k, x]) => `${k}: ${flow(x)}`).join(', ')} }` : '{}';
  }
  if (typeof v === 'string') return /^[A-Za-z0-9_.$/@:-][A-Za-z0-9_.$/@:{}+ -]*$/.test(v) && !/: |^\d+$/.test(v) ? v : JSON.stringify(v);
  return String(v);
}

function typeName(s: S): string {
  if (s.anyOf) {
    const kinds = s.anyOf.map((b) => (b.properties ? 'map' : typeName(b)));
    return [...new Set(kinds)].join(' or ');
  }
  if (s.pattern === DURATION_PATTERN) return 'duration';
  if (s.enum) return s.enum.map((e) => String(e)).join(' | ');
  const t = Array.isArray(s.type) ? s.type.filter((x) => x !== 'null')[0] : s.type;
  switch (t) {
    case 'array':
      return s.items ? `list of ${typeName(s.items).replace(/^a /, '')}` : 'list';
    case 'object':
      return 'map';
    case undefined:
      return 'any';
    default:
      return t;
  }
}

const cell = (x: string): string => x.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (x: string): string => '`' + x.replace(/`/g, "'") + '`';

function defaultCell(k: KeyDoc): string {
  if (k.schema.default !== undefined) return code(flow(k.schema.default));
  return k.required ? '**required**' : '—';
}

function exampleCell(s: S): string {
  // A parameter without its own example is shown with its default, so every row has one.
  const e = s.examples?.[0] ?? (s.default !== undefined && !(Array.isArray(s.default) && s.default.length === 0) ? s.default : undefined);
  return e === undefined ? '' : code(flow(e));
}

function table(rows: KeyDoc[], label: (k: KeyDoc) => string = (k) => k.path): string {
  const lines = ['| Key | Type | Default | Description | Example |', '|---|---|---|---|---|'];
  for (const k of rows) {
    lines.push(`| ${code(label(k))} | ${cell(typeName(k.schema))} | ${cell(defaultCell(k))} | ${cell(k.schema.description ?? '')} | ${cell(exampleCell(k.schema))} |`);
  }
  return lines.join('\n');
}

/** The generated reference, from the live registry unless told otherwise. */
export function renderReference(detectors: readonly DetectorSpec<any>[] = DETECTORS): string {
  const schema = buildPipelineSchema({ detectors });
  const keys = schemaKeys(schema);
  const isDetector = (p: string) => p.startsWith('detectors[].') && detectors.some((d) => p === `detectors[].${d.name}` || p.startsWith(`detectors[].${d.name}.`));
  const isRoute = (p: string) => p.startsWith('alerts.routes[].') && ROUTE_SPECS.some((r) => p === `alerts.routes[].${r.type}` || p.startsWith(`alerts.routes[].${r.type}.`));
  const general = keys.filter((k) => !isDetector(k.path) && !isRoute(k.path));

  const parts: string[] = [BEGIN_MARKER, '', '## Reference', ''];
  parts.push('Generated from the schema (`src/config/schema.ts`), the detector registry and the alert route specs. Do not edit by hand.', '');
  parts.push('### Pipeline keys', '', table(general), '');

  parts.push('### Alert routes', '', 'Each entry of `alerts.routes` is `- <type>: { options }`, optionally with `name`, `min_severity`, `enabled` and `if_env` beside the type.', '');
  for (const r of ROUTE_SPECS) {
    parts.push(`#### \`${r.type}\``, '', `Key: \`alerts.routes[].${r.type}\`. ${r.summary}`, '', '```yaml', r.example, '```', '');
    const rows = keys.filter((k) => k.path.startsWith(`alerts.routes[].${r.type}.`));
    parts.push(rows.length ? table(rows) : '_No options._', '');
  }

  parts.push('### Detectors', '', 'Each entry of `detectors` is `- <detector>: { params }`, optionally with `id`, `enabled` and `routes` beside the detector name. Durations are written with a unit and reach the detector in milliseconds.', '');
  for (const d of detectors) {
    parts.push(`#### \`${d.name}\` (${d.family})`, '', `Key: \`detectors[].${d.name}\`. ${d.summary}`, '');
    if (d.mitre.length) parts.push(`MITRE ATT&CK: ${d.mitre.join(', ')}.`, '');
    if (d.example) parts.push(`Example finding: _${d.example}_`, '');
    const rows = keys.filter((k) => k.path.startsWith(`detectors[].${d.name}.`));
    parts.push(rows.length ? table(rows) : '_No parameters._', '');
    const ex: Record<string, unknown> = {};
    for (const k of rows) if (k.schema.examples?.[0] !== undefined) ex[k.path.split('.').pop()!] = k.schema.examples[0];
    if (Object.keys(ex).length === 0) for (const k of rows.slice(0, 2)) if (k.schema.default !== undefined) ex[k.path.split('.').pop()!] = k.schema.default;
    parts.push('```yaml', `- ${d.name}: ${flow(ex)}`, '```', '');
  }
  parts.push(END_MARKER);
  return parts.join('\n');
}

/** Replace the generated section of a document (appending it when the markers are missing). */
export function spliceReference(doc: string, reference: string): string {
  const a = doc.indexOf(BEGIN_MARKER);
  const b = doc.indexOf(END_MARKER);
  if (a < 0 || b < 0) return `${doc.trimEnd()}\n\n${reference}\n`;
  return doc.slice(0, a) + reference + doc.slice(b + END_MARKER.length);
}

/** Schema keys that the document never mentions as `path` (the docs drift check). */
export function undocumentedKeys(doc: string, schema: JsonSchema = buildPipelineSchema()): string[] {
  return schemaKeys(schema)
    .map((k) => k.path)
    .filter((p) => !doc.includes('`' + p + '`'));
}
