/** Loading the access file for the CLI: tokens (server/access.ts) and console users (server/users.ts), errors printed once with their places. */
import { formatConfigError } from '../config/errors.js';
import { loadAccessFile, type Access } from '../server/access.js';
import { loadUsers, type User } from '../server/users.js';

export type LoadedAccess = { ok: true; access: Access; users: User[] } | { ok: false };

export function loadConsoleAccess(file: string, env: NodeJS.ProcessEnv = process.env): LoadedAccess {
  const a = loadAccessFile(file, env);
  const u = loadUsers(file);
  const errors = [...a.errors, ...u.errors];
  for (const e of errors) process.stderr.write(formatConfigError(e) + '\n');
  if (errors.length || !a.access) return { ok: false };
  return { ok: true, access: a.access, users: u.users };
}
