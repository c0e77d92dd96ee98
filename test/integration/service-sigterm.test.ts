/**
 * Graceful shutdown of the built command, as an orchestrator does it: SIGTERM to
 * `node bin/m2m-sentinel.js run pipeline.yaml` while events are flowing. It must stop fetching,
 * flush, checkpoint, commit, leave the group and exit 0 within a bounded time; a restart must
 * resume exactly where it stopped (nothing redone, nothing skipped).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accounting, committedToEnd, committedTotal, freePort, kafkaAt, produceEvents, ready, ROOT, scenario, sleep, waitFor, type Child } from '../fault/support/harness.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const k = kafkaAt(brokers);

beforeAll(() => {
  // The test is about the shipped command, so it runs the build. tsc emits even when another
  // part of the tree has a type error; only a missing entry point stops the test.
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe', timeout: 180_000 });
  } catch (e) {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw e;
  }
}, 200_000);

const TOKEN = 'prometheus-scrape-token-0123456789';

async function startBin(s: ReturnType<typeof scenario>, chDir: string, n: number): Promise<Child> {
  const httpPort = await freePort();
  const log = join(s.dir, `bin-${n}.log`);
  const out = createWriteStream(log);
  const access = join(s.dir, 'access.yaml');
  writeFileSync(access, 'tokens: [{ name: prometheus, role: viewer, token_env: M2M_TOKEN_PROM }]\n');
  const proc = spawn(process.execPath, ['bin/m2m-sentinel.js', 'run', s.yaml, '--http-port', String(httpPort), '--checkpoint-every', '60000', '--no-deliver', '--access', access], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: brokers, CLICKHOUSE_DATA_DIR: chDir, CLICKHOUSE_URL: '', LOG_LEVEL: 'info', M2M_TOKEN_PROM: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.pipe(out);
  proc.stderr!.pipe(out);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  return { proc, httpPort, exited, log };
}

const logLines = (c: Child) =>
  readFileSync(c.log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('graceful shutdown of `m2m-sentinel run`', () => {
  it('on SIGTERM mid-stream: checkpoints, commits, leaves the group and exits 0 within the bound; a restart resumes exactly there', async () => {
    const s = scenario('sigterm');
    const chDir = join(s.dir, 'ch');
    const bad = s.events.filter((e) => e.bad).length;
    const half = 700;

    const a = await startBin(s, chDir, 1);
    await ready(a);
    // A long checkpoint interval, so what is committed at exit is the shutdown's own checkpoint
    // (or a caught-up one), not a periodic one.
    await produceEvents(k, s.topic, s.events.slice(0, half), 50, () => sleep(100));
    // Handled = decoded (type "any") + dead-lettered, from the service's own counters.
    const handled = async () => {
      const text = await fetch(`http://127.0.0.1:${a.httpPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.text());
      let n = 0;
      for (const m of text.matchAll(/^(m2m_events_decoded_total\{[^}]*type="any"[^}]*\}|m2m_dead_letters_total\{[^}]*\}) (\d+)$/gm)) n += Number(m[2]);
      return n;
    };
    await waitFor('first half processed', async () => (await handled()) >= half, 90_000);
    const producing = produceEvents(k, s.topic, s.events.slice(half), 50, () => sleep(100));
    await sleep(500);
    const t0 = Date.now();
    a.proc.kill('SIGTERM');
    const ex = await a.exited;
    const stopMs = Date.now() - t0;
    expect(ex.code, `log: ${a.log}`).toBe(0);
    expect(stopMs).toBeLessThan(15_000);
    await producing;

    const msgs = logLines(a).map((l) => l.msg);
    expect(msgs).toContain('stopping');
    expect(msgs).toContain('stopped');
    // It left the group instead of waiting out its session.
    const admin = k.admin();
    await admin.connect();
    const { groups } = await admin.describeGroups([s.group]);
    await admin.disconnect();
    expect(groups[0]?.members.length ?? 0).toBe(0);

    // Its last checkpoint covers everything it handled: per partition, processed + dead-lettered
    // equals the committed offset, and it got somewhere.
    const mid = await accounting(k, s);
    const committed = await committedTotal(k, s.group, s.topic);
    expect(committed).toBeGreaterThanOrEqual(BigInt(half));
    expect(BigInt(mid.processed + mid.deadLettered)).toBe(committed);

    // A restart resumes at the commit: it restores each partition at its committed offset and
    // the end result counts every event exactly once.
    const b = await startBin(s, chDir, 2);
    await waitFor('restart committed to the end', () => committedToEnd(k, s.group, s.topic), 90_000);
    b.proc.kill('SIGTERM');
    expect((await b.exited).code, `log: ${b.log}`).toBe(0);
    const restored = logLines(b).filter((l) => l.msg === 'state restored from changelog');
    expect(restored.reduce((n, l) => n + Number(l.next_offset), 0)).toBe(Number(committed));
    const end = await accounting(k, s);
    expect(end.processed).toBe(s.events.length - bad);
    expect(end.deadLettered).toBe(bad);
    expect(end.dlqOffsets.length).toBe(bad);
    expect(new Set(end.dlqOffsets).size).toBe(bad);
    expect(end.perPartitionOk).toBe(true);
  }, 300_000);
});
