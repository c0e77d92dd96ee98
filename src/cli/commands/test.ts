/**
 * `m2m-sentinel test <pipeline> <cases...>`: pipeline unit tests for data engineers' CI. Each
 * case feeds messages through the pipeline in-process and checks the findings it expects (or
 * that there are none); see eval/cases.ts for the file format.
 */
import type { Command } from 'commander';
import { formatConfigError } from '../../config/errors.js';
import { loadPipelineFile } from '../../config/load.js';
import { loadCases, runCase, type CaseResult } from '../../eval/cases.js';
import { EXIT, UsageError } from '../exit.js';

export function register(program: Command): void {
  program
    .command('test')
    .summary('pipeline unit tests: input events and the findings expected (for CI)')
    .description(
      "Run a pipeline's decoder, detectors (with their knobs) and alert routing in-process over the inputs of each " +
        'case in the cases files, and check the findings each case expects: detector, device, key, severity, whether ' +
        'it is alerted, or none at all. Findings no expectation matches fail a case unless it says `others: ignore`.',
    )
    .argument('<pipeline>', 'pipeline file (YAML)')
    .argument('<cases...>', 'cases files (YAML; see docs/pipelines.md#testing-a-pipeline)')
    .option('--json', 'machine-readable results')
    .option('-v, --verbose', 'list every finding of every case')
    .addHelpText(
      'after',
      `
A cases file:
  cases:
    - name: a PLC scanning its cell is a scan
      events: scans/plc-07.ndjson                 # NDJSON (or .gz) beside the cases file
      expect:
        - { detector: fanout, device: plc-07, min_severity: high, alerted: true }
    - name: one poll from the SCADA master is quiet
      events:                                     # or inline, as devices send them
        - { asset: { name: plc-07 }, t: 1772366400, dst: 10.10.5.2, port: 502 }
      expect: []                                  # no finding at all

Examples:
  m2m-sentinel test pipelines/plant-floor.yaml test/pipeline-cases/plant-floor.cases.yaml
Exit status: 0 when every case passes; 1 when one fails; 2 for an invalid pipeline or cases file.`,
    )
    .action(async (pipelineFile: string, files: string[], o: { json?: boolean; verbose?: boolean }) => {
      const loaded = await loadPipelineFile(pipelineFile);
      if (!loaded.pipeline) {
        for (const e of loaded.errors) process.stderr.write(formatConfigError(e) + '\n');
        process.exitCode = EXIT.usage;
        return;
      }
      const cfg = loaded.pipeline;
      const all: Array<{ file: string; results: CaseResult[] }> = [];
      let invalid = false;
      const loadedCases = [];
      for (const file of files) {
        const { cases, errors } = await loadCases(file, cfg);
        for (const e of errors) process.stderr.write(formatConfigError(e) + '\n');
        if (errors.length) invalid = true;
        loadedCases.push({ file, cases });
      }
      if (invalid) {
        process.exitCode = EXIT.usage;
        return;
      }
      for (const { file, cases } of loadedCases) {
        const results: CaseResult[] = [];
        for (const c of cases) {
          try {
            results.push(await runCase(cfg, c));
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new UsageError(`${file}:${c.line}: case "${c.name}": cannot read ${(e as NodeJS.ErrnoException).path ?? 'its events'} (${code})`);
            throw e;
          }
        }
        all.push({ file, results });
      }
      const failed = all.flatMap((f) => f.results.filter((r) => !r.ok));
      const total = all.reduce((n, f) => n + f.results.length, 0);
      if (o.json) process.stdout.write(JSON.stringify({ pipeline: cfg.name, passed: total - failed.length, failed: failed.length, files: all }, null, 2) + '\n');
      else {
        const out = (s: string) => process.stdout.write(s + '\n');
        for (const { file, results } of all) {
          for (const r of results) {
            out(`${r.ok ? '✓' : '✗'} ${file}:${r.line} ${r.name} (${r.events} events, ${r.findings.length} finding${r.findings.length === 1 ? '' : 's'})`);
            for (const p of r.problems) out(`    ${p}`);
            if (o.verbose) for (const f of r.findings) out(`    · ${f.detector} ${f.device_id} ${f.key} ${f.severity}${f.alerted ? ' alerted' : ''}`);
          }
        }
        out(`${total - failed.length} of ${total} cases passed${failed.length ? ` (${failed.length} failed)` : ""}`);
      }
      process.exitCode = failed.length ? EXIT.judged : EXIT.ok;
    });
}
