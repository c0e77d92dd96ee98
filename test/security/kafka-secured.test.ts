/**
 * The project's own broker (scripts/kafka.sh) in secured mode: a SASL_SSL listener with a
 * throwaway CA and certificates made here with openssl, and ACLs enforced by StandardAuthorizer.
 * The service runs a pipeline end to end as its own principal with exactly the ACLs
 * docs/operations.md lists; a second pipeline missing one grant stops once with an error naming
 * the topic and the operation while the first goes on; wrong credentials, an unknown CA and
 * another principal writing the alert outbox are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes, type Kafka } from 'kafkajs';
import { createKafka } from '../../src/kafka/client.js';
import { pipelineAcls } from '../../src/pipeline/acls.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { changelogTopic } from '../../src/state/changelog.js';
import type { KafkaSecurity } from '../../src/kafka/security.js';
import { startService, type Service } from '../../src/pipeline/service.js';
import { overall, snapshot } from '../../src/server/health.js';
import type { PipelineConfig } from '../../src/config/types.js';
import { loadPipelineText } from '../../src/config/load.js';
import { makePki, type TestPki } from '../support/certs.js';
import { consumeAll, tempDir, testPipeline, uid, waitFor } from '../support/kafka.js';

// Beside the suite's plain broker, never on another stream's ports (they are 100 apart).
const PORT = Number(process.env.KAFKA_PORT ?? 9092) + 50;
const BROKERS = [`127.0.0.1:${PORT}`];
const USERS = { admin: 'admin-pw-0123456789', sentinel: 'sentinel-pw-0123456789', intruder: 'intruder-pw-0123456789' };
let pki: TestPki;
let dataDir: string;
let env: NodeJS.ProcessEnv;
let admin: Kafka;
// The embedded engine allows one data directory per process.
let ch: string | undefined;
const chDir = () => (ch ??= join(tempDir('m2m-sec'), 'ch'));

const as = (user: keyof typeof USERS, mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512' = 'scram-sha-512', password = USERS[user], ca = () => pki.caPem): KafkaSecurity => ({
  ssl: { ca: ca() },
  sasl: { mechanism, username: user, password },
});

const OPS: Record<string, AclOperationTypes> = { READ: AclOperationTypes.READ, WRITE: AclOperationTypes.WRITE, DESCRIBE: AclOperationTypes.DESCRIBE, CREATE: AclOperationTypes.CREATE };
const RES = { topic: AclResourceTypes.TOPIC, group: AclResourceTypes.GROUP, 'transactional-id': AclResourceTypes.TRANSACTIONAL_ID } as const;

/** Grant `principal` the documented ACLs of `cfg`, except any that `skip` matches. */
async function grant(cfg: PipelineConfig, principal: string, skip: (resource: string, name: string, op: string) => boolean = () => false): Promise<void> {
  const a = admin.admin();
  await a.connect();
  try {
    const acl = pipelineAcls(cfg).flatMap((s) =>
      s.operations
        .filter((op) => !skip(s.resource, s.name, op))
        .map((op) => ({
          resourceType: RES[s.resource],
          resourceName: s.name,
          resourcePatternType: s.pattern === 'prefixed' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
          principal,
          host: '*',
          operation: OPS[op]!,
          permissionType: AclPermissionTypes.ALLOW,
        })),
    );
    await a.createAcls({ acl });
  } finally {
    await a.disconnect();
  }
}

function securedPipeline(name: string): PipelineConfig {
  const cfg = testPipeline(name, [['policy', {}]]);
  cfg.source.kafka = { ...cfg.source.kafka, brokers: BROKERS, ssl: { ca: pki.caPem }, sasl: { mechanism: 'scram-sha-512', username: 'sentinel', password: USERS.sentinel } };
  return cfg;
}

beforeAll(async () => {
  pki = makePki();
  dataDir = mkdtempSync(join(tmpdir(), 'm2m-secure-kafka-'));
  env = {
    ...process.env,
    KAFKA_PORT: String(PORT),
    KAFKA_DATA_DIR: dataDir,
    KAFKA_SECURE: '1',
    KAFKA_SSL_KEYSTORE: pki.serverP12,
    KAFKA_SSL_PASSWORD: pki.storePassword,
    KAFKA_SASL_USERS: Object.entries(USERS).map(([u, p]) => `${u}:${p}`).join(','),
    // A JVM start on a busy two-core machine can take minutes.
    KAFKA_READY_TIMEOUT: '300',
  };
  execFileSync('bash', ['scripts/kafka.sh', 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'], timeout: 360_000 });
  admin = createKafka({ brokers: BROKERS, clientId: 'm2m-test-admin', security: as('admin') });
}, 400_000);

afterAll(() => {
  if (env) execFileSync('bash', ['scripts/kafka.sh', 'stop'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
});

describe('Kafka over SASL_SSL with ACLs', () => {
  let svc: Service | undefined;
  afterAll(async () => {
    await svc?.stop(20_000);
  });

  it('runs a pipeline as its own principal with the documented ACLs; one missing grant is named, once, and the other pipeline goes on', async () => {
    const ok = securedPipeline(uid('sec-ok'));
    const denied = securedPipeline(uid('sec-denied'));
    const outboxOf = (c: PipelineConfig) => String(c.alerts.routes[0]!.options.topic);
    // Topics exist beforehand, as an operator would create them.
    for (const c of [ok, denied]) await ensureTopics(admin, [...c.source.kafka.topics.map((topic) => ({ topic, partitions: 1 })), { topic: outboxOf(c), partitions: 1 }, { topic: c.source.kafka.dead_letter_topic, partitions: 1 }, { topic: changelogTopic(c.source.kafka.group), partitions: 1 }]);
    await grant(ok, 'User:sentinel');
    await grant(denied, 'User:sentinel', (resource, name, op) => resource === 'topic' && name === outboxOf(denied) && op === 'WRITE');

    svc = await startService([ok, denied], {
      brokers: BROKERS,
      security: as('sentinel'),
      clickhouse: { dataDir: chDir() },
      deliver: false,
      checkpointEveryMs: 300,
    });
    expect(svc.pipelines.map((p) => p.name)).toEqual([ok.name]);
    expect(svc.failed).toEqual([{ name: denied.name, error: expect.stringMatching(new RegExp(`^AccessDenied: not authorized to WRITE topic ${outboxOf(denied)} \\(TOPIC_AUTHORIZATION_FAILED\\), needed to write the alert outbox`)) }]);
    expect(snapshot()[`pipeline:${denied.name}`]?.status).toBe('down');
    expect(overall()).toBe('down');

    // The other pipeline works end to end over SASL_SSL: a telnet session is a policy alert, junk is a dead letter.
    const p = admin.producer();
    await p.connect();
    await p.send({
      topic: ok.source.kafka.topics[0]!,
      messages: [
        { key: 'plc-1', value: JSON.stringify({ type: 'connection', device_id: 'plc-1', device_class: 'plc', ts: '2026-03-01T12:00:00Z', src_ip: '10.0.0.7', dst_ip: '10.0.0.1', dst_port: 23, protocol: 'tcp', app_protocol: 'telnet' }) },
        { key: 'junk', value: 'not json' },
      ],
    });
    await p.disconnect();
    const alerts = await consumeAll(admin, outboxOf(ok), 1, 60_000);
    expect(alerts.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(alerts[0]!.value!.toString()).device.uid).toBe('plc-1');
    expect(await consumeAll(admin, ok.source.kafka.dead_letter_topic, 1, 30_000)).toHaveLength(1);
    // No crash loop: the denied pipeline was tried once and stays down.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(svc.failed).toHaveLength(1);
  }, 180_000);

  it('another principal cannot write the alert outbox (the service then signed and delivered forged alerts)', async () => {
    const cfg = securedPipeline(uid('sec-forge'));
    await ensureTopics(admin, [{ topic: String(cfg.alerts.routes[0]!.options.topic), partitions: 1 }]);
    await grant(cfg, 'User:sentinel');
    const intruder = createKafka({ brokers: BROKERS, clientId: 'intruder', security: as('intruder') }).producer({ retry: { retries: 0 } });
    await intruder.connect();
    try {
      await expect(intruder.send({ topic: String(cfg.alerts.routes[0]!.options.topic), messages: [{ value: '{"class_uid":2004}', headers: { 'x-m2m-pipeline': cfg.name } }] })).rejects.toThrow(/not authorized|authorization/i);
    } finally {
      await intruder.disconnect();
    }
  });

  it('accepts PLAIN and SCRAM-SHA-256 too; refuses a wrong password and an unknown CA, with a clear reason and no retry loop', async () => {
    for (const mech of ['plain', 'scram-sha-256'] as const) {
      const a = createKafka({ brokers: BROKERS, security: as('sentinel', mech) }).admin();
      await a.connect();
      await a.disconnect();
    }
    const t0 = Date.now();
    await expect(startService([securedPipeline(uid('sec-badpw'))], { brokers: BROKERS, security: as('sentinel', 'scram-sha-512', 'wrong-password-123456'), clickhouse: { dataDir: chDir() }, deliver: false })).rejects.toThrow(
      /^Kafka refused the service's credentials \(SASL authentication failed\)/,
    );
    expect(Date.now() - t0).toBeLessThan(20_000);
    const wrongCa = createKafka({ brokers: BROKERS, security: as('sentinel', 'scram-sha-512', USERS.sentinel, () => pki.otherCaPem) }).admin();
    wrongCa.logger().setLogLevel(0);
    await expect(wrongCa.connect()).rejects.toThrow(/certificate|self.signed|unable to verify/i);
  }, 60_000);

  it('validate accepts ssl and sasl blocks and refuses a password written into the file', () => {
    const base = 'name: p\ndetectors: [ { fanout: {} } ]\nsource:\n  kafka:\n    topics: [t]\n    group: g\n    ssl: { ca: /etc/m2m/kafka-ca.pem, servername: kafka.internal }\n';
    const ok = loadPipelineText(`${base}    sasl: { mechanism: scram-sha-512, username: sentinel, password: "\${KAFKA_PASSWORD}" }\n`, 'p.yaml', { KAFKA_PASSWORD: 'x' });
    expect(ok.errors).toEqual([]);
    expect(ok.pipeline!.source.kafka).toMatchObject({ ssl: { ca: '/etc/m2m/kafka-ca.pem', servername: 'kafka.internal' }, sasl: { mechanism: 'scram-sha-512', username: 'sentinel', password: 'x' } });
    const lit = loadPipelineText(`${base}    sasl: { mechanism: scram-sha-256, username: sentinel, password: hunter2 }\n`, 'p.yaml', {});
    expect(lit.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`)).toEqual(['8:69 source.kafka.sasl.password: a password is never written into a pipeline file']);
    const bad = loadPipelineText(`${base}    sasl: { mechanism: gssapi, username: sentinel, password_file: /run/secrets/k }\n`, 'p.yaml', {});
    expect(bad.errors[0]).toMatchObject({ path: 'source.kafka.sasl.mechanism', line: 8 });
  });
});
