// What the staff console's contact and list pages read (issue 19): GET /api/contacts/{id}/timeline
// (messages with their states, consent records, bounces; newest first; keyset-paged across the three
// sources), GET /api/lists/counts, and the bounce list's filters (reason, recipient, campaign).
// Responses are checked against the schemas /openapi.json declares for them.
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { dsn, registerProbe, sendProbe } from '../bounces/helpers.js';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other', fromEmail: 'hi@other.org', replyTo: 'help@other.org' });

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };
let doc: Doc;
/** Asserts the body matches the documented 200 schema of the operation at `path` (OpenAPI template). */
function documented(path: string, body: unknown): void {
  const schema = z.fromJSONSchema(doc.paths[path].get.responses['200'].content?.['application/json'].schema as Parameters<typeof z.fromJSONSchema>[0]);
  const v = schema.safeParse(body);
  expect(v.success, v.error?.message).toBe(true);
}

interface Item { type: string; id: string; at: string; action?: string; status?: string; kind?: string; reason?: string | null }
const EMAIL = 'timeline-pat@example.net';
let contactId: string;
let full: Item[];

beforeAll(async () => {
  registerProbe(app);
  doc = await (await fetch(`${app.url}/openapi.json`)).json() as Doc;
  const g = given(app, t);
  const extra = await g.list('Offers');
  const c = await g.subscribedContact(EMAIL, { via: 'opt-in', name: 'Pat', lists: ['default', extra] });
  contactId = c.id;
  const { message, mail } = await sendProbe(app, t, c.id, EMAIL, 'timeline:probe');
  const r = await t.api('POST', '/api/inbound', dsn({ to: mail.envelopeFrom, finalRecipient: EMAIL, messageId: message.messageIdHeader as string }),
    { 'content-type': 'message/rfc822' });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const out = await t.api('DELETE', `/api/contacts/${c.id}/subscriptions/${extra}`);
  expect(out.status, JSON.stringify(out.body)).toBe(200);
  const all = await t.api('GET', `/api/contacts/${c.id}/timeline?limit=200`);
  expect(all.status).toBe(200);
  full = all.body.items;
});

describe('GET /api/contacts/{id}/timeline', () => {
  it('shows messages with their states, consent records (the opt-out too) and bounces, newest first', async () => {
    const r = await t.api('GET', `/api/contacts/${contactId}/timeline`);
    expect(r.status).toBe(200);
    documented('/api/contacts/{id}/timeline', r.body);
    expect(r.body.nextCursor).toBeNull();
    const items = r.body.items as Item[];
    expect(items).toEqual(full);
    const kinds = new Set(items.map((i) => i.type));
    expect(kinds).toEqual(new Set(['message', 'consent', 'bounce']));
    expect(items.filter((i) => i.type === 'consent').map((i) => i.action)).toEqual(expect.arrayContaining(['opt_in', 'confirm', 'opt_out']));
    expect(items.find((i) => i.type === 'bounce')).toMatchObject({ kind: 'hard', reason: 'userunknown' });
    expect(items.filter((i) => i.type === 'message').map((i) => [i.kind, i.status])).toEqual(expect.arrayContaining([['account', 'bounced'], ['activation', 'sent']]));
    // newest first, and the opt-out (the last thing done) is first
    const times = items.map((i) => Date.parse(i.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(items[0]).toMatchObject({ type: 'consent', action: 'opt_out' });
  });

  it('pages through every item exactly once, ties on the same instant included', async () => {
    // registration writes several records in one transaction: the same instant
    expect(new Set(full.map((i) => i.at)).size).toBeLessThan(full.length);
    for (const limit of [1, 2, 3]) {
      const seen: Item[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 100; i++) {
        const r = await t.api('GET', `/api/contacts/${contactId}/timeline?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(limit);
        seen.push(...r.body.items);
        cursor = r.body.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(full);
    }
  });

  it('refuses a cursor it did not make, and answers 404 for an unknown or another tenant\'s contact', async () => {
    const bad = await t.api('GET', `/api/contacts/${contactId}/timeline?cursor=${Buffer.from('["x","y"]').toString('base64url')}`);
    expect(bad.status).toBe(422);
    expect(bad.body.error.field).toBe('query.cursor');
    expect((await t.api('GET', `/api/contacts/${contactId}/timeline?limit=0`)).status).toBe(422);
    expect((await t.api('GET', '/api/contacts/00000000-0000-4000-8000-000000000000/timeline')).status).toBe(404);
    expect((await t.api('GET', '/api/contacts/not-a-uuid/timeline')).status).toBe(404);
    expect((await other.api('GET', `/api/contacts/${contactId}/timeline`)).status).toBe(404);
  });
});

describe('GET /api/lists/counts', () => {
  it('counts each list\'s subscriptions by status, this tenant\'s lists only', async () => {
    const g = given(app, t);
    const list = await g.list('Counted');
    await g.contacts({ prefix: 'counted-sub', n: 3, listId: list });
    await g.contacts({ prefix: 'counted-unc', n: 2, listId: list, contactStatus: 'pending', subscription: 'unconfirmed' });
    await g.contacts({ prefix: 'counted-uns', n: 1, listId: list, subscription: 'unsubscribed' });
    await given(app, other).contacts({ prefix: 'elsewhere', n: 4, listId: await given(app, other).defaultList() });
    const r = await t.api('GET', '/api/lists/counts');
    expect(r.status).toBe(200);
    documented('/api/lists/counts', r.body);
    expect(r.body.items.find((x: { listId: string }) => x.listId === list)).toEqual({ listId: list, subscribed: 3, unconfirmed: 2, unsubscribed: 1 });
    const lists = (await t.api('GET', '/api/lists')).body.items.map((l: { id: string }) => l.id);
    expect(r.body.items.map((x: { listId: string }) => x.listId)).toEqual(lists);
    expect((await t.api('GET', `/api/lists/${list}`)).body.name).toBe('Counted'); // /api/lists/:id still answers
  });
});

describe('GET /api/bounces filters', () => {
  it('filters by reason, recipient (case-insensitive) and kind, and refuses an unknown reason', async () => {
    const ids = async (q: string) => ((await t.api('GET', `/api/bounces?${q}`)).body.items as { id: string }[]).map((b) => b.id);
    const mine = full.filter((i) => i.type === 'bounce').map((i) => i.id);
    expect(mine).toHaveLength(1);
    expect(await ids(`recipient=${encodeURIComponent(EMAIL.toUpperCase())}`)).toEqual(mine);
    expect(await ids('reason=userunknown&kind=hard')).toEqual(expect.arrayContaining(mine));
    expect(await ids('reason=mailboxfull')).toEqual([]);
    expect(await ids(`recipient=nobody@example.net`)).toEqual([]);
    const bad = await t.api('GET', '/api/bounces?reason=nonsense');
    expect(bad.status).toBe(422);
    expect(await ids(`recipient=${encodeURIComponent(EMAIL)}&kind=soft`)).toEqual([]);
  });
});
