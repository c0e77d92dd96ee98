import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPipelineFile } from '../../src/config/load.js';
import { runBacktest } from '../../src/eval/backtest.js';
import { attribute, DOCS_BEGIN, DOCS_END, judge, replaceDocsSection, ROBUSTNESS_TARGETS, type WorldResult } from '../../src/eval/robustness.js';
import { writeWorld } from '../../src/sim/worlds/write.js';
import { GATEWAY, habits, spec } from '../sim/world-helpers.js';

const H = 3_600_000;

function world(index: number, over: Partial<WorldResult>): WorldResult {
  return {
    index,
    seed: index,
    kind: 'drawn',
    summary: '',
    events: 1,
    out_of_order: 0,
    devices: 10,
    device_days: 10,
    findings: 0,
    min_severity: 'medium',
    incidents: 10,
    detected: 10,
    recall: 1,
    precision: 1,
    false_alerts: 0,
    false_after_suppression: 0,
    false_per_1k: 0,
    kinds: [],
    false_sources: [],
    misses: [],
    seconds: { simulate: 0, backtest: 0 },
    files: { events: '', labels: '', findings: '', metrics: '' },
    ...over,
  };
}

describe('robustness scoring', () => {
  it('judges every target on the worst world of that measure', () => {
    const ws = [
      world(0, { recall: 0.95, precision: 0.99, false_per_1k: 0.4, kinds: [{ kind: 'a', incidents: 10, detected: 9, recall: 0.9, detected_any: 9 }] }),
      world(1, { recall: 0.92, precision: 0.5, false_per_1k: 3, kinds: [{ kind: 'a', incidents: 10, detected: 10, recall: 1, detected_any: 10 }] }),
      world(2, { recall: 0.97, precision: 0.95, false_per_1k: 0.9, kinds: [{ kind: 'b', incidents: 4, detected: 2, recall: 0.5, detected_any: 3 }] }),
    ];
    const c = judge(ws, ROBUSTNESS_TARGETS);
    expect(c.map((x) => [x.world, x.ok])).toEqual([
      [1, true],
      [1, false],
      [1, false],
      [2, false],
    ]);
    expect(c[3]!.name).toContain('(b)');
    expect(judge([ws[0]!], ROBUSTNESS_TARGETS).every((x) => x.ok)).toBe(true);
  });

  it('traces a false alert to the narrowest change on its device, else to its habits', () => {
    const benign = [
      { id: 'r', kind: 'firmware_rollout', start: 10 * H, end: 40 * H, devices: ['a', 'b'] },
      { id: 'o', kind: 'site_outage', start: 20 * H, end: 21 * H, devices: ['a'] },
      { id: 's', kind: 'sleep_schedule', start: 0, end: 100 * H, devices: ['a', 'c'] },
      { id: 'd', kind: 'duplicate_delivery', start: 0, end: 100 * H, devices: ['c'] },
    ];
    expect(attribute({ device_id: 'a', first_ts: 22 * H }, benign)).toBe('site_outage');
    expect(attribute({ device_id: 'b', first_ts: 22 * H }, benign)).toBe('firmware_rollout');
    expect(attribute({ device_id: 'a', first_ts: 80 * H }, benign)).toBe('sleep_schedule');
    expect(attribute({ device_id: 'c', first_ts: 5 * H }, benign)).toBe('duplicate_delivery+sleep_schedule');
    expect(attribute({ device_id: 'x', first_ts: 5 * H }, benign)).toBe('none');
  });

  it('replaces its own section of a document and leaves the rest alone', () => {
    const doc = `# Q\n\nintro\n\n${DOCS_BEGIN}\n\nold table\n\n${DOCS_END}\n\n## After\n`;
    const next = replaceDocsSection(doc, 'new table');
    expect(next).toContain('new table');
    expect(next).not.toContain('old table');
    expect(next.startsWith('# Q\n\nintro\n\n')).toBe(true);
    expect(next.endsWith('\n\n## After\n')).toBe(true);
    expect(replaceDocsSection('# Q\n', 'x')).toBe(`# Q\n\n${DOCS_BEGIN}\n\nx\n\n${DOCS_END}\n`);
  });

  it('the backtest feeds a world in arrival order, as is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-order-'));
    const s = spec({ devices: 6, days: 1, classes: [habits('edge_gateway', GATEWAY, { gaps_per_week: 20, gap_min: [30, 60], duplicates: 0.02 })] });
    await writeWorld(s, { out: join(dir, 'e.ndjson'), labels: join(dir, 'l.json') });
    let max = Number.NEGATIVE_INFINITY;
    let disorder = 0;
    const lines = readFileSync(join(dir, 'e.ndjson'), 'utf8').trim().split('\n');
    for (const l of lines) {
      const t = Date.parse(JSON.parse(l).ts);
      if (t < max) disorder++;
      else max = t;
    }
    expect(disorder).toBeGreaterThan(100);
    const p = await loadPipelineFile('pipelines/default.yaml');
    const res = await runBacktest({ pipeline: p.pipeline!, inputs: [join(dir, 'e.ndjson')] });
    expect(res.decoded).toBe(lines.length);
    expect(res.outOfOrder).toBe(disorder);
  });
});

describe('robustness command', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/dev-cli.ts', 'robustness', ...args], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn' }, timeout: 240_000 });

  it('runs tiny worlds in worker processes, writes the reports and the docs section, and exits 1 when a target is missed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-cli-'));
    const doc = join(dir, 'quality.md');
    writeFileSync(doc, '# Quality\n\nkept\n');
    const common = ['--benchmark-size', '20x1', '-w', '1', '-e', '20000', '--max-days', '2', '-j', '2', '-o', join(dir, 'out'), '--docs', doc];
    const r = cli([...common, '--min-recall', '1.01']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain('world 0: done');
    expect(r.stderr).toContain('world 1: done');
    expect(r.stdout).toContain('target(s) not met on the worst world');
    const report = JSON.parse(readFileSync(join(dir, 'out', 'robustness.json'), 'utf8'));
    expect(report.ok).toBe(false);
    expect(report.worlds.map((w: WorldResult) => w.index)).toEqual([0, 1]);
    expect(report.worlds[0].kind).toBe('benchmark');
    expect(report.checks).toHaveLength(4);
    expect(report.checks[0]).toMatchObject({ name: 'recall (worst world)', target: '≥ 1.01', ok: false });
    for (const w of report.worlds as WorldResult[]) {
      expect(w.events).toBeGreaterThan(1000);
      expect(w.incidents).toBeGreaterThan(5);
      expect(w.kinds.length).toBeGreaterThan(5);
      expect(w.summary.length).toBeGreaterThan(20);
      for (const f of Object.values(w.files)) expect(existsSync(f), f).toBe(true);
      const labels = JSON.parse(readFileSync(w.files.labels, 'utf8'));
      expect(labels.world.index).toBe(w.index);
    }
    expect(report.worlds[1].kinds.map((k: { kind: string }) => k.kind)).toEqual(expect.arrayContaining(['implant_beacon', 'worm_spread']));
    const md = readFileSync(join(dir, 'out', 'robustness.md'), 'utf8');
    expect(md).toContain('| world | devices |');
    expect(md).toContain('Top sources of false alerts per world');
    const docText = readFileSync(doc, 'utf8');
    expect(docText.startsWith('# Quality\n\nkept\n')).toBe(true);
    expect(docText).toContain(DOCS_BEGIN);
    expect(docText).toContain('--min-recall 1.01');

    // Re-scoring a world against targets it meets, in this process: nothing is generated again, exit 0.
    const again = cli([...common, '--only', '1', '-j', '0', '--reuse', '--min-recall', '0', '--min-precision', '0', '--max-false-per-1k', '1000000', '--min-kind-recall', '0']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain('world 1: reused');
    expect(again.stdout).toContain('all targets met on every world');
    expect(readFileSync(doc, 'utf8').split(DOCS_BEGIN)).toHaveLength(2);
  }, 300_000);

  it('refuses bad usage with exit 2 and a one-line reason', () => {
    const bad = cli(['--jobs', 'many']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--jobs');
    const missing = cli(['no/such/pipeline.yaml', '-w', '0', '--no-benchmark']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).not.toContain('    at ');
    const none = cli(['-w', '0', '--no-benchmark']);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no worlds to run');
  }, 120_000);
});
