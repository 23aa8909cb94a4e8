// The lists API of issue 16: visibility, archive, soft delete, names unique per tenant; and what
// archived, private and deleted lists mean for opt-ins, the activation page and campaigns.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { consent, linkOf, waitForMail } from './helpers.js';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other', fromEmail: 'hi@other.org', replyTo: 'help@other.org' });
let defaultListId: string;

beforeAll(async () => {
  defaultListId = (await t.api('GET', '/api/lists')).body.items[0].id;
});

const newList = async (body: Record<string, unknown>) => {
  const r = await t.api('POST', '/api/lists', body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; name: string; visibility: string; archivedAt: string | null };
};
const listNames = async () => (await t.api('GET', '/api/lists')).body.items.map((l: { name: string }) => l.name);

describe('visibility and archive', () => {
  it('creates public lists by default, private and archived ones on request, and shows both', async () => {
    const pub = await newList({ name: 'Weekly' });
    expect(pub).toMatchObject({ visibility: 'public', archivedAt: null });
    const priv = await newList({ name: 'VIP', visibility: 'private' });
    expect(priv.visibility).toBe('private');
    const arch = await newList({ name: 'Old news', archived: true });
    expect(Date.parse(arch.archivedAt as string)).toBeGreaterThan(Date.now() - 60_000);
    expect((await t.api('GET', `/api/lists/${priv.id}`)).body).toMatchObject({ name: 'VIP', visibility: 'private', archivedAt: null });
  });

  it('PATCH archives and restores, changes visibility; bad values are 422 naming the field', async () => {
    const l = await newList({ name: 'Seasonal' });
    const a = await t.api('PATCH', `/api/lists/${l.id}`, { archived: true, visibility: 'private' });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ visibility: 'private', archivedAt: expect.any(String) });
    const again = await t.api('PATCH', `/api/lists/${l.id}`, { archived: true });
    expect(again.body.archivedAt).toBe(a.body.archivedAt); // archiving twice keeps the first date
    const r = await t.api('PATCH', `/api/lists/${l.id}`, { archived: false, visibility: 'public' });
    expect(r.body).toMatchObject({ visibility: 'public', archivedAt: null });
    for (const [body, field] of [[{ visibility: 'secret' }, 'visibility'], [{ archived: 'yes' }, 'archived']] as const) {
      const bad = await t.api('PATCH', `/api/lists/${l.id}`, body);
      expect(bad.status).toBe(422);
      expect(bad.body.error).toMatchObject({ code: 'invalid', field });
    }
  });

  it('the default list cannot be archived or deleted (409 naming the field); an archived list cannot become the default', async () => {
    const arch = await t.api('PATCH', `/api/lists/${defaultListId}`, { archived: true });
    expect(arch.status).toBe(409);
    expect(arch.body.error).toMatchObject({ code: 'default_list', field: 'archived' });
    const del = await t.api('DELETE', `/api/lists/${defaultListId}`);
    expect(del.status).toBe(409);
    expect(del.body.error).toMatchObject({ code: 'default_list', field: 'id' });
    const created = await t.api('POST', '/api/lists', { name: 'Archived default', isDefault: true, archived: true });
    expect(created.status).toBe(409);
    const l = await newList({ name: 'Shelved', archived: true });
    const promote = await t.api('PATCH', `/api/lists/${l.id}`, { isDefault: true });
    expect(promote.status).toBe(422);
    expect(promote.body.error).toMatchObject({ code: 'list_archived', field: 'isDefault' });
    expect((await t.api('GET', `/api/lists/${defaultListId}`)).body).toMatchObject({ isDefault: true, archivedAt: null });
  });
});

describe('unique names', () => {
  it('refuses a duplicate name on create and rename: 409 list_name_taken on name, case-insensitive and trimmed', async () => {
    const l = await newList({ name: 'Product updates' });
    for (const name of ['Product updates', 'PRODUCT UPDATES', '  product updates  ']) {
      const r = await t.api('POST', '/api/lists', { name });
      expect(r.status, name).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'list_name_taken', field: 'name' });
    }
    const b = await newList({ name: 'Product news' });
    const rename = await t.api('PATCH', `/api/lists/${b.id}`, { name: 'product Updates' });
    expect(rename.status).toBe(409);
    expect(rename.body.error).toMatchObject({ code: 'list_name_taken', field: 'name' });
    expect((await t.api('PATCH', `/api/lists/${l.id}`, { name: 'Product Updates' })).status).toBe(200); // its own name, re-cased
    expect((await listNames()).filter((n: string) => n.toLowerCase().includes('product'))).toEqual(['Product Updates', 'Product news']);
  });

  it('another tenant may use the same name', async () => {
    await newList({ name: 'Shared name' });
    expect((await other.api('POST', '/api/lists', { name: 'Shared name' })).status).toBe(201);
  });
});

describe('delete', () => {
  it('soft-deletes: gone from every read, subscriptions and consent records kept; a re-created name is a new, empty list', async () => {
    const l = await newList({ name: 'Doomed' });
    const g = given(app, t);
    const who = await g.subscribedContact('doomed@example.com', { lists: [l.id, defaultListId], via: 'opt-in' });
    const del = await t.api('DELETE', `/api/lists/${l.id}`);
    expect(del.status).toBe(204);
    expect((await t.api('GET', `/api/lists/${l.id}`)).status).toBe(404);
    expect((await t.api('DELETE', `/api/lists/${l.id}`)).status).toBe(404);
    expect((await t.api('PATCH', `/api/lists/${l.id}`, { name: 'Back' })).status).toBe(404);
    expect(await listNames()).not.toContain('Doomed');
    const contact = (await t.api('GET', `/api/contacts/${who.id}`)).body;
    expect(contact.subscriptions.map((s: { listId: string }) => s.listId)).toEqual([defaultListId]);
    const kept = await ownerQuery(app.db.url, `SELECT s.status, (SELECT count(*) FROM consent_events e WHERE e.list_id = s.list_id)::int AS events
      FROM subscriptions s WHERE s.list_id = $1`, [l.id]);
    expect(kept).toEqual([{ status: 'subscribed', events: 2 }]); // the opt-in and the confirmation

    const again = await newList({ name: 'doomed' });
    expect(again.id).not.toBe(l.id);
    expect((await t.api('GET', `/api/contacts?listId=${again.id}`)).body.items).toEqual([]);
    expect((await t.api('GET', `/api/contacts?listId=${l.id}`)).body.items).toEqual([]);
  });
});

describe('opt-ins, the activation page and campaigns', () => {
  it('an archived list takes no opt-in (422 list_archived naming the index); a deleted one is unknown; a private one is joined by the tenant', async () => {
    const arch = await newList({ name: 'Archived for opt-in', archived: true });
    const gone = await newList({ name: 'Deleted for opt-in' });
    await t.api('DELETE', `/api/lists/${gone.id}`);
    const priv = await newList({ name: 'Private for opt-in', visibility: 'private' });
    const reg = (newsletter: string[]) => t.api('POST', '/api/contacts', { email: 'optin-rules@example.com', newsletter, consent });
    const a = await reg([defaultListId, arch.id]);
    expect(a.status).toBe(422);
    expect(a.body.error).toMatchObject({ code: 'list_archived', field: 'newsletter[1]' });
    const d = await reg([gone.id]);
    expect(d.status).toBe(422);
    expect(d.body.error).toMatchObject({ code: 'unknown_list', field: 'newsletter[0]' });
    expect((await t.api('GET', '/api/contacts?email=optin-rules@example.com')).body.items).toEqual([]); // nothing half-written
    const p = await reg([priv.id]);
    expect(p.status).toBe(201);
    expect(p.body.subscriptions).toEqual([expect.objectContaining({ listId: priv.id, status: 'unconfirmed' })]);
    const later = await t.api('POST', `/api/contacts/${p.body.id}/subscriptions`, { listIds: [arch.id], consent });
    expect(later.status).toBe(422);
    expect(later.body.error).toMatchObject({ code: 'list_archived', field: 'listIds[0]' });
  });

  it('the activation page ignores a list deleted after the opt-in', async () => {
    const l = await newList({ name: 'Deleted before confirm' });
    const r = await t.api('POST', '/api/contacts', { email: 'late-delete@example.com', newsletter: [defaultListId, l.id], consent });
    expect(r.status).toBe(201);
    await t.api('DELETE', `/api/lists/${l.id}`);
    const link = linkOf(app, await waitForMail(app, 'late-delete@example.com'));
    const page = await (await fetch(link)).text();
    expect(page).toContain('Newsletter');
    expect(page).not.toContain('Deleted before confirm');
    const confirmed = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(confirmed.status).toBe(200);
    const states = await ownerQuery(app.db.url, 'SELECT list_id, status FROM subscriptions WHERE contact_id = $1 ORDER BY status', [r.body.id]);
    expect(states).toEqual([{ list_id: defaultListId, status: 'subscribed' }, { list_id: l.id, status: 'unconfirmed' }]);
  });

  it('a list a campaign not finished targets is neither archived nor deleted (409 list_in_use naming the campaign); once cancelled, it may be', async () => {
    const l = await newList({ name: 'Targeted' });
    const campaign = await given(app, t).campaign(await given(app, t).template(), [defaultListId, l.id]);
    const del = await t.api('DELETE', `/api/lists/${l.id}`);
    expect(del.status).toBe(409);
    expect(del.body.error).toMatchObject({ code: 'list_in_use', field: 'id', campaignId: campaign.id });
    const arch = await t.api('PATCH', `/api/lists/${l.id}`, { archived: true });
    expect(arch.status).toBe(409);
    expect(arch.body.error).toMatchObject({ code: 'list_in_use', field: 'archived' });
    expect((await t.api('GET', `/api/lists/${l.id}`)).body.archivedAt).toBeNull();
    expect((await t.api('POST', `/api/campaigns/${campaign.id}/cancel`)).status).toBe(200);
    expect((await t.api('PATCH', `/api/lists/${l.id}`, { archived: true })).status).toBe(200);
    expect((await t.api('DELETE', `/api/lists/${l.id}`)).status).toBe(204);
  });

  it('a campaign cannot target an archived or deleted list (422 naming the index)', async () => {
    const tpl = await given(app, t).template();
    const arch = await newList({ name: 'Archived target', archived: true });
    const gone = await newList({ name: 'Deleted target' });
    await t.api('DELETE', `/api/lists/${gone.id}`);
    for (const id of [arch.id, gone.id]) {
      const r = await t.api('POST', '/api/campaigns', { name: 'C', templateId: tpl, listIds: [defaultListId, id] });
      expect(r.status).toBe(422);
      expect(r.body.error.field).toBe('listIds[1]');
    }
    expect((await t.api('POST', '/api/campaigns', { name: 'C', templateId: tpl, listIds: [defaultListId] })).status).toBe(201);
  });
});
