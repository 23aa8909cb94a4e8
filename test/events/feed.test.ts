// GET /api/events: every trigger mapping driven by real flows (API, SMTP, inbound reports, campaigns,
// imports, erasure), the cursor contract (always a cursor to poll from; opaque; 422s), type filters,
// tenant isolation, and the refusal of a 202 message reported in the feed.
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { waitFor } from '../support/wait.js';
import { EVENTS_APP, matches, produceEveryEvent, readAllEvents, type FeedItem, type ProducedEvents } from '../support/events.js';
import { encodeCursor } from '../../src/events/feed.js';

const { app, t, tenant } = useApp(EVENTS_APP);
const other = tenant({ name: 'Other' });

let made: ProducedEvents;
let feed: FeedItem[];
beforeAll(async () => {
  made = await produceEveryEvent(app, t);
  feed = (await readAllEvents(t)).items;
}, 90_000);

describe('the event feed', () => {
  it('holds every event type the triggers produce, with the right data', () => {
    const missing = made.expected.filter((x) => !feed.some((e) => e.type === x.type && matches(e.data, x.data)));
    expect(missing.map((m) => ({ ...m, got: feed.filter((e) => e.type === m.type).map((e) => e.data) }))).toEqual([]);
    const types = new Set(feed.map((e) => e.type));
    for (const ty of ['message.queued', 'message.sent', 'message.deferred', 'message.failed', 'message.suppressed', 'message.bounced',
      'message.complained', 'message.feedback', 'message.cancelled', 'contact.confirmed', 'contact.unsubscribed', 'contact.resubscribed',
      'contact.suppressed', 'contact.unsuppressed', 'contact.erased', 'campaign.scheduled', 'campaign.started', 'campaign.paused',
      'campaign.resumed', 'campaign.completed', 'campaign.cancelled', 'import.finished']) expect(types, ty).toContain(ty);
  });

  it('is in feed order with string ids, and a 202 invoice refused at send is reported with the gate\'s reason', () => {
    const ids = feed.map((e) => BigInt(e.id));
    expect(new Set(ids).size).toBe(ids.length);
    const refused = feed.find((e) => e.type === 'message.suppressed' && e.data.messageId === made.messages.suppressedInvoice);
    expect(refused?.data).toMatchObject({ purpose: `invoice:${made.transactionId}`, kind: 'invoice' });
    expect(typeof refused?.data.reason).toBe('string');
  });

  it('keeps only contact.erased of an erased person, without an address', () => {
    const ofErased = feed.filter((e) => e.data.contactId === made.contacts.erased);
    expect(ofErased.map((e) => e.type)).toEqual(['contact.erased']);
    expect(Object.keys(ofErased[0].data).sort()).toEqual(['contactId', 'source']);
  });

  it('gives a cursor to poll from forever: the start when empty, `after` when nothing is new', async () => {
    const empty = await other.api('GET', '/api/events');
    expect(empty.status).toBe(200);
    expect(empty.body.items).toEqual([]);
    const start = empty.body.nextCursor as string;
    expect(start).toBe(encodeCursor({ txid: '0', id: '0' }));
    const { cursor } = await readAllEvents(t);
    const again = await t.api('GET', `/api/events?after=${cursor}`);
    expect(again.body).toEqual({ items: [], nextCursor: cursor });
    // another tenant's cursor shows nothing of this tenant
    expect((await other.api('GET', `/api/events?after=${start}&limit=1000`)).body.items).toEqual([]);
  });

  it('pages with limit and filters by type, and the filtered cursor moves past skipped rows', async () => {
    const first = await t.api('GET', '/api/events?limit=2');
    expect(first.body.items).toEqual(feed.slice(0, 2));
    const second = await t.api('GET', `/api/events?limit=2&after=${first.body.nextCursor}`);
    expect(second.body.items).toEqual(feed.slice(2, 4));
    const campaigns = await readAllEvents(t, { types: 'campaign.started,campaign.completed', limit: 1 });
    expect(campaigns.items).toEqual(feed.filter((e) => e.type === 'campaign.started' || e.type === 'campaign.completed'));
    const none = await t.api('GET', '/api/events?types=webhook.disabled');
    expect(none.body.items).toEqual([]);
    expect(none.body.nextCursor).toBe((await readAllEvents(t)).cursor);
  });

  it('refuses a bad cursor, an unknown type and a bad limit with 422 naming the field', async () => {
    // not canonical ('1.23' with its unused low bits set), beyond the end (a future txid; an id never given)
    const loose = `${encodeCursor({ txid: '1', id: '23' }).slice(0, -1)}x`;
    expect(Buffer.from(loose, 'base64url').toString()).toBe('1.23');
    const beyond = [encodeCursor({ txid: '9999999999', id: '0' }), encodeCursor({ txid: '1', id: '999999999999' }), loose];
    for (const after of ['nope', encodeCursor({ txid: '-1', id: '3' }), Buffer.from('1.2.3').toString('base64url'), Buffer.from('99999999999999999999.1').toString('base64url'), ...beyond]) {
      const r = await t.api('GET', `/api/events?after=${encodeURIComponent(after)}`);
      expect(r.status, after).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'invalid', field: 'query.after' });
    }
    const ty = await t.api('GET', '/api/events?types=message.sent,message.exploded');
    expect(ty.status).toBe(422);
    expect(ty.body.error).toMatchObject({ field: 'query.types' });
    expect(ty.body.error.message).toContain('message.exploded');
    const lim = await t.api('GET', '/api/events?limit=1001');
    expect(lim.status).toBe(422);
    expect(lim.body.error.field).toBe('query.limit');
  });

  it('needs the events scope (or admin)', async () => {
    const narrow = await app.tenant({ scopes: ['transactional'] });
    expect((await narrow.api('GET', '/api/events')).status).toBe(403);
    const reader = await app.tenant({ scopes: ['events'] });
    expect((await reader.api('GET', '/api/events')).status).toBe(200);
  });

  it('finds a message by purpose and by idempotency key, with its timeline', async () => {
    const byPurpose = await t.api('GET', `/api/messages?purpose=${encodeURIComponent(`invoice:${made.transactionId}`)}`);
    expect(byPurpose.status).toBe(200);
    expect(byPurpose.body.items).toHaveLength(1);
    expect(byPurpose.body.items[0]).toMatchObject({ id: made.messages.suppressedInvoice, status: 'suppressed' });
    expect(byPurpose.body.items[0].timeline.map((e: FeedItem) => e.type)).toEqual(['message.queued', 'message.suppressed']);
    expect(byPurpose.body.items[0].timeline[1].data.reason).toEqual(expect.any(String));

    await given(app, t).pendingContact('keyed@example.org');
    const notice = await t.api('POST', '/api/messages', { kind: 'technical', contact: 'keyed@example.org', data: { body: 'x' } }, { 'idempotency-key': 'reset-42' });
    expect(notice.status).toBe(202);
    const inv = await t.api('POST', '/api/invoices', { transactionId: 'T-KEYED', contact: 'keyed@example.org', currency: 'EUR', issuedAt: '2024-05-31',
      lines: [{ description: 'Plan', quantity: 1, unitAmount: 500 }], taxes: [], total: 500 }, { 'idempotency-key': 'inv-key-7' });
    expect(inv.status).toBe(202);
    for (const [key, id] of [['reset-42', notice.body.id], ['inv-key-7', inv.body.id]]) {
      const found = await waitFor(async () => {
        const r = await t.api('GET', `/api/messages?idempotencyKey=${key}`);
        expect(r.status).toBe(200);
        return r.body.items[0]?.timeline.some((e: FeedItem) => e.type === 'message.sent') && r.body;
      }, { timeout: 15_000, message: `no sent timeline for ${key}` });
      expect(found.items.map((m: { id: string }) => m.id)).toEqual([id]);
      expect(found.items[0].timeline.map((e: FeedItem) => e.type)).toEqual(['message.queued', 'message.sent']);
    }
    expect((await t.api('GET', '/api/messages?idempotencyKey=unknown-key')).body.items).toEqual([]);
    expect((await other.api('GET', '/api/messages?idempotencyKey=reset-42')).body.items).toEqual([]);
    const listing = await t.api('GET', '/api/messages?limit=2');
    expect(listing.status).toBe(200);
    expect(listing.body.items[0].timeline).toBeUndefined();
  });

  it('stores no address of the erased person in any event', async () => {
    const rows = await ownerQuery<{ n: number }>(app.db.url, `SELECT count(*)::int AS n FROM events WHERE tenant_id = $1 AND data::text ILIKE '%erased-%'`, [t.id]);
    expect(rows[0].n).toBe(0);
  });
});
