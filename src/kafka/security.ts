/**
 * How the service authenticates to Kafka and protects the connection: TLS (the broker's
 * certificate checked against a CA and a server name, optionally a client certificate) and SASL
 * (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). Without it anyone who reaches the broker can write the
 * alert outbox (which the service then signs and delivers) or the state changelog; with it the
 * broker's ACLs make the service's principal the only writer of both (docs/operations.md).
 *
 * From the pipeline (`source.kafka.ssl`, `source.kafka.sasl`) or the environment (KAFKA_SSL_*,
 * KAFKA_SASL_*). Secrets come from the environment or files only: a password in a pipeline file
 * must be a ${VAR} reference (the validator refuses a literal) or `password_file`.
 */
import { readFileSync } from 'node:fs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaTls {
  /** PEM file(s) of the CA that signed the brokers' certificates; default: the system's CAs. */
  ca?: string;
  /** PEM client certificate and key files (brokers that authenticate clients by certificate). */
  cert?: string;
  key?: string;
  /** Name the brokers' certificates must carry, when it differs from the bootstrap host. */
  servername?: string;
}

export interface KafkaSasl {
  mechanism: SaslMechanism;
  username: string;
  password?: string;
  password_file?: string;
}

export interface KafkaSecurity {
  /** true: TLS with the system's CAs. */
  ssl?: KafkaTls | true;
  sasl?: KafkaSasl;
}

type Env = Record<string, string | undefined>;

/**
 * KAFKA_SSL=1 (or any KAFKA_SSL_* set), KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE,
 * KAFKA_SSL_SERVERNAME; KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, and KAFKA_SASL_PASSWORD or
 * KAFKA_SASL_PASSWORD_FILE.
 */
export function kafkaSecurityFromEnv(env: Env = process.env): KafkaSecurity {
  const out: KafkaSecurity = {};
  const tls: KafkaTls = {};
  if (env.KAFKA_SSL_CA_FILE) tls.ca = env.KAFKA_SSL_CA_FILE;
  if (env.KAFKA_SSL_CERT_FILE) tls.cert = env.KAFKA_SSL_CERT_FILE;
  if (env.KAFKA_SSL_KEY_FILE) tls.key = env.KAFKA_SSL_KEY_FILE;
  if (env.KAFKA_SSL_SERVERNAME) tls.servername = env.KAFKA_SSL_SERVERNAME;
  if (Object.keys(tls).length) out.ssl = tls;
  else if (env.KAFKA_SSL === '1' || env.KAFKA_SSL === 'true') out.ssl = true;
  const mech = env.KAFKA_SASL_MECHANISM?.toLowerCase();
  if (mech) {
    if (!(SASL_MECHANISMS as readonly string[]).includes(mech)) throw new KafkaSecurityError(`KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(', ')}, got ${JSON.stringify(mech.slice(0, 30))}`);
    if (!env.KAFKA_SASL_USERNAME) throw new KafkaSecurityError('KAFKA_SASL_MECHANISM is set but KAFKA_SASL_USERNAME is not');
    const sasl: KafkaSasl = { mechanism: mech as SaslMechanism, username: env.KAFKA_SASL_USERNAME };
    if (env.KAFKA_SASL_PASSWORD) sasl.password = env.KAFKA_SASL_PASSWORD;
    else if (env.KAFKA_SASL_PASSWORD_FILE) sasl.password_file = env.KAFKA_SASL_PASSWORD_FILE;
    else throw new KafkaSecurityError('KAFKA_SASL_MECHANISM is set but neither KAFKA_SASL_PASSWORD nor KAFKA_SASL_PASSWORD_FILE is');
    out.sasl = sasl;
  }
  return out;
}

/** A security setting that cannot work (a file that cannot be read, a missing password). */
export class KafkaSecurityError extends Error {}

function read(what: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new KafkaSecurityError(`cannot read the Kafka ${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The kafkajs options for a security setting; files are read here, once per client. */
export function kafkajsSecurity(s: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (!s) return out;
  if (s.ssl === true) out.ssl = { rejectUnauthorized: true };
  else if (s.ssl) {
    out.ssl = {
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(s.ssl.ca ? { ca: [read('CA', s.ssl.ca)] } : {}),
      ...(s.ssl.cert ? { cert: read('client certificate', s.ssl.cert) } : {}),
      ...(s.ssl.key ? { key: read('client key', s.ssl.key) } : {}),
      ...(s.ssl.servername ? { servername: s.ssl.servername } : {}),
    };
  }
  if (s.sasl) {
    // A trailing newline is how most tools write a secret file; it is not part of the password.
    const password = s.sasl.password ?? (s.sasl.password_file ? read('SASL password', s.sasl.password_file).replace(/\r?\n$/, '') : undefined);
    if (!password) throw new KafkaSecurityError(`no SASL password for Kafka user ${s.sasl.username} (password: \${VAR} or password_file)`);
    out.sasl = { mechanism: s.sasl.mechanism, username: s.sasl.username, password } as SASLOptions;
  }
  return out;
}

/** A stable key for one security setting (clients are shared per brokers + security), without secrets. */
export function securityKey(s: KafkaSecurity | undefined): string {
  if (!s) return '';
  const ssl = s.ssl === true ? 'tls' : s.ssl ? `tls:${s.ssl.ca ?? ''}:${s.ssl.cert ?? ''}:${s.ssl.servername ?? ''}` : '';
  return `${ssl}|${s.sasl ? `${s.sasl.mechanism}:${s.sasl.username}:${s.sasl.password_file ?? ''}` : ''}`;
}
