/**
 * Robustness across worlds: the same backtest and scoring as `backtest`, run over several
 * simulated worlds (src/sim/worlds), judged on the worst. Pure functions here (what a world's
 * result says, which world is worst, the markdown); running worlds is robustness-run.ts.
 *
 * A pipeline that holds on one world may have been fitted to it; the targets are met only when
 * they are met on every world at once.
 */
import type { Finding } from '../detectors/types.js';
import type { BenignWindow, Labels } from './labels.js';
import type { ScoreResult } from './score.js';

export interface RobustnessTargets {
  recall: number;
  precision: number;
  maxFalsePer1k: number;
  minKindRecall: number;
}

export const ROBUSTNESS_TARGETS: RobustnessTargets = { recall: 0.9, precision: 0.9, maxFalsePer1k: 1, minKindRecall: 0.7 };

/** How long after a benign change its effects are still traced to it (beacons need a dozen beats). */
const ATTRIBUTION_AFTER_MS = 6 * 3_600_000;
const ATTRIBUTION_BEFORE_MS = 30 * 60_000;

export interface FalseSource {
  detector: string;
  /** The benign change or habit the false alerts fell in, narrowest first; "none" when none. */
  change: string;
  count: number;
  by_class: Record<string, number>;
  example: string;
}

export interface KindOutcome {
  kind: string;
  incidents: number;
  detected: number;
  recall: number;
  /** Detected at any severity (the alert threshold left some below it). */
  detected_any: number;
}

export interface Miss {
  id: string;
  kind: string;
  device_id: string;
  device_class: string;
  start: string;
  /** Detectors that matched below the alert threshold. */
  below: string[];
  detail: string;
}

export interface WorldResult {
  index: number;
  seed: number;
  kind: 'benchmark' | 'drawn';
  summary: string;
  events: number;
  out_of_order: number;
  devices: number;
  device_days: number;
  findings: number;
  min_severity: string;
  incidents: number;
  detected: number;
  recall: number;
  precision: number | null;
  false_alerts: number;
  false_after_suppression: number;
  false_per_1k: number;
  kinds: KindOutcome[];
  false_sources: FalseSource[];
  misses: Miss[];
  seconds: { simulate: number; backtest: number };
  files: { events: string; labels: string; findings: string; metrics: string };
}

export interface Check {
  name: string;
  value: string;
  target: string;
  ok: boolean;
  /** The world that sets the worst value. */
  world: number | null;
}

export interface RobustnessReport {
  pipeline: string;
  command: string;
  targets: RobustnessTargets;
  worlds: WorldResult[];
  checks: Check[];
  ok: boolean;
}

const deviceSets = new WeakMap<BenignWindow, Set<string>>();
function touches(b: BenignWindow, device: string): boolean {
  if (!b.devices) return true;
  let s = deviceSets.get(b);
  if (!s) deviceSets.set(b, (s = new Set(b.devices)));
  return s.has(device);
}

/** Benign labels that describe a habit for the whole span rather than a change at a time. */
const HABIT_KINDS = ['sleep_schedule', 'batched_delivery', 'duplicate_delivery', 'clock_skew'];

/**
 * What a finding falls in: the narrowest benign change around it on its device; failing that,
 * the device's habits joined with "+" (e.g. "sleep_schedule+duplicate_delivery"); else "none".
 */
export function attribute(f: { device_id: string; first_ts: number }, benign: readonly BenignWindow[]): string {
  let best: BenignWindow | undefined;
  const habits = new Set<string>();
  for (const b of benign) {
    if (f.first_ts < b.start - ATTRIBUTION_BEFORE_MS || f.first_ts > b.end + ATTRIBUTION_AFTER_MS || !touches(b, f.device_id)) continue;
    if (HABIT_KINDS.includes(b.kind)) habits.add(b.kind);
    else if (!best || b.end - b.start < best.end - best.start) best = b;
  }
  if (best) return best.kind;
  return habits.size ? [...habits].sort().join('+') : 'none';
}

/** Top sources of false alerts: detector × the change they fell in, most first. */
function falseSources(falseAlerts: readonly Finding[], labels: Labels, top = 12): FalseSource[] {
  const groups = new Map<string, FalseSource>();
  for (const f of falseAlerts) {
    const change = attribute(f, labels.benign);
    const k = `${f.detector}\u0000${change}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { detector: f.detector, change, count: 0, by_class: {}, example: `${f.device_id}: ${f.explanation}`.slice(0, 240) }));
    g.count++;
    g.by_class[f.device_class] = (g.by_class[f.device_class] ?? 0) + 1;
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || (a.detector < b.detector ? -1 : 1)).slice(0, top);
}

/** What one world's scores say, in the shape the table and the JSON need. */
export function summarizeWorld(
  base: Pick<WorldResult, 'index' | 'seed' | 'kind' | 'summary' | 'seconds' | 'files'>,
  run: { events: number; outOfOrder: number; devices: number; deviceDays: number; findings: readonly Finding[] },
  labels: Labels,
  alert: ScoreResult,
  all: ScoreResult,
  deviceClass: (id: string) => string,
): WorldResult {
  const byId = new Map(run.findings.map((f) => [f.finding_id, f]));
  const falseAlerts = alert.false_findings.map((s) => byId.get(s.finding_id)!).filter(Boolean);
  const anyById = new Map(all.incidents.map((o) => [o.id, o]));
  const kinds: KindOutcome[] = alert.kinds.map((k) => {
    const a = all.kinds.find((x) => x.kind === k.kind);
    return { kind: k.kind, incidents: k.incidents, detected: k.detected, recall: k.recall, detected_any: a?.detected ?? k.detected };
  });
  const incById = new Map(labels.incidents.map((i) => [i.id, i]));
  const misses: Miss[] = alert.incidents
    .filter((o) => !o.detected)
    .map((o) => {
      const inc = incById.get(o.id);
      return {
        id: o.id,
        kind: o.kind,
        device_id: o.device_id,
        device_class: deviceClass(o.device_id),
        start: new Date(o.start).toISOString(),
        below: anyById.get(o.id)?.detectors ?? [],
        detail: JSON.stringify(inc?.detail ?? {}).slice(0, 200),
      };
    });
  const o = alert.overall;
  return {
    ...base,
    events: run.events,
    out_of_order: run.outOfOrder,
    devices: run.devices,
    device_days: Math.round(run.deviceDays * 10) / 10,
    findings: run.findings.length,
    min_severity: alert.min_severity,
    incidents: o.incidents,
    detected: o.detected,
    recall: o.recall,
    precision: o.precision,
    false_alerts: o.false_findings,
    false_after_suppression: o.false_alerts_after_suppression,
    false_per_1k: o.false_per_1k_device_days,
    kinds,
    false_sources: falseSources(falseAlerts, labels),
    misses,
  };
}

const f2 = (x: number | null): string => (x === null ? '—' : x.toFixed(2));
const f1 = (x: number): string => x.toFixed(1);

/** Targets judged on the worst world of each measure. */
export function judge(worlds: readonly WorldResult[], t: RobustnessTargets): Check[] {
  if (worlds.length === 0) return [];
  const worst = <T>(pick: (w: WorldResult) => T, worse: (a: T, b: T) => boolean): [T, number] => {
    let v = pick(worlds[0]!);
    let at = worlds[0]!.index;
    for (const w of worlds.slice(1)) {
      const x = pick(w);
      if (worse(x, v)) [v, at] = [x, w.index];
    }
    return [v, at];
  };
  const [rec, recW] = worst((w) => w.recall, (a, b) => a < b);
  const [prec, precW] = worst((w) => w.precision ?? 0, (a, b) => a < b);
  const [fa, faW] = worst((w) => w.false_per_1k, (a, b) => a > b);
  let kind = { kind: '—', recall: 1, world: null as number | null };
  for (const w of worlds) for (const k of w.kinds) if (k.incidents > 0 && k.recall < kind.recall) kind = { kind: k.kind, recall: k.recall, world: w.index };
  return [
    { name: 'recall (worst world)', value: f2(rec), target: `≥ ${t.recall}`, ok: rec >= t.recall, world: recW },
    { name: 'precision (worst world)', value: f2(prec), target: `≥ ${t.precision}`, ok: prec >= t.precision, world: precW },
    { name: 'false alerts per 1,000 device-days (worst world)', value: f1(fa), target: `≤ ${t.maxFalsePer1k}`, ok: fa <= t.maxFalsePer1k, world: faW },
    { name: `lowest recall of a kind (${kind.kind})`, value: f2(kind.recall), target: `≥ ${t.minKindRecall}`, ok: kind.recall >= t.minKindRecall, world: kind.world },
  ];
}

export function buildReport(pipeline: string, command: string, worlds: WorldResult[], targets: RobustnessTargets): RobustnessReport {
  const sorted = [...worlds].sort((a, b) => a.index - b.index);
  const checks = judge(sorted, targets);
  return { pipeline, command, targets, worlds: sorted, checks, ok: checks.length > 0 && checks.every((c) => c.ok) };
}

/** The per-world table, the checks on the worst, and what dominates each world's false alerts and misses. */
export function renderRobustnessMarkdown(r: RobustnessReport): string {
  const out: string[] = [];
  const sev = r.worlds[0]?.min_severity ?? 'medium';
  out.push(`Pipeline \`${r.pipeline}\`, ${r.worlds.length} worlds, alert severity ≥ ${sev}. Targets are judged on the worst world of each measure.`);
  out.push('');
  out.push('| target | worst | target | world | |');
  out.push('|---|---:|---:|---:|---|');
  for (const c of r.checks) out.push(`| ${c.name} | ${c.value} | ${c.target} | ${c.world ?? '—'} | ${c.ok ? 'met' : '**not met**'} |`);
  out.push('');
  const kinds = [...new Set(r.worlds.flatMap((w) => w.kinds.map((k) => k.kind)))].sort();
  out.push(`| world | devices | device-days | events | incidents | recall | precision | false alerts | false / 1k device-days | lowest kind |`);
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const w of r.worlds) {
    const low = [...w.kinds].filter((k) => k.incidents > 0).sort((a, b) => a.recall - b.recall || (a.kind < b.kind ? -1 : 1))[0];
    out.push(`| ${w.index} | ${w.devices.toLocaleString('en-US')} | ${f1(w.device_days)} | ${w.events.toLocaleString('en-US')} | ${w.incidents} | ${f2(w.recall)} | ${f2(w.precision)} | ${w.false_alerts} | ${f1(w.false_per_1k)} | ${low ? `${low.kind} ${f2(low.recall)}` : '—'} |`);
  }
  out.push('');
  out.push('Recall per incident kind and world (detected / incidents at alert severity; `—` = kind not in the world):');
  out.push('');
  out.push(`| kind | ${r.worlds.map((w) => `w${w.index}`).join(' | ')} |`);
  out.push(`|---|${r.worlds.map(() => '---:').join('|')}|`);
  for (const k of kinds) {
    out.push(`| ${k} | ${r.worlds.map((w) => {
      const x = w.kinds.find((y) => y.kind === k);
      return x && x.incidents > 0 ? `${x.recall < r.targets.minKindRecall ? '**' : ''}${x.detected}/${x.incidents}${x.recall < r.targets.minKindRecall ? '**' : ''}` : '—';
    }).join(' | ')} |`);
  }
  out.push('');
  out.push('What each world assumed:');
  out.push('');
  for (const w of r.worlds) out.push(`- **w${w.index}** (seed ${w.seed}): ${w.summary}`);
  out.push('');
  out.push('Top sources of false alerts per world (detector · the benign change or habit they fell in · count · by class):');
  out.push('');
  for (const w of r.worlds) {
    if (!w.false_sources.length) {
      out.push(`- **w${w.index}**: none`);
      continue;
    }
    const top = w.false_sources.slice(0, 5).map((s) => `${s.detector} · ${s.change} · ${s.count} (${Object.entries(s.by_class).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')})`);
    out.push(`- **w${w.index}** (${w.false_alerts}): ${top.join('; ')}`);
  }
  out.push('');
  out.push('Misses per world (kind × device class, with detectors that matched below the alert threshold):');
  out.push('');
  for (const w of r.worlds) {
    if (!w.misses.length) {
      out.push(`- **w${w.index}**: none`);
      continue;
    }
    const groups = new Map<string, { n: number; below: Set<string> }>();
    for (const m of w.misses) {
      const k = `${m.kind} on ${m.device_class}`;
      const g = groups.get(k) ?? { n: 0, below: new Set<string>() };
      g.n++;
      for (const d of m.below) g.below.add(d);
      groups.set(k, g);
    }
    out.push(`- **w${w.index}** (${w.misses.length}): ${[...groups.entries()].sort((a, b) => b[1].n - a[1].n).map(([k, g]) => `${k} ${g.n}${g.below.size ? ` (below: ${[...g.below].join(', ')})` : ''}`).join('; ')}`);
  }
  return out.join('\n') + '\n';
}

export const DOCS_BEGIN = '<!-- robustness: generated by `m2m-sentinel robustness --docs`; do not edit between these markers -->';
export const DOCS_END = '<!-- end robustness -->';

/** Replace (or append) the generated robustness section of a markdown document. */
export function replaceDocsSection(doc: string, body: string): string {
  const block = `${DOCS_BEGIN}\n\n${body.trim()}\n\n${DOCS_END}`;
  const a = doc.indexOf(DOCS_BEGIN);
  const b = doc.indexOf(DOCS_END);
  if (a >= 0 && b > a) return doc.slice(0, a) + block + doc.slice(b + DOCS_END.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}
