import { describe, expect, it } from 'vitest';
import { hashPassword, isPasswordHash, parseUsers, verifyPassword } from '../../src/server/users.js';
import { formatConfigError } from '../../src/config/errors.js';

describe('console users', () => {
  it('hashes with scrypt and a salt, and verifies only the right password', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(isPasswordHash(a)).toBe(true);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('anything', undefined)).toBe(false);
  });

  it('reads users with places for mistakes, and refuses a password written in clear', async () => {
    const hash = await hashPassword('s3cret-pass');
    const ok = parseUsers(`users:\n  - { name: alice, role: analyst, password_hash: "${hash}" }\n`, 'access.yaml');
    expect(ok.errors).toEqual([]);
    expect(ok.users).toEqual([{ name: 'alice', role: 'analyst', hash }]);
    const bad = parseUsers(
      `users:\n  - { name: bob, role: boss, password_hash: "${hash}" }\n  - { name: carol, role: viewer, password: hunter2 }\n  - { name: m2m-sentinel, role: admin, password_hash: "md5$x" }\n`,
      'access.yaml',
    );
    const msgs = bad.errors.map(formatConfigError);
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^access\.yaml:2:\d+: users\[0\]\.role: must be one of viewer, analyst, admin/),
        expect.stringMatching(/^access\.yaml:3:\d+: users\[1\]\.password: a password is never written into the access file/),
        expect.stringMatching(/^access\.yaml:4:\d+: users\[2\]\.name: invalid user name/),
        expect.stringMatching(/users\[2\]\.password_hash: not a password hash/),
      ]),
    );
    expect(msgs.join('\n')).not.toContain('hunter2');
    expect(bad.users).toEqual([]);
  });
});
