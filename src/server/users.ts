/**
 * The console's people: the `users:` list of the access file (access.ts reads its tokens), each
 * with a role and a scrypt password hash. Only hashes are ever written down (`m2m-sentinel
 * hash-password` makes one); a login is checked with a constant-time comparison, and a name
 * that does not exist costs the same scrypt as one that does, so timing does not tell which
 * names exist.
 *
 *   users:
 *     - { name: alice, role: analyst, password_hash: "scrypt$16384$8$1$<salt>$<hash>" }
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import type { ConfigError } from '../config/errors.js';
import { ROLES, type Role } from './access.js';

export interface User {
  name: string;
  role: Role;
  hash: string;
}

/** scrypt cost: N = 2^14 takes ~50 ms and 16 MiB here, enough to make guessing offline slow. */
const N = 16_384;
const R = 8;
const P = 1;
const KEYLEN = 32;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEYLEN, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (e, k) => (e ? reject(e) : resolve(k))),
  );
}

/** "scrypt$N$r$p$<salt base64>$<key base64>" for a new password. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const HASH = /^scrypt\$(\d{4,7})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]{16,64})\$([A-Za-z0-9+/=]{40,64})$/;
export const isPasswordHash = (s: string): boolean => HASH.test(s);

/** A well-formed hash to check against when the user does not exist (same cost, always false). */
const DECOY = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEYLEN, 1).toString('base64')}`;

export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  const m = HASH.exec(hash ?? DECOY) ?? HASH.exec(DECOY)!;
  const key = Buffer.from(m[5]!, 'base64');
  const got = await derive(password, Buffer.from(m[4]!, 'base64'), Number(m[1]), Number(m[2]), Number(m[3]));
  return hash !== undefined && got.length === key.length && timingSafeEqual(got, key);
}

/** The users of an access file's text; errors as values with places, like the pipeline files'. */
export function parseUsers(text: string, file: string): { users: User[]; errors: ConfigError[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const errors: ConfigError[] = [];
  const users: User[] = [];
  if (doc.errors.length || !isMap(doc.contents)) return { users, errors }; // access.ts reports these
  const at = (node: Node | null | undefined, path: string, code: ConfigError['code'], message: string, extra: Partial<ConfigError> = {}) => {
    const p = lc.linePos(node?.range?.[0] ?? 0);
    errors.push({ code, file, line: p.line, column: p.col, path, message, ...extra });
  };
  const list = (doc.contents as YAMLMap).get('users', true) as Node | undefined;
  if (list === undefined) return { users, errors };
  if (!isSeq(list)) {
    at(list, 'users', 'wrong_type', 'users must be a list', { expected: 'a list of { name, role, password_hash }' });
    return { users, errors };
  }
  const seen = new Set<string>();
  list.items.forEach((item, i) => {
    const path = `users[${i}]`;
    if (!isMap(item)) return at(item as Node, path, 'wrong_type', 'a user entry is a map', { expected: '{ name, role, password_hash }' });
    const get = (k: string) => item.get(k, true) as Node | undefined;
    const str = (k: string): string | undefined => {
      const n = get(k);
      return isScalar(n) && typeof n.value === 'string' ? n.value : undefined;
    };
    for (const pair of item.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      if (k === 'password') at(pair.key as Node, `${path}.password`, 'bad_value', 'a password is never written into the access file', { note: 'write its hash: m2m-sentinel hash-password' });
      else if (!['name', 'role', 'password_hash'].includes(k)) at(pair.key as Node, `${path}.${k}`, 'unknown_key', `unknown key "${k}"`, { expected: 'one of name, role, password_hash' });
    }
    const name = str('name');
    // "m2m-sentinel" is the pipeline's own name in the alert audit trail.
    if (!name || !/^[A-Za-z0-9_.@-]{1,64}$/.test(name) || name === 'm2m-sentinel') at(get('name') ?? item, `${path}.name`, name ? 'bad_format' : 'missing_key', name ? 'invalid user name' : 'missing required key "name"', { expected: 'letters, digits, ".", "_", "@", "-" (at most 64), not m2m-sentinel' });
    else if (seen.has(name)) at(get('name'), `${path}.name`, 'duplicate_value', `user "${name}" is listed twice`);
    else seen.add(name);
    const role = str('role');
    if (!role || !(ROLES as readonly string[]).includes(role)) at(get('role') ?? item, `${path}.role`, role ? 'bad_value' : 'missing_key', role ? `must be one of ${ROLES.join(', ')}` : 'missing required key "role"');
    const hash = str('password_hash');
    if (!hash || !isPasswordHash(hash)) at(get('password_hash') ?? item, `${path}.password_hash`, hash ? 'bad_format' : 'missing_key', hash ? 'not a password hash made by m2m-sentinel hash-password' : 'missing required key "password_hash"', { expected: 'scrypt$16384$8$1$<salt>$<hash>' });
    if (name && role && hash && !errors.length) users.push({ name, role: role as Role, hash });
  });
  return { users: errors.length ? [] : users, errors };
}

export function loadUsers(file: string): { users: User[]; errors: ConfigError[] } {
  try {
    return parseUsers(readFileSync(file, 'utf8'), file);
  } catch {
    return { users: [], errors: [] }; // access.ts reports an unreadable file
  }
}
