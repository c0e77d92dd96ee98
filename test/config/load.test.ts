/** Loading: interpolation, defaults, normalization, redaction, error rendering, multi-file. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { didYouMean, formatConfigError, levenshtein } from '../../src/config/errors.js';
import { loadPipelineText, loadPipelines, redactPipeline } from '../../src/config/load.js';

const BASE = 'name: t\nsource:\n  kafka: { topics: [m2m.telemetry], group: g }\ndetectors:\n  - fanout: {}\n';

function ok(yaml: string, env: Record<string, string | undefined> = {}) {
  const r = loadPipelineText(yaml, 't.yaml', env);
  expect(r.errors.map(formatConfigError)).toEqual([]);
  return r.pipeline!;
}

function errs(yaml: string, env: Record<string, string | undefined> = {}) {
  const r = loadPipelineText(yaml, 't.yaml', env);
  expect(r.pipeline).toBeUndefined();
  return r.errors;
}

describe('defaults and normalization', () => {
  it('fills every default and converts durations to ms', () => {
    const cfg = ok(BASE);
    expect(cfg).toMatchObject({
      name: 't',
      file: 't.yaml',
      source: { kafka: { topics: ['m2m.telemetry'], group: 'g', start: 'latest', format: 'json', dead_letter_topic: 'm2m.telemetry.dlq' } },
      entities: { key: 'device_id', idle_eviction_ms: 7 * 86_400_000 },
      allowed_lateness_ms: 60_000,
      max_future_skew_ms: 86_400_000,
      findings: { clickhouse: { database: 'm2m', table: 'findings', ttl_days: 90 } },
      alerts: { min_severity: 'medium', suppress_ms: 30 * 60_000, auto_close_ms: 24 * 3_600_000, routes: [] },
    });
    expect(cfg.source.kafka.brokers).toBeUndefined();
    expect(cfg.mapping).toBeUndefined();
    expect(cfg.detectors).toEqual([{ type: 'fanout', id: 'fanout', params: expect.objectContaining({ window: 300_000, min_distinct_dst: 40 }) }]);
  });

  it('accepts "- detector:" with nothing after it as all defaults, and compound durations', () => {
    const cfg = ok(BASE.replace('  - fanout: {}\n', '  - fanout:\n  - new_peer: { learning: 1h30m }\n'));
    expect(cfg.detectors.map((d) => d.id)).toEqual(['fanout', 'new_peer']);
    expect(cfg.detectors[1]!.params.learning).toBe(90 * 60_000);
  });

  it('runs two of one detector under different ids, drops disabled ones, keeps route references', () => {
    const cfg = ok(`${BASE}  - fanout: { window: 1h }\n    id: slow-scan\n    routes: [soc]\n  - new_peer: {}\n    enabled: false\nalerts:\n  routes:\n    - stdout: {}\n      name: soc\n`);
    expect(cfg.detectors.map((d) => [d.id, d.params.window, d.routes])).toEqual([
      ['fanout', 300_000, undefined],
      ['slow-scan', 3_600_000, ['soc']],
    ]);
  });

  it('expands mapping shorthands and keeps rules', () => {
    const cfg = ok(`${BASE}mapping:\n  fields:\n    device_id: $.meta.device\n    ts: { path: t, format: epoch_ms }\n    bytes_out: { path: $.b, scale: 8 }\n  constants: { type: connection, tls: true }\n  metrics: { t_k: { rename: temperature_c, offset: -273.15 } }\n`);
    expect(cfg.mapping).toEqual({
      fields: { device_id: { path: '$.meta.device' }, ts: { path: 't', format: 'epoch_ms' }, bytes_out: { path: '$.b', scale: 8 } },
      constants: { type: 'connection', tls: true },
      metrics: { t_k: { rename: 'temperature_c', offset: -273.15 } },
    });
  });

  it('names routes by type, numbering repeats, with per-route options defaulted', () => {
    const cfg = ok(`${BASE}alerts:\n  min_severity: low\n  suppress: 2h\n  routes:\n    - stdout:\n    - syslog: { host: a }\n    - syslog: { host: b, protocol: tcp }\n      min_severity: critical\n    - webhook: { url: "https://x.example/h" }\n      enabled: false\n`);
    expect(cfg.alerts).toEqual({
      min_severity: 'low',
      suppress_ms: 7_200_000,
      auto_close_ms: 86_400_000,
      routes: [
        { type: 'stdout', name: 'stdout', options: {} },
        { type: 'syslog', name: 'syslog', options: { host: 'a', port: 514, protocol: 'udp', format: 'cef', timeout: 10_000 } },
        { type: 'syslog', name: 'syslog-2', min_severity: 'critical', options: { host: 'b', port: 514, protocol: 'tcp', format: 'cef', timeout: 10_000 } },
      ],
    });
  });
});

describe('YAML features', () => {
  it('anchors, aliases and merge keys share tuning between detectors', () => {
    const cfg = ok(`name: t
source:
  kafka: { topics: [m2m.telemetry], group: g }
detectors:
  - fanout: &scan { window: 10m, min_distinct_dst: 15 }
  - fanout:
      <<: *scan
      window: 1h
    id: fanout-slow
`);
    expect(cfg.detectors.map((d) => [d.id, d.params.window, d.params.min_distinct_dst])).toEqual([
      ['fanout', 600_000, 15],
      ['fanout-slow', 3_600_000, 15],
    ]);
  });
});

describe('${VAR} interpolation', () => {
  const y = (group: string, extra = '') => `name: t\nsource:\n  kafka: { topics: [m2m.telemetry], group: ${group} }\ndetectors:\n  - fanout: {}\n${extra}`;

  it('substitutes, falls back to defaults for unset or empty variables, and escapes $${', () => {
    expect(ok(y('"${G}"'), { G: 'grp' }).source.kafka.group).toBe('grp');
    expect(ok(y('"${G:-fallback}"'), {}).source.kafka.group).toBe('fallback');
    expect(ok(y('"${G:-fallback}"'), { G: '' }).source.kafka.group).toBe('fallback');
    expect(ok(y('"pre-${G}-post"'), { G: 'x' }).source.kafka.group).toBe('pre-x-post');
    const cfg = ok(y('g', 'description: "costs $${PRICE} and ${A}$"\n'), { A: 'b' });
    expect(cfg.description).toBe('costs ${PRICE} and b$');
  });

  it('gives an unquoted single reference the type of its value; quoted stays text', () => {
    const routes = (port: string) => y('g', `alerts:\n  routes:\n    - syslog:\n        host: h\n        port: ${port}\n`);
    expect(ok(routes('${P}'), { P: '5514' }).alerts.routes[0]!.options.port).toBe(5514);
    expect(ok(routes('${P:-514}')).alerts.routes[0]!.options.port).toBe(514);
    const e = errs(routes('"${P}"'), { P: '5514' });
    expect(e[0]).toMatchObject({ code: 'wrong_type', line: 10, path: 'alerts.routes[0].syslog.port', expected: 'an integer' });
    const flag = y('g', 'alerts:\n  routes:\n    - stdout: {}\n      enabled: ${STDOUT_ON:-false}\n');
    expect(ok(flag).alerts.routes).toEqual([]);
    expect(ok(flag, { STDOUT_ON: 'true' }).alerts.routes).toHaveLength(1);
  });

  it('treats a single reference that resolves empty as an absent key', () => {
    const hook = y('g', 'alerts:\n  routes:\n    - webhook:\n        url: https://x.example/h\n        secret: ${S:-}\n');
    expect(ok(hook).alerts.routes[0]!.options).toEqual({ url: 'https://x.example/h', timeout: 10_000 });
  });

  it('reports an undefined variable by name at its line and column', () => {
    const e = errs(y('"${SENTINEL_GROUP}"'));
    expect(e).toHaveLength(1);
    expect(formatConfigError(e[0]!)).toBe(
      't.yaml:3:45: source.kafka.group: environment variable SENTINEL_GROUP is not set (found ${SENTINEL_GROUP}) — set SENTINEL_GROUP, or give a default: ${SENTINEL_GROUP:-value}',
    );
  });

  it('never injects YAML structure from a value: it stays one scalar, judged by the schema', () => {
    const e = errs(y('"${G}"', 'description: "${D}"\n'), { G: 'a, b: [c]}\n  x: 1', D: 'ok\nname: other' });
    expect(e.map((x) => [x.code, x.path])).toEqual([['bad_format', 'source.kafka.group']]);
    const cfg = ok(y('g', 'description: "${D}"\n'), { D: 'ok\nname: other' });
    expect([cfg.name, cfg.description]).toEqual(['t', 'ok\nname: other']);
  });

  it('if_env: a switched-off route may reference unset variables but is still checked for typos', () => {
    const route = (body: string) => y('g', `alerts:\n  routes:\n    - webhook: { url: "\${HOOK}", secret: "\${HOOK_SECRET}"${body} }\n      if_env: HOOK\n`);
    expect(ok(route('')).alerts.routes).toEqual([]);
    const typo = errs(route(', timeuot: 5s'));
    expect(typo.map((e) => [e.code, e.path, e.hint])).toEqual([['unknown_key', 'alerts.routes[0].webhook.timeuot', 'timeout']]);
    const on = errs(route(''), { HOOK: 'https://x.example/h' });
    expect(on.map((e) => e.message)).toEqual(['environment variable HOOK_SECRET is not set']);
  });
});

describe('secrets', () => {
  const yaml = `name: t
source:
  kafka: { topics: [m2m.telemetry], group: g }
detectors:
  - fanout: {}
alerts:
  routes:
    - webhook:
        url: "https://ops:\${HOOK_PASSWORD}@soc.example.com/in?token=\${HOOK_TOKEN}&tenant=plant"
        secret: \${SOC_WEBHOOK_SECRET:-changeme}
    - slack: { url: "https://hooks.slack.com/services/T0/B0/literal-token" }
    - webhook: { url: "https://x.example/h", secret: literal-in-file }
`;
  const env = { HOOK_PASSWORD: 'pw-123', HOOK_TOKEN: 'tok-456', SOC_WEBHOOK_SECRET: 'sec-789' };

  it('redactPipeline hides every credential and leaves the loaded config intact', () => {
    const cfg = ok(yaml, env);
    const before = JSON.stringify(cfg);
    const shown = JSON.stringify(redactPipeline(cfg));
    for (const s of ['pw-123', 'tok-456', 'sec-789', 'changeme', 'literal-token', 'literal-in-file']) expect(shown).not.toContain(s);
    expect(JSON.stringify(cfg)).toBe(before);
    expect(cfg.alerts.routes[0]!.options.secret).toBe('sec-789');
    const red = redactPipeline(cfg);
    // Values from secret variables are shown as written (defaults removed), others masked.
    expect(red.alerts.routes[0]!.options.secret).toBe('${SOC_WEBHOOK_SECRET}');
    expect(red.alerts.routes[0]!.options.url).toBe('https://ops:${HOOK_PASSWORD}@soc.example.com/in?token=${HOOK_TOKEN}&tenant=plant');
    expect(red.alerts.routes[1]!.options.url).toBe('***');
    expect(red.alerts.routes[2]!.options.secret).toBe('***');
    expect(red.alerts.routes[2]!.options.url).toBe('https://x.example/h');
  });

  it('masks credentials inside URLs even when they were written literally', () => {
    const cfg = ok(yaml.replace(/url: "https:\/\/ops.*"/, 'url: "https://ops:pw@soc.example.com/in?token=abc&tenant=plant"'), env);
    expect(redactPipeline(cfg).alerts.routes[0]!.options.url).toBe('https://ops:***@soc.example.com/in?token=***&tenant=plant');
  });

  it('error messages do not show secret values', () => {
    const e = errs(`${BASE}alerts:\n  routes:\n    - syslog: { host: h, port: "\${SIEM_TOKEN}" }\n`, { SIEM_TOKEN: 'tok-999' });
    expect(e.map(formatConfigError).join('\n')).not.toContain('tok-999');
    const slack = errs(`${BASE}alerts:\n  routes:\n    - slack: { url: hooks.slack.com/services/T0/B0/tok-888 }\n    - webhook: { url: "ftp://u:pw-777@x.example/h" }\n`);
    const text = slack.map(formatConfigError).join('\n');
    expect(slack).toHaveLength(2);
    expect(text).not.toContain('tok-888');
    expect(text).not.toContain('pw-777');
  });
});

describe('errors', () => {
  it('renders file:line:col: path: message (expected, found) — did you mean', () => {
    expect(
      formatConfigError({ code: 'unknown_key', file: 'p.yaml', line: 3, column: 5, path: 'detectors[2].fanout.windw', message: 'unknown key "windw"', expected: 'one of window', found: '"windw"', hint: 'window' }),
    ).toBe('p.yaml:3:5: detectors[2].fanout.windw: unknown key "windw" (expected one of window, found "windw") — did you mean "window"?');
    expect(formatConfigError({ code: 'yaml_syntax', file: 'p.yaml', line: 1, column: 1, path: '', message: 'duplicate key' })).toBe('p.yaml:1:1: duplicate key');
  });

  it('did-you-mean only offers plausible typos', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(didYouMean('fanot', ['fanout', 'new_peer'])).toBe('fanout');
    expect(didYouMean('paht', ['path'])).toBe('path');
    expect(didYouMean('min-distinct-dst', ['min_distinct_dst'])).toBe('min_distinct_dst');
    expect(didYouMean('foo', ['fanout', 'new_peer'])).toBeUndefined();
    expect(didYouMean('x', [])).toBeUndefined();
  });

  it('collects several errors at once, sorted by line', () => {
    const e = errs('name: T\nsource:\n  kafka: { topics: [a], group: g, start: first }\ndetectors:\n  - fanout: { window: 5 }\n  - fanout: {}\n');
    expect(e.map((x) => [x.line, x.code])).toEqual([
      [1, 'bad_format'],
      [3, 'bad_value'],
      [5, 'bad_duration'],
      [6, 'duplicate_id'],
    ]);
  });
});

describe('loadPipelines', () => {
  it('reports unreadable paths and empty directories as errors, and loads the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm2m-pipelines-'));
    mkdirSync(join(dir, 'empty'));
    writeFileSync(join(dir, 'a.yaml'), BASE);
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const r = await loadPipelines([dir, join(dir, 'missing.yaml'), join(dir, 'empty')], {});
    expect(r.pipelines.map((p) => p.name)).toEqual(['t']);
    expect(r.errors.map((e) => [e.code, e.message])).toEqual([
      ['io_error', 'cannot read: ENOENT'],
      ['io_error', 'no pipeline files (*.yaml, *.yml) in this directory'],
    ]);
  });

  it('allows two pipelines on one topic with different groups', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm2m-pipelines-'));
    writeFileSync(join(dir, 'a.yaml'), BASE);
    writeFileSync(join(dir, 'b.yaml'), BASE.replace('name: t', 'name: u').replace('group: g', 'group: h'));
    const r = await loadPipelines([dir], {});
    expect(r.errors).toEqual([]);
    expect(r.pipelines).toHaveLength(2);
  });

  it('rejects two pipelines sharing a group even on the same topics and mapping', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm2m-pipelines-'));
    writeFileSync(join(dir, 'a.yaml'), BASE);
    writeFileSync(join(dir, 'b.yaml'), BASE.replace('name: t', 'name: u'));
    const r = await loadPipelines([dir], {});
    expect(r.errors.map((e) => [e.code, e.file, e.line])).toEqual([['group_conflict', join(dir, 'b.yaml'), 3]]);
    expect(r.errors[0]!.message).toContain('split the partitions');
  });
});
