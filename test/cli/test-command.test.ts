/**
 * `m2m-sentinel test`: the shipped plant-floor cases pass through the real binary (mapping,
 * allow-list, maintenance window, policy and a rejected record), and the three outcomes a CI step
 * needs are distinct: 0 all pass, 1 a case fails (saying why), 2 the cases file is wrong.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, STACK_FRAME } from '../support/bin.js';
import { tempDir } from '../support/kafka.js';

const dir = tempDir('m2m-cases');
const PIPE = 'pipelines/plant-floor.yaml';
const flow = (dst: string, port: number, t = '2026-03-04T10:00:00Z') =>
  JSON.stringify({ event: 'connection', asset: { name: 'plc-07', kind: 'plc' }, time: t, flow: { src: '10.20.0.7', dst, dport: port, proto: 'TCP', app: 'telnet', tls: false } });

describe('m2m-sentinel test', () => {
  it('passes the shipped plant-floor cases (exit 0)', async () => {
    const r = await bin(['test', PIPE, 'pipelines/tests/plant-floor.cases.yaml', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ pipeline: 'plant-floor', failed: 0 });
    expect(out.passed).toBeGreaterThanOrEqual(5);
  }, 60_000);

  it('a case whose findings differ fails with exit 1 and says what was expected and found', async () => {
    const f = join(dir, 'wrong.cases.yaml');
    writeFileSync(f, `cases:\n  - name: telnet\n    events:\n      - '${flow('10.20.0.1', 23)}'\n    expect:\n      - { detector: policy, device: plc-08 }\n  - name: quiet\n    events:\n      - '${flow('10.20.0.1', 23)}'\n    expect: []\n`);
    const r = await bin(['test', PIPE, f]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain(`✗ ${f}:2 telnet`);
    expect(r.stdout).toContain('expected policy on plc-08; no policy finding on plc-08');
    expect(r.stdout).toMatch(/✗ .*:7 quiet[\s\S]*unexpected policy on plc-07 \(medium, alerted\)/);
    expect(r.stdout).toContain('0 of 2 cases passed (2 failed)');
  }, 60_000);

  it('an invalid cases file is exit 2 with file:line, before anything runs', async () => {
    const f = join(dir, 'bad.cases.yaml');
    writeFileSync(f, `cases:\n  - name: x\n    events: [ '{}' ]\n    expect:\n      - { detector: fanot }\n    expected: []\n`);
    const r = await bin(['test', PIPE, f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}:6:5: cases[0].expected: unknown key "expected"`);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    const g = join(dir, 'ids.cases.yaml');
    writeFileSync(g, `cases:\n  - name: x\n    events: [ '{}' ]\n    expect:\n      - { detector: fanot }\n`);
    const r2 = await bin(['test', PIPE, g]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('pipeline plant-floor has no detector "fanot"');
    const h = join(dir, 'file.cases.yaml');
    writeFileSync(h, `cases:\n  - name: from a file\n    events: nosuch.ndjson\n    expect: []\n`);
    const r3 = await bin(['test', PIPE, h]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/case "from a file": cannot read .*nosuch\.ndjson \(ENOENT\)/);
  }, 60_000);
});
