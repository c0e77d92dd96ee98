/**
 * A throwaway PKI made with the machine's openssl for the TLS tests (syslog over TLS, Kafka
 * SASL_SSL): a CA, a server certificate for localhost / 127.0.0.1 signed by it (also as a PKCS12
 * keystore for the Kafka broker), a client certificate, and a second, unrelated CA that must be
 * refused. Nothing here is reused between runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caPem: string;
  otherCaPem: string;
  serverCert: string;
  serverKey: string;
  /** PKCS12 keystore of the server certificate and key, password `storePassword`. */
  serverP12: string;
  clientCert: string;
  clientKey: string;
  storePassword: string;
}

/** Made by scripts/gen-certs.sh, the same script operators use for a secured deployment. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'm2m-pki-'));
  const storePassword = 'test-store-pass';
  execFileSync('bash', ['scripts/gen-certs.sh', dir, 'localhost', '127.0.0.1'], { env: { ...process.env, CERT_STORE_PASSWORD: storePassword, CERT_DAYS: '2' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caPem: p('ca.pem'),
    otherCaPem: p('other-ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    serverP12: p('server.p12'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    storePassword,
  };
}
