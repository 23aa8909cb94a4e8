// Segments over real PostgreSQL and HTTP: CRUD, counts for every operator against hand-checked
// contacts (mistyped attributes included: never a cast error), 422s naming the JSON path, injection
// attempts (a 422 or a correct count, never a 500), the statement timeout, and tenant isolation.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { countSegment } from '../../src/audience/segments.js';
import { parseSegmentFilter } from '../../src/audience/segment-filter.js';
import { DomainError } from '../../src/domain-error.js';
import { loadConfig } from '../../src/config.js';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other', fromEmail: 'hi@other.org', replyTo: 'help@other.org' });
const third = tenant({ name: 'Third', fromEmail: 'hi@third.org', replyTo: 'help@third.org' }); // its own contacts: t's counts stay hand-checked
let L1: string;
let L2: string;

// A–E are the tenant's live contacts; F is erased (never counted). Each attribute is hand-typed.
beforeAll(async () => {
  const g = given(app, t);
  L1 = await g.list('Segment one');
  L2 = await g.list('Segment two');
  const a = await g.subscribedContact('a@seg.example', { lists: [L1], attributes: { plan: 'pro', age: 30, city: 'Berlin', tags: ['vip', 'beta'], score: 5, since: '2024-03-01' } });
  const b = await g.subscribedContact('b@seg.example', { lists: [L1, L2], attributes: { plan: 'free', age: '30', city: 'Köln', tags: 'VIP-lounge', score: '7', since: '2023-12-31' } });
  const c = await g.subscribedContact('c@seg.example', { lists: [L2], attributes: { plan: 'PRO', age: 17, city: 'Paris', tags: ['beta'], score: 3, vip: true } });
  const d = await g.pendingContact('d@seg.example', { attributes: { plan: null, age: 45.5, tags: [], score: 2.9, nested: { a: 1 } } });
  const e = await g.subscribedContact('e@seg.example', { lists: [L1], attributes: { age: [30], city: ['Berlin'] } });
  const f = await g.subscribedContact('f@seg.example', { lists: [L1], attributes: { plan: 'pro' } });
  const sql = (q: string, p: unknown[]) => ownerQuery(app.db.url, q, p);
  await sql(`INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) VALUES ($1, $2, $3, 'unconfirmed')`, [t.id, c.id, L1]);
  await sql(`UPDATE subscriptions SET status = 'unsubscribed' WHERE contact_id = $1`, [e.id]);
  const at = [[a, '2024-01-10', '2024-06-01'], [b, '2024-02-10', '2024-06-02'], [c, '2024-03-10', '2024-06-03'], [d, '2024-04-10', null], [e, '2024-05-10', '2024-06-05']] as const;
  for (const [x, created, verified] of at) await sql('UPDATE contacts SET created_at = $2, verified_at = $3 WHERE id = $1', [x.id, created, verified]);
  await sql("UPDATE contacts SET status = 'erased', email = NULL, email_key = NULL WHERE id = $1", [f.id]);
  // Another tenant's contact that would match most filters: never counted for t.
  await given(app, other).subscribedContact('z@other.example', { attributes: { plan: 'pro', age: 30, city: 'Berlin', tags: ['vip'] } });
});

async function count(filter: unknown, who = t): Promise<number> {
  const r = await who.api('POST', '/api/segments/count', { filter });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.count as number;
}

describe('counts, operator by operator, against hand-checked contacts', () => {
  const cases: [string, () => unknown, number][] = [
    ['eq string (type- and case-strict)', () => ({ attribute: 'plan', op: 'eq', value: 'pro' }), 1],
    ['eq number: "30" and [30] are not 30', () => ({ attribute: 'age', op: 'eq', value: 30 }), 1],
    ['eq string "30"', () => ({ attribute: 'age', op: 'eq', value: '30' }), 1],
    ['eq boolean', () => ({ attribute: 'vip', op: 'eq', value: true }), 1],
    ['ne: present, not null, different', () => ({ attribute: 'plan', op: 'ne', value: 'pro' }), 2],
    ['in', () => ({ attribute: 'city', op: 'in', value: ['Berlin', 'Köln', 'Lyon'] }), 2],
    ['contains: array element or substring (case-insensitive)', () => ({ attribute: 'tags', op: 'contains', value: 'vip' }), 2],
    ['contains: array element only when the array has it', () => ({ attribute: 'tags', op: 'contains', value: 'beta' }), 2],
    ['contains on a string attribute', () => ({ attribute: 'city', op: 'contains', value: 'öl' }), 1],
    ['gt number: a numeric string is not a number', () => ({ attribute: 'score', op: 'gt', value: 3 }), 1],
    ['gte number', () => ({ attribute: 'score', op: 'gte', value: 3 }), 2],
    ['lt number (decimals)', () => ({ attribute: 'score', op: 'lt', value: 3 }), 1],
    ['lte number', () => ({ attribute: 'score', op: 'lte', value: 2.9 }), 1],
    ['between numbers, inclusive; strings, arrays and objects skipped', () => ({ attribute: 'age', op: 'between', value: [17, 45.5] }), 3],
    ['between numbers, narrow', () => ({ attribute: 'age', op: 'between', value: [18, 40] }), 1],
    ['lt string (ISO date as text)', () => ({ attribute: 'since', op: 'lt', value: '2024-01-01' }), 1],
    ['gte string', () => ({ attribute: 'since', op: 'gte', value: '2024' }), 1],
    ['gt number on string attributes: no match, no error', () => ({ attribute: 'plan', op: 'gt', value: 1 }), 0],
    ['gt string on numbers and objects: no match, no error', () => ({ attribute: 'nested', op: 'gt', value: 'a' }), 0],
    ['exists: present and not null', () => ({ attribute: 'plan', op: 'exists' }), 3],
    ['exists an object attribute', () => ({ attribute: 'nested', op: 'exists' }), 1],
    ['status', () => ({ status: 'active' }), 4],
    ['status pending', () => ({ status: 'pending' }), 1],
    ['list (subscribed by default)', () => ({ list: L1 }), 2],
    ['list unconfirmed', () => ({ list: L1, subscription: 'unconfirmed' }), 1],
    ['list unsubscribed', () => ({ list: L1, subscription: 'unsubscribed' }), 1],
    ['another list', () => ({ list: L2 }), 2],
    ['createdAt before (strict)', () => ({ field: 'createdAt', op: 'before', value: '2024-02-10' }), 1],
    ['createdAt after', () => ({ field: 'createdAt', op: 'after', value: '2024-03-10T00:00:00Z' }), 2],
    ['createdAt between, inclusive', () => ({ field: 'createdAt', op: 'between', value: ['2024-02-10', '2024-03-10'] }), 2],
    ['confirmedAt after', () => ({ field: 'confirmedAt', op: 'after', value: '2024-01-01' }), 4],
    ['not confirmedAt after: the unconfirmed (no NULL trap)', () => ({ not: { field: 'confirmedAt', op: 'after', value: '2024-01-01' } }), 1],
    ['all', () => ({ all: [{ list: L1 }, { attribute: 'plan', op: 'eq', value: 'pro' }] }), 1],
    ['any', () => ({ any: [{ status: 'pending' }, { attribute: 'city', op: 'eq', value: 'Paris' }] }), 2],
    ['not', () => ({ not: { attribute: 'plan', op: 'exists' } }), 2],
    ['empty all: everyone (erased never)', () => ({ all: [] }), 5],
    ['empty any: no one', () => ({ any: [] }), 0],
  ];
  for (const [what, filter, expected] of cases) {
    it(what, async () => {
      expect(await count(filter())).toBe(expected);
    });
  }
});

describe('CRUD', () => {
  it('creates, reads, lists, renames, replaces the filter, counts and deletes a segment', async () => {
    const created = await t.api('POST', '/api/segments', { name: '  Pro users ', filter: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }, { field: 'createdAt', op: 'after', value: '2020-01-01' }] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name: 'Pro users', filter: { all: [{ attribute: 'plan' }, { value: '2020-01-01T00:00:00.000Z' }] } });
    const id = created.body.id as string;
    expect((await t.api('GET', `/api/segments/${id}`)).body).toEqual(created.body);
    expect((await t.api('GET', '/api/segments')).body.items.map((s: { id: string }) => s.id)).toContain(id);
    expect((await t.api('POST', `/api/segments/${id}/count`)).body).toEqual({ count: 1 });
    const patched = await t.api('PATCH', `/api/segments/${id}`, { name: 'Listed', filter: { list: L1 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Listed', filter: { list: L1, subscription: 'subscribed' } });
    expect((await t.api('POST', `/api/segments/${id}/count`)).body).toEqual({ count: 2 });
    expect((await t.api('DELETE', `/api/segments/${id}`)).status).toBe(204);
    expect((await t.api('GET', `/api/segments/${id}`)).status).toBe(404);
    expect((await t.api('DELETE', `/api/segments/${id}`)).status).toBe(404);
    expect((await t.api('POST', `/api/segments/${id}/count`)).status).toBe(404);
    expect((await t.api('GET', '/api/segments/not-a-uuid')).status).toBe(404);
  });

  it('names are unique per tenant (case-insensitive, trimmed): 409 segment_name_taken; another tenant may use the name', async () => {
    expect((await t.api('POST', '/api/segments', { name: 'VIPs', filter: { attribute: 'vip', op: 'eq', value: true } })).status).toBe(201);
    const dup = await t.api('POST', '/api/segments', { name: ' vips', filter: { all: [] } });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: 'segment_name_taken', field: 'name' });
    const second = await t.api('POST', '/api/segments', { name: 'Second', filter: { all: [] } });
    const rename = await t.api('PATCH', `/api/segments/${second.body.id}`, { name: 'VIPS' });
    expect(rename.status).toBe(409);
    expect((await other.api('POST', '/api/segments', { name: 'VIPs', filter: { all: [] } })).status).toBe(201);
  });

  it('a segment a campaign uses cannot be deleted: 409 segment_in_use', async () => {
    const s = await t.api('POST', '/api/segments', { name: 'In use', filter: { all: [] } });
    const templateId = await given(app, t).template();
    const campaign = await given(app, t).campaign(templateId, [L1]);
    await ownerQuery(app.db.url, 'UPDATE campaigns SET segment_id = $2 WHERE id = $1', [campaign.id, s.body.id]);
    const del = await t.api('DELETE', `/api/segments/${s.body.id}`);
    expect(del.status).toBe(409);
    expect(del.body.error).toMatchObject({ code: 'segment_in_use' });
    expect((await t.api('GET', `/api/segments/${s.body.id}`)).status).toBe(200);
  });
});

describe('bad and hostile filters', () => {
  const bad: [string, unknown, string][] = [
    ['a control character in an attribute name', { all: [{ status: 'active' }, { status: 'pending' }, { attribute: 'x\u0007y', op: 'eq', value: 1 }] }, 'filter.all[2].attribute'],
    ['an unknown list', { all: [{ status: 'active' }, { any: [{ list: '00000000-0000-4000-8000-000000000000' }] }] }, 'filter.all[1].any[0].list'],
    ['numbers between reversed', { attribute: 'age', op: 'between', value: [40, 18] }, 'filter.value'],
    ['dates between reversed', { all: [{ field: 'createdAt', op: 'between', value: ['2024-05-02', '2024-05-01'] }] }, 'filter.all[0].value'],
    ['a wrong value type', { all: [{ status: 'active' }, { status: 'active' }, { attribute: 'age', op: 'between', value: 'a lot' }] }, 'filter.all[2].value'],

    ['a status that is SQL', { status: "active' OR 'x'='x" }, 'filter.status'],
    ['raw SQL', { sql: 'SELECT 1' }, 'filter'],
    ['null', null, 'filter'],
    ['too deep', { not: { not: { not: { not: { not: { not: { status: 'active' } } } } } } }, 'filter.not.not.not.not.not'],
    ['too many values in in', { attribute: 'c', op: 'in', value: Array.from({ length: 1001 }, (_, i) => `v${i}`) }, 'filter.value'],
    ['a string over 1 KiB', { attribute: 'c', op: 'eq', value: 'x'.repeat(1025) }, 'filter.value'],
    ['a NUL character', { attribute: 'c', op: 'contains', value: 'a\u0000b' }, 'filter.value'],
  ];
  it('__proto__ as a key: 422 reserved_key naming filter.any[0].__proto__ (refused for every JSON body before the schema)', async () => {
    const filter = JSON.parse('{"any":[{"__proto__":{"status":"active"}}]}') as unknown;
    for (const path of ['/api/segments/count', '/api/segments']) {
      const r = await t.api('POST', path, path.endsWith('count') ? { filter } : { name: 'bad proto', filter });
      expect(r.status, JSON.stringify(r.body)).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'reserved_key', field: 'filter.any[0].__proto__' });
    }
  });
  for (const [what, filter, field] of bad) {
    it(`${what}: 422 invalid_segment naming ${field}`, async () => {
      for (const path of ['/api/segments/count', '/api/segments']) {
        const r = await t.api('POST', path, path.endsWith('count') ? { filter } : { name: `bad ${what}`, filter });
        expect(r.status, JSON.stringify(r.body)).toBe(422);
        expect(r.body.error).toMatchObject({ code: 'invalid_segment', field });
      }
    });
  }

  it('a body without a filter is 422 invalid naming filter', async () => {
    const r = await t.api('POST', '/api/segments/count', {});
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field: 'filter' });
  });

  it('injection in values is only data: a correct count, and the tables are intact', async () => {
    const values = ["'; DROP TABLE contacts; --", 'pro" OR "1"="1', '{"plan":"pro"}', '\\"},{"plan":"pro', "O'Brien", '%', '_', '$1', '🙂 ü \\\\', "1)) OR TRUE --"];
    for (const v of values) {
      expect(await count({ attribute: 'plan', op: 'eq', value: v })).toBe(0);
      expect(await count({ attribute: 'plan', op: 'in', value: [v, 'pro'] })).toBe(1);
      expect(await count({ attribute: 'plan', op: 'contains', value: v })).toBe(0);
      expect(await count({ attribute: 'plan', op: 'lt', value: v })).toBeGreaterThanOrEqual(0);
    }
    expect(await count({ all: [] })).toBe(5);
  });

  it('a filter nested past the body shape limit is refused before it is parsed (413), never a 500', async () => {
    let deep: unknown = { status: 'active' };
    for (let i = 0; i < 100; i++) deep = { not: deep };
    const r = await t.api('POST', '/api/segments/count', { filter: deep });
    expect([413, 422]).toContain(r.status);
  });
});

describe('the count runs under a statement timeout, a few at a time', () => {
  it('sets statement_timeout for its transaction only, and answers segment_count_timeout when it is over', async () => {
    const db = app.pg.deps.db;
    const shown = await db.withTenant(t.id, async (c) => {
      await countSegment(c, parseSegmentFilter({ all: [] }));
      return (await c.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0].statement_timeout;
    });
    expect(shown).toBe('5s');
    expect((await ownerQuery<{ s: string }>(app.db.url, 'SHOW statement_timeout'))[0]).toEqual({ statement_timeout: '0' });
    await given(app, t).contacts({ prefix: 'slow', n: 20_000, listId: L2 });
    const heavy = parseSegmentFilter({ any: Array.from({ length: 50 }, (_, i) => ({ attribute: 'city', op: 'contains', value: `zz${i}` })) });
    const err = await db.withTenant(t.id, (c) => countSegment(c, heavy, 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'segment_count_timeout', field: 'filter' });
    // A burst of heavy counts: at most 2 of a tenant at once, the rest 429 with Retry-After; never a 500.
    const raw = { any: Array.from({ length: 50 }, (_, i) => ({ attribute: 'city', op: 'contains', value: `zz${i}` })) };
    const burst = await Promise.all(Array.from({ length: 8 }, () => t.api('POST', '/api/segments/count', { filter: raw })));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((x) => x === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((x) => x === 200 || x === 429)).toBe(true);
    const limited = burst.find((r) => r.status === 429);
    expect(limited?.body.error.code).toBe('rate_limited');
    expect(limited?.headers.get('retry-after')).toBe('1');
    expect(burst.filter((r) => r.status === 200).every((r) => r.body.count === 0)).toBe(true);
    await ownerQuery(app.db.url, "DELETE FROM contacts WHERE email LIKE 'slow%'");
  });

  it('SEGMENT_COUNT_TIMEOUT_MS is the API\'s timeout: 5000 by default, a bad value stops the start naming it', () => {
    expect(app.pg.config.SEGMENT_COUNT_TIMEOUT_MS).toBe(5000);
    expect(loadConfig({ SEGMENT_COUNT_TIMEOUT_MS: '900' }).SEGMENT_COUNT_TIMEOUT_MS).toBe(900);
    expect(() => loadConfig({ SEGMENT_COUNT_TIMEOUT_MS: '5' })).toThrow(/SEGMENT_COUNT_TIMEOUT_MS/);
  });
});

describe('tenant isolation', () => {
  it('holds in a parallel plan: the workers see the transaction\'s tenant (app_tenant() is parallel safe, 069)', async () => {
    const filter = parseSegmentFilter({ attribute: 'plan', op: 'eq', value: 'pro' });
    const [n, plan] = await app.pg.deps.db.withTenant(t.id, async (c) => {
      await c.query('SET LOCAL debug_parallel_query = on');
      const p = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT count(*) FROM contacts ct WHERE ct.attributes @> '{"plan": "pro"}'`);
      return [await countSegment(c, filter), p.rows.map((r) => r['QUERY PLAN']).join('\n')] as const;
    });
    expect(plan).toMatch(/Gather/);
    expect(n).toBe(1);
  });

  it("counts only the tenant's contacts; another tenant's segments are not found", async () => {
    expect(await count({ attribute: 'plan', op: 'eq', value: 'pro' }, other)).toBe(1);
    const foreign = await other.api('POST', '/api/segments/count', { filter: { list: L1 } }); // t's list id names nothing for other
    expect(foreign.status).toBe(422);
    expect(foreign.body.error).toMatchObject({ code: 'invalid_segment', field: 'filter.list' });
    const s = await t.api('POST', '/api/segments', { name: 'Mine', filter: { all: [] } });
    for (const [m, p] of [['GET', `/api/segments/${s.body.id}`], ['PATCH', `/api/segments/${s.body.id}`], ['DELETE', `/api/segments/${s.body.id}`], ['POST', `/api/segments/${s.body.id}/count`]]) {
      expect((await other.api(m, p, m === 'PATCH' ? { name: 'Theirs' } : undefined)).status).toBe(404);
    }
    expect((await other.api('GET', '/api/segments')).body.items.map((x: { name: string }) => x.name)).not.toContain('Mine');
    expect((await t.api('GET', `/api/segments/${s.body.id}`)).body.name).toBe('Mine');
  });
});

describe('lists: only live ones', () => {
  it('refuses to save or count a filter naming a deleted list (422 at its path); a segment saved before the delete counts no one from it', async () => {
    const g = given(app, third);
    const gone = (await third.api('POST', '/api/lists', { name: 'Soon gone' })).body.id as string;
    const kept = await g.list('Kept');
    await g.subscribedContact('one@gone.example', { lists: [gone] });
    await g.subscribedContact('two@gone.example', { lists: [gone, kept] });
    expect(await count({ list: gone }, third)).toBe(2);
    const saved = await third.api('POST', '/api/segments', { name: 'On the gone list', filter: { any: [{ list: gone }, { list: kept }] } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    const only = await third.api('POST', '/api/segments', { name: 'Only gone', filter: { list: gone } });
    expect((await third.api('POST', `/api/segments/${saved.body.id}/count`)).body).toEqual({ count: 2 });

    expect((await third.api('DELETE', `/api/lists/${gone}`)).status).toBe(204);
    for (const [path, body] of [['/api/segments/count', { filter: { list: gone } }], ['/api/segments', { name: 'After', filter: { list: gone } }]] as const) {
      const r = await third.api('POST', path, body);
      expect(r.status, JSON.stringify(r.body)).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'invalid_segment', field: 'filter.list' });
    }
    const patch = await third.api('PATCH', `/api/segments/${saved.body.id}`, { filter: { all: [{ list: kept }, { not: { list: gone } }] } });
    expect(patch.status).toBe(422);
    expect(patch.body.error).toMatchObject({ code: 'invalid_segment', field: 'filter.all[1].not.list' });
    // Saved before the delete: the deleted list's subscriptions (kept by the soft delete) count for no one.
    expect((await third.api('POST', `/api/segments/${saved.body.id}/count`)).body).toEqual({ count: 1 });
    expect((await third.api('POST', `/api/segments/${only.body.id}/count`)).body).toEqual({ count: 0 });
    expect((await third.api('GET', `/api/segments/${only.body.id}`)).status).toBe(200);
  });
});

describe('attribute names: any name the API or an import stores', () => {
  it('counts attributes whose names have spaces, punctuation or SQL in them (bound as parameters)', async () => {
    const g = given(app, third);
    await g.subscribedContact('names1@attr.example', { attributes: { 'Phone Number': '+49 30 1234', "x' OR 1=1; --": 3 } });
    const viaApi = await g.subscribedContact('names2@attr.example', { attributes: {} });
    const patched = await third.api('PATCH', `/api/contacts/${viaApi.id}`, { attributes: { 'Phone Number': '+33 1 2345', 'Städte (alt)': ['Köln'] } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(await count({ attribute: 'Phone Number', op: 'exists' }, third)).toBe(2);
    expect(await count({ attribute: 'Phone Number', op: 'contains', value: '+49' }, third)).toBe(1);
    expect(await count({ attribute: "x' OR 1=1; --", op: 'gt', value: 2 }, third)).toBe(1);
    expect(await count({ attribute: 'Städte (alt)', op: 'contains', value: 'Köln' }, third)).toBe(1);
    const saved = await third.api('POST', '/api/segments', { name: 'Has a phone', filter: { attribute: 'Phone Number', op: 'exists' } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    expect((await third.api('POST', `/api/segments/${saved.body.id}/count`)).body).toEqual({ count: 2 });
    const long = await third.api('POST', '/api/segments/count', { filter: { attribute: 'n'.repeat(101), op: 'exists' } });
    expect(long.status).toBe(422);
    expect(long.body.error).toMatchObject({ code: 'invalid_segment', field: 'filter.attribute' });
  });
});

describe('GET /api/segments/attributes: what a filter builder offers', () => {
  it('lists the attribute names in use with the JSON types of their values, by name; erased contacts and other tenants never', async () => {
    expect((await t.api('GET', '/api/segments/attributes')).body).toEqual({
      items: [
        { name: 'age', types: ['array', 'number', 'string'] }, { name: 'city', types: ['array', 'string'] },
        { name: 'nested', types: ['object'] }, { name: 'plan', types: ['string'] }, { name: 'score', types: ['number', 'string'] },
        { name: 'since', types: ['string'] }, { name: 'tags', types: ['array', 'string'] }, { name: 'vip', types: ['boolean'] },
      ],
      nextCursor: null,
    });
    const fresh = await app.tenant({ name: 'Attr', fromEmail: 'hi@attr.org', replyTo: 'help@attr.org' });
    const g = given(app, fresh);
    await g.pendingContact('kept@attr.example', { attributes: { Tier: 'gold' } });
    const gone = await g.subscribedContact('gone@attr.example', { attributes: { secret: 'x' } });
    await ownerQuery(app.db.url, "UPDATE contacts SET status = 'erased', email = NULL, email_key = NULL WHERE id = $1", [gone.id]);
    expect((await fresh.api('GET', '/api/segments/attributes')).body.items).toEqual([{ name: 'Tier', types: ['string'] }]);
    const campaignsOnly = await app.tenant({ scopes: ['campaigns'] });
    expect((await campaignsOnly.api('GET', '/api/segments/attributes')).status).toBe(403);
  });
});
