// Staff sessions (issue 19): the one owner of staff_sessions', staff_login_throttle's and
// staff_unknown_logins' SQL. The
// cookie holds 32 random bytes (base64url); the row holds their sha-256, a CSRF token (synchronizer
// token, OWASP: sent back by the console in X-CSRF-Token on every request that changes something),
// an absolute end (STAFF_SESSION_MAX_HOURS) and an idle end (STAFF_SESSION_IDLE_MINUTES, slid
// forward at most once a minute by auth_staff_session()).
import { createHash, randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../platform/db.js';
import type { StaffRole } from './roles.js';

/** A live session as authentication finds it. */
export interface StaffSession {
  sessionId: string; tenantId: string; userId: string; email: string; role: StaffRole; csrfToken: string; expiresAt: Date;
}
export interface SessionLifetimes { idleMinutes: number; maxHours: number }

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** A session cookie's secret: 43 base64url characters. */
export const SESSION_SECRET = /^[A-Za-z0-9_-]{43}$/;

/**
 * Opens a session for an account (in its tenant's transaction `c`).
 * @returns the cookie's secret (never stored), the CSRF token, the absolute end and the session's id.
 */
export async function openSession(c: Queryable, tenantId: string, userId: string, life: SessionLifetimes, client: { userAgent?: string; ip?: string }):
Promise<{ secret: string; csrfToken: string; expiresAt: Date; sessionId: string }> {
  const secret = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  const r = await c.query<{ id: string; expires_at: Date }>(`INSERT INTO staff_sessions (token_hash, tenant_id, user_id, csrf_token, idle_until, expires_at, user_agent, ip)
    VALUES ($1, $2, $3, $4, now() + make_interval(mins => $5), now() + make_interval(hours => $6), left($7, 300), $8)
    RETURNING id, expires_at`, [sha256(secret), tenantId, userId, csrfToken, Math.min(life.idleMinutes, life.maxHours * 60), life.maxHours, client.userAgent ?? null, client.ip ?? null]);
  return { secret, csrfToken, expiresAt: r.rows[0].expires_at, sessionId: r.rows[0].id };
}

/** The live session a cookie secret names (neither revoked, expired nor idle too long, its account enabled), or null. */
export async function findSession(db: Db, secret: string, idleMinutes: number): Promise<StaffSession | null> {
  if (!SESSION_SECRET.test(secret)) return null;
  const r = (await db.systemQuery<{ session_id: string; tenant_id: string; user_id: string; email: string; role: StaffRole; csrf_token: string; expires_at: Date }>(
    'SELECT session_id, tenant_id, user_id, email, role, csrf_token, expires_at FROM auth_staff_session($1, $2)', [sha256(secret), idleMinutes * 60])).rows[0];
  return r ? { sessionId: r.session_id, tenantId: r.tenant_id, userId: r.user_id, email: r.email, role: r.role, csrfToken: r.csrf_token, expiresAt: r.expires_at } : null;
}

/** Ends one session (log out). */
export async function revokeSession(c: Queryable, sessionId: string): Promise<void> {
  await c.query('UPDATE staff_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [sessionId]);
}

/** Ends every session of an account (log out everywhere, a new password, a disabled account). @returns how many ended. */
export async function revokeUserSessions(c: Queryable, userId: string): Promise<number> {
  return (await c.query('UPDATE staff_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [userId])).rowCount ?? 0;
}

/**
 * Counts one sign-in attempt from a client address in the current window (15 minutes) and says
 * whether it is within `perWindow`. System-wide (no tenant is known before sign-in).
 * @returns null when allowed, else the seconds until the window ends.
 */
export async function takeLoginAttempt(db: Db, client: string, perWindow: number): Promise<number | null> {
  const r = (await db.systemQuery<{ attempts: number; retry: number }>(`INSERT INTO staff_login_throttle AS t (client, window_start, attempts)
      VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / 900) * 900), 1)
    ON CONFLICT (client, window_start) DO UPDATE SET attempts = t.attempts + 1
    RETURNING attempts, ceil(extract(epoch FROM t.window_start + interval '15 minutes' - now()))::int AS retry`, [client.slice(0, 100)])).rows[0];
  return r.attempts > perWindow ? Math.max(1, r.retry) : null;
}

/**
 * The lock of an address with no usable account (unknown, no password, disabled), kept as an
 * account's is: null when not locked, else the seconds left.
 */
export async function unknownLoginLock(db: Db, email: string): Promise<number | null> {
  const r = (await db.systemQuery<{ left: number }>(`SELECT ceil(extract(epoch FROM locked_until - now()))::int AS left
    FROM staff_unknown_logins WHERE email_hash = $1 AND locked_until > now()`, [sha256(email)])).rows[0];
  return r ? Math.max(1, r.left) : null;
}

/**
 * Counts a failed sign-in for an address with no usable account, as recordLoginOutcome does for an
 * account: at `maxFailures` in a row the address is locked for `lockMinutes` (and its count starts over).
 * @returns whether this failure locked it.
 */
export async function recordUnknownLogin(db: Db, email: string, maxFailures: number, lockMinutes: number): Promise<boolean> {
  const r = (await db.systemQuery<{ locked: boolean }>(`INSERT INTO staff_unknown_logins AS u (email_hash, failed_logins, locked_until)
      VALUES ($1, CASE WHEN $2 <= 1 THEN 0 ELSE 1 END, CASE WHEN $2 <= 1 THEN now() + make_interval(mins => $3) END)
    ON CONFLICT (email_hash) DO UPDATE SET
      failed_logins = CASE WHEN u.failed_logins + 1 >= $2 THEN 0 ELSE u.failed_logins + 1 END,
      locked_until = CASE WHEN u.failed_logins + 1 >= $2 THEN now() + make_interval(mins => $3) ELSE u.locked_until END,
      updated_at = now()
    RETURNING failed_logins = 0 AND locked_until > now() AS locked`, [sha256(email), maxFailures, lockMinutes])).rows[0];
  return r.locked;
}

/** Deletes up to `limit` sessions that ended more than a day ago (every tenant; retention sweep). @returns rows deleted. */
export async function purgeEndedSessions(c: Queryable, limit: number): Promise<number> {
  return (await c.query<{ n: number }>('SELECT purge_ended_staff_sessions($1) AS n', [limit])).rows[0].n;
}

/** Deletes up to `limit` sign-in throttle windows over an hour old, and unknown-address counts quiet for a day (system-wide; retention sweep). @returns rows deleted. */
export async function purgeLoginThrottle(c: Queryable, limit: number): Promise<number> {
  const r = await c.query(`DELETE FROM staff_login_throttle WHERE (client, window_start) IN (
    SELECT client, window_start FROM staff_login_throttle WHERE window_start < now() - interval '1 hour' LIMIT $1)`, [limit]);
  const u = await c.query(`DELETE FROM staff_unknown_logins WHERE email_hash IN (
    SELECT email_hash FROM staff_unknown_logins WHERE updated_at < now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now()) LIMIT $1)`, [limit]);
  return (r.rowCount ?? 0) + (u.rowCount ?? 0);
}
