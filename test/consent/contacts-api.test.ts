// The contacts and lists API: validation (JSON errors with the field, nothing half-written),
// tenant isolation, filtered keyset paging, lists with exactly one default, scopes.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { consent } from './helpers.js';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other', fromEmail: 'hi@other.org', replyTo: 'help@other.org' });
let defaultListId: string;

beforeAll(async () => {
  defaultListId = (await t.api('GET', '/api/lists')).body.items[0].id;
});

const valid = (over: Record<string, unknown> = {}) => ({ email: 'valid@example.com', newsletter: true, consent, ...over });
const count = async (table: string, tenantId: string) =>
  Number((await ownerQuery(app.db.url, `SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`, [tenantId]))[0].n);

describe('registration input', () => {
  it.each([
    ['a malformed address', { email: 'not-an-address' }, 'email'],
    ['a header injection in the address', { email: 'a@example.com\r\nBcc: x@evil.test' }, 'email'],
    ['a header injection in the name', { name: 'Eve\r\nBcc: x@evil.test' }, 'name'],
    ['an oversized name', { name: 'x'.repeat(201) }, 'name'],
    ['a missing consent wording', { consent: { source: 'form' } }, 'consent.text'],
    ['a blank consent wording', { consent: { ...consent, text: '   ' } }, 'consent.text'],
    ['an oversized consent wording', { consent: { ...consent, text: 'x'.repeat(10_001) } }, 'consent.text'],
    ['an oversized source', { consent: { ...consent, source: 'x'.repeat(51) } }, 'consent.source'],
    ['an invalid IP', { consent: { ...consent, ip: '999.1.1.1' } }, 'consent.ip'],
    ['an oversized user agent', { consent: { ...consent, userAgent: 'x'.repeat(501) } }, 'consent.userAgent'],
    ['a missing newsletter choice', { newsletter: undefined }, 'newsletter'],
    ['a list id that is not a uuid', { newsletter: ['nope'] }, 'newsletter[0]'],
    ['an unknown field', { admin: true }, 'admin'],
    ['oversized attributes', { attributes: { blob: 'x'.repeat(17_000) } }, 'attributes'],
  ])('refuses %s with 422 and the field', async (_what, over, field) => {
    const r = await t.api('POST', '/api/contacts', valid(over));
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field });
  });

  it('refuses a list of another tenant or an unknown list, writing nothing', async () => {
    const foreign = (await other.api('GET', '/api/lists')).body.items[0].id;
    for (const ids of [[defaultListId, foreign], ['00000000-0000-4000-8000-000000000000']]) {
      const r = await t.api('POST', '/api/contacts', valid({ newsletter: ids }));
      expect(r.status).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'unknown_list', field: `newsletter[${ids.length - 1}]` });
    }
    for (const table of ['contacts', 'subscriptions', 'consent_events', 'consent_texts', 'messages']) expect(await count(table, t.id)).toBe(0);
  });

  it('refuses a payment card number anywhere in the body', async () => {
    const r = await t.api('POST', '/api/contacts', valid({ attributes: { note: '4111 1111 1111 1111' } }));
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('card_data_rejected');
  });

  it('requires the subscribers scope', async () => {
    const key = (await t.api('POST', '/api/keys', { scopes: ['transactional'] })).body.key;
    const res = await fetch(`${app.url}/api/contacts`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe('forbidden_scope');
  });

  it('normalises the address: trimmed, IDNA domain, unique case-insensitively', async () => {
    const r = await t.api('POST', '/api/contacts', valid({ email: '  Jose@Bücher.Example ', newsletter: false }));
    expect(r.status).toBe(201);
    expect(r.body.email).toBe('Jose@xn--bcher-kva.example');
    const again = await t.api('POST', '/api/contacts', valid({ email: 'jose@XN--BCHER-KVA.example', newsletter: false }));
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(r.body.id);
  });
});

describe('contacts lookup and listing', () => {
  const ids: string[] = [];
  let product: string;

  beforeAll(async () => {
    product = (await t.api('POST', '/api/lists', { name: 'Product' })).body.id;
    for (let i = 0; i < 5; i++) {
      const r = await t.api('POST', '/api/contacts', valid({ email: `p${i}@example.com`, newsletter: i % 2 === 0 ? [product] : false }));
      ids.push(r.body.id);
    }
    await other.api('POST', '/api/contacts', valid({ email: 'p0@example.com' }));
  });

  it('returns one contact with its subscriptions, and 404 for another tenant\'s', async () => {
    const r = await t.api('GET', `/api/contacts/${ids[0]}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: ids[0], email: 'p0@example.com', status: 'pending',
      subscriptions: [{ listId: product, listName: 'Product', status: 'unconfirmed' }] });
    const foreignId = (await other.api('GET', '/api/contacts?email=p0@example.com')).body.items[0].id;
    expect((await t.api('GET', `/api/contacts/${foreignId}`)).status).toBe(404);
    expect((await t.api('GET', '/api/contacts/not-a-uuid')).status).toBe(404);
  });

  it('filters by email (case-insensitive), list, subscription status and status', async () => {
    const byEmail = await t.api('GET', '/api/contacts?email=P3@EXAMPLE.com');
    expect(byEmail.body.items.map((c: any) => c.id)).toEqual([ids[3]]);
    const byList = await t.api('GET', `/api/contacts?listId=${product}`);
    expect(byList.body.items.map((c: any) => c.id)).toEqual([ids[0], ids[2], ids[4]]);
    const unconfirmed = await t.api('GET', `/api/contacts?listId=${product}&subscriptionStatus=subscribed`);
    expect(unconfirmed.body.items).toEqual([]);
    const active = await t.api('GET', '/api/contacts?status=active');
    expect(active.body.items).toEqual([]);
    expect((await t.api('GET', '/api/contacts?status=bogus')).body.error).toMatchObject({ code: 'invalid', field: 'query.status' });
  });

  it('pages with a cursor and a limit', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: any = await t.api('GET', `/api/contacts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items.map((c: any) => c.id));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
    expect(seen).toHaveLength(await count('contacts', t.id));
    expect((await t.api('GET', '/api/contacts?limit=0')).status).toBe(422);
    expect((await t.api('GET', '/api/contacts?cursor=garbage')).body.error.field).toBe('query.cursor');
  });

  it('opts a pending contact in to another list with a new activation (404 for unknown contacts)', async () => {
    const r = await t.api('POST', `/api/contacts/${ids[1]}/subscriptions`, { listIds: [defaultListId], consent });
    expect(r.status).toBe(202);
    expect(r.body.activation).not.toBeNull();
    const missing = await t.api('POST', '/api/contacts/00000000-0000-4000-8000-000000000000/subscriptions', { listIds: [defaultListId], consent });
    expect(missing.status).toBe(404);
    expect((await t.api('POST', `/api/contacts/${ids[1]}/subscriptions`, { listIds: [], consent })).body.error.field).toBe('listIds');
  });
});

describe('lists', () => {
  it('creates, renames and moves the default; the default can only be moved', async () => {
    const created = await other.api('POST', '/api/lists', { name: 'Weekly', description: 'Every Monday' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Weekly', description: 'Every Monday', isDefault: false });
    const moved = await other.api('PATCH', `/api/lists/${created.body.id}`, { isDefault: true, name: 'Weekly digest' });
    expect(moved.body).toMatchObject({ name: 'Weekly digest', isDefault: true });
    const all = (await other.api('GET', '/api/lists')).body.items;
    expect(all.filter((l: any) => l.isDefault).map((l: any) => l.id)).toEqual([created.body.id]);
    expect((await other.api('PATCH', `/api/lists/${created.body.id}`, { isDefault: false })).status).toBe(422);
    const reg = await other.api('POST', '/api/contacts', valid({ email: 'def@example.com', newsletter: true }));
    expect(reg.body.subscriptions.map((s: any) => s.listId)).toEqual([created.body.id]);
  });

  it('answers 404 for a list of another tenant and leaves the default in place', async () => {
    const mine = (await other.api('GET', '/api/lists')).body.items.find((l: any) => l.isDefault).id;
    expect((await t.api('PATCH', `/api/lists/${mine}`, { isDefault: true })).status).toBe(404);
    expect((await t.api('GET', `/api/lists/${mine}`)).status).toBe(404);
    const tDefaults = (await t.api('GET', '/api/lists')).body.items.filter((l: any) => l.isDefault);
    expect(tDefaults.map((l: any) => l.id)).toEqual([defaultListId]);
    expect((await t.api('POST', '/api/lists', { name: 'x\r\ny' })).body.error.field).toBe('name');
  });
});
