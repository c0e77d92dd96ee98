/**
 * The shipped deployment, read as an attacker on the network would look at it: what is
 * published, which passwords exist by default, what the service's database user may do, and
 * whether the secured profile really puts Kafka behind SASL_SSL and ACLs.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseAccess } from '../../src/server/access.js';

type Service = { ports?: string[]; environment?: Record<string, string>; command?: string[] };
const compose = (f: string) => parse(readFileSync(f, 'utf8')) as { services: Record<string, Service> };
const base = compose('docker-compose.yml');
const secured = compose('docker-compose.secured.yml');

/** apache/kafka turns KAFKA_* variables into server properties: "___" → "-", "__" → "_", "_" → ".". */
const toProperty = (env: string) =>
  env
    .replace(/^KAFKA_/, '')
    .toLowerCase()
    .replace(/___/g, '\u0000')
    .replace(/__/g, '\u0001')
    .replace(/_/g, '.')
    .replace(/\u0000/g, '-')
    .replace(/\u0001/g, '_');

/**
 * Every table the migrations create for the shipped pipelines' findings targets (the runner
 * writes findings, alerts and alert_events in its checkpoints; the console writes audit_log).
 * Read from the migrations, so a table added by any stream needs its grant: the console's tables
 * once arrived without one, and the service in compose could not write an alert.
 */
async function serviceTables(): Promise<string[]> {
  const { loadPipelines } = await import('../../src/config/load.js');
  const { MIGRATIONS } = await import('../../src/storage/migrations.js');
  const env = { SIEM_HOST: 'siem.example.com', OT_SLACK_WEBHOOK: 'https://hooks.example.com/x', SOC_WEBHOOK_URL: 'https://soc.example.com/h', SOC_WEBHOOK_SECRET: 's' };
  const { pipelines, errors } = await loadPipelines(['pipelines/'], env);
  expect(errors).toEqual([]);
  const tables = new Set<string>();
  for (const p of pipelines) {
    const { database, table, ttl_days: ttlDays } = p.findings.clickhouse;
    for (const m of MIGRATIONS) {
      for (const s of m.statements({ database, table, ttlDays })) {
        const created = /^\s*CREATE TABLE (?:IF NOT EXISTS )?`?(\w+)`?\.`?(\w+)`?/.exec(s);
        // A migration's scratch copy (<table>__v2) is dropped by the same migration.
        if (created && !created[2]!.endsWith('__v2')) tables.add(`${created[1]}.${created[2]}`);
      }
    }
  }
  return [...tables];
}

describe('docker-compose.yml', () => {
  it('publishes nothing beyond localhost', () => {
    for (const file of [base, secured]) {
      for (const [name, s] of Object.entries(file.services)) {
        for (const p of s.ports ?? []) expect([name, p]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:/)]);
      }
    }
    expect(base.services.kafka!.ports).toBeUndefined();
    expect(base.services.clickhouse!.ports).toBeUndefined();
  });

  it('has no default passwords and runs the service as a least-privilege ClickHouse user', async () => {
    const text = readFileSync('docker-compose.yml', 'utf8');
    expect(text).not.toMatch(/PASSWORD:-/);
    expect(base.services.clickhouse!.environment!.CLICKHOUSE_PASSWORD).toMatch(/^\$\{CLICKHOUSE_ADMIN_PASSWORD:\?/);
    expect(base.services.sentinel!.environment!.CLICKHOUSE_URL).toMatch(/^http:\/\/sentinel:\$\{CLICKHOUSE_SENTINEL_PASSWORD:\?[^}]*\}@clickhouse:8123$/);
    const sql = readFileSync('deploy/clickhouse/least-privilege.sh', 'utf8');
    const grants = [...sql.matchAll(/^GRANT (.+) ON (\S+) TO sentinel;$/gm)].map((m) => [m[1], m[2]]);
    expect(grants).toEqual([
      ...(await serviceTables()).map((t) => ['SELECT, INSERT', t]),
      ['SELECT', 'm2m.schema_migrations'],
    ]);
    expect(sql.split('\n').filter((l) => !l.startsWith('#')).join('\n')).not.toMatch(/ACCESS MANAGEMENT|GRANT ALL|WITH GRANT OPTION|GRANT CREATE|GRANT ALTER|GRANT DROP/i);
    expect(base.services.migrate!.command).toEqual(['migrate', 'pipelines/']);
    expect(base.services.sentinel!.command).toContain('--http-host');
  });
});

describe('docker-compose.secured.yml', () => {
  const env = secured.services.kafka!.environment!;
  const props = Object.fromEntries(Object.entries(env).map(([k, v]) => [toProperty(k), v]));

  it('puts Kafka behind SASL_SSL and ACLs, with the plaintext listeners on the container loopback only', () => {
    expect(props['authorizer.class.name']).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
    expect(props['allow.everyone.if.no.acl.found']).toBe('false');
    expect(props['listener.security.protocol.map']).toContain('SASL_SSL:SASL_SSL');
    for (const l of String(props.listeners).split(',')) if (!l.startsWith('SASL_SSL:')) expect(l).toMatch(/^\w+:\/\/127\.0\.0\.1:/);
    expect(props['listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config']).toMatch(/ScramLoginModule required;/);
    expect(props['listener.name.sasl_ssl.plain.sasl.jaas.config']).toMatch(/PlainLoginModule required user_admin="\$\{KAFKA_ADMIN_PASSWORD:\?/);
    const s = secured.services.sentinel!.environment!;
    expect(s).toMatchObject({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'sentinel', KAFKA_SSL_CA_FILE: '/app/certs/ca.pem', KAFKA_BROKERS: 'kafka:9094' });
    expect(s.KAFKA_SASL_PASSWORD).toMatch(/^\$\{KAFKA_SENTINEL_PASSWORD:\?/);
    expect(secured.services.sentinel!.command).toEqual(expect.arrayContaining(['--access', '/app/deploy/access.yaml']));
  });

  // deploy/kafka/acls.sh being current is checked with the other generated files (test/architecture/generated.test.ts).
  it('ships a token-only access file', () => {
    const r = parseAccess(readFileSync('deploy/access.yaml', 'utf8'), 'deploy/access.yaml', { M2M_TOKEN_PROMETHEUS: 'p'.repeat(64) });
    expect(r.errors).toEqual([]);
    expect(r.access!.tokens.map((t) => [t.name, t.role])).toEqual([['prometheus', 'viewer']]);
  });
});
