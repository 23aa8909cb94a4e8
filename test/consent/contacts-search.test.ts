// GET /api/contacts?q=…: part of the address or the name, case-insensitive, LIKE wildcards taken
// literally, with the existing filters and cursor paging; the trigram indexes of migration 071 serve
// it (EXPLAIN over generated rows). PATCH /api/contacts/{id}: name and attribute merges.
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other', fromEmail: 'hi@other.org', replyTo: 'help@other.org' });

const PEOPLE: [string, string | null][] = [
  ['anna.schmidt@gmx.de', 'Anna Schmidt'],
  ['BERND@GMX.NET', 'Bernd Müller'],
  ['carla@example.com', 'Carla Gmxson'],
  ['dora_x@example.com', 'Dora'],
  ['dorayx@example.com', 'Dora Y'],
  ['percent%sign@example.com', null],
  ['back\\slash@example.com', null],
  ['eve@example.org', 'Eve 100% Real'],
];

const emails = (r: { body: { items: { email: string }[] } }) => r.body.items.map((c) => c.email).sort();
const search = (q: string, extra = '') => t.api('GET', `/api/contacts?q=${encodeURIComponent(q)}${extra}`);

beforeAll(async () => {
  const g = given(app, t);
  for (const [email, name] of PEOPLE) await g.pendingContact(email, { name });
  await given(app, other).pendingContact('other@gmx.de', { name: 'Other Gmx' });
});

describe('search by q', () => {
  it('matches part of the address or the name, case-insensitively, in this tenant only', async () => {
    expect(emails(await search('gmx'))).toEqual(['BERND@GMX.NET', 'anna.schmidt@gmx.de', 'carla@example.com']);
    expect(emails(await search('SCHMIDT'))).toEqual(['anna.schmidt@gmx.de']);
    expect(emails(await search('müller'))).toEqual(['BERND@GMX.NET']);
    expect(emails(await search('nobody-here'))).toEqual([]);
  });

  it('takes %, _ and \\ literally', async () => {
    expect(emails(await search('%'))).toEqual(['eve@example.org', 'percent%sign@example.com']);
    expect(emails(await search('a_x'))).toEqual(['dora_x@example.com']); // not dorayx
    expect(emails(await search('\\'))).toEqual(['back\\slash@example.com']);
    expect(emails(await search('_'))).toEqual(['dora_x@example.com']);
  });

  it('combines with status and the exact email filter, and pages with the cursor', async () => {
    expect(emails(await search('example', '&status=active'))).toEqual([]);
    expect(emails(await search('gmx', '&email=anna.schmidt@gmx.de'))).toEqual(['anna.schmidt@gmx.de']);
    expect(emails(await t.api('GET', '/api/contacts?email=bernd@gmx.net'))).toEqual(['BERND@GMX.NET']); // exact filter unchanged
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 10; i++) {
      const r = await search('example', `&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...emails(r));
      if (!r.body.nextCursor) break;
      cursor = r.body.nextCursor;
    }
    expect(seen.sort()).toEqual(PEOPLE.map(([e]) => e).filter((e) => e.includes('example')).sort());
  });

  it('refuses an empty, oversized or control-character q with 422 naming query.q', async () => {
    for (const q of ['', '   ', 'x'.repeat(201), 'a\u0001b']) {
      const r = await search(q);
      expect(r.status, JSON.stringify(q)).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'invalid', field: 'query.q' });
    }
  });

  it('is served by the trigram indexes: the search function, owner-run and tenant-bound (EXPLAIN over 30,000 generated contacts)', async () => {
    await ownerQuery(app.db.url, `INSERT INTO contacts (tenant_id, email, email_key, name)
      SELECT $1, e, e, 'Person ' || n FROM generate_series(1, 30000) n, LATERAL (SELECT 'user' || n || '@host' || (n % 97) || '.example') x(e)`, [t.id]);
    await ownerQuery(app.db.url, 'ANALYZE contacts');
    // The statement contact_search_page runs (as the owner: no RLS), with its literal pattern. At 30,000 rows
    // a scan of the tenant is as cheap, so (in a transaction rolled back) the scan and the tenant's B-trees
    // are taken away: the trigram indexes must serve this statement's shape (at 200,000 contacts the planner
    // takes them by itself: see README, Contacts).
    const c = new pg.Client({ connectionString: app.db.url });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL enable_seqscan = off');
      await c.query('DROP INDEX contacts_tenant_created, contacts_tenant_status_created');
      const plan = await c.query(`EXPLAIN SELECT c.id FROM contacts c WHERE c.tenant_id = '${t.id}'
        AND (c.email_key LIKE '%gmx%' ESCAPE '\\' OR lower(c.name) LIKE '%gmx%' ESCAPE '\\') ORDER BY c.created_at, c.id LIMIT 50`);
      const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(text).toContain('Bitmap Index Scan on contacts_email_key_trgm');
      expect(text).toContain('Bitmap Index Scan on contacts_name_trgm');
    } finally { await c.query('ROLLBACK'); await c.end(); }
    const started = performance.now();
    expect(emails(await search('gmx'))).toHaveLength(3);
    expect(emails(await search('user2999', '&limit=20'))).toHaveLength(11); // user2999, user29990..29999
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('the search function sees only the calling tenant (app_tenant), never another', async () => {
    const rows = await app.pg.deps.db.withTenant(t.id, async (c) =>
      (await c.query<{ id: string }>("SELECT contact_search_page('%gmx%', NULL, NULL, NULL, NULL, NULL, 500) AS id")).rows);
    const tenants = await ownerQuery(app.db.url, 'SELECT DISTINCT tenant_id FROM contacts WHERE id = ANY($1::uuid[])', [rows.map((r) => r.id)]);
    expect(tenants).toEqual([{ tenant_id: t.id }]);
    expect(await ownerQuery(app.db.url, "SELECT count(*)::int AS n FROM contacts WHERE email_key LIKE '%gmx%' AND tenant_id <> $1", [t.id])).toEqual([{ n: 1 }]);
  });
});

describe('PATCH /api/contacts/{id}', () => {
  it('sets the name and merges attributes; null removes a key', async () => {
    const c = await given(app, t).pendingContact('patch@example.com', { name: 'Old', attributes: { city: 'Berlin', plan: 'free', n: 1 } });
    const r = await t.api('PATCH', `/api/contacts/${c.id}`, { name: 'New Name', attributes: { plan: 'pro', city: null, tags: ['a'] } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: c.id, name: 'New Name', attributes: { plan: 'pro', n: 1, tags: ['a'] } });
    expect(r.body.attributes).not.toHaveProperty('city');
    const cleared = await t.api('PATCH', `/api/contacts/${c.id}`, { name: null });
    expect(cleared.body).toMatchObject({ name: null, attributes: { plan: 'pro', n: 1, tags: ['a'] } });
  });

  it('refuses bad input with 422 naming the field, unknown contacts with 404, erased ones with 409; nothing half-written', async () => {
    const c = await given(app, t).pendingContact('patch-bad@example.com', { name: 'Keep', attributes: { big: 'x'.repeat(10_000) } });
    for (const [body, field] of [
      [{}, '$'], [{ name: 'Eve\r\nBcc: x@evil.test' }, 'name'], [{ attributes: { blob: 'x'.repeat(17_000) } }, 'attributes'],
      [{ email: 'new@example.com' }, 'email'], [{ attributes: { more: 'y'.repeat(10_000) } }, 'attributes'],
    ] as const) {
      const r = await t.api('PATCH', `/api/contacts/${c.id}`, body);
      expect(r.status, JSON.stringify(body).slice(0, 60)).toBe(422);
      expect(r.body.error.field ?? '').toBe(field);
    }
    expect((await t.api('GET', `/api/contacts/${c.id}`)).body).toMatchObject({ name: 'Keep', attributes: { big: 'x'.repeat(10_000) } });
    expect((await t.api('PATCH', '/api/contacts/00000000-0000-4000-8000-000000000000', { name: 'X' })).status).toBe(404);
    expect((await t.api('PATCH', '/api/contacts/not-a-uuid', { name: 'X' })).status).toBe(404);
    const foreign = await given(app, other).pendingContact('foreign-patch@example.com');
    expect((await t.api('PATCH', `/api/contacts/${foreign.id}`, { name: 'X' })).status).toBe(404);
    const gone = await given(app, t).pendingContact('erase-me@example.com');
    expect((await t.api('DELETE', `/api/contacts/${gone.id}`)).status).toBeLessThan(300); // the real erasure
    const erased = await t.api('PATCH', `/api/contacts/${gone.id}`, { attributes: { a: 1 } });
    expect(erased.status).toBe(409);
    expect(erased.body.error).toMatchObject({ code: 'contact_not_eligible', field: 'id' });
  });
});
