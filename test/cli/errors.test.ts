/**
 * The operator's path through the real binary (issue #24): each mistake a new user made gets a
 * one-line reason on stderr, no stack trace, and the exit code of the convention (0 ok, 1 judged,
 * 2 usage or invalid input, 3 could not run).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { bin, DEAD_BROKER, ROOT, STACK_FRAME, type BinResult } from '../support/bin.js';

const dir = mkdtempSync(join(tmpdir(), 'm2m-cli-'));
const dead = { KAFKA_BROKERS: DEAD_BROKER };

function usage(r: BinResult, reason: RegExp | string): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(typeof reason === 'string' ? new RegExp(reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : reason);
  expect(r.stderr).not.toMatch(STACK_FRAME);
}

describe('replay', () => {
  it('without a destination: says which flag is missing, before looking at the file', async () => {
    usage(await bin(['replay', 'nosuch.ndjson'], { env: dead }), '--topic');
  });

  it('an unknown --speed is a usage error naming the flag', async () => {
    usage(await bin(['replay', '-s', 'fast', 'x.ndjson', '-t', 't'], { env: dead }), /--speed.*"fast"/);
  });

  it('a missing file is reported before any connection to Kafka, and nothing lands on stdout', async () => {
    // The broker named is dead: had replay connected first, it would fail on that (exit 3).
    const r = await bin(['replay', 'nosuch.ndjson', '-t', 't'], { env: dead });
    usage(r, 'nosuch.ndjson: no such file');
    expect(r.stderr).not.toContain('Kafka');
    expect(r.stdout).toBe('');
  });

  it('an unreachable broker: one line naming it, exit 3, no kafkajs retry logs', async () => {
    const f = join(dir, 'one.ndjson');
    writeFileSync(f, '{"type":"telemetry","device_id":"a","ts":"2026-01-01T00:00:00Z","metrics":{"v":1}}\n');
    const r = await bin(['replay', f, '-t', 'm2m.telemetry'], { env: dead });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`Kafka at ${DEAD_BROKER}`);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(r.stdout).toBe('');
  });
});

describe('simulate', () => {
  it('-n 0 is refused with the allowed range, as the help says', async () => {
    usage(await bin(['simulate', '-n', '0', '-o', join(dir, 'none.ndjson')]), /--devices.*at least 1|≥ 1/);
    const help = await bin(['simulate', '--help']);
    expect(help.stdout).toMatch(/number of devices \(at least 1\)/);
  });

  it('a fleet too small for every incident kind says which kinds were left out', async () => {
    const r = await bin(['simulate', '-n', '10', '-d', '1', '-o', join(dir, 'small.ndjson'), '-l', join(dir, 'small.labels.json')]);
    expect(r.code, r.stderr).toBe(0);
    const labels = JSON.parse(readFileSync(join(dir, 'small.labels.json'), 'utf8')) as { incidents: Array<{ kind: string }> };
    const kinds = new Set(labels.incidents.map((i) => i.kind));
    const notes = [...r.stderr.matchAll(/note: \d+ (\w+) incidents? not in the labels/g)].map((m) => m[1]);
    // Every kind missing from the labels is named, and only those.
    expect(notes.length).toBeGreaterThan(0);
    for (const k of notes) expect(kinds.has(k!)).toBe(false);
    expect(kinds.size + notes.length).toBe(11);
  });
});

describe('validate, run and backtest agree: an invalid pipeline is exit 2', () => {
  const broken = 'test/fixtures/broken-pipelines/unknown-detector.yaml';

  it('validate: exit 2, and the unknown detector lists every valid name', async () => {
    const r = await bin(['validate', broken]);
    usage(r, 'unknown detector "metric_baselin"');
    for (const name of ['metric_baseline', 'fanout', 'tls_downgrade', 'policy']) expect(r.stderr).toContain(name);
    expect((await bin(['validate', 'pipelines/'])).code).toBe(0);
  });

  it('run: exit 2 when no pipeline file is valid', async () => {
    usage(await bin(['run', broken], { env: dead }), 'unknown detector');
  });

  it('backtest: exit 2 for the pipeline, for a missing input, and for input of which no line decodes', async () => {
    usage(await bin(['backtest', broken, 'x.ndjson', '-q']), 'unknown detector');
    usage(await bin(['backtest', 'pipelines/default.yaml', join(dir, 'missing.ndjson'), '-q']), 'missing.ndjson');
    const junk = join(dir, 'junk.ndjson');
    writeFileSync(junk, 'not json\n{"type":"telemetry"}\n{"device_id":"x"}\n');
    const r = await bin(['backtest', 'pipelines/default.yaml', junk, '-q']);
    usage(r, /no event in .*junk\.ndjson decodes \(3 rejected/);
  });

  it('YAML syntax errors: every one reported, in words, with line and column', async () => {
    const f = join(dir, 'syntax.yaml');
    writeFileSync(f, 'name: a\nsource:\n  kafka:\n    topics: [t]\n    group g\ndetectors:\n  - fanout: window: 5m\n');
    const r = await bin(['validate', f]);
    usage(r, `${f}:5:`);
    expect(r.stderr).toContain('a key without a value');
    expect(r.stderr).toContain(`${f}:7:`);
    expect(r.stderr).toContain('a map nested on one line');
    expect(r.stderr).not.toMatch(/Implicit map keys|Nested mappings/);
  });
});

describe('migrate', () => {
  it('an invalid pipeline is exit 2; an unreachable ClickHouse exit 3 in one line, its password not shown', async () => {
    usage(await bin(['migrate', 'test/fixtures/broken-pipelines/unknown-detector.yaml'], { env: { CLICKHOUSE_URL: 'http://127.0.0.1:9/' } }), 'unknown detector');
    const r = await bin(['migrate', 'pipelines/default.yaml'], { env: { CLICKHOUSE_URL: 'http://admin:s3cret-pw@127.0.0.1:9/' } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^m2m-sentinel migrate: ClickHouse at http:\/\/admin:\*+@127\.0\.0\.1:9/);
    expect(r.stderr).not.toContain('s3cret-pw');
    expect(r.stderr).not.toMatch(STACK_FRAME);
  }, 120_000);
});

describe('backtest --fail-on-targets (a CI gate)', () => {
  let events: string;
  let labels: string;
  const pipeline = join(dir, 'gate.yaml');
  beforeAll(async () => {
    events = join(dir, 'gate.ndjson');
    labels = join(dir, 'gate.labels.json');
    const r = await bin(['simulate', '-n', '30', '-d', '0.5', '--kinds', 'c2_beaconing', '-k', '1', '--seed', '5', '-q', '-o', events, '-l', labels]);
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(pipeline, 'name: gate\nsource: { kafka: { topics: [t], group: g } }\ndetectors:\n  - fanout: {}\n');
  }, 120_000);

  it('exits 1 when a target is missed, naming it; 0 when all are met; the flag needs labels', async () => {
    const missed = await bin(['backtest', pipeline, events, '--labels', labels, '-q', '--fail-on-targets', '--targets', 'recall=1.01']);
    expect(missed.code, missed.stderr).toBe(1);
    expect(missed.stderr).toMatch(/targets? missed: recall \(all incidents\) [\d.]+ \(target ≥ 1\.01\)/);
    expect(missed.stderr).not.toMatch(STACK_FRAME);
    const met = await bin(['backtest', pipeline, events, '--labels', labels, '-q', '--fail-on-targets', '--targets', 'recall=0,precision=0,kind_recall=0,false_per_1k=1000000']);
    expect(met.code, met.stderr).toBe(0);
    // Without the flag a missed target is reported, not judged.
    expect((await bin(['backtest', pipeline, events, '--labels', labels, '-q', '--targets', 'recall=1.01'])).code).toBe(0);
    usage(await bin(['backtest', pipeline, events, '-q', '--fail-on-targets']), '--labels');
    usage(await bin(['backtest', pipeline, events, '--labels', labels, '--targets', 'recal=0.5']), /keys recall, precision/);
  }, 240_000);

  it('--help shows durations as durations', async () => {
    const r = await bin(['backtest', '--help']);
    expect(r.stdout).toContain('(default: 5m)');
    expect(r.stdout).not.toContain('300000');
  });
});

describe('the program', () => {
  it('an unknown command or option is exit 2; --help and --version exit 0 and help states the exit codes', async () => {
    usage(await bin(['nosuchcommand']), "unknown command 'nosuchcommand'");
    usage(await bin(['validate', '--nosuch', 'pipelines/']), "unknown option '--nosuch'");
    const help = await bin(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit status[\s\S]*2\s+usage error or invalid input/);
    expect((await bin(['--version'])).code).toBe(0);
  });

  it('demo --help has examples; demo with a missing fleet is exit 2 before any broker starts', async () => {
    expect((await bin(['demo', '--help'])).stdout).toMatch(/Examples:\n\s+m2m-sentinel demo/);
    usage(await bin(['demo', '--fleet', join(dir, 'nofleet.ndjson.gz')], { env: dead }), 'fleet file not found');
  });

  it('runs as the README says: `npx m2m-sentinel` in a clone after npm install', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npx m2m-sentinel validate pipelines/');
    const r = await new Promise<{ code: number | null; out: string }>((resolve) =>
      execFile('npx', ['--no-install', 'm2m-sentinel', 'validate', 'pipelines/default.yaml'], { cwd: ROOT, encoding: 'utf8' }, (err, out) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out })),
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('OK pipelines/default.yaml');
  }, 180_000);
});
