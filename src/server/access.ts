/**
 * Who may use the HTTP API: one access file (YAML, `--access <file>` or M2M_ACCESS_FILE) lists
 * API tokens with roles; the web console adds users and sessions to the same file and module.
 *
 *   tokens:
 *     - { name: grafana, role: viewer, token_env: M2M_TOKEN_GRAFANA }
 *     - { name: soar, role: analyst, token_file: /run/secrets/m2m-soar-token }
 *
 * Secrets come from the environment or files only: a token written into the file itself would
 * end up in version control and in every copy of the configuration, so an inline `token:` is an
 * error. Only SHA-256 digests of the tokens are kept in memory, and a presented token is compared
 * digest to digest in constant time, so response time says nothing about how much of it matched.
 *
 * Like pipeline files, mistakes in the file are values with file:line:column (ConfigError), and
 * no message ever echoes a token's value.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import type { ConfigError } from '../config/errors.js';

export const ROLES = ['viewer', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];
const RANK: Record<Role, number> = { viewer: 0, analyst: 1, admin: 2 };

/** Shorter tokens can be guessed online; 32 hex characters are 128 bits. */
const MIN_TOKEN_LENGTH = 24;

export interface Principal {
  name: string;
  role: Role;
  kind: 'token';
}

interface TokenEntry {
  name: string;
  role: Role;
  digest: Buffer;
}

export interface Access {
  /** Where it was loaded from, for messages. */
  file: string;
  tokens: readonly TokenEntry[];
}

export const ACCESS_ENV = 'M2M_ACCESS_FILE';

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Whether `p`'s role is at least `needed`. */
export function allows(p: Principal | undefined, needed: Role): boolean {
  return p !== undefined && RANK[p.role] >= RANK[needed];
}

/**
 * The principal of an `Authorization: Bearer <token>` header, or undefined. Every entry is
 * compared (no early exit on a match), so the time taken does not say which entry matched.
 */
export function authenticate(access: Access | undefined, authorization: string | undefined): Principal | undefined {
  if (!access || !authorization) return undefined;
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization);
  if (!m) return undefined;
  const d = digest(m[1]!);
  let found: TokenEntry | undefined;
  for (const t of access.tokens) if (timingSafeEqual(d, t.digest) && !found) found = t;
  return found ? { name: found.name, role: found.role, kind: 'token' } : undefined;
}

type Env = Record<string, string | undefined>;

/** Load and check an access file. `access` is set exactly when there are no errors. */
export function loadAccessFile(file: string, env: Env = process.env): { access?: Access; errors: ConfigError[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { errors: [{ code: 'io_error', file, line: 1, column: 1, path: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] };
  }
  return parseAccess(text, file, env);
}

export function parseAccess(text: string, file: string, env: Env = process.env): { access?: Access; errors: ConfigError[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const errors: ConfigError[] = [];
  const at = (node: Node | null | undefined, path: string, code: ConfigError['code'], message: string, extra: Partial<ConfigError> = {}) => {
    const p = lc.linePos(node?.range?.[0] ?? 0);
    errors.push({ code, file, line: p.line, column: p.col, path, message, ...extra });
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const p = lc.linePos(e.pos[0]);
    return { errors: [{ code: 'yaml_syntax', file, line: p.line, column: p.col, path: '', message: e.message.split('\n')[0]! }] };
  }
  const root = doc.contents as Node | null;
  if (!isMap(root)) {
    at(root, '', 'not_a_pipeline', 'an access file is a map with a tokens list', { expected: 'tokens: [{ name, role, token_env | token_file }]' });
    return { errors };
  }
  for (const pair of (root as YAMLMap).items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : '';
    // users / sessions belong to the web console's part of this file.
    if (k !== 'tokens' && k !== 'users' && k !== 'sessions') at(pair.key as Node, k, 'unknown_key', `unknown key "${k}"`, { expected: 'tokens' });
  }
  const list = root.get('tokens', true) as Node | undefined;
  const tokens: TokenEntry[] = [];
  if (list !== undefined && !isSeq(list)) at(list, 'tokens', 'wrong_type', 'tokens must be a list', { expected: 'a list of { name, role, token_env | token_file }' });
  const seen = new Set<string>();
  const seenDigests = new Map<string, string>();
  (isSeq(list) ? list.items : []).forEach((item, i) => {
    const path = `tokens[${i}]`;
    if (!isMap(item)) return at(item as Node, path, 'wrong_type', 'a token entry is a map', { expected: '{ name, role, token_env | token_file }' });
    const get = (k: string) => item.get(k, true) as Node | undefined;
    const str = (k: string): string | undefined => {
      const n = get(k);
      return isScalar(n) && typeof n.value === 'string' ? n.value : undefined;
    };
    for (const pair of item.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      if (k === 'token') {
        at(pair.key as Node, `${path}.token`, 'bad_value', 'a token is never written into the access file', { note: 'put it in an environment variable (token_env) or a file readable by the service only (token_file)' });
      } else if (!['name', 'role', 'token_env', 'token_file'].includes(k)) at(pair.key as Node, `${path}.${k}`, 'unknown_key', `unknown key "${k}"`, { expected: 'one of name, role, token_env, token_file' });
    }
    const name = str('name');
    if (!name || !/^[A-Za-z0-9_.@-]{1,64}$/.test(name)) at(get('name') ?? item, `${path}.name`, name ? 'bad_format' : 'missing_key', name ? 'invalid name' : 'missing required key "name"', { expected: 'letters, digits, ".", "_", "@", "-" (at most 64)' });
    else if (seen.has(name)) at(get('name'), `${path}.name`, 'duplicate_value', `token name "${name}" is used twice`);
    else seen.add(name);
    const role = str('role');
    if (!role || !(ROLES as readonly string[]).includes(role)) at(get('role') ?? item, `${path}.role`, role ? 'bad_value' : 'missing_key', role ? `must be one of ${ROLES.join(', ')}` : 'missing required key "role"', role ? { found: JSON.stringify(role.slice(0, 40)) } : {});
    const envName = str('token_env');
    const fileName = str('token_file');
    if ((envName === undefined) === (fileName === undefined)) {
      at(item, path, 'missing_key', 'give exactly one of token_env or token_file');
      return;
    }
    let secret: string | undefined;
    if (envName !== undefined) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(envName)) return at(get('token_env'), `${path}.token_env`, 'bad_format', 'invalid environment variable name');
      secret = env[envName];
      if (secret === undefined || secret === '') return at(get('token_env'), `${path}.token_env`, 'undefined_variable', `environment variable ${envName} is not set`);
    } else {
      try {
        // A trailing newline is how most tools write a secret file; it is not part of the token.
        secret = readFileSync(fileName!, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        return at(get('token_file'), `${path}.token_file`, 'io_error', `cannot read the token file: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    // Never the value in a message: only its length, and where it came from.
    const where = envName !== undefined ? `${envName}` : fileName!;
    if (secret.length < MIN_TOKEN_LENGTH) return at(get(envName !== undefined ? 'token_env' : 'token_file'), path, 'bad_value', `the token from ${where} is too short (${secret.length} characters)`, { expected: `at least ${MIN_TOKEN_LENGTH} characters, e.g. openssl rand -hex 32` });
    if (!/^[\x21-\x7e]+$/.test(secret)) return at(get(envName !== undefined ? 'token_env' : 'token_file'), path, 'bad_value', `the token from ${where} has spaces or non-ASCII characters`, { expected: 'printable ASCII, e.g. openssl rand -hex 32' });
    const d = digest(secret);
    const twin = seenDigests.get(d.toString('hex'));
    if (twin !== undefined) return at(item, path, 'duplicate_value', `same token as "${twin}": each client gets its own, so one can be revoked alone`);
    seenDigests.set(d.toString('hex'), name ?? path);
    if (name && role && (ROLES as readonly string[]).includes(role)) tokens.push({ name, role: role as Role, digest: d });
  });
  if (errors.length) return { errors };
  return { access: { file, tokens }, errors };
}
