// Signing in and out (issue 19): the rules, over users.ts, sessions.ts and audit.ts.
// - At most STAFF_LOGINS_PER_CLIENT attempts per client address per 15 minutes (429, Retry-After).
// - STAFF_LOGIN_MAX_FAILURES wrong passwords in a row lock the account for STAFF_LOCKOUT_MINUTES
//   (423, Retry-After); while locked, even the right password is refused, and a wrong one does not
//   extend the lock. A success resets the count.
// - An unknown address, an account without a password or a disabled one gets the same answer as a
//   wrong password (401 invalid_credentials), after the same argon2 work, and its failures lock the
//   address as an account's would (staff_unknown_logins), so accounts cannot be enumerated by answer,
//   by lock-out or by time.
import type { Db } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { appendAudit } from './audit.js';
import { roleReadsOnly, roleScopes, type StaffRole } from './roles.js';
import { findSession, openSession, recordUnknownLogin, revokeSession, revokeUserSessions, takeLoginAttempt, unknownLoginLock, type StaffSession } from './sessions.js';
import { dummyHash, getStaffUser, loginAccount, passwordMatches, recordLoginOutcome, setPasswordWithLink } from './users.js';
import type { Scope } from '../platform/http.js';

export interface LoginSettings {
  idleMinutes: number; maxHours: number; maxFailures: number; lockMinutes: number; perClient: number;
}
export interface SignedIn { secret: string; csrfToken: string; expiresAt: Date; sessionId: string; session: StaffSession }

const invalid = () => new DomainError('invalid_credentials', 'wrong email address or password', 'password');

/**
 * Checks an email address and password and opens a session.
 * @throws DomainError `rate_limited` (retryAfterSeconds), `account_locked` (retryAfterSeconds), `invalid_credentials`.
 */
export async function signIn(db: Db, s: LoginSettings, input: { email: string; password: string; ip: string; userAgent?: string }): Promise<SignedIn> {
  const wait = await takeLoginAttempt(db, input.ip, s.perClient);
  if (wait !== null) throw new DomainError('rate_limited', 'too many sign-in attempts from here; try again later', null, { retryAfterSeconds: wait });
  const account = await loginAccount(db, input.email);
  const usable = account && account.passwordHash && !account.disabled ? account : null;
  const ok = await passwordMatches(usable?.passwordHash ?? await dummyHash(), input.password) && usable !== null;
  const email = input.email.trim().toLowerCase();
  if (!account || !usable) {
    // Counted and locked as an account would be, so the answers do not tell whether one exists.
    const lockedFor = await unknownLoginLock(db, email);
    if (lockedFor !== null) throw lockedError(lockedFor);
    await recordUnknownLogin(db, email, s.maxFailures, s.lockMinutes);
    throw invalid();
  }
  const lockedFor = account.lockedUntil ? Math.ceil((account.lockedUntil.getTime() - Date.now()) / 1000) : 0;
  if (lockedFor > 0) {
    await db.withTenant(account.tenantId, (c) => appendAudit(c, { tenantId: account.tenantId, userId: account.userId, userEmail: email, action: 'login_locked' }));
    throw lockedError(lockedFor);
  }
  return db.withTenant(account.tenantId, async (c) => {
    const lockedUntil = await recordLoginOutcome(c, account.userId, ok, s.maxFailures, s.lockMinutes);
    if (!ok) {
      await appendAudit(c, { tenantId: account.tenantId, userId: account.userId, userEmail: email, action: lockedUntil ? 'login_locked' : 'login_failed' });
      return null;
    }
    const opened = await openSession(c, account.tenantId, account.userId, { idleMinutes: s.idleMinutes, maxHours: s.maxHours }, { ip: input.ip, userAgent: input.userAgent });
    await appendAudit(c, { tenantId: account.tenantId, userId: account.userId, userEmail: email, action: 'login' });
    return opened;
  }).then((opened) => {
    if (!opened) throw invalid();
    const session: StaffSession = { sessionId: opened.sessionId, tenantId: account.tenantId, userId: account.userId, email, role: account.role, csrfToken: opened.csrfToken, expiresAt: opened.expiresAt };
    return { ...opened, session };
  });
}

function lockedError(seconds: number): DomainError {
  const minutes = Math.ceil(seconds / 60);
  return new DomainError('account_locked', `too many wrong passwords: this account is locked for ${minutes} more minute${minutes === 1 ? '' : 's'}`, null, { retryAfterSeconds: seconds });
}

/** The session a cookie secret names, with the role's scopes (null: none live). */
export async function sessionAuth(db: Db, secret: string, idleMinutes: number): Promise<(StaffSession & { scopes: Scope[]; readOnly: boolean }) | null> {
  const s = await findSession(db, secret, idleMinutes);
  return s ? { ...s, scopes: roleScopes(s.role), readOnly: roleReadsOnly(s.role) } : null;
}

/** Ends this session (everywhere: every session of the account), and records it. */
export async function signOut(db: Db, who: { tenantId: string; userId: string; email: string; sessionId: string }, everywhere: boolean): Promise<void> {
  await db.withTenant(who.tenantId, async (c) => {
    if (everywhere) await revokeUserSessions(c, who.userId); else await revokeSession(c, who.sessionId);
    await appendAudit(c, { tenantId: who.tenantId, userId: who.userId, userEmail: who.email, action: everywhere ? 'logout_everywhere' : 'logout' });
  });
}

/** Sets a password through a one-time link, and records it. @throws DomainError `invalid` (token, password). */
export async function setPassword(db: Db, token: string, password: string): Promise<void> {
  const { tenantId, userId } = await setPasswordWithLink(db, token, password);
  await db.withTenant(tenantId, async (c) => {
    const email = (await getStaffUser(c, userId))?.email ?? '';
    await appendAudit(c, { tenantId, userId, userEmail: email, action: 'password_set' });
  });
}

export type { StaffRole };
