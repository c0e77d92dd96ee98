/**
 * Pipeline unit tests (`m2m-sentinel test <pipeline> <cases>`): a cases file lists inputs as
 * devices send them and the findings a data engineer expects from them, or none. Each case runs
 * the pipeline's own decoder (mapping included), detectors with their knobs, and alert routing
 * (per-detector min_severity, scheduled maintenance) in-process, in input order, as one Kafka
 * partition would; nothing is shared between cases.
 *
 *   cases:
 *     - name: a PLC scanning its cell is a scan
 *       events: scans/plc-07.ndjson          # a file beside the cases file, or a list inline
 *       expect:
 *         - { detector: fanout, device: plc-07, min_severity: high, alerted: true }
 *     - name: SCADA polling is quiet
 *       events: [ { asset: { name: plc-07 }, t: 1772366400, dst: 10.10.5.2, port: 502 } ]
 *       expect: []                            # no finding at all
 *
 * Findings no expectation matches fail the case unless it says `others: ignore`; input lines the
 * pipeline would dead-letter fail it unless it expects them with `rejected: <n>`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { emptyRouterState, route } from '../alerts/router.js';
import { holdPolicy } from '../alerts/hold.js';
import type { ConfigError } from '../config/errors.js';
import { makeLocator } from '../config/locate.js';
import { parseDuration } from '../lib/duration.js';
import { yamlSyntaxErrors } from '../config/yaml-errors.js';
import type { PipelineConfig } from '../config/types.js';
import { SEVERITY_RANK } from '../detectors/score.js';
import { SEVERITIES, type Finding, type Severity } from '../detectors/types.js';
import { decodeEvent } from '../events/decode.js';
import { readNdjsonLines } from '../events/files.js';
import { buildDetectors, engineOptions } from '../pipeline/build.js';
import { createEngine } from '../pipeline/engine.js';

export interface Expectation {
  detector: string;
  device?: string;
  key?: string;
  severity?: Severity;
  min_severity?: Severity;
  alerted?: boolean;
}

export interface Case {
  name: string;
  /** Raw messages (strings as sent; objects are sent as their JSON), or a file of them. */
  events: Array<string | Record<string, unknown>> | { file: string };
  flush_ms: number;
  expect: Expectation[];
  others: 'fail' | 'ignore';
  rejected: number;
  /** 1-based line of the case in its file, for messages. */
  line: number;
}

const SEV = { type: 'string', enum: [...SEVERITIES] };
const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['cases'],
  properties: {
    cases: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'events', 'expect'],
        properties: {
          name: { type: 'string', minLength: 1 },
          events: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { anyOf: [{ type: 'string' }, { type: 'object' }] } }] },
          flush: { type: 'string', pattern: '^(?:[0-9]+(?:\\.[0-9]+)?(?:ms|s|m|h|d|w))+$' },
          expect: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['detector'],
              properties: { detector: { type: 'string' }, device: { type: 'string' }, key: { type: 'string' }, severity: SEV, min_severity: SEV, alerted: { type: 'boolean' } },
            },
          },
          others: { type: 'string', enum: ['fail', 'ignore'] },
          rejected: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: false }).compile(SCHEMA);

/** A cases file → cases, or its errors with file:line:column like a pipeline's. */
export async function loadCases(file: string, cfg: PipelineConfig): Promise<{ cases: Case[]; errors: ConfigError[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { cases: [], errors: [{ code: 'io_error', file, line: 1, column: 1, path: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] };
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const pos = (o: number) => ({ line: lc.linePos(o).line, column: lc.linePos(o).col });
  if (doc.errors.length) return { cases: [], errors: yamlSyntaxErrors(doc.errors, text, file, pos) };
  const locate = makeLocator(doc, lc);
  const data = doc.toJS() as unknown;
  const errors: ConfigError[] = [];
  const err = (path: Array<string | number>, message: string, extra: Partial<ConfigError> = {}) => {
    const p = locate(path, extra.code === 'unknown_key' || extra.code === 'missing_key' ? 'key' : 'value');
    errors.push({ code: 'bad_value', file, line: p.line, column: p.column, path: path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join(''), message, ...extra });
  };
  if (!validate(data)) {
    for (const e of validate.errors ?? []) {
      // Inside "a file or a list": one message for the value rather than one per alternative.
      if (/\/anyOf\/\d+\//.test(e.schemaPath)) continue;
      const path = e.instancePath.split('/').slice(1).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      if (e.keyword === 'anyOf') err(path, 'expected a file name, or a list of messages (objects or strings)', { code: 'wrong_type' });
      else if (e.keyword === 'additionalProperties') err([...path, String((e.params as { additionalProperty: string }).additionalProperty)], `unknown key "${(e.params as { additionalProperty: string }).additionalProperty}"`, { code: 'unknown_key' });
      else if (e.keyword === 'required') err(path, `missing required key "${(e.params as { missingProperty: string }).missingProperty}"`, { code: 'missing_key' });
      else err(path, e.message ?? 'invalid value');
    }
    return { cases: [], errors };
  }
  const ids = new Set(cfg.detectors.map((d) => d.id));
  const raw = (data as { cases: Array<Record<string, unknown>> }).cases;
  const cases: Case[] = raw.map((c, i) => {
    const expect = (c.expect as Expectation[]).map((x, j) => {
      if (!ids.has(x.detector)) err(['cases', i, 'expect', j, 'detector'], `pipeline ${cfg.name} has no detector "${x.detector}"`, { code: 'unknown_detector', expected: `one of ${[...ids].join(', ')}` });
      return { ...x };
    });
    const events = typeof c.events === 'string' ? { file: resolve(dirname(file), c.events) } : (c.events as Case['events']);
    return {
      name: c.name as string,
      events,
      flush_ms: typeof c.flush === 'string' ? (parseDuration(c.flush) ?? 0) : 0,
      expect,
      others: (c.others as Case['others'] | undefined) ?? 'fail',
      rejected: (c.rejected as number | undefined) ?? 0,
      line: locate(['cases', i]).line,
    };
  });
  const names = new Map<string, number>();
  raw.forEach((c, i) => {
    const prev = names.get(c.name as string);
    if (prev !== undefined) err(['cases', i, 'name'], `case name "${String(c.name)}" is already used by cases[${prev}]`, { code: 'duplicate_value' });
    else names.set(c.name as string, i);
  });
  return { cases: errors.length ? [] : cases, errors };
}

export interface CaseResult {
  name: string;
  line: number;
  ok: boolean;
  /** Why it failed, one line each. */
  problems: string[];
  findings: Array<{ detector: string; device_id: string; key: string; severity: Severity; alerted: boolean; explanation: string }>;
  events: number;
  rejected: number;
}

function describe(x: Expectation): string {
  return [x.detector, x.device ? `on ${x.device}` : '', x.key ? `key ${x.key}` : '', x.severity ? `severity ${x.severity}` : '', x.min_severity ? `≥ ${x.min_severity}` : '', x.alerted === undefined ? '' : x.alerted ? 'alerted' : 'not alerted'].filter(Boolean).join(' ');
}

/** Run one case through the pipeline in-process. Throws only for an unreadable events file. */
export async function runCase(cfg: PipelineConfig, c: Case): Promise<CaseResult> {
  // The engine options the service and backtest use (max_future_skew included), so a case judges the pipeline as it runs.
  const engine = createEngine(engineOptions(cfg, buildDetectors(cfg)));
  const decodeOpts = cfg.mapping ? { mapping: cfg.mapping } : {};
  const router = emptyRouterState();
  const routeOpts = { minSeverity: cfg.alerts.min_severity, suppressMs: cfg.alerts.suppress_ms, hold: holdPolicy(cfg) };
  const latest = new Map<string, Finding>();
  const alerted = new Set<string>();
  const take = (fs: Finding[]) => {
    for (const f of fs) {
      const prev = latest.get(f.finding_id);
      if (!prev || f.version >= prev.version) latest.set(f.finding_id, f);
      // Alerted: routing published a change for it (a new alert, an update or an escalation).
      if (route(router, f, routeOpts).some((c) => c.publish && c.kind !== 'close')) alerted.add(f.finding_id);
    }
  };
  let events = 0;
  let rejected = 0;
  const rejects: string[] = [];
  let maxTs = Number.NEGATIVE_INFINITY;
  const feed = (line: string, where: string) => {
    const r = decodeEvent(line, decodeOpts);
    if (!r.ok) {
      rejected++;
      if (rejects.length < 3) rejects.push(`${where}: ${r.error.code}: ${r.error.message}`);
      return;
    }
    events++;
    if (r.event.ts > maxTs) maxTs = r.event.ts;
    take(engine.process(r.event));
  };
  if ('file' in c.events) {
    for await (const { line, lineNo } of readNdjsonLines(c.events.file)) feed(line, `${c.events.file}:${lineNo}`);
  } else {
    c.events.forEach((e, i) => feed(typeof e === 'string' ? e : JSON.stringify(e), `events[${i}]`));
  }
  if (Number.isFinite(maxTs)) take(engine.advanceTo(maxTs + cfg.allowed_lateness_ms + c.flush_ms));

  const findings = [...latest.values()]
    .sort((a, b) => a.first_ts - b.first_ts || (a.finding_id < b.finding_id ? -1 : 1))
    .map((f) => ({ id: f.finding_id, detector: f.detector, device_id: f.device_id, key: f.key, severity: f.severity, alerted: alerted.has(f.finding_id), explanation: f.explanation }));
  const matches = (x: Expectation, f: (typeof findings)[number]): boolean =>
    f.detector === x.detector &&
    (x.device === undefined || f.device_id === x.device) &&
    (x.key === undefined || f.key === x.key) &&
    (x.severity === undefined || f.severity === x.severity) &&
    (x.min_severity === undefined || SEVERITY_RANK[f.severity] >= SEVERITY_RANK[x.min_severity]) &&
    (x.alerted === undefined || f.alerted === x.alerted);
  const problems: string[] = [];
  const used = new Set<string>();
  for (const x of c.expect) {
    const hit = findings.filter((f) => matches(x, f));
    if (!hit.length) {
      const near = findings.filter((f) => f.detector === x.detector && (x.device === undefined || f.device_id === x.device));
      problems.push(`expected ${describe(x)}; ${near.length ? `found ${near.map((f) => `${f.device_id} ${f.severity}${f.alerted ? ' alerted' : ''}`).join(', ')}` : `no ${x.detector} finding${x.device ? ` on ${x.device}` : ''}`}`);
    }
    for (const f of hit) used.add(f.id);
  }
  if (c.others === 'fail') {
    for (const f of findings) if (!used.has(f.id)) problems.push(`unexpected ${f.detector} on ${f.device_id} (${f.severity}${f.alerted ? ', alerted' : ''}): ${f.explanation}`);
  }
  if (rejected !== c.rejected) problems.push(`${rejected} input line${rejected === 1 ? '' : 's'} rejected, expected ${c.rejected}${rejects.length ? ` (${rejects.join('; ')})` : ''}`);
  if (events === 0) problems.push('no input line decodes: the case tests nothing');
  return { name: c.name, line: c.line, ok: problems.length === 0, problems, findings: findings.map(({ id: _id, ...f }) => f), events, rejected };
}
