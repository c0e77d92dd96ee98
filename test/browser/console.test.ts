/**
 * The console as an analyst uses it, in headless Chromium (Debian's package, driven by
 * playwright-core; nothing downloads a browser): `demo --serve` on the bundled fleet, log in,
 * see the demo's alerts, open one and see its chart, acknowledge it, resolve it, and find the
 * new state in ClickHouse and the updates on the alerts topic. Screenshots go to
 * reports/screenshots/ (test artifacts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { consumeAll, kafka, tempDir } from '../support/kafka.js';
import { openClickHouse, queryRows } from '../../src/storage/clickhouse.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = join(process.cwd(), 'reports', 'screenshots');
const PASSWORD = 'analyst-pass-4711';

let demo: ChildProcess;
let out = '';
let base = '';
let browser: Browser;
const dataDir = join(tempDir('m2m-console'), 'data');

function waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const m = re.exec(out);
      if (m) return resolve(m);
      if (demo.exitCode !== null) return reject(new Error(`demo exited ${demo.exitCode}: ${out.slice(-2000)}`));
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`no ${re} within ${timeoutMs} ms: ${out.slice(-2000)}`));
      setTimeout(tick, 250);
    };
    tick();
  });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  demo = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev-cli.ts', 'demo', '--serve', '--data-dir', dataDir, '--http-port', '0'], {
    env: { ...process.env, M2M_DEMO_PASSWORD: PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  demo.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  base = (await waitForOutput(/▶ console: (http:\/\/[^/\s]+)\/alerts/, 280_000))[1]!;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) demo.kill('SIGKILL');
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

describe('web console on the demo', () => {
  it('is a real Chromium', () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install chromium)`).toBe(true);
  });

  it('logs in, shows the alerts, charts one, acknowledges and resolves it; ClickHouse and the alerts topic agree', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    // Nothing but the login page without a session.
    const denied = await page.request.get(`${base}/api/alerts`);
    expect(denied.status()).toBe(401);
    await page.goto(`${base}/alerts`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#username', 'analyst');
    await page.fill('#password', 'wrong password');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('.err')).toContain('Wrong user or password');
    await page.fill('#username', 'analyst');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('table.queue');
    const rows = await page.$$('table.queue tbody tr');
    expect(rows.length).toBeGreaterThan(5);
    expect(await page.textContent('table.queue')).toMatch(/critical|high/);
    await shot(page, '1-alert-queue');

    // A telemetry alert: its chart has the readings, the detector's band and the findings.
    const pick = await page.evaluate(async () => {
      const r = await fetch('/api/alerts?state=new&detector=metric_baseline&limit=5');
      return ((await r.json()) as { items: Array<{ alert_id: string }> }).items.map((a) => a.alert_id);
    });
    expect(pick.length).toBeGreaterThan(0);
    const id = pick[0]!;
    await page.goto(`${base}/alerts/${id}`);
    await page.waitForSelector('#chart[data-ready]', { timeout: 60_000 });
    expect(await page.getAttribute('#chart', 'data-ready')).toBe('metric');
    expect(await page.$('#chart canvas')).not.toBeNull();
    expect(await page.textContent('.facts')).toMatch(/Expected \(detector baseline\)/);
    await shot(page, '2-alert-metric-chart');

    await page.fill('#comment', 'Checked with the site: no maintenance scheduled.');
    await page.click('button[data-action=acknowledge]');
    await page.waitForSelector('.state-acknowledged', { timeout: 30_000 });
    await page.selectOption('#reason', 'true_positive');
    await page.fill('#comment', 'Sensor tampering confirmed; ticket SOC-1234.');
    await page.click('button[data-action=resolve]');
    await page.waitForSelector('.state-resolved', { timeout: 30_000 });
    expect(await page.textContent('h1')).toMatch(/resolved · true positive/);
    expect(await page.textContent('#trail')).toMatch(/acknowledge[\s\S]*resolve/);
    await shot(page, '3-alert-resolved');

    // A connection alert: the chart breaks its connections down by peer and port.
    const conn = await page.evaluate(async () => {
      const r = await fetch('/api/alerts?detector=new_peer&limit=1');
      return ((await r.json()) as { items: Array<{ alert_id: string; device_id: string }> }).items[0];
    });
    if (conn) {
      await page.goto(`${base}/alerts/${conn.alert_id}`);
      await page.waitForSelector('#chart[data-ready]', { timeout: 60_000 });
      expect(await page.getAttribute('#chart', 'data-ready')).toBe('connections');
      await shot(page, '4-alert-connections-chart');
      await page.goto(`${base}/devices/${encodeURIComponent(conn.device_id)}`);
      await page.waitForSelector('h1');
      expect(await page.textContent('main')).toMatch(/Usual peers/);
      await shot(page, '5-device');
    }

    // The demo's own lifecycle: an alert that escalated and one that closed by itself, each with its history.
    const lifecycle = await page.evaluate(async () => {
      const items = ((await (await fetch('/api/alerts?limit=500')).json()) as { items: Array<{ alert_id: string; severity: string; initial_severity: string; closed_ts: number | null; state: string }> }).items;
      const escalated = items.find((a) => a.severity !== a.initial_severity);
      const closed = items.find((a) => a.closed_ts !== null);
      const history = async (id?: string) => (id ? ((await (await fetch(`/api/alerts/${id}`)).json()) as { history: Array<{ action: string; actor: string }> }).history.map((h) => `${h.action}:${h.actor}`) : []);
      return { escalated: escalated?.alert_id, closed: closed?.alert_id, closedState: closed?.state, escalatedHistory: await history(escalated?.alert_id), closedHistory: await history(closed?.alert_id) };
    });
    expect(lifecycle.escalated).toBeDefined();
    expect(lifecycle.escalatedHistory).toContain('escalate:m2m-sentinel');
    expect(lifecycle.closed).toBeDefined();
    expect(lifecycle.closedState).toBe('resolved');
    expect(lifecycle.closedHistory[lifecycle.closedHistory.length - 1]).toBe('close:m2m-sentinel');

    // Export as the analyst would: CSV with the resolved alert in it.
    const csv = await page.evaluate(async () => (await fetch('/api/alerts/export?format=csv&state=resolved')).text());
    expect(csv.split('\r\n')[0]).toMatch(/^alert_id,severity,state/);
    expect(csv).toContain(id);
    await page.close();

    // The alerts topic has the pipeline's Create and the analyst's two updates for this alert.
    const topic = /→ topic (demo\.\d+\.alerts)/.exec(out)![1]!;
    const total = Number(/alert messages\s+(\d+)/.exec(out)![1]) + 2;
    const msgs = await consumeAll(kafka(), topic, total, 30_000);
    const mine = msgs.filter((m) => m.headers?.['x-m2m-alert']?.toString() === id).map((m) => JSON.parse(m.value!.toString()) as { activity_name: string; status?: string; unmapped: { actor: string; resolution?: string } });
    // (The pipeline may have sent updates of its own in between: repeats after the suppression window.)
    expect([mine[0]!.activity_name, mine[0]!.status]).toEqual(['Create', 'New']);
    const byAnalyst = mine.filter((d) => d.unmapped.actor === 'analyst');
    expect(byAnalyst.map((d) => [d.activity_name, d.status ?? null])).toEqual([
      ['Update', 'In Progress'],
      ['Close', 'Resolved'],
    ]);
    expect(byAnalyst[1]!.unmapped.resolution).toBe('true_positive');
    // The pipeline's escalation and automatic close went out on the topic too.
    const docsOf = (alert: string) => msgs.filter((m) => m.headers?.['x-m2m-alert']?.toString() === alert).map((m) => JSON.parse(m.value!.toString()) as { activity_name: string; status?: string; status_detail?: string });
    expect(docsOf(lifecycle.escalated!).some((d) => d.activity_name === 'Update' && /^Escalated from \w+ to \w+$/.test(d.status_detail ?? ''))).toBe(true);
    expect(docsOf(lifecycle.closed!).at(-1)).toMatchObject({ activity_name: 'Close', status: 'Resolved' });

    // Stop the console (Ctrl-C) and read ClickHouse directly: the state and its audit trail.
    demo.kill('SIGINT');
    await new Promise<void>((r) => (demo.exitCode !== null ? r() : demo.once('exit', () => r())));
    const ch = openClickHouse({ dataDir });
    try {
      const trail = await queryRows<{ action: string; actor: string; status: string; resolution: string; comment: string }>(
        ch.client,
        'SELECT action, actor, status, resolution, comment FROM m2m.alert_events FINAL WHERE alert_id = {id:String} ORDER BY recorded_at',
        { id },
      );
      expect(trail[0]).toMatchObject({ action: 'create', actor: 'm2m-sentinel', status: 'new' });
      const analystRows = trail.filter((t) => t.actor === 'analyst');
      expect(analystRows.map((t) => [t.action, t.status, t.resolution])).toEqual([
        ['acknowledge', 'acknowledged', ''],
        ['resolve', 'resolved', 'true_positive'],
      ]);
      expect(analystRows[1]!.comment).toContain('SOC-1234');
      const audit = await queryRows<{ action: string; outcome: string }>(ch.client, "SELECT action, outcome FROM m2m.audit_log WHERE actor = 'analyst' ORDER BY at");
      expect(audit.map((a) => `${a.action}:${a.outcome}`)).toEqual(expect.arrayContaining(['login:denied', 'login:ok', 'alert.acknowledge:ok', 'alert.resolve:ok', 'alerts.export:ok']));
    } finally {
      await ch.client.close();
    }
  }, 240_000);
});
