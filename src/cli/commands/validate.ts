/** `m2m-sentinel validate`: check pipeline files the way `run` would load them, without running. */
import type { Command } from 'commander';
import { formatConfigError, type ConfigError } from '../../config/errors.js';
import { loadPipelines, type LoadResult } from '../../config/load.js';
import { pipelineDocument, printPipeline } from '../../config/print.js';
import { EXIT } from '../exit.js';
import type { PipelineConfig } from '../../config/types.js';

export interface ValidateReport {
  ok: boolean;
  files: Array<{ file: string; ok: boolean; pipeline?: string; errors: ConfigError[]; warnings: ConfigError[] }>;
  /** Errors not tied to a loaded file (unreadable paths, empty directories). */
  errors: ConfigError[];
}

function summary(p: PipelineConfig): string {
  const detectors = p.detectors.length;
  const routes = p.alerts.routes.map((r) => r.name);
  return `${p.name}: ${p.source.kafka.topics.join(', ')} → ${detectors} detector${detectors === 1 ? '' : 's'}, routes ${routes.length ? routes.join(', ') : '(none)'}`;
}

export async function validatePaths(paths: string[], env: Record<string, string | undefined> = process.env): Promise<{ report: ValidateReport; results: LoadResult[] }> {
  const { errors, results } = await loadPipelines(paths, env);
  const inFiles = new Set(results.map((r) => r.file));
  const report: ValidateReport = {
    ok: errors.length === 0,
    files: results.map((r) => ({
      file: r.file,
      ok: r.errors.length === 0,
      ...(r.pipeline ? { pipeline: r.pipeline.name } : {}),
      errors: r.errors,
      warnings: r.warnings,
    })),
    errors: errors.filter((e) => !inFiles.has(e.file)),
  };
  return { report, results };
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('Check pipeline files: YAML, schema, detector parameters, references, and conflicts between pipelines')
    .argument('<paths...>', 'pipeline YAML files or directories of them')
    .option('--json', 'print a machine-readable report instead of text')
    .option('--print', 'also print each valid pipeline as loaded: a pipeline file with every default spelled out (secrets stay ${VAR})')
    .addHelpText(
      'after',
      `
Errors read file:line:column: field.path: message (expected X, found Y) — did you mean "Z"?
\${VAR} references are resolved from the environment, as \`run\` would. Exit status: 0 when every
file is valid, 2 when any has errors. The JSON Schema for editors is
schemas/pipeline.schema.json; reference: docs/pipelines.md.

Examples:
  m2m-sentinel validate pipelines/
  m2m-sentinel validate --json pipelines/plant-floor.yaml`,
    )
    .action(async (paths: string[], o: { json?: boolean; print?: boolean }) => {
      const { report, results } = await validatePaths(paths);
      if (o.json) {
        const printed = o.print ? { pipelines: results.flatMap((r) => (r.pipeline ? [pipelineDocument(r.pipeline)] : [])) } : {};
        process.stdout.write(JSON.stringify({ ...report, ...printed }, null, 2) + '\n');
      } else {
        for (const e of report.errors) process.stderr.write(formatConfigError(e) + '\n');
        for (const r of results) {
          for (const e of r.errors) process.stderr.write(formatConfigError(e) + '\n');
          for (const w of r.warnings) process.stderr.write(`${formatConfigError(w)} (warning)\n`);
          if (r.pipeline) {
            // With --print stdout is the pipeline file itself (`validate --print p.yaml > full.yaml`).
            (o.print ? process.stderr : process.stdout).write(`OK ${r.file} (${summary(r.pipeline)})\n`);
            if (o.print) process.stdout.write(printPipeline(r.pipeline));
          }
        }
        const all = [...report.errors, ...results.flatMap((r) => r.errors)];
        const files = new Set(all.map((e) => e.file)).size;
        if (all.length) process.stderr.write(`${all.length} error${all.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}\n`);
      }
      if (!report.ok) process.exitCode = EXIT.usage;
    });
}
