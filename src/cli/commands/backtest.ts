/**
 * `m2m-sentinel backtest`: run a pipeline's detectors over recorded events in-process (the same
 * decoder and engine as the consumers), write the findings, and score them against labels.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatConfigError, loadPipelineFile } from '../../config/load.js';
import { parseDuration } from '../../lib/duration.js';
import { SEVERITIES, type Severity } from '../../detectors/types.js';
import { CsvHeaderError, type CsvOptions } from '../../events/csv.js';
import { findingRecord, runBacktest } from '../../eval/backtest.js';
import { loadLabels, LabelsError, type Labels } from '../../eval/labels.js';
import { checkTargets, fmtMs, ISSUE_TARGETS, pickTimelineIncidents, renderHtmlReport, renderMarkdown, type ReportInput, type Targets } from '../../eval/report.js';
import { scoreFindings, type ScoredFinding } from '../../eval/score.js';
import { createProgress, formatCount } from '../progress.js';
import { EXIT, UsageError } from '../exit.js';

const TARGET_KEYS: Record<string, keyof Targets> = { recall: 'recall', precision: 'precision', kind_recall: 'minKindRecall', false_per_1k: 'maxFalsePer1kDeviceDays', ttd: 'ttdMs' };

/** "recall=0.8,false_per_1k=2,ttd=10m" → targets over the defaults. */
export function parseTargets(v: string): Targets {
  const t: Targets = { ...ISSUE_TARGETS, fastKinds: [...ISSUE_TARGETS.fastKinds] };
  for (const part of v.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [k, raw] = part.split('=') as [string, string | undefined];
    const key = TARGET_KEYS[k];
    if (!key || raw === undefined) throw new InvalidArgumentError(`expected key=value pairs with keys ${Object.keys(TARGET_KEYS).join(', ')}, got "${part}"`);
    const n = key === 'ttdMs' ? parseDuration(raw) : Number(raw);
    if (n === undefined || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${k}: expected ${key === 'ttdMs' ? 'a duration such as 5m' : 'a number ≥ 0'}, got "${raw}"`);
    (t as unknown as Record<string, number>)[key] = n;
  }
  return t;
}

function duration(v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration such as 30s, 5m, 1h');
  return ms;
}

function severity(v: string): Severity {
  if (!(SEVERITIES as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${SEVERITIES.join(', ')}`);
  return v as Severity;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

interface Opts {
  labels?: string;
  out?: string;
  report?: string;
  json?: string;
  markdown?: string;
  slack: number;
  minSeverity?: Severity;
  flush: number;
  deviceColumn?: string;
  device?: string;
  deviceClass?: string;
  classColumn?: string;
  tsColumn?: string;
  delimiter?: string;
  tzOffset?: number;
  timeline: string[];
  quiet?: boolean;
  failOnTargets?: boolean;
  targets?: Targets;
}

export function register(program: Command): void {
  program
    .command('backtest')
    .summary('run a pipeline over recorded events and score it against labels')
    .description(
      'Run the detectors of a pipeline over recorded events in-process — the same decoder and detection engine ' +
        'as the Kafka consumers, fed in event-time order — and write the findings. With labels, score them per ' +
        'incident kind and per detector (precision, recall, F1, time to detect, false alerts per 1,000 device-days) ' +
        'and optionally write an HTML report.',
    )
    .argument('<pipeline>', 'pipeline file (YAML)')
    .argument('<events...>', 'event files: NDJSON (.ndjson, .jsonl, optionally .gz) or historian CSV (.csv, .csv.gz)')
    .option('-l, --labels <file>', 'ground truth: the simulator labels file, a JSON array or NDJSON of {device_id, kind, start, end}')
    .option('-o, --out <file>', 'findings NDJSON (one line per finding, final version)')
    .option('--report <file>', 'self-contained HTML report')
    .option('--json <file>', 'metrics as JSON')
    .option('--markdown <file>', 'summary tables as Markdown')
    .addOption(new Option('--slack <duration>', 'tolerance around a labeled incident for matching findings').argParser(duration).default(5 * 60_000, '5m'))
    .option('--min-severity <sev>', "alert threshold for scoring (default: the pipeline's alerts.min_severity)", severity)
    .addOption(new Option('--flush <duration>', 'advance event time this far past the last event at end of input (silence detectors)').argParser(duration).default(0, '0s'))
    .option('--device-column <name>', 'CSV: column holding the device id')
    .option('--device <id>', 'CSV: device id for every row')
    .option('--class-column <name>', 'CSV: column holding the device class')
    .option('--device-class <class>', 'CSV: device class for every row')
    .option('--ts-column <name>', 'CSV: timestamp column (default: ts, timestamp, time, datetime, date or _time)')
    .option('--delimiter <c>', 'CSV: field delimiter (default: sniffed)')
    .option('--tz-offset <minutes>', 'CSV: UTC offset of timestamps without a zone, in minutes (default 0)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n)) throw new InvalidArgumentError('expected whole minutes, e.g. 60 or -300');
      return n;
    })
    .option('--timeline <device>', 'also plot this device in the report (repeatable)', collect, [])
    .option('-q, --quiet', 'no progress bar; only errors')
    .option('--fail-on-targets', 'exit 1 when a quality target is missed (needs --labels): for CI')
    .option('--targets <list>', `targets to judge against, e.g. recall=0.8,precision=0.7,kind_recall=0.6,false_per_1k=2,ttd=10m (default: recall=${ISSUE_TARGETS.recall},precision=${ISSUE_TARGETS.precision},kind_recall=${ISSUE_TARGETS.minKindRecall},false_per_1k=${ISSUE_TARGETS.maxFalsePer1kDeviceDays},ttd=${fmtMs(ISSUE_TARGETS.ttdMs)})`, parseTargets)
    .addHelpText(
      'after',
      `
Examples:
  m2m-sentinel backtest pipelines/default.yaml fixtures/demo-fleet.ndjson.gz \\
      --labels fixtures/demo-fleet.labels.json --out findings.ndjson --report report.html
  m2m-sentinel backtest pipelines/plant-floor.yaml historian.csv --device plc-07 --device-class plc --tz-offset 60

  m2m-sentinel backtest pipelines/default.yaml fleet.ndjson.gz --labels fleet.labels.json \\
      --fail-on-targets --targets recall=0.8,false_per_1k=2      # a CI gate

Exit status: 0 on success; 1 with --fail-on-targets when a target is missed; 2 for an invalid
pipeline, labels or input, including input of which no line decodes.`,
    )
    .action(async (pipelineFile: string, inputs: string[], o: Opts) => {
      const err = (s: string): void => void process.stderr.write(s + '\n');
      if ((o.failOnTargets || o.targets) && !o.labels) throw new UsageError('--fail-on-targets and --targets judge against ground truth: give --labels too');
      const loaded = await loadPipelineFile(pipelineFile);
      if (!loaded.pipeline) {
        for (const e of loaded.errors) err(formatConfigError(e));
        process.exitCode = 2;
        return;
      }
      const pipeline = loaded.pipeline;
      let labels: Labels | undefined;
      if (o.labels) {
        try {
          labels = await loadLabels(o.labels);
        } catch (e) {
          err(`m2m-sentinel backtest: ${e instanceof LabelsError ? e.message : `cannot read labels: ${(e as Error).message}`}`);
          process.exitCode = 2;
          return;
        }
      }
      const csv: CsvOptions = {};
      if (o.deviceColumn) csv.deviceColumn = o.deviceColumn;
      if (o.device) csv.device = o.device;
      if (o.classColumn) csv.classColumn = o.classColumn;
      if (o.deviceClass) csv.deviceClass = o.deviceClass;
      if (o.tsColumn) csv.tsColumn = o.tsColumn;
      if (o.delimiter) csv.delimiter = o.delimiter === '\\t' ? '\t' : o.delimiter;
      if (o.tzOffset !== undefined) csv.naiveUtcOffsetMin = o.tzOffset;

      const watch = new Set<string>(o.timeline);
      if (labels && o.report) for (const inc of pickTimelineIncidents(labels.incidents)) watch.add(inc.device_id);

      const bar = createProgress({ label: 'backtest', quiet: o.quiet === true });
      let result;
      try {
        result = await runBacktest({ pipeline, inputs, csv, flushMs: o.flush, watchDevices: watch, onProgress: (f, n) => bar.update(f, n) });
      } catch (e) {
        if (e instanceof CsvHeaderError || (e as NodeJS.ErrnoException).code === 'ENOENT') {
          bar.done('failed');
          err(`m2m-sentinel backtest: ${(e as Error).message}`);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
      bar.done(`${formatCount(result.decoded)} events, ${formatCount(result.rejected)} rejected, ${formatCount(result.findings.length)} findings from ${result.devices} devices`);
      if (result.decoded === 0) {
        // Nothing to judge: scoring an empty run would read as "no findings, all quiet".
        const top = Object.entries(result.rejectedBy).sort((a, b) => b[1].count - a[1].count)[0];
        err(`m2m-sentinel backtest: no event in ${inputs.join(', ')} decodes${top ? ` (${result.rejected} rejected, e.g. ${top[1].example.file}:${top[1].example.line}: ${top[1].example.message})` : ' (the input is empty)'}`);
        process.exitCode = EXIT.usage;
        return;
      }

      if (o.out) {
        await mkdir(dirname(o.out), { recursive: true });
        const ws = createWriteStream(o.out);
        for (const f of result.findings) if (!ws.write(JSON.stringify(findingRecord(f)) + '\n')) await once(ws, 'drain');
        ws.end();
        await once(ws, 'close');
      }

      const targets = o.targets ?? ISSUE_TARGETS;
      const scored: ScoredFinding[] = result.findings.map((f) => ({ finding_id: f.finding_id, device_id: f.device_id, detector: f.detector, first_ts: f.first_ts, severity: f.severity }));
      const report: ReportInput = {
        title: `Backtest: ${pipeline.name}`,
        pipeline: pipeline.name,
        inputs,
        command: ['m2m-sentinel backtest', pipelineFile, ...inputs, ...(o.labels ? ['--labels', o.labels] : [])].join(' '),
        result,
        targets,
      };
      if (labels) {
        report.labels = labels;
        const minSeverity = o.minSeverity ?? pipeline.alerts.min_severity;
        const common = { slackMs: o.slack, deviceDays: result.deviceDays, suppressMs: pipeline.alerts.suppress_ms };
        report.alert = scoreFindings(labels.incidents, scored, { ...common, minSeverity });
        report.all = scoreFindings(labels.incidents, scored, { ...common, minSeverity: 'info' });
      }

      if (!o.quiet) {
        const out = process.stdout;
        if (result.rejected) {
          out.write(`rejected lines by reason:\n`);
          for (const [k, v] of Object.entries(result.rejectedBy).sort((a, b) => b[1].count - a[1].count)) out.write(`  ${k.padEnd(28)} ${String(v.count).padStart(8)}  e.g. ${v.example.file}:${v.example.line}: ${v.example.message}\n`);
        }
        if (result.duplicates) out.write(`duplicate deliveries dropped (exact repeats of a device's recent messages): ${result.duplicates}\n`);
        if (report.alert) {
          out.write('\n' + renderMarkdown(report));
          const failed = checkTargets(report.alert, targets).filter((c) => !c.ok);
          out.write(`\n${failed.length ? `${failed.length} target(s) not met` : 'all targets met'} (slack ±${fmtMs(o.slack)}).\n`);
        } else {
          const byDet = new Map<string, number>();
          for (const f of result.findings) byDet.set(f.detector, (byDet.get(f.detector) ?? 0) + 1);
          out.write(`findings by detector: ${[...byDet.entries()].map(([d, n]) => `${d} ${n}`).join(', ') || 'none'}\n`);
        }
      }
      if (o.report) {
        await mkdir(dirname(o.report), { recursive: true });
        await writeFile(o.report, renderHtmlReport(report));
      }
      if (o.markdown) {
        await mkdir(dirname(o.markdown), { recursive: true });
        await writeFile(o.markdown, renderMarkdown(report));
      }
      if (o.json) {
        await mkdir(dirname(o.json), { recursive: true });
        const { series: _s, findings: _f, ...summary } = result;
        await writeFile(
          o.json,
          JSON.stringify(
            {
              pipeline: pipeline.name,
              inputs,
              ...summary,
              findings: result.findings.length,
              ...(report.alert ? { alert: strip(report.alert), all: strip(report.all!), targets: checkTargets(report.alert, targets) } : {}),
            },
            null,
            1,
          ) + '\n',
        );
      }
      if (o.failOnTargets && report.alert) {
        const missed = checkTargets(report.alert, targets).filter((c) => !c.ok);
        if (missed.length) {
          err(`m2m-sentinel backtest: ${missed.length} target${missed.length === 1 ? '' : 's'} missed: ${missed.map((c) => `${c.name} ${c.value} (target ${c.target})`).join('; ')}`);
          process.exitCode = EXIT.judged;
        }
      }
    });
}

/** The JSON metrics keep outcomes per incident but not the list of false findings (that is --out). */
function strip<T extends { false_findings: unknown }>(s: T): Omit<T, 'false_findings'> & { false_findings: number } {
  const { false_findings, ...rest } = s;
  return { ...rest, false_findings: (false_findings as unknown[]).length };
}
