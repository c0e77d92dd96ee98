/**
 * Loading pipeline files: read → parse YAML (keeping source ranges) → interpolate ${VAR} →
 * validate (schema, then semantics) → normalize into PipelineConfig. Every user mistake comes
 * back as a ConfigError value with file:line:column and field path; nothing here throws for
 * bad input. loadPipelines adds the checks that span files (names, consumer groups).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Scalar } from 'yaml';
import { DETECTORS } from '../detectors/registry.js';
import type { DetectorSpec } from '../detectors/types.js';
import type { ConfigError } from './errors.js';
import { interpolateDocument, type YamlPath } from './interpolate.js';
import { makeLocator, type Locate } from './locate.js';
import { normalizePipeline } from './normalize.js';
import type { PipelineConfig } from './types.js';
import { validatePipelineData } from './validate.js';
import { outboxTopic } from '../alerts/outbox.js';
import { yamlSyntaxErrors } from './yaml-errors.js';


export type { ConfigError } from './errors.js';
export { formatConfigError } from './errors.js';
export { redactPipeline } from './redact.js';

export interface LoadResult {
  file: string;
  /** Present exactly when `errors` is empty. */
  pipeline?: PipelineConfig;
  errors: ConfigError[];
  /** Things worth saying that do not stop the pipeline (e.g. a route switched off by if_env). */
  warnings: ConfigError[];
}

export interface LoadOptions {
  /** Detector registry to validate against; defaults to the live one (tests pass their own). */
  detectors?: readonly DetectorSpec<any>[];
}

type Env = Record<string, string | undefined>;

interface Loaded extends LoadResult {
  locate?: Locate;
}

const PIPELINE_EXT = /\.ya?ml$/i;
/** Alias expansions allowed per file: plenty for shared tuning, far from an exponential bomb. */
const MAX_ALIAS_COUNT = 1000;
/** A pipeline file is a page or two of YAML; a larger one is refused before parsing. */
export const MAX_PIPELINE_BYTES = 1024 * 1024;

function at(file: string, code: ConfigError['code'], message: string, extra: Partial<ConfigError> = {}): ConfigError {
  return { code, file, line: 1, column: 1, path: '', message, ...extra };
}

/**
 * Routes switched off by an unset if_env variable, found before interpolation. if_env names a
 * variable; a `${VAR}` there is a mistake worth its own message (and is read as VAR).
 */
function switchedOffRoutes(doc: ReturnType<typeof parseDocument>, env: Env): { off: Array<{ index: number; variable: string }>; mistakes: Array<{ index: number; node: Scalar; name: string }> } {
  const routes = doc.getIn(['alerts', 'routes'], true) as Node | undefined;
  const off: Array<{ index: number; variable: string }> = [];
  const mistakes: Array<{ index: number; node: Scalar; name: string }> = [];
  if (!isSeq(routes)) return { off, mistakes };
  routes.items.forEach((item, index) => {
    if (!isMap(item)) return;
    const v = item.get('if_env', true);
    if (!isScalar(v) || typeof v.value !== 'string') return;
    let name = v.value;
    const ref = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}$/.exec(name);
    if (ref) {
      name = ref[1]!;
      mistakes.push({ index, node: v, name });
      v.value = name;
    }
    const cur = env[name];
    if (cur === undefined || cur === '') off.push({ index, variable: name });
  });
  return { off, mistakes };
}

function loadText(text: string, file: string, env: Env, opts: LoadOptions): Loaded {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, merge: true, uniqueKeys: true });
  const pos = (offset: number) => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const warnings: ConfigError[] = [];
  if (doc.errors.length) return { file, errors: yamlSyntaxErrors(doc.errors, text, file, pos), warnings };
  const locate = makeLocator(doc, lc);
  const root = doc.contents as Node | null;
  if (!root || (isScalar(root) && (root.value === null || root.value === ''))) {
    return { file, errors: [at(file, 'not_a_pipeline', 'the file is empty', { expected: 'a map with name, source and detectors' })], warnings, locate };
  }
  if (!isMap(root)) {
    const p = pos(root.range?.[0] ?? 0);
    return { file, errors: [{ code: 'not_a_pipeline', file, ...p, path: '', message: 'a pipeline file is a map of keys', expected: 'a map with name, source and detectors', found: isSeq(root) ? 'a list' : 'a single value' }], warnings, locate };
  }

  const { off, mistakes } = switchedOffRoutes(doc, env);
  const switchedOff = off.map((o) => ['alerts', 'routes', o.index] as YamlPath);
  const interp = interpolateDocument(doc, env, { lenient: switchedOff });
  const errors: ConfigError[] = interp.issues.map((i) => {
    const fp = i.path.reduce<string>((s, seg) => (typeof seg === 'number' ? `${s}[${seg}]` : s ? `${s}.${seg}` : seg), '');
    const e: ConfigError = { code: i.code, file, ...pos(i.offset), path: fp, message: i.message };
    if (i.found !== undefined) e.found = i.found;
    if (i.note !== undefined) e.note = i.note;
    return e;
  });
  for (const m of mistakes) {
    errors.push({
      code: 'bad_value',
      file,
      ...pos(m.node.range?.[0] ?? 0),
      path: `alerts.routes[${m.index}].if_env`,
      message: 'if_env takes the name of an environment variable, not a ${...} reference',
      found: JSON.stringify(`\${${m.name}}`),
      hint: m.name,
    });
  }
  for (const o of off) {
    const p = locate(['alerts', 'routes', o.index]);
    warnings.push({ code: 'route_off', file, ...p, path: `alerts.routes[${o.index}]`, message: `route switched off: ${o.variable} is not set` });
  }

  let data: Record<string, unknown>;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Record<string, unknown>;
  } catch (e) {
    // yaml throws (a ReferenceError) when aliases expand past the limit ("billion laughs"): this
    // file is refused with its reason; the other files of the run go on.
    return { file, errors: [at(file, 'yaml_syntax', 'too many alias expansions (*name) in this file', { note: `YAML aliases may expand at most ${MAX_ALIAS_COUNT} times per file: ${(e as Error).message.slice(0, 120)}` })], warnings, locate };
  }
  const detectors = opts.detectors ?? DETECTORS;
  errors.push(
    ...validatePipelineData(data, {
      file,
      locate,
      secrets: interp.secrets,
      interpolated: interp.interpolated,
      emptied: interp.emptied,
      unresolved: interp.unresolved,
      switchedOff,
      failed: interp.issues.map((i) => i.path),
      detectors,
    }),
  );
  if (errors.length) {
    errors.sort((a, b) => a.line - b.line || a.column - b.column);
    return { file, errors, warnings, locate };
  }
  const { config, translate } = normalizePipeline(data, { file, env, detectors });
  const redactions = interp.secrets.flatMap((s) => {
    const p = translate(s.path);
    return p ? [{ path: p, template: s.template }] : [];
  });
  if (redactions.length) config.redactions = redactions;
  return { file, pipeline: config, errors: [], warnings, locate };
}

/** Load one pipeline from YAML text (tests, editors, stdin). */
export function loadPipelineText(text: string, file = '<input>', env: Env = process.env, opts: LoadOptions = {}): LoadResult {
  const { locate: _l, ...r } = loadText(text, file, env, opts);
  return r;
}

async function loadFile(path: string, env: Env, opts: LoadOptions): Promise<Loaded> {
  let text: string;
  try {
    const st = await stat(path);
    if (st.size > MAX_PIPELINE_BYTES) return { file: path, errors: [at(path, 'io_error', `the file is ${st.size} bytes; a pipeline file is at most ${MAX_PIPELINE_BYTES}`)], warnings: [] };
    text = await readFile(path, 'utf8');
  } catch (e) {
    return { file: path, errors: [at(path, 'io_error', `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)], warnings: [] };
  }
  return loadText(text, path, env, opts);
}

/** Load and validate one pipeline file. Errors are values; `pipeline` is set only when there are none. */
export async function loadPipelineFile(path: string, env: Env = process.env, opts: LoadOptions = {}): Promise<LoadResult> {
  const { locate: _l, ...r } = await loadFile(path, env, opts);
  return r;
}

/** Files named on the command line, and *.yaml / *.yml directly inside named directories, sorted. */
export async function expandPipelinePaths(pathsOrDirs: string[]): Promise<{ files: string[]; errors: ConfigError[] }> {
  const files: string[] = [];
  const errors: ConfigError[] = [];
  for (const p of pathsOrDirs) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      errors.push(at(p, 'io_error', `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`));
      continue;
    }
    if (st.isDirectory()) {
      const names = (await readdir(p)).filter((n) => PIPELINE_EXT.test(n)).sort();
      if (!names.length) errors.push(at(p, 'io_error', 'no pipeline files (*.yaml, *.yml) in this directory'));
      files.push(...names.map((n) => join(p, n)));
    } else files.push(p);
  }
  return { files: [...new Set(files)], errors };
}

const sameTopics = (a: string[], b: string[]): boolean => a.length === b.length && [...a].sort().every((t, i) => t === [...b].sort()[i]);

/**
 * Load every pipeline named (files or directories). A pipeline with errors is left out of
 * `pipelines` and its errors reported; the others load. Cross-file checks: pipeline names are
 * unique (they are part of finding ids) and each consumer group belongs to one pipeline.
 */
export async function loadPipelines(
  pathsOrDirs: string[],
  env: Env = process.env,
  opts: LoadOptions = {},
): Promise<{ pipelines: PipelineConfig[]; errors: ConfigError[]; warnings: ConfigError[]; results: LoadResult[] }> {
  const { files, errors } = await expandPipelinePaths(pathsOrDirs);
  const loaded = await Promise.all(files.map((f) => loadFile(f, env, opts)));
  const ok: Loaded[] = [];
  for (const l of loaded) {
    if (!l.pipeline || !l.locate) continue;
    const cfg = l.pipeline;
    const conflicts: ConfigError[] = [];
    for (const prev of ok) {
      const pc = prev.pipeline!;
      const where = (path: YamlPath) => {
        const p = prev.locate!(path);
        return `${prev.file}:${p.line}`;
      };
      if (pc.name === cfg.name) {
        conflicts.push({ code: 'pipeline_conflict', file: l.file, ...l.locate(['name']), path: 'name', message: `pipeline name "${cfg.name}" is also used by ${where(['name'])}`, note: 'the name is part of every finding id, so it must be unique' });
      }
      const a = pc.source.kafka;
      const b = cfg.source.kafka;
      if (a.group === b.group) {
        let why: string;
        if (!sameTopics(a.topics, b.topics)) why = `for topics [${a.topics.join(', ')}]; one group must subscribe to one topic set, or the pipelines take each other's partitions`;
        else if (JSON.stringify(pc.mapping ?? null) !== JSON.stringify(cfg.mapping ?? null)) why = 'on the same topics with a different mapping; each would decode a random half of the partitions its own way';
        else why = 'on the same topics; the two would split the partitions and each see only part of the fleet';
        conflicts.push({
          code: 'group_conflict',
          file: l.file,
          ...l.locate(['source', 'kafka', 'group']),
          path: 'source.kafka.group',
          message: `consumer group "${b.group}" is also used by pipeline "${pc.name}" (${where(['source', 'kafka', 'group'])}) ${why}`,
          note: 'give each pipeline its own group',
        });
      }
    }
    // A topic one pipeline writes (alerts, dead letters) must not be another's input: alerts
    // would be decoded as events and dead-lettered, and dead letters loop.
    const outputs = (p: PipelineConfig): Array<[string, string]> => [
      [outboxTopic(p), 'alert outbox'],
      [p.source.kafka.dead_letter_topic, 'dead-letter topic'],
    ];
    for (const prev of ok) {
      const pc = prev.pipeline!;
      for (const [topic, what] of outputs(pc)) {
        const i = cfg.source.kafka.topics.indexOf(topic);
        if (i >= 0) {
          const at = l.locate(['source', 'kafka', 'topics', i]);
          conflicts.push({ code: 'feedback_loop', file: l.file, ...at, path: `source.kafka.topics[${i}]`, message: `"${topic}" is the ${what} of pipeline "${pc.name}" (${prev.file})`, note: 'consume event topics only' });
        }
      }
      for (const [topic, what] of outputs(cfg)) {
        const i = pc.source.kafka.topics.indexOf(topic);
        if (i >= 0) {
          const kafkaRoute = what === 'alert outbox' ? l.pipeline!.alerts.routes.findIndex((r) => r.type === 'kafka') : -1;
          const path: YamlPath = what === 'dead-letter topic' ? ['source', 'kafka', 'dead_letter_topic'] : kafkaRoute >= 0 ? ['alerts', 'routes'] : ['name'];
          conflicts.push({ code: 'feedback_loop', file: l.file, ...l.locate(path), path: path.join('.'), message: `this pipeline's ${what} "${topic}" is consumed by pipeline "${pc.name}" (${prev.file})`, note: 'write alerts and dead letters to topics no pipeline reads' });
        }
      }
    }
    if (conflicts.length) {
      l.errors.push(...conflicts);
      delete l.pipeline;
    } else ok.push(l);
  }
  for (const l of loaded) errors.push(...l.errors);
  const results = loaded.map(({ locate: _l, ...r }) => r);
  return { pipelines: ok.map((l) => l.pipeline!), errors, warnings: loaded.flatMap((l) => l.warnings), results };
}

