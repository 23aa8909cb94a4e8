// Staff accounts (issue 19): the one owner of staff_users' and staff_password_links' SQL. Passwords
// are hashed with argon2id (@node-rs/argon2, OWASP's parameters: 19 MiB, 2 passes, 1 lane; ~70 ms
// on the libuv pool, off the event loop) and only the PHC string is kept. A new account, or an
// invitation, gets a one-time link to set its password: 32 random bytes, only their sha-256 stored,
// valid STAFF_PASSWORD_LINK_HOURS. Sign-in across tenants goes through the narrow SECURITY DEFINER
// functions of migrations/082_staff.sql.
import { createHash, randomBytes } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import type { Db, Queryable } from '../platform/db.js';
import { DomainError, notFoundError } from '../domain-error.js';
import { parseAddress } from '../policy/addresses.js';
import { STAFF_ROLES, type StaffRole } from './roles.js';
import { revokeUserSessions } from './sessions.js';

/** A staff account as listed: never the password hash. Timestamps are Dates (JSON: ISO 8601). */
export interface StaffUserView {
  id: string; email: string; role: StaffRole; createdAt: Date;
  /** False until the one-time link has been used. */
  hasPassword: boolean;
  disabledAt: Date | null; lockedUntil: Date | null;
}
export interface NewStaffUser { tenantId: string; email: string; role: StaffRole; password?: string }

/** Shortest and longest password accepted, in characters (NIST SP 800-63B: length, no composition rules). */
export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;

const VIEW = `id, email, role, created_at AS "createdAt", password_hash IS NOT NULL AS "hasPassword",
  disabled_at AS "disabledAt", locked_until AS "lockedUntil"`;

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * A staff email address in its stored form (lower case), or a DomainError `invalid` naming `field`.
 */
export function staffEmail(input: string, field = 'email'): string {
  const a = parseAddress(input.trim());
  // Staff are never mailed by Postgate: a reserved domain (example.test) is a fine sign-in name.
  if (!a.ok && a.error !== 'reserved_domain') throw new DomainError('invalid', `${field}: not an email address`, field);
  return a.ok ? a.value.key : input.trim().toLowerCase();
}

/** @throws DomainError `invalid` (field `password`) for a password shorter than PASSWORD_MIN or longer than PASSWORD_MAX characters. */
export function checkPassword(password: string, field = 'password'): void {
  const n = [...password].length;
  if (n < PASSWORD_MIN) throw new DomainError('invalid', `${field}: at least ${PASSWORD_MIN} characters`, field);
  if (n > PASSWORD_MAX) throw new DomainError('invalid', `${field}: at most ${PASSWORD_MAX} characters`, field);
}

/** The argon2id PHC string of a password (async, on the libuv pool). */
export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password);
}

/** Whether `password` matches the PHC string; false for a malformed hash. */
export async function passwordMatches(phc: string, password: string): Promise<boolean> {
  return argon2Verify(phc, password).catch(() => false);
}

/** A dummy hash verified for unknown accounts, so a missing account costs the same time as a wrong password. */
let dummy: Promise<string> | null = null;
export function dummyHash(): Promise<string> {
  return (dummy ??= hashPassword(randomBytes(16).toString('hex')));
}

/**
 * Creates a staff account in `tenantId`. With a password it can sign in at once; without, the
 * result's `setPasswordToken` is the secret of a one-time link valid `linkHours`.
 * @throws DomainError `invalid` (email, role, password), `staff_email_taken` (email: used by any tenant's account).
 */
export async function createStaffUser(db: Db, u: NewStaffUser, linkHours = 72): Promise<{ user: StaffUserView; setPasswordToken: string | null }> {
  const email = staffEmail(u.email);
  if (!STAFF_ROLES.includes(u.role)) throw new DomainError('invalid', `role: one of ${STAFF_ROLES.join(', ')}`, 'role');
  if (u.password !== undefined) checkPassword(u.password);
  const phc = u.password === undefined ? null : await hashPassword(u.password);
  return db.withTenant(u.tenantId, async (c) => {
    // The address is unique across tenants: ON CONFLICT sees another tenant's row too (the index is not under row security).
    const r = await c.query<StaffUserView>(`INSERT INTO staff_users (tenant_id, email, role, password_hash, password_set_at)
      VALUES ($1, $2, $3, $4, CASE WHEN $4::text IS NULL THEN NULL ELSE now() END)
      ON CONFLICT (email) DO NOTHING RETURNING ${VIEW}`, [u.tenantId, email, u.role, phc]);
    if (!r.rows[0]) throw new DomainError('staff_email_taken', 'email: a staff account with this address exists', 'email');
    const token = phc ? null : await newPasswordLink(c, u.tenantId, r.rows[0].id, linkHours);
    return { user: r.rows[0], setPasswordToken: token };
  });
}

/** A new one-time set-password link's secret for `userId` (earlier unused links of the account stop working). */
export async function newPasswordLink(c: Queryable, tenantId: string, userId: string, hours: number): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await c.query('UPDATE staff_password_links SET used_at = now() WHERE user_id = $1 AND used_at IS NULL', [userId]);
  await c.query(`INSERT INTO staff_password_links (token_hash, tenant_id, user_id, expires_at)
    VALUES ($1, $2, $3, now() + make_interval(hours => $4))`, [sha256(token), tenantId, userId, hours]);
  return token;
}

/**
 * Sets the password of the account a one-time link names, and uses the link up (under a row lock:
 * two concurrent uses set it once). Every session of the account ends.
 * @returns the account's tenant and id.
 * @throws DomainError `invalid` (password; token: unknown, used or expired).
 */
export async function setPasswordWithLink(db: Db, token: string, password: string): Promise<{ tenantId: string; userId: string }> {
  checkPassword(password);
  const found = (await db.systemQuery<{ user_id: string; tenant_id: string }>('SELECT user_id, tenant_id FROM staff_password_link($1)', [sha256(token)])).rows[0];
  if (!found) throw new DomainError('invalid', 'token: this link is not valid any more; ask an administrator for a new one', 'token');
  const phc = await hashPassword(password);
  return db.withTenant(found.tenant_id, async (c) => {
    const used = await c.query(`UPDATE staff_password_links SET used_at = now()
      WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id`, [sha256(token)]);
    if (!used.rows[0]) throw new DomainError('invalid', 'token: this link is not valid any more; ask an administrator for a new one', 'token');
    const set = await c.query(`UPDATE staff_users SET password_hash = $2, password_set_at = now(), failed_logins = 0, locked_until = NULL
      WHERE id = $1 AND disabled_at IS NULL`, [found.user_id, phc]);
    if (!set.rowCount) throw new DomainError('invalid', 'token: this link is not valid any more; ask an administrator for a new one', 'token');
    await revokeUserSessions(c, found.user_id);
    return { tenantId: found.tenant_id, userId: found.user_id };
  });
}

/** The account an email address names, across tenants, for the password check (null: none). */
export async function loginAccount(db: Db, email: string): Promise<{ userId: string; tenantId: string; role: StaffRole; passwordHash: string | null; lockedUntil: Date | null; disabled: boolean } | null> {
  const r = (await db.systemQuery<{ user_id: string; tenant_id: string; role: StaffRole; password_hash: string | null; locked_until: Date | null; disabled: boolean }>(
    'SELECT user_id, tenant_id, role, password_hash, locked_until, disabled FROM staff_login_account($1)', [email.trim().toLowerCase()])).rows[0];
  return r ? { userId: r.user_id, tenantId: r.tenant_id, role: r.role, passwordHash: r.password_hash, lockedUntil: r.locked_until, disabled: r.disabled } : null;
}

/**
 * Records a sign-in's outcome on the account: a success clears the failures; a failure counts one
 * more and, at `maxFailures` in a row, locks the account for `lockMinutes`.
 * @returns the lock's end when this failure locked the account, else null.
 */
export async function recordLoginOutcome(c: Queryable, userId: string, ok: boolean, maxFailures: number, lockMinutes: number): Promise<Date | null> {
  if (ok) {
    await c.query('UPDATE staff_users SET failed_logins = 0, locked_until = NULL WHERE id = $1', [userId]);
    return null;
  }
  const r = await c.query<{ locked_until: Date | null }>(`UPDATE staff_users SET
      failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
      locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(mins => $3) ELSE locked_until END
    WHERE id = $1 RETURNING CASE WHEN failed_logins = 0 THEN locked_until END AS locked_until`, [userId, maxFailures, lockMinutes]);
  return r.rows[0]?.locked_until ?? null;
}

/** The tenant's staff accounts, oldest first (a tenant has few: at most 1,000 are listed). */
export async function listStaffUsers(c: Queryable): Promise<StaffUserView[]> {
  return (await c.query<StaffUserView>(`SELECT ${VIEW} FROM staff_users ORDER BY created_at, id LIMIT 1000`)).rows;
}

/** One account of the tenant, or null. */
export async function getStaffUser(c: Queryable, id: string): Promise<StaffUserView | null> {
  return (await c.query<StaffUserView>(`SELECT ${VIEW} FROM staff_users WHERE id = $1`, [id])).rows[0] ?? null;
}

/** Whether another enabled admin than `id` remains (the last admin is neither demoted, disabled nor removed). */
async function otherAdminExists(c: Queryable, id: string): Promise<boolean> {
  const r = await c.query(`SELECT 1 FROM staff_users WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1 LIMIT 1`, [id]);
  return r.rows.length > 0;
}

/**
 * Changes an account's role, enables or disables it (a disabled account's sessions and unused
 * password links end at once), or lifts a sign-in lock-out (`unlock`).
 * @throws DomainError `not_found` (id), `invalid` (role), `last_admin_user` when it would leave no enabled admin.
 */
export async function updateStaffUser(c: Queryable, id: string, patch: { role?: StaffRole; disabled?: boolean; unlock?: boolean }): Promise<StaffUserView> {
  const cur = (await c.query<StaffUserView>(`SELECT ${VIEW} FROM staff_users WHERE id = $1 FOR UPDATE`, [id])).rows[0];
  if (!cur) throw notFoundError('staff user', 'id');
  if (patch.role !== undefined && !STAFF_ROLES.includes(patch.role)) throw new DomainError('invalid', `role: one of ${STAFF_ROLES.join(', ')}`, 'role');
  const losesAdmin = cur.role === 'admin' && !cur.disabledAt && ((patch.role && patch.role !== 'admin') || patch.disabled === true);
  if (losesAdmin && !(await otherAdminExists(c, id))) throw new DomainError('last_admin_user', 'the last enabled admin cannot be demoted or disabled', patch.role ? 'role' : 'disabled');
  const r = await c.query<StaffUserView>(`UPDATE staff_users SET role = coalesce($2, role),
      disabled_at = CASE WHEN $3::boolean IS NULL THEN disabled_at WHEN $3 THEN coalesce(disabled_at, now()) ELSE NULL END,
      locked_until = CASE WHEN $4 THEN NULL ELSE locked_until END, failed_logins = CASE WHEN $4 THEN 0 ELSE failed_logins END
    WHERE id = $1 RETURNING ${VIEW}`, [id, patch.role ?? null, patch.disabled ?? null, patch.unlock === true]);
  if (patch.disabled) {
    await revokeUserSessions(c, id);
    await c.query('UPDATE staff_password_links SET used_at = now() WHERE user_id = $1 AND used_at IS NULL', [id]);
  }
  return r.rows[0];
}

/**
 * Removes an account (its sessions and links go with it; its audit entries keep the email address).
 * @throws DomainError `not_found` (id), `last_admin_user`.
 */
export async function deleteStaffUser(c: Queryable, id: string): Promise<void> {
  const cur = (await c.query<StaffUserView>(`SELECT ${VIEW} FROM staff_users WHERE id = $1 FOR UPDATE`, [id])).rows[0];
  if (!cur) throw notFoundError('staff user', 'id');
  if (cur.role === 'admin' && !cur.disabledAt && !(await otherAdminExists(c, id))) throw new DomainError('last_admin_user', 'the last enabled admin cannot be removed', 'id');
  await c.query('DELETE FROM staff_users WHERE id = $1', [id]);
}
