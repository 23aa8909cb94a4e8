// The staff console's API (issue 19): signing in and out, one-time password links, staff accounts and
// the audit log. Thin handlers over login.ts, users.ts and audit.ts; the cookie is set here (HTTP).
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { ApiError, SESSION_COOKIE, type Api, type AuthContext } from '../platform/http.js';
import { id, timestamp } from '../platform/responses.js';
import { UUID_PATTERN } from '../policy/ids.js';
import { notFoundError } from '../domain-error.js';
import { getTenant } from '../tenants/store.js';
import { listAudit } from './audit.js';
import { setPassword, signIn, signOut, type LoginSettings } from './login.js';
import { roleScopes, STAFF_ROLES, type StaffRole } from './roles.js';
import { createStaffUser, deleteStaffUser, getStaffUser, listStaffUsers, newPasswordLink, PASSWORD_MAX, updateStaffUser, type StaffUserView } from './users.js';

const role = z.enum(STAFF_ROLES as [StaffRole, ...StaffRole[]]);
const sessionView = z.object({
  user: z.object({ id, email: z.string(), role }), tenant: z.object({ id, name: z.string() }),
  scopes: z.array(z.string()), csrfToken: z.string().describe('send it back as X-CSRF-Token on every request but GET'), expiresAt: timestamp,
});
const userView = z.object({ id, email: z.string(), role, createdAt: timestamp, hasPassword: z.boolean(), disabledAt: timestamp.nullable(), lockedUntil: timestamp.nullable() });
const auditView = z.object({ id: z.string(), at: timestamp, userId: id.nullable(), userEmail: z.string(), action: z.string(), method: z.string().nullable(), path: z.string().nullable(), status: z.number().int().nullable() });

/** The login settings of the configuration. */
export function loginSettings(deps: AppDeps): LoginSettings {
  const c = deps.config;
  return { idleMinutes: c.STAFF_SESSION_IDLE_MINUTES, maxHours: c.STAFF_SESSION_MAX_HOURS, maxFailures: c.STAFF_LOGIN_MAX_FAILURES, lockMinutes: c.STAFF_LOCKOUT_MINUTES, perClient: c.STAFF_LOGINS_PER_CLIENT };
}

/** The Set-Cookie value of a session (HttpOnly, SameSite=Lax, Secure when PUBLIC_URL is https), or of its removal. */
function sessionCookie(deps: AppDeps, secret: string | null, expiresAt?: Date): string {
  const secure = deps.config.PUBLIC_URL.startsWith('https:') ? '; Secure' : '';
  const life = secret === null ? '; Max-Age=0' : `; Expires=${(expiresAt ?? new Date()).toUTCString()}`;
  return `${SESSION_COOKIE}=${secret ?? ''}; Path=/; HttpOnly; SameSite=Lax${secure}${life}`;
}

const staffOf = (auth: AuthContext) => {
  if (!auth.staff) throw new ApiError(401, 'unauthorized', 'this is not a console session (an API key has no session)', 'cookie');
  return auth.staff;
};

/** The set-password link for a token: `<PUBLIC_URL>/console/set-password#token=<t>` (the fragment never reaches a server or a Referer). */
export function setPasswordUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/console/set-password#token=${token}`;
}

async function sessionBody(deps: AppDeps, s: { tenantId: string; userId: string; email: string; role: string; csrfToken: string; expiresAt: Date }) {
  const tenant = await deps.db.withTenant(s.tenantId, (c) => getTenant(c, s.tenantId));
  return { user: { id: s.userId, email: s.email, role: s.role }, tenant: { id: s.tenantId, name: tenant?.name ?? '' },
    scopes: roleScopes(s.role as StaffRole), csrfToken: s.csrfToken, expiresAt: s.expiresAt };
}

function clientOf(req: Request): string { return req.ip ?? 'unknown'; }

/** Session routes: sign in (public), the current session, sign out (here or everywhere), set a password by link (public). */
export function sessionRoutes(api: Api, deps: AppDeps): void {
  api.publicRoute({ method: 'post', path: '/api/session', summary: 'Sign in to the console (sets the session cookie)', response: sessionView, errors: [401, 423, 429],
    body: z.strictObject({ email: z.string().max(320), password: z.string().max(PASSWORD_MAX * 4) }) },
  async ({ body, req, res }: { body: { email: string; password: string }; req: Request; res: Response }) => {
    const s = await signIn(deps.db, loginSettings(deps), { email: body.email, password: body.password, ip: clientOf(req), userAgent: req.get('user-agent') });
    res.setHeader('Set-Cookie', sessionCookie(deps, s.secret, s.expiresAt));
    res.setHeader('Cache-Control', 'no-store');
    return { body: await sessionBody(deps, s.session) };
  });
  api.publicRoute({ method: 'post', path: '/api/session/password', summary: 'Set a password with a one-time link\'s token', errors: [422], success: [204],
    body: z.strictObject({ token: z.string().max(200), password: z.string().max(PASSWORD_MAX * 4) }) },
  async ({ body }: { body: { token: string; password: string } }) => { await setPassword(deps.db, body.token, body.password); });

  api.route({ method: 'get', path: '/api/session', scope: 'subscribers', summary: 'The console session of this cookie', response: sessionView },
    async ({ auth, res }) => {
      const st = staffOf(auth);
      res.setHeader('Cache-Control', 'no-store');
      return { body: await sessionBody(deps, { tenantId: auth.tenantId, ...st }) };
    });
  api.route({ method: 'delete', path: '/api/session', scope: 'subscribers', summary: 'Sign out of this session', readOnly: true, success: [204] },
    async ({ auth, res }) => {
      const st = staffOf(auth);
      await signOut(deps.db, { tenantId: auth.tenantId, ...st }, false);
      res.setHeader('Set-Cookie', sessionCookie(deps, null));
    });
  api.route({ method: 'post', path: '/api/session/everywhere', scope: 'subscribers', summary: 'Sign out of every session of this account', readOnly: true, success: [204] },
    async ({ auth, res }) => {
      const st = staffOf(auth);
      await signOut(deps.db, { tenantId: auth.tenantId, ...st }, true);
      res.setHeader('Set-Cookie', sessionCookie(deps, null));
    });
}

const userIdOf = (params: Record<string, string>): string => {
  if (!UUID_PATTERN.test(params.id ?? '')) throw notFoundError('staff user', 'id');
  return params.id;
};
const viewOf = (u: StaffUserView) => ({ id: u.id, email: u.email, role: u.role, createdAt: u.createdAt, hasPassword: u.hasPassword, disabledAt: u.disabledAt, lockedUntil: u.lockedUntil });

/** Staff accounts (admin): list, invite (a one-time set-password link, shown once), change role, disable, remove; the audit log. */
export function staffUserRoutes(api: Api, deps: AppDeps): void {
  api.route({ method: 'get', path: '/api/staff-users', scope: 'admin', summary: 'The tenant\'s staff accounts', response: z.object({ items: z.array(userView), nextCursor: z.null() }) },
    async ({ tenantId }) => ({ body: { items: (await deps.db.withTenant(tenantId, listStaffUsers)).map(viewOf), nextCursor: null } }));
  api.route({ method: 'post', path: '/api/staff-users', scope: 'admin', auditAlways: true, summary: 'Invite a staff member: the answer holds a one-time link to set a password', success: [201],
    body: z.strictObject({ email: z.string().max(320), role }), response: z.object({ user: userView, setPasswordUrl: z.string().nullable() }), errors: [409],
    replayBody: (b) => ({ ...(b as object), setPasswordUrl: null }) },
  async ({ tenantId, body }) => {
    const made = await createStaffUser(deps.db, { tenantId, email: body.email, role: body.role }, deps.config.STAFF_PASSWORD_LINK_HOURS);
    return { status: 201, body: { user: viewOf(made.user), setPasswordUrl: made.setPasswordToken ? setPasswordUrl(deps.config.PUBLIC_URL, made.setPasswordToken) : null } };
  });
  api.route({ method: 'post', path: '/api/staff-users/:id/password-link', scope: 'admin', auditAlways: true, summary: 'A new one-time link to set this account\'s password (earlier links stop working)',
    response: z.object({ setPasswordUrl: z.string() }), replayBody: () => ({ setPasswordUrl: null }) },
  async ({ tenantId, params }) => {
    const uid = userIdOf(params);
    const token = await deps.db.withTenant(tenantId, async (c) => {
      if (!(await getStaffUser(c, uid))) throw notFoundError('staff user', 'id');
      return newPasswordLink(c, tenantId, uid, deps.config.STAFF_PASSWORD_LINK_HOURS);
    });
    return { body: { setPasswordUrl: setPasswordUrl(deps.config.PUBLIC_URL, token) } };
  });
  api.route({ method: 'patch', path: '/api/staff-users/:id', scope: 'admin', auditAlways: true,
    summary: 'Change a staff member\'s role, disable (ends their sessions and links) or enable the account, or lift a sign-in lock-out (unlock: true)',
    body: z.strictObject({ role: role.optional(), disabled: z.boolean().optional(), unlock: z.literal(true).optional() }), response: userView, errors: [409] },
  async ({ tenantId, params, body }) => ({ body: viewOf(await deps.db.withTenant(tenantId, (c) => updateStaffUser(c, userIdOf(params), body))) }));
  api.route({ method: 'delete', path: '/api/staff-users/:id', scope: 'admin', auditAlways: true, summary: 'Remove a staff account (its audit entries stay)', success: [204], errors: [409] },
    async ({ tenantId, params }) => { await deps.db.withTenant(tenantId, (c) => deleteStaffUser(c, userIdOf(params))); });
  api.route({ method: 'get', path: '/api/audit', scope: 'admin', summary: 'The staff audit log, newest first: who did what, when',
    query: z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(100).optional(), userId: id.optional() }),
    response: z.object({ items: z.array(auditView), nextCursor: z.string().nullable() }) },
  async ({ tenantId, query }) => ({ body: await deps.db.withTenant(tenantId, (c) => listAudit(c, query)) }));
}
