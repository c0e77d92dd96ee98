/**
 * A throwaway PKI made with the machine's openssl for the TLS tests (syslog over TLS, Kafka
 * SASL_SSL): a CA, a server certificate for localhost / 127.0.0.1 signed by it (also as a PKCS12
 * keystore for the Kafka broker), a client certificate, and a second, unrelated CA that must be
 * refused. Nothing here is reused between runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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

const ssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

function ca(dir: string, name: string): void {
  ssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function leaf(dir: string, name: string, caName: string, ext: string): void {
  ssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  ssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'm2m-pki-'));
  const storePassword = 'test-store-pass';
  ca(dir, 'ca');
  ca(dir, 'other-ca');
  leaf(dir, 'server', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n');
  ssl(dir, ['pkcs12', '-export', '-in', 'server.pem', '-inkey', 'server.key', '-certfile', 'ca.pem', '-name', 'broker', '-out', 'server.p12', '-passout', `pass:${storePassword}`]);
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
