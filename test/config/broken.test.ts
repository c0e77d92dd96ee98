/**
 * Every file under test/fixtures/broken-pipelines must fail with the expected message, at the
 * line carrying the `# ERROR` marker. Directories hold several pipelines that are each valid but
 * conflict when loaded together; the marker is in the file that gets the error.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatConfigError, loadPipelineFile, loadPipelines } from '../../src/config/load.js';
import type { ConfigError, ConfigErrorCode } from '../../src/config/errors.js';

const DIR = 'test/fixtures/broken-pipelines';

interface Case {
  code: ConfigErrorCode;
  message: string;
  hint?: string;
}

const CASES: Record<string, Case> = {
  'unknown-detector.yaml': { code: 'unknown_detector', message: 'unknown detector "metric_baselin"', hint: 'metric_baseline' },
  'unknown-top-level-key.yaml': { code: 'unknown_key', message: 'unknown key "alert"', hint: 'alerts' },
  'unknown-param.yaml': { code: 'unknown_key', message: 'unknown key "windw"', hint: 'window' },
  'bad-duration.yaml': { code: 'bad_duration', message: 'not a duration', hint: '5m' },
  'duration-without-unit.yaml': { code: 'bad_duration', message: 'a duration needs a unit', hint: '86400s' },
  'threshold-out-of-range.yaml': { code: 'out_of_range', message: 'out of range' },
  'score-out-of-range.yaml': { code: 'out_of_range', message: 'out of range' },
  'wrong-type-integer.yaml': { code: 'wrong_type', message: 'wrong type' },
  'bad-enum-param.yaml': { code: 'bad_value', message: 'must be one of ip_port, ip', hint: 'ip_port' },
  'duplicate-detector-id.yaml': { code: 'duplicate_id', message: 'detector id "fanout" is already used by detectors[0]' },
  'duplicate-explicit-id.yaml': { code: 'duplicate_id', message: 'detector id "scan" is already used' },
  'undefined-route.yaml': { code: 'undefined_route', message: 'no alert route named "socc"', hint: 'soc' },
  'two-detectors-one-item.yaml': { code: 'detector_entry', message: 'one detector per list item, found fanout and new_peer' },
  'meta-key-inside-params.yaml': { code: 'unknown_key', message: 'unknown key "id"' },
  'detector-as-string.yaml': { code: 'wrong_type', message: 'wrong type' },
  'empty-detectors.yaml': { code: 'bad_value', message: 'must not be empty' },
  'route-under-detectors.yaml': { code: 'unknown_detector', message: 'unknown detector "stdout"' },
  'missing-group.yaml': { code: 'missing_key', message: 'missing required key "group"' },
  'missing-name.yaml': { code: 'missing_key', message: 'missing required key "name"' },
  'bad-pipeline-name.yaml': { code: 'bad_format', message: 'invalid name' },
  'topics-not-a-list.yaml': { code: 'wrong_type', message: 'wrong type' },
  'bad-start.yaml': { code: 'bad_value', message: 'must be one of earliest, latest' },
  'undefined-variable.yaml': { code: 'undefined_variable', message: 'environment variable SENTINEL_GROUP is not set' },
  'bad-interpolation.yaml': { code: 'bad_interpolation', message: 'bad reference ${SOC URL}' },
  'unquoted-variable-in-flow-map.yaml': { code: 'yaml_syntax', message: 'unquoted ${...} inside { } or [ ]' },
  'duplicate-key.yaml': { code: 'yaml_syntax', message: 'duplicate key' },
  'tab-indentation.yaml': { code: 'yaml_syntax', message: 'tab used for indentation' },
  'unknown-route-type.yaml': { code: 'unknown_route_type', message: 'unknown alert route "email"' },
  'webhook-bad-url.yaml': { code: 'bad_format', message: 'invalid url' },
  'syslog-port-out-of-range.yaml': { code: 'out_of_range', message: 'out of range' },
  'syslog-missing-host.yaml': { code: 'missing_key', message: 'missing required key "host"' },
  'alerts-into-source-topic.yaml': { code: 'feedback_loop', message: 'alerts would be written to "m2m.alerts", which this pipeline consumes' },
  'dead-letter-is-source.yaml': { code: 'feedback_loop', message: 'the dead-letter topic is also a source topic' },
  'mapping-fields-not-nested.yaml': { code: 'unknown_key', message: 'unknown key "device_id"' },
  'mapping-unknown-field.yaml': { code: 'bad_mapping', message: 'unknown canonical field "devce_id"', hint: 'device_id' },
  'mapping-format-on-wrong-field.yaml': { code: 'unknown_key', message: 'unknown key "format"' },
  'mapping-bad-timestamp-format.yaml': { code: 'bad_value', message: 'must be one of auto, iso, epoch_s, epoch_ms', hint: 'epoch_s' },
  'mapping-constant-and-field.yaml': { code: 'bad_mapping', message: '"device_class" is both mapped and constant' },
  'mapping-rename-collision.yaml': { code: 'duplicate_value', message: 'metrics "temp_k" and "temp_f" both become "temperature_c"' },
  'ttl-not-whole-days.yaml': { code: 'out_of_range', message: 'retention is kept in whole days', hint: '2d' },
  'eviction-shorter-than-lateness.yaml': { code: 'out_of_range', message: 'idle_eviction must be longer than allowed_lateness' },
  'future-skew-too-small.yaml': { code: 'out_of_range', message: 'max_future_skew must be at least a minute' },
  'min-severity-typo.yaml': { code: 'bad_value', message: 'must be one of info, low, medium, high, critical', hint: 'high' },
  'duplicate-route-name.yaml': { code: 'duplicate_value', message: 'route name "soc" is already used by alerts.routes[0]' },
  'two-kafka-routes.yaml': { code: 'route_entry', message: 'only one kafka route per pipeline' },
  'empty-file.yaml': { code: 'not_a_pipeline', message: 'the file is empty' },
  'two-documents.yaml': { code: 'multiple_documents', message: 'a pipeline file holds one YAML document' },
  'list-at-root.yaml': { code: 'not_a_pipeline', message: 'a pipeline file is a map of keys' },
  'bad-if-env.yaml': { code: 'bad_value', message: 'if_env takes the name of an environment variable', hint: 'SOC_WEBHOOK_URL' },
  'secret-var-in-wrong-type.yaml': { code: 'wrong_type', message: 'wrong type' },
  'emptied-required-value.yaml': { code: 'missing_key', message: 'missing required key "url"' },
  'group-conflict': { code: 'group_conflict', message: 'consumer group "sentinel-shared" is also used by pipeline "meters"' },
  'mapping-conflict': { code: 'group_conflict', message: 'on the same topics with a different mapping' },
  'alerts-feed-another-pipeline': { code: 'feedback_loop', message: '"ami.alerts" is the alert outbox of pipeline "meters"' },
  'name-conflict': { code: 'pipeline_conflict', message: 'pipeline name "plant" is also used by' },
};

/** 1-based line of the `# ERROR` marker in a file, if any. */
function markerLine(file: string): number | undefined {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('# ERROR'));
  return i < 0 ? undefined : i + 1;
}

// Broken files are checked with an empty environment so ${VAR} behaviour does not depend on CI.
const ENV = {};

describe('broken pipelines', () => {
  const entries = readdirSync(DIR).sort();

  it('has at least 25 cases, and a table entry for every fixture', () => {
    expect(entries.length).toBeGreaterThanOrEqual(25);
    expect(entries.filter((e) => !(e in CASES))).toEqual([]);
    expect(Object.keys(CASES).filter((c) => !entries.includes(c))).toEqual([]);
  });

  for (const entry of entries) {
    const c = CASES[entry];
    if (!c) continue;
    it(`${entry}: ${c.message}`, async () => {
      const path = join(DIR, entry);
      let errors: ConfigError[];
      let file: string;
      if (statSync(path).isDirectory()) {
        const r = await loadPipelines([path], ENV);
        errors = r.errors;
        file = readdirSync(path).map((f) => join(path, f)).find((f) => markerLine(f) !== undefined)!;
        // The other pipelines in the directory still load: one bad pipeline does not sink the rest.
        expect(r.pipelines.length).toBe(readdirSync(path).length - 1);
      } else {
        const r = await loadPipelineFile(path, ENV);
        expect(r.pipeline).toBeUndefined();
        errors = r.errors;
        file = path;
      }
      const line = markerLine(file);
      expect(line, `${file} needs a "# ERROR" marker`).toBeDefined();
      const match = errors.find((e) => e.code === c.code && e.message.includes(c.message));
      expect(match, `no ${c.code} error containing ${JSON.stringify(c.message)} in:\n${errors.map(formatConfigError).join('\n')}`).toBeDefined();
      expect(match!.file).toBe(file);
      expect(match!.line, formatConfigError(match!)).toBe(line);
      expect(match!.column).toBeGreaterThanOrEqual(1);
      if (c.hint !== undefined) expect(match!.hint).toBe(c.hint);
      // The rendered form carries everything a user needs on one line.
      const text = formatConfigError(match!);
      expect(text.startsWith(`${file}:${line}:${match!.column}: `)).toBe(true);
      if (c.hint !== undefined) expect(text).toContain(`did you mean "${c.hint}"?`);
    });
  }
});
