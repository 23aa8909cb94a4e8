// API keys over real HTTP and PostgreSQL: create (shown once, named, expiring), list and read
// (never the secret or its hash), revoke (401 at once), expiry (401), last use recorded at most once
// a minute, tenants kept apart, and the tenant's last live admin key kept.
import { describe, expect, it } from 'vitest';
import { useApp, request } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { hashApiKey } from '../../src/platform/http.js';

const { app, t: a, tenant } = useApp({ tenant: { name: 'A' } });
const b = tenant({ name: 'B', fromEmail: 'hello@beta.org', replyTo: 'help@beta.org' });

const as = (key: string) => (method: string, p: string, body?: unknown, headers?: Record<string, string>) => request(app.url, key, method, p, body, headers);
const VIEW_KEYS = ['createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt', 'scopes'];

describe('API keys', () => {
  it('creates a named key with an expiry, shows the secret once, and lists and reads keys without it', async () => {
    const made = await a.api('POST', '/api/keys', { scopes: ['subscribers'], name: 'newsletter form', expiresInDays: 30 });
    expect(made.status).toBe(201);
    expect(made.body.key).toMatch(/^pg_[A-Za-z0-9_-]{32}$/);
    expect(made.body).toMatchObject({ name: 'newsletter form', scopes: ['subscribers'], prefix: made.body.key.slice(0, 7), revokedAt: null, lastUsedAt: null });
    const expiresIn = Date.parse(made.body.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(29.9 * 86_400_000);
    expect(expiresIn).toBeLessThanOrEqual(30 * 86_400_000);

    const list = await a.api('GET', '/api/keys');
    expect(list.status).toBe(200);
    expect(list.body.nextCursor).toBeNull();
    const mine = list.body.items.find((k: { id: string }) => k.id === made.body.id);
    expect(Object.keys(mine).sort()).toEqual(VIEW_KEYS);
    expect(mine).toMatchObject({ name: 'newsletter form', scopes: ['subscribers'], expiresAt: made.body.expiresAt });
    const one = await a.api('GET', `/api/keys/${made.body.id}`);
    expect(one.status).toBe(200);
    expect(Object.keys(one.body).sort()).toEqual(VIEW_KEYS);

    // Neither the secrets nor their hashes (hex or base64) appear anywhere in what is listed.
    const text = JSON.stringify([list.body, one.body]);
    for (const secret of [made.body.key, a.key]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(hashApiKey(secret).toString('hex'));
      expect(text).not.toContain(hashApiKey(secret).toString('base64'));
    }
    expect(text).not.toContain('hash');
  });

  it('revokes a key: the very next request with it is 401, and its view says when', async () => {
    const made = await a.api('POST', '/api/keys', { scopes: ['admin'] });
    const use = as(made.body.key);
    expect((await use('GET', '/api/tenant')).status).toBe(200);
    const del = await a.api('DELETE', `/api/keys/${made.body.id}`);
    expect(del.status).toBe(204);
    expect(del.body).toBeNull();
    const refused = await use('GET', '/api/tenant');
    expect(refused.status).toBe(401);
    expect(refused.body.error).toMatchObject({ code: 'unauthorized', field: 'authorization' });
    const seen = await a.api('GET', `/api/keys/${made.body.id}`);
    expect(Date.parse(seen.body.revokedAt)).toBeLessThanOrEqual(Date.now());
    // Again: nothing changes (the first revocation time stays).
    expect((await a.api('DELETE', `/api/keys/${made.body.id}`)).status).toBe(204);
    expect((await a.api('GET', `/api/keys/${made.body.id}`)).body.revokedAt).toBe(seen.body.revokedAt);
    // The other keys of the tenant still work.
    expect((await a.api('GET', '/api/tenant')).status).toBe(200);
  });

  it('lets a key revoke itself (documented): that request succeeds, the next is 401', async () => {
    const made = await a.api('POST', '/api/keys', { scopes: ['admin'], name: 'self' });
    const use = as(made.body.key);
    expect((await use('DELETE', `/api/keys/${made.body.id}`)).status).toBe(204);
    expect((await use('GET', '/api/keys')).status).toBe(401);
  });

  it('refuses an expired key with 401', async () => {
    const made = await a.api('POST', '/api/keys', { scopes: ['admin'], expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    const use = as(made.body.key);
    expect((await use('GET', '/api/tenant')).status).toBe(200);
    await ownerQuery(app.db.url, `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [made.body.id]);
    const refused = await use('GET', '/api/tenant');
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/expired/);
  });

  it('expires a key created with a short expiry, by the clock', async () => {
    const made = await a.api('POST', '/api/keys', { scopes: ['admin'], expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect(made.status).toBe(201);
    const use = as(made.body.key);
    expect((await use('GET', '/api/tenant')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1700));
    expect((await use('GET', '/api/tenant')).status).toBe(401);
  });

  it('refuses an expiry in the past, both kinds at once, and out-of-range days (422 naming the field)', async () => {
    const past = await a.api('POST', '/api/keys', { scopes: ['admin'], expiresAt: new Date(Date.now() - 60_000).toISOString() });
    expect(past.status).toBe(422);
    expect(past.body.error).toMatchObject({ code: 'invalid', field: 'expiresAt' });
    const both = await a.api('POST', '/api/keys', { scopes: ['admin'], expiresAt: new Date(Date.now() + 60_000).toISOString(), expiresInDays: 1 });
    expect(both.status).toBe(422);
    expect(both.body.error.field).toBe('expiresInDays');
    const zero = await a.api('POST', '/api/keys', { scopes: ['admin'], expiresInDays: 0 });
    expect(zero.status).toBe(422);
    expect(zero.body.error.field).toBe('expiresInDays');
    const notDate = await a.api('POST', '/api/keys', { scopes: ['admin'], expiresAt: 'tomorrow' });
    expect(notDate.status).toBe(422);
    expect(notDate.body.error.field).toBe('expiresAt');
    const badName = await a.api('POST', '/api/keys', { scopes: ['admin'], name: 'a\u0007b' });
    expect(badName.status).toBe(422);
    expect(badName.body.error.field).toBe('name');
    const bidi = await a.api('POST', '/api/keys', { scopes: ['admin'], name: 'ci \u202Eyek' });
    expect(bidi.status).toBe(422);
    expect(bidi.body.error.field).toBe('name');
  });

  it('records the last use, writing at most once a minute', async () => {
    const made = await a.api('POST', '/api/keys', { scopes: ['subscribers'] });
    const use = as(made.body.key);
    const lastUsed = async () => (await ownerQuery<{ at: Date | null }>(app.db.url, 'SELECT last_used_at AS at FROM api_keys WHERE id = $1', [made.body.id]))[0].at;
    expect(await lastUsed()).toBeNull();
    const before = Date.now();
    expect((await use('GET', '/api/lists')).status).toBe(200);
    const first = await lastUsed();
    expect(first).not.toBeNull();
    expect(Math.abs(first!.getTime() - before)).toBeLessThan(5_000);
    // Within the minute: not written again.
    expect((await use('GET', '/api/lists')).status).toBe(200);
    expect((await lastUsed())!.getTime()).toBe(first!.getTime());
    // Over a minute old: written again.
    await ownerQuery(app.db.url, `UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, [made.body.id]);
    const aged = await lastUsed();
    expect((await use('GET', '/api/lists')).status).toBe(200);
    expect((await lastUsed())!.getTime()).toBeGreaterThan(aged!.getTime() + 60_000);
    const seen = await a.api('GET', `/api/keys/${made.body.id}`);
    expect(Date.parse(seen.body.lastUsedAt)).toBe((await lastUsed())!.getTime());
  });

  it('keeps tenants apart: another tenant\'s key id is 404 for reading and revoking, and is not listed', async () => {
    const [bKey] = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM api_keys WHERE tenant_id = $1', [b.id]);
    const read = await a.api('GET', `/api/keys/${bKey.id}`);
    expect(read.status).toBe(404);
    expect(read.body.error).toMatchObject({ code: 'not_found', field: 'id' });
    const del = await a.api('DELETE', `/api/keys/${bKey.id}`);
    expect(del.status).toBe(404);
    expect((await b.api('GET', '/api/tenant')).status).toBe(200);
    const [revoked] = await ownerQuery<{ revoked_at: Date | null }>(app.db.url, 'SELECT revoked_at FROM api_keys WHERE id = $1', [bKey.id]);
    expect(revoked.revoked_at).toBeNull();
    const listed = (await a.api('GET', '/api/keys?limit=500')).body.items.map((k: { id: string }) => k.id);
    expect(listed).not.toContain(bKey.id);
    expect((await a.api('GET', '/api/keys/not-a-uuid')).status).toBe(404);
    expect((await a.api('GET', '/api/keys/00000000-0000-4000-8000-00000000abcd')).status).toBe(404);
  });

  it('refuses to revoke the tenant\'s last live admin key (409 last_admin_key); expired admin keys do not count', async () => {
    const c = await app.tenant({ name: 'C', scopes: ['admin'] });
    const [only] = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM api_keys WHERE tenant_id = $1', [c.id]);
    const refused = await c.api('DELETE', `/api/keys/${only.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'last_admin_key', field: 'id' });
    expect((await c.api('GET', '/api/tenant')).status).toBe(200);

    const spare = await c.api('POST', '/api/keys', { scopes: ['admin'] });
    await ownerQuery(app.db.url, `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [spare.body.id]);
    expect((await c.api('DELETE', `/api/keys/${only.id}`)).status).toBe(409);
    // An expired (or revoked) key itself may always be revoked.
    expect((await c.api('DELETE', `/api/keys/${spare.body.id}`)).status).toBe(204);

    const live = await c.api('POST', '/api/keys', { scopes: ['admin'] });
    expect((await c.api('DELETE', `/api/keys/${only.id}`)).status).toBe(204);
    expect((await c.api('GET', '/api/tenant')).status).toBe(401);
    expect((await as(live.body.key)('GET', '/api/tenant')).status).toBe(200);
  });

  it('revokes two admin keys at once without leaving none', async () => {
    const d = await app.tenant({ name: 'D', scopes: ['admin'] });
    const second = await d.api('POST', '/api/keys', { scopes: ['admin'] });
    const [first] = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM api_keys WHERE tenant_id = $1 AND id <> $2', [d.id, second.body.id]);
    const third = await d.api('POST', '/api/keys', { scopes: ['subscribers'] });
    const admin = as(third.body.key);
    expect((await admin('GET', '/api/keys')).status).toBe(403);
    const [r1, r2] = await Promise.all([d.api('DELETE', `/api/keys/${first.id}`), as(second.body.key)('DELETE', `/api/keys/${second.body.id}`)]);
    expect([r1.status, r2.status].sort()).toEqual([204, 409]);
    const [n] = await ownerQuery<{ n: number }>(app.db.url, `SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1 AND 'admin' = ANY(scopes) AND revoked_at IS NULL`, [d.id]);
    expect(n.n).toBe(1);
  });

  it('pages the listing newest first with {items, nextCursor}', async () => {
    const e = await app.tenant({ name: 'E' });
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await e.api('POST', '/api/keys', { scopes: ['subscribers'], name: `k${i}` })).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await e.api('GET', `/api/keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((k: { id: string }) => k.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(seen.slice(0, 4)).toEqual([...ids].reverse());
    expect((await e.api('GET', '/api/keys?cursor=nope')).status).toBe(422);
  });

  it('gives the key only once: an Idempotency-Key replay has key null', async () => {
    const headers = { 'idempotency-key': '"keys-replay-1"' };
    const first = await a.api('POST', '/api/keys', { scopes: ['campaigns'], name: 'replayed' }, headers);
    const again = await a.api('POST', '/api/keys', { scopes: ['campaigns'], name: 'replayed' }, headers);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toMatchObject({ id: first.body.id, key: null, name: 'replayed' });
  });

  it('authenticates through a narrow, volatile SECURITY DEFINER function with a pinned search_path, not callable by PUBLIC', async () => {
    const [fn] = await ownerQuery<{ volatile: string; definer: boolean; config: string[]; public_exec: boolean; app_exec: boolean }>(app.db.url,
      `SELECT p.provolatile AS volatile, p.prosecdef AS definer, p.proconfig AS config,
         has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec,
         has_function_privilege('postgate_app', p.oid, 'EXECUTE') AS app_exec
       FROM pg_proc p WHERE p.proname = 'auth_api_key'`);
    expect(fn).toMatchObject({ volatile: 'v', definer: true, app_exec: true, public_exec: false });
    expect(fn.config.join(' ')).toMatch(/^search_path=pg_catalog, public, pg_temp$/);
  });
});
