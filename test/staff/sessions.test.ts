// Staff sign-in, sessions, CSRF, roles, lock-out and the audit log, over real HTTP (issue 19).
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given, STAFF_PASSWORD } from '../support/given.js';
import { ownerQuery } from '../support/db.js';

const { app, t, tenant } = useApp({ config: { STAFF_LOGINS_PER_CLIENT: 60, STAFF_LOGIN_MAX_FAILURES: 5, STAFF_LOCKOUT_MINUTES: 15 } });
const other = tenant({ name: 'Other' });

interface Session { cookie: string; csrf: string; body: Record<string, any> }
let clients = 0;

async function signIn(email: string, password = STAFF_PASSWORD, ip?: string): Promise<{ status: number; body: any; headers: Headers; session: Session | null }> {
  // Each sign-in from its own client address unless one is given, so the per-client limit is met only where a test means it.
  const client = ip ?? `10.${(++clients >> 8) & 255}.${clients & 255}.1`;
  const r = await fetch(`${app.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': client }, body: JSON.stringify({ email, password }) });
  const body = await r.json();
  const set = r.headers.get('set-cookie') ?? '';
  const cookie = set.split(';')[0];
  return { status: r.status, body, headers: r.headers, session: r.status === 200 ? { cookie, csrf: body.csrfToken, body } : null };
}

async function call(s: Session, method: string, path: string, body?: unknown, csrf: string | null = s.csrf) {
  const r = await fetch(`${app.url}${path}`, { method, headers: { cookie: s.cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(csrf === null ? {} : { 'x-csrf-token': csrf }) },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}

describe('signing in', () => {
  it('sets an HttpOnly, SameSite=Lax, Secure session cookie and answers who is signed in', async () => {
    const u = await given(app, t).staffUser({ role: 'marketing' });
    const r = await signIn(u.email);
    expect(r.status).toBe(200);
    const set = r.headers.get('set-cookie') ?? '';
    expect(set).toMatch(/^postgate_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Secure; Expires=/);
    expect(r.body).toMatchObject({ user: { email: u.email, role: 'marketing' }, tenant: { id: t.id, name: 'Acme' } });
    expect(r.body.scopes).toEqual(['subscribers', 'transactional', 'campaigns', 'events']);
    const me = await call(r.session as Session, 'GET', '/api/session');
    expect(me.status).toBe(200);
    expect(me.body.csrfToken).toBe(r.body.csrfToken);
    expect(me.headers.get('cache-control')).toBe('no-store');
  });

  it('answers a wrong password, an unknown address and an account without a password alike', async () => {
    const u = await given(app, t).staffUser();
    const noPassword = await given(app, t).staffUser({ password: null });
    for (const [email, password] of [[u.email, 'wrong password here'], ['nobody@example.org', STAFF_PASSWORD], [noPassword.email, '']]) {
      const r = await signIn(email, password);
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ code: 'invalid_credentials', field: 'password' });
      expect(r.headers.get('set-cookie')).toBeNull();
    }
  });

  it('locks an account after five wrong passwords in a row, even against the right one, and records it', async () => {
    const u = await given(app, t).staffUser();
    for (let i = 0; i < 4; i++) expect((await signIn(u.email, `wrong-${i}-password`)).status).toBe(401);
    expect((await signIn(u.email)).status).toBe(200); // a success resets the count
    for (let i = 0; i < 5; i++) expect((await signIn(u.email, `wrong-${i}-password`)).status).toBe(401);
    const locked = await signIn(u.email);
    expect(locked.status).toBe(423);
    expect(locked.body.error.code).toBe('account_locked');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(14 * 60);
    const actions = (await ownerQuery<{ action: string }>(app.db.url, 'SELECT action FROM staff_audit WHERE user_id = $1 ORDER BY id', [u.id])).map((r) => r.action);
    expect(actions).toEqual(['login_failed', 'login_failed', 'login_failed', 'login_failed', 'login',
      'login_failed', 'login_failed', 'login_failed', 'login_failed', 'login_locked', 'login_locked']);
    // Once the lock has passed, the right password works again.
    await ownerQuery(app.db.url, `UPDATE staff_users SET locked_until = now() - interval '1 second' WHERE id = $1`, [u.id]);
    expect((await signIn(u.email)).status).toBe(200);
  });

  it('locks an address with no usable account exactly as an account, so lock-outs do not tell who exists', async () => {
    const noPassword = await given(app, t).staffUser({ password: null });
    for (const email of ['ghost@example.org', noPassword.email]) {
      const answers: number[] = [];
      for (let i = 0; i < 6; i++) answers.push((await signIn(email, `wrong-${i}-password`)).status);
      expect(answers, email).toEqual([401, 401, 401, 401, 401, 423]);
      expect(Number((await signIn(email)).headers.get('retry-after'))).toBeGreaterThan(14 * 60);
    }
  });

  it('lets an admin lift a lock-out', async () => {
    const u = await given(app, t).staffUser();
    for (let i = 0; i < 5; i++) await signIn(u.email, `wrong-${i}-password`);
    expect((await signIn(u.email)).status).toBe(423);
    const r = await t.api('PATCH', `/api/staff-users/${u.id}`, { unlock: true });
    expect(r.status).toBe(200);
    expect(r.body.lockedUntil).toBeNull();
    expect((await signIn(u.email)).status).toBe(200);
    // An API key's change of a staff account is in the audit log too, under the key.
    const audit = (await t.api('GET', '/api/audit?limit=5')).body.items as { action: string; userEmail: string; status: number }[];
    expect(audit.find((e) => e.action === 'patchStaffUsersById')).toMatchObject({ userEmail: expect.stringMatching(/^API key [0-9a-f-]{36}$/), status: 200 });
  });

  it('limits sign-in attempts per client address (429 with Retry-After), whichever accounts they name', async () => {
    let last = 0;
    for (let i = 0; i < 61; i++) last = (await signIn(`nobody-${i}@example.org`, 'x', '198.51.100.7')).status;
    // Express trusts X-Forwarded-For from loopback only: these requests do come from loopback.
    expect(last).toBe(429);
    const again = await signIn('nobody@example.org', 'x', '198.51.100.7');
    expect(again.body.error.code).toBe('rate_limited');
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await signIn('nobody@example.org', 'x', '198.51.100.8')).status).toBe(401); // another client is not affected
  });

  it('sets a password through the one-time link, once', async () => {
    const u = await given(app, t).staffUser({ password: null });
    const post = (token: string, password: string) => fetch(`${app.url}/api/session/password`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, password }) });
    const short = await post(u.setPasswordToken as string, 'short');
    expect(short.status).toBe(422);
    expect((await short.json()).error.field).toBe('password');
    expect((await post(u.setPasswordToken as string, 'a long enough password')).status).toBe(204);
    expect((await signIn(u.email, 'a long enough password')).status).toBe(200);
    const again = await post(u.setPasswordToken as string, 'another long password');
    expect(again.status).toBe(422);
    expect((await again.json()).error.field).toBe('token');
  });

  it('voids unused set-password links when the account is disabled', async () => {
    const u = await given(app, t).staffUser({ password: null });
    expect((await t.api('PATCH', `/api/staff-users/${u.id}`, { disabled: true })).status).toBe(200);
    const r = await fetch(`${app.url}/api/session/password`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: u.setPasswordToken, password: 'a long enough password' }) });
    expect(r.status).toBe(422);
    expect((await r.json()).error.field).toBe('token');
  });
});

describe('sessions', () => {
  it('refuses a change without the CSRF token, or with a wrong one, and writes nothing', async () => {
    const u = await given(app, t).staffUser();
    const s = (await signIn(u.email)).session as Session;
    for (const csrf of [null, 'wrong', '']) {
      const r = await call(s, 'POST', '/api/lists', { name: `csrf-${csrf}` }, csrf);
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({ code: 'csrf_failed', field: 'x-csrf-token' });
    }
    const lists = await call(s, 'GET', '/api/lists');
    expect(lists.status, JSON.stringify(lists.body)).toBe(200);
    expect(lists.body.items.map((l: { name: string }) => l.name)).not.toContain('csrf-null');
    const made = await call(s, 'POST', '/api/lists', { name: 'made by staff' });
    expect(made.status).toBe(201);
  });

  it('ends on sign-out, everywhere on "log out everywhere", and for a disabled account', async () => {
    const u = await given(app, t).staffUser();
    const a = (await signIn(u.email)).session as Session;
    const b = (await signIn(u.email)).session as Session;
    const c = (await signIn(u.email)).session as Session;
    const out = await call(a, 'DELETE', '/api/session');
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^postgate_session=; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=0/);
    expect((await call(a, 'GET', '/api/session')).status).toBe(401);
    expect((await call(b, 'GET', '/api/session')).status).toBe(200);
    expect((await call(b, 'POST', '/api/session/everywhere')).status).toBe(204);
    expect((await call(b, 'GET', '/api/session')).status).toBe(401);
    expect((await call(c, 'GET', '/api/lists')).status).toBe(401);

    const d = (await signIn(u.email)).session as Session;
    expect((await t.api('PATCH', `/api/staff-users/${u.id}`, { disabled: true })).status).toBe(200);
    expect((await call(d, 'GET', '/api/lists')).status).toBe(401);
    expect((await signIn(u.email)).status).toBe(401);
  });

  it('expires when idle too long and at its absolute end', async () => {
    const u = await given(app, t).staffUser();
    const idle = (await signIn(u.email)).session as Session;
    const old = (await signIn(u.email)).session as Session;
    const [ids] = [await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM staff_sessions WHERE user_id = $1 ORDER BY created_at', [u.id])];
    await ownerQuery(app.db.url, `UPDATE staff_sessions SET idle_until = now() - interval '1 second' WHERE id = $1`, [ids[0].id]);
    await ownerQuery(app.db.url, `UPDATE staff_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [ids[1].id]);
    const a = await call(idle, 'GET', '/api/lists');
    expect(a.status).toBe(401);
    expect(a.body.error.message).toMatch(/session has ended/);
    expect((await call(old, 'GET', '/api/lists')).status).toBe(401);
  });

  it('slides the idle end forward on use, never past the absolute end', async () => {
    const u = await given(app, t).staffUser();
    const s = (await signIn(u.email)).session as Session;
    await ownerQuery(app.db.url, `UPDATE staff_sessions SET last_seen_at = now() - interval '5 minutes', idle_until = now() + interval '1 minute',
      expires_at = now() + interval '30 minutes' WHERE user_id = $1`, [u.id]);
    expect((await call(s, 'GET', '/api/lists')).status).toBe(200);
    const [row] = await ownerQuery<{ idle: number; cap: boolean }>(app.db.url,
      `SELECT extract(epoch FROM idle_until - now())::int AS idle, idle_until <= expires_at AS cap FROM staff_sessions WHERE user_id = $1`, [u.id]);
    expect(row.idle).toBeGreaterThan(25 * 60); // slid to min(now + 60 min, expires_at = now + 30 min)
    expect(row.cap).toBe(true);
  });
});

describe('roles', () => {
  it('lets a viewer read, count and preview, and refuses every change (a viewer cannot send)', async () => {
    const tpl = await given(app, t).template();
    const campaign = await given(app, t).campaign(tpl, [await given(app, t).defaultList()]);
    const u = await given(app, t).staffUser({ role: 'viewer' });
    const s = (await signIn(u.email)).session as Session;
    expect((await call(s, 'GET', '/api/campaigns')).status).toBe(200);
    expect((await call(s, 'GET', '/api/keys')).status).toBe(200);
    expect((await call(s, 'POST', '/api/segments/count', { filter: { all: [] } })).status).not.toBe(403);
    const audited = await ownerQuery(app.db.url, `SELECT 1 FROM staff_audit WHERE user_id = $1 AND action = 'postSegmentsCount'`, [u.id]);
    expect(audited).toHaveLength(0); // a count changes nothing: not in the audit log
    for (const [method, path, body] of [['POST', `/api/campaigns/${campaign.id}/start`, undefined], ['POST', `/api/campaigns/${campaign.id}/test`, { to: 'a@example.org' }],
      ['POST', '/api/lists', { name: 'x' }], ['DELETE', `/api/campaigns/${campaign.id}`, undefined]] as const) {
      const r = await call(s, method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error.code).toBe('forbidden_role');
    }
    expect((await t.api('GET', `/api/campaigns/${campaign.id}`)).body.status).toBe('draft');
    expect((await call(s, 'DELETE', '/api/session')).status).toBe(204); // signing out is not a change it is refused
  });

  it('keeps marketing out of keys, domains, settings and staff, and in its own tenant', async () => {
    const u = await given(app, t).staffUser({ role: 'marketing' });
    const s = (await signIn(u.email)).session as Session;
    for (const path of ['/api/keys', '/api/domains', '/api/tenant', '/api/staff-users', '/api/audit']) {
      const r = await call(s, 'GET', path);
      expect(r.status, path).toBe(403);
      expect(r.body.error.code).toBe('forbidden_scope');
    }
    const theirs = await other.api('POST', '/api/lists', { name: 'Other tenant list' });
    expect((await call(s, 'GET', `/api/lists/${theirs.body.id}`)).status).toBe(404);
  });
});

describe('staff accounts and the audit log', () => {
  it('invites with a one-time link, keeps the last admin, and records who did what', async () => {
    const admin = await given(app, other).staffUser({ role: 'admin' });
    const s = (await signIn(admin.email)).session as Session;
    const invited = await call(s, 'POST', '/api/staff-users', { email: 'New.Person@Example.org', role: 'marketing' });
    expect(invited.status).toBe(201);
    expect(invited.body.user).toMatchObject({ email: 'new.person@example.org', role: 'marketing', hasPassword: false });
    expect(invited.body.setPasswordUrl).toMatch(/^https:\/\/postgate\.test\/console\/set-password#token=[A-Za-z0-9_-]{43}$/);
    const taken = await call(s, 'POST', '/api/staff-users', { email: 'new.person@example.org', role: 'viewer' });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: 'staff_email_taken', field: 'email' });
    const elsewhere = await given(app, t).staffUser({ role: 'viewer' }); // another tenant's account: the address is still taken
    const takenElsewhere = await call(s, 'POST', '/api/staff-users', { email: elsewhere.email, role: 'viewer' });
    expect(takenElsewhere.status).toBe(409);
    expect(takenElsewhere.body.error.code).toBe('staff_email_taken');
    const demote = await call(s, 'PATCH', `/api/staff-users/${admin.id}`, { role: 'viewer' });
    expect(demote.status).toBe(409);
    expect(demote.body.error.code).toBe('last_admin_user');
    const audit = await call(s, 'GET', '/api/audit?limit=10');
    expect(audit.body.items.slice(0, 5).map((e: { action: string; status: number }) => [e.action, e.status])).toEqual([
      ['patchStaffUsersById', 409], ['postStaffUsers', 409], ['postStaffUsers', 409], ['postStaffUsers', 201], ['login', null]]);
    expect(audit.body.items[0]).toMatchObject({ userEmail: admin.email, method: 'PATCH', path: `/api/staff-users/${admin.id}` });
    // Another tenant's log holds none of it.
    const mine = (await t.api('GET', '/api/audit?limit=200')).body.items as { userEmail: string }[];
    expect(mine.some((e) => e.userEmail === admin.email)).toBe(false);
  });

  it('pages the audit log newest first', async () => {
    const admin = await given(app, t).staffUser({ role: 'admin' });
    const s = (await signIn(admin.email)).session as Session;
    for (let i = 0; i < 5; i++) await call(s, 'POST', '/api/lists', { name: `audited ${i}` });
    const first = await call(s, 'GET', `/api/audit?limit=3&userId=${admin.id}`);
    const second = await call(s, 'GET', `/api/audit?limit=3&userId=${admin.id}&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    const ids = [...first.body.items, ...second.body.items].map((e: { id: string }) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(ids.length).toBe(6); // 5 lists + the sign-in
    expect(second.body.nextCursor).toBeNull();
    expect((await call(s, 'GET', '/api/audit?cursor=nonsense')).status).toBe(422);
  });
});
