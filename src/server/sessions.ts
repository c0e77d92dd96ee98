/**
 * Console sessions: a random id in a cookie (HttpOnly so page scripts cannot read it, Secure so
 * it never travels in clear (browsers treat http://127.0.0.1 and localhost as secure), and
 * SameSite=Strict so another site's page cannot send it along), plus a per-session CSRF token
 * that every state-changing request must echo in a header, which a cross-site form cannot set.
 * Sessions live in memory: a restart logs everyone out, which is acceptable for a console
 * and keeps session ids out of storage.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Role } from './access.js';

export interface Session {
  id: string;
  user: string;
  role: Role;
  csrf: string;
  created: number;
  seen: number;
}

const SESSION_COOKIE = 'm2m_session';
/** Idle and absolute lifetimes. */
const IDLE_MS = 8 * 3_600_000;
const MAX_MS = 24 * 3_600_000;
/** Bound on live sessions (oldest dropped first). */
const MAX_SESSIONS = 10_000;

export class Sessions {
  private readonly byId = new Map<string, Session>();

  create(user: string, role: Role, now = Date.now()): Session {
    if (this.byId.size >= MAX_SESSIONS) this.byId.delete(this.byId.keys().next().value!);
    const s: Session = { id: randomBytes(32).toString('base64url'), user, role, csrf: randomBytes(24).toString('base64url'), created: now, seen: now };
    this.byId.set(s.id, s);
    return s;
  }

  /** The live session of a request's cookie, or undefined (expired ones are dropped). */
  of(req: IncomingMessage, now = Date.now()): Session | undefined {
    const id = cookie(req, SESSION_COOKIE);
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    if (now - s.seen > IDLE_MS || now - s.created > MAX_MS) {
      this.byId.delete(id);
      return undefined;
    }
    s.seen = now;
    return s;
  }

  end(id: string): void {
    this.byId.delete(id);
  }
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function sessionCookie(s: Session): string {
  return `${SESSION_COOKIE}=${s.id}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${Math.floor(MAX_MS / 1000)}`;
}
export const clearedCookie = `${SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0`;

/** Whether the request carries the session's CSRF token (header x-csrf-token), compared in constant time. */
export function csrfOk(req: IncomingMessage, s: Session): boolean {
  const got = req.headers['x-csrf-token'];
  if (typeof got !== 'string' || got.length !== s.csrf.length) return false;
  return timingSafeEqual(Buffer.from(got), Buffer.from(s.csrf));
}
