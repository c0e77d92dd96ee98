/**
 * `m2m-sentinel demo`: the whole product in one command on the embedded defaults. Starts the
 * local Apache Kafka broker, replays the bundled labeled fleet into fresh topics, runs the
 * default pipeline until the replay is consumed, and prints what a SOC analyst would receive.
 */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPipelineFile } from '../../config/load.js';
import { formatConfigError } from '../../config/errors.js';
import type { PipelineConfig } from '../../config/types.js';
import { startService } from '../../pipeline/service.js';
import { createKafka } from '../../kafka/client.js';
import { ensureTopics, endOffsets } from '../../kafka/topics.js';
import { replay } from '../../kafka/replay.js';
import { countLines } from '../../events/files.js';
import type { OcsfDetectionFinding } from '../../alerts/ocsf.js';
import { queryRows } from '../../storage/clickhouse.js';
import { setLogger } from '../../obs/log.js';
import { pino } from 'pino';
import { createProgress } from '../progress.js';
import { brokerVersion, ensureLocalBroker, stopLocalBroker } from '../local-broker.js';
import { renderAlertSummary, type Label } from '../summary.js';
import { EXIT, RunError, UsageError } from '../exit.js';
import { randomBytes } from 'node:crypto';
import { openClickHouse } from '../../storage/clickhouse.js';
import { createConsole } from '../../server/console.js';
import { startHttp } from '../../server/http.js';
import { hashPassword } from '../../server/users.js';
import { productVersion } from '../../pipeline/service.js';

/** The simulator's labels file ({ incidents: [...] }) or a bare array of labels. */
function readLabels(text: string): Label[] {
  const parsed = JSON.parse(text) as Label[] | { incidents?: Label[] };
  return Array.isArray(parsed) ? parsed : (parsed.incidents ?? []);
}

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));

interface DemoOptions {
  fleet: string;
  labels?: string;
  pipeline: string;
  dataDir: string;
  keepBroker: boolean;
  maxAlerts: string;
  serve: boolean;
  httpPort: string;
  httpHost: string;
}

/** Run-specific topics and group so a re-run never mixes with an earlier one. */
function demoPipeline(base: PipelineConfig, runId: string): PipelineConfig {
  return {
    ...base,
    source: {
      kafka: {
        ...base.source.kafka,
        topics: [`demo.${runId}.telemetry`, `demo.${runId}.connections`],
        group: `m2m-demo-${runId}`,
        start: 'earliest',
        dead_letter_topic: `demo.${runId}.dlq`,
      },
    },
    alerts: { ...base.alerts, routes: [{ type: 'kafka', name: 'kafka', options: { topic: `demo.${runId}.alerts` } }] },
  };
}

/** Bad input a fleet really sends; the demo shows it reaching the dead-letter topic. */
const MALFORMED = [
  '{"type":"telemetry","device_id":"meter-broken","ts":"2026-03-01T12:00:00Z","metrics":{"voltage":"two hundred"}}',
  '{"type":"connection","device_id":"plc-broken","ts":"2026-03-01T12:00:00Z","src_ip":"10.20.0.9"}',
  'GARBAGE\u0000\u0001 firmware crash dump',
];

export function register(program: Command): void {
  program
    .command('demo')
    .description('Replay the bundled labeled fleet through the local Kafka broker into ClickHouse and show the alerts')
    .option('--fleet <file>', 'events to replay (NDJSON, .gz ok)', root('fixtures/demo-fleet.ndjson.gz'))
    .option('--labels <file>', 'ground-truth labels for the fleet (shows caught / missed incidents)')
    .option('--pipeline <file>', 'pipeline to run', root('pipelines/default.yaml'))
    .option('--data-dir <dir>', 'embedded ClickHouse data directory (ignored with CLICKHOUSE_URL)', process.env.CLICKHOUSE_DATA_DIR ?? './data')
    .option('--keep-broker', 'leave the local broker running afterwards', false)
    .option('--max-alerts <n>', 'alerts to list in full', '25')
    .option('--serve', 'afterwards, leave the web console running on the demo\'s alerts (Ctrl-C stops it and the broker)', false)
    .option('--http-port <port>', 'console port with --serve', process.env.HTTP_PORT ?? '9464')
    .option('--http-host <host>', 'console interface with --serve', '127.0.0.1')
    .addHelpText(
      'after',
      `
What it does:
  1. starts the local Apache Kafka broker (scripts/kafka.sh; fetched with Maven the first time)
     unless KAFKA_BROKERS points elsewhere
  2. replays the fleet into fresh topics demo.<run>.telemetry / demo.<run>.connections
  3. runs the pipeline until every event is consumed: findings go to ClickHouse (embedded in
     --data-dir unless CLICKHOUSE_URL is set), alerts to demo.<run>.alerts
  4. prints the alerts, the incidents caught and missed, and how to query the findings
  5. with --serve, leaves the web console running on them: open the URL it prints and log in
     as "analyst" with the password it prints (or M2M_DEMO_PASSWORD)

Examples:
  m2m-sentinel demo                                   the bundled fleet, embedded ClickHouse in ./data
  m2m-sentinel demo --serve                           then the web console on its alerts
  m2m-sentinel demo --max-alerts 5 --keep-broker      shorter listing; leave Kafka up for \`replay\`/\`tap\`
  CLICKHOUSE_URL=http://localhost:8123 m2m-sentinel demo   findings into a ClickHouse server
  m2m-sentinel demo --fleet fleet.ndjson.gz --labels fleet.labels.json   a fleet from \`simulate\``,
    )
    .action(async (o: DemoOptions) => demo(o));
}

async function demo(o: DemoOptions): Promise<void> {
  const out = (s: string) => process.stdout.write(s + '\n');
  const t0 = Date.now();
  // The demo talks to the reader; the service's own logs go to stderr at warn.
  setLogger(pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2)));
  const labelsFile = o.labels ?? o.fleet.replace(/\.ndjson(\.gz)?$/, '.labels.json');
  if (!existsSync(o.fleet)) throw new UsageError(`fleet file not found: ${o.fleet}`);
  const maxAlerts = Number(o.maxAlerts);
  if (!Number.isInteger(maxAlerts) || maxAlerts < 0) throw new UsageError(`--max-alerts needs a whole number ≥ 0, got "${o.maxAlerts}"`);

  const loaded = await loadPipelineFile(o.pipeline);
  if (!loaded.pipeline) {
    for (const e of loaded.errors) process.stderr.write(formatConfigError(e) + '\n');
    process.exitCode = EXIT.usage;
    return;
  }
  const external = process.env.KAFKA_BROKERS;
  let startedBroker = false;
  if (!external) {
    out(`▶ Apache Kafka ${brokerVersion()} (local, KRaft) on 127.0.0.1:9092`);
    startedBroker = await ensureLocalBroker(9092);
  } else out(`▶ Kafka at ${external}`);

  const runId = new Date().toISOString().replace(/[-:T.Z]/g, '').slice(0, 14);
  const cfg = demoPipeline(loaded.pipeline, runId);
  const [telemetryTopic, connTopic] = cfg.source.kafka.topics as [string, string];
  const kafka = createKafka();
  await ensureTopics(kafka, cfg.source.kafka.topics.map((topic) => ({ topic, partitions: 4 })));

  const total = await countLines(o.fleet);
  out(`▶ replaying ${total.toLocaleString('en')} events from ${o.fleet.replace(process.cwd() + '/', '')}`);
  const bar = createProgress({ label: 'replay', unit: 'events' });
  const tReplay = Date.now();
  const rep = await replay(kafka, {
    files: [o.fleet],
    topic: (t) => (t === 'connection' ? connTopic : telemetryTopic),
    speed: Number.POSITIVE_INFINITY,
    onProgress: (p) => bar.update(p.sent / Math.max(total, 1), p.sent),
  });
  bar.done();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: telemetryTopic, messages: MALFORMED.map((value) => ({ key: null, value })) });
  await producer.disconnect();
  const replaySecs = (Date.now() - tReplay) / 1000;

  const ends = new Map<string, bigint>();
  for (const topic of cfg.source.kafka.topics) for (const [p, off] of await endOffsets(kafka, topic)) ends.set(`${topic}:${p}`, off);
  const target = [...ends.values()].reduce((a, b) => a + b, 0n);

  out(`▶ running pipeline "${cfg.name}" (${cfg.detectors.length} detectors) until the replay is consumed`);
  const alerts: OcsfDetectionFinding[] = [];
  const tRun = Date.now();
  const svc = await startService([cfg], {
    clickhouse: process.env.CLICKHOUSE_URL ? { url: process.env.CLICKHOUSE_URL } : { dataDir: o.dataDir },
    deliver: false,
    checkpointEveryMs: 2_000,
    onAlert: (a) => alerts.push(a),
  });
  if (svc.failed.length) throw new RunError(`pipeline failed to start: ${svc.failed.map((f) => f.error).join('; ')}`);
  const h = svc.pipelines[0]!;
  const runBar = createProgress({ label: 'detect', unit: 'events' });
  for (;;) {
    const pos = h.positions();
    let done = 0n;
    let complete = true;
    for (const [k, end] of ends) {
      const p = pos.get(k) ?? 0n;
      done += p > end ? end : p > 0n ? p : 0n;
      if (p < end && end > 0n) complete = false;
    }
    runBar.update(Number(done) / Math.max(Number(target), 1), Number(done));
    if (complete) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  runBar.done();
  const runSecs = (Date.now() - tRun) / 1000;
  // Positions move as events are scored; the batch's writes finish after. Stopping waits for
  // them (and checkpoints), so the counts read afterwards are complete.
  await h.stop();
  // The replay is all there is: what the fleet view still holds is judged now, as a backtest
  // does at the end of its input (its final checkpoints have published every fleet input).
  for (const f of svc.fleets) await f.endOfInput();
  const stats = h.stats();
  const { database, table } = cfg.findings.clickhouse;
  const [stored] = await queryRows<{ n: string; alertable: string }>(
    svc.clickhouse.client,
    `SELECT count() AS n, countIf(severity IN ('medium','high','critical')) AS alertable FROM ${database}.${table} FINAL WHERE pipeline = {p:String}`,
    { p: cfg.name },
  );
  await svc.stop();
  if (startedBroker && !o.keepBroker && !o.serve) stopLocalBroker(9092);

  const labels = existsSync(labelsFile) ? readLabels(readFileSync(labelsFile, 'utf8')) : [];
  out('');
  out(renderAlertSummary(alerts, labels, { maxAlerts }));
  out('');
  out('Run');
  out(`  events replayed      ${rep.sent.toLocaleString('en')} in ${replaySecs.toFixed(1)} s, + ${MALFORMED.length} malformed`);
  out(`  events scored        ${stats.events.toLocaleString('en')} in ${runSecs.toFixed(1)} s (${Math.round(stats.events / Math.max(runSecs, 0.001)).toLocaleString('en')} events/s)`);
  out(`  dead-lettered        ${stats.deadLetters} → topic ${cfg.source.kafka.dead_letter_topic} (original bytes + reason headers)`);
  out(`  alert messages       ${alerts.length} → topic demo.${runId}.alerts (OCSF Detection Finding JSON)`);
  out(`  findings stored      ${stored?.n ?? 0} in ClickHouse ${svc.clickhouse.mode} ${svc.clickhouse.location}, table ${database}.${table}`);
  out(`  wall time            ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  out('');
  out('Query the findings:');
  out(`  m2m-sentinel query "SELECT first_ts, device_id, detector, severity, explanation FROM ${database}.${table} FINAL WHERE pipeline = '${cfg.name}' ORDER BY score DESC LIMIT 20"${process.env.CLICKHOUSE_URL ? '' : ` --data-dir ${o.dataDir}`}`);
  if (o.serve) await serveConsole(cfg, o, startedBroker, out);
}

/** `demo --serve`: the console on the demo's ClickHouse and topics, until Ctrl-C. */
async function serveConsole(cfg: PipelineConfig, o: DemoOptions, startedBroker: boolean, out: (s: string) => void): Promise<void> {
  const password = process.env.M2M_DEMO_PASSWORD ?? randomBytes(9).toString('base64url');
  const users = [{ name: 'analyst', role: 'analyst' as const, hash: await hashPassword(password) }];
  const ch = openClickHouse(process.env.CLICKHOUSE_URL ? { url: process.env.CLICKHOUSE_URL } : { dataDir: o.dataDir });
  const kafka = createKafka();
  const analyst = createConsole({ client: ch.client, pipelines: [cfg], kafka, users, productVersion: productVersion() });
  const server = await startHttp({ port: Number(o.httpPort), host: o.httpHost, console: analyst });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : Number(o.httpPort);
  out('');
  out(`▶ console: http://${o.httpHost === '0.0.0.0' ? '127.0.0.1' : o.httpHost}:${port}/alerts`);
  out(`  log in as analyst / ${password}   (Ctrl-C stops the console${startedBroker ? ' and the broker' : ''})`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await analyst.close();
  await ch.client.close();
  if (startedBroker && !o.keepBroker) stopLocalBroker(9092);
}
