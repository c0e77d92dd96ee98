/**
 * A loaded pipeline written back in the language of pipeline files: what `validate --print`
 * shows. Every default is spelled out, durations are durations again ("30m", not 1800000),
 * secrets stay `${VAR}` references (or `***` when they were written inline), and nothing internal
 * appears, so the output is a pipeline file that loads to the same pipeline.
 */
import { stringify } from 'yaml';
import { detectorSpec } from '../detectors/registry.js';
import type { ParamSpec } from '../detectors/types.js';
import { formatDuration } from '../lib/duration.js';
import { redactPipeline } from './redact.js';
import { ROUTE_SPECS } from './routes.js';
import type { PipelineConfig } from './types.js';
import { printDetectorKnobs, printPipelineKnobs } from './knobs.js';

type Obj = Record<string, unknown>;

/** Params or options back to their file form: duration-typed values as duration strings. */
function unparse(values: Obj, specs: Record<string, ParamSpec>): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(values)) out[k] = specs[k]?.type === 'duration' && typeof v === 'number' ? formatDuration(v) : v;
  return out;
}

export function pipelineDocument(loaded: PipelineConfig): Obj {
  const cfg = redactPipeline(loaded);
  const k = cfg.source.kafka;
  const doc: Obj = { name: cfg.name };
  if (cfg.description !== undefined) doc.description = cfg.description;
  doc.source = {
    kafka: {
      ...(k.brokers ? { brokers: [...k.brokers] } : {}),
      topics: [...k.topics],
      group: k.group,
      start: k.start,
      format: k.format,
      dead_letter_topic: k.dead_letter_topic,
    },
  };
  if (cfg.mapping) {
    const fields: Obj = {};
    for (const [name, rule] of Object.entries(cfg.mapping.fields)) fields[name] = Object.keys(rule).length === 1 ? rule.path : { ...rule };
    const m: Obj = {};
    if (Object.keys(fields).length) m.fields = fields;
    if (Object.keys(cfg.mapping.constants).length) m.constants = { ...cfg.mapping.constants };
    if (Object.keys(cfg.mapping.metrics).length) m.metrics = structuredClone(cfg.mapping.metrics);
    doc.mapping = m;
  }
  doc.entities = { key: cfg.entities.key, idle_eviction: formatDuration(cfg.entities.idle_eviction_ms) };
  doc.allowed_lateness = formatDuration(cfg.allowed_lateness_ms);
  doc.detectors = cfg.detectors.map((d) => {
    const spec = detectorSpec(d.type);
    const entry: Obj = { [d.type]: unparse(d.params, (spec?.params ?? {}) as Record<string, ParamSpec>) };
    if (d.id !== d.type) entry.id = d.id;
    if (d.routes) entry.routes = [...d.routes];
    Object.assign(entry, printDetectorKnobs(d));
    return entry;
  });
  const ch = cfg.findings.clickhouse;
  doc.findings = { clickhouse: { database: ch.database, table: ch.table, ttl: `${ch.ttl_days}d` } };
  doc.alerts = {
    min_severity: cfg.alerts.min_severity,
    suppress: formatDuration(cfg.alerts.suppress_ms),
    routes: cfg.alerts.routes.map((r) => {
      const spec = ROUTE_SPECS.find((s) => s.type === r.type);
      const entry: Obj = { [r.type]: unparse(r.options, (spec?.options ?? {}) as Record<string, ParamSpec>) };
      entry.name = r.name;
      if (r.min_severity) entry.min_severity = r.min_severity;
      return entry;
    }),
  };
  Object.assign(doc, printPipelineKnobs(cfg, formatDuration));
  return doc;
}

/** The document as YAML text, headed by a comment saying where it came from. */
export function printPipeline(cfg: PipelineConfig): string {
  return `# ${cfg.file ?? cfg.name} as loaded: every default spelled out\n${stringify(pipelineDocument(cfg), { lineWidth: 0 })}`;
}
