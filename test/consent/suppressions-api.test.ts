// Suppression management over real HTTP, SMTP and PostgreSQL: GET /api/suppressions (every filter,
// keyset pages without gaps), DELETE /api/suppressions/:address with a required reason (a hard-bounce
// suppression removed lets a notice through again, subscriptions untouched, recorded in the consent
// records), POST /api/suppressions (idempotent, blocks a send), tenant isolation, 422s that write nothing.
import { describe, expect, it } from 'vitest';
import { useApp, type TestTenant } from '../support/app.js';
import { given } from '../support/given.js';
import { ownerQuery } from '../support/db.js';
import { dsn, onTwoLists } from '../bounces/helpers.js';
import { mailsTo, waitForMessage } from '../transactional/helpers.js';

const { app, t: a, tenant } = useApp({ tenant: { name: 'A' } });
const b = tenant({ name: 'B', fromEmail: 'hello@beta.org', replyTo: 'help@beta.org' });

const RAW = { 'content-type': 'message/rfc822' };

async function counts(): Promise<{ suppressions: number; events: number }> {
  const [r] = await ownerQuery<{ s: string; e: string }>(app.db.url,
    'SELECT (SELECT count(*) FROM suppressions) AS s, (SELECT count(*) FROM consent_events) AS e');
  return { suppressions: Number(r.s), events: Number(r.e) };
}

async function subscriptions(contactId: string): Promise<unknown[]> {
  return ownerQuery(app.db.url, 'SELECT list_id, status, updated_at FROM subscriptions WHERE contact_id = $1 ORDER BY list_id', [contactId]);
}

async function contactStatus(contactId: string): Promise<string> {
  return (await ownerQuery<{ status: string }>(app.db.url, 'SELECT status FROM contacts WHERE id = $1', [contactId]))[0].status;
}

/** Every item of a listing, following nextCursor page by page. */
async function allPages(t: TestTenant, query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r = await t.api('GET', `/api/suppressions?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.items.length).toBeLessThanOrEqual(limit);
    ids.push(...r.body.items.map((i: { id: string }) => i.id));
    cursor = r.body.nextCursor;
    pages++;
  } while (cursor);
  return { ids, pages };
}

async function notice(t: TestTenant, contact: string, key: string): Promise<any> {
  const r = await t.api('POST', '/api/messages', { kind: 'account', contact, template: 'account', idempotencyKey: key, data: { body: 'Your account changed.' } });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return waitForMessage(t, r.body.id);
}

describe('GET /api/suppressions', () => {
  it('filters by address (exact, case-insensitive), scope, reason and date, and pages without gaps', async () => {
    const t = await app.tenant({ name: 'Lister' });
    const made: Record<string, string> = {};
    const specs: Array<[string, 'all' | 'marketing', string]> = [
      ['p1@example.org', 'all', 'manual'], ['p2@example.org', 'marketing', 'manual'], ['p3@example.org', 'all', 'legal_request'],
      ['p4@example.org', 'all', 'manual'], ['p5@example.org', 'marketing', 'legal_request'], ['p6@example.org', 'all', 'manual'],
      ['p7@example.org', 'all', 'manual'], ['p1@example.org', 'marketing', 'manual'],
    ];
    for (const [address, scope, reason] of specs) {
      const r = await t.api('POST', '/api/suppressions', { address, scope, reason, note: `note for ${address}` });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      made[`${address}/${scope}`] = r.body.id;
    }
    // Deterministic times, with ties (same created_at) that only the id can order.
    await ownerQuery(app.db.url, `UPDATE suppressions SET created_at = CASE
        WHEN address IN ('p1@example.org', 'p2@example.org', 'p3@example.org') THEN timestamptz '2024-01-10T00:00:00Z'
        WHEN address IN ('p4@example.org', 'p5@example.org') THEN timestamptz '2024-02-10T00:00:00Z'
        ELSE timestamptz '2024-03-10T00:00:00.123456Z' END WHERE tenant_id = $1`, [t.id]);

    const all = Object.values(made).sort();
    for (const limit of [1, 2, 3, 500]) {
      const { ids, pages } = await allPages(t, '', limit === 500 ? 500 : limit);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual(all);
      expect(pages).toBe(Math.max(1, Math.ceil(all.length / limit)));
    }
    const first = await t.api('GET', '/api/suppressions?limit=3');
    expect(first.body.items).toHaveLength(3);
    expect(first.body.items[0]).toMatchObject({ scope: expect.any(String), reason: expect.any(String), createdAt: '2024-03-10T00:00:00.123Z',
      createdBy: expect.any(String), source: { type: 'api' } });
    expect(first.body.nextCursor).toEqual(expect.any(String));

    const byAddress = await t.api('GET', `/api/suppressions?address=${encodeURIComponent('  P1@EXAMPLE.ORG ')}`);
    expect(byAddress.body.items.map((i: any) => [i.address, i.scope]).sort()).toEqual([['p1@example.org', 'all'], ['p1@example.org', 'marketing']]);
    expect(byAddress.body.items[0]).toMatchObject({ reason: 'manual', note: 'note for p1@example.org' });
    expect((await t.api('GET', '/api/suppressions?address=p1@example.or')).body.items).toEqual([]);

    const marketing = await allPages(t, 'scope=marketing', 1);
    expect(marketing.ids.sort()).toEqual([made['p2@example.org/marketing'], made['p5@example.org/marketing'], made['p1@example.org/marketing']].sort());
    const legal = await t.api('GET', '/api/suppressions?reason=legal_request');
    expect(legal.body.items.map((i: any) => i.address).sort()).toEqual(['p3@example.org', 'p5@example.org']);
    const feb = await allPages(t, `since=${encodeURIComponent('2024-02-01T00:00:00Z')}&until=${encodeURIComponent('2024-03-01T00:00:00Z')}`, 1);
    expect(feb.ids.sort()).toEqual([made['p4@example.org/all'], made['p5@example.org/marketing']].sort());
    const combined = await t.api('GET', `/api/suppressions?scope=all&reason=manual&since=${encodeURIComponent('2024-02-01T00:00:00Z')}`);
    expect(combined.body.items.map((i: any) => i.address)).toEqual(expect.arrayContaining(['p4@example.org', 'p6@example.org', 'p7@example.org']));
    expect(combined.body.items).toHaveLength(3);
  });

  it('shows a hard bounce with its source, and the endpoints are in /openapi.json', async () => {
    const email = 'bounced-listing@example.net';
    await given(app, a).subscribedContact(email, onTwoLists(email));
    const res = await a.api('POST', '/api/inbound', dsn({ to: 'bounces@relay.example', finalRecipient: email, messageId: '<gone@elsewhere.example>' }), RAW);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const list = await a.api('GET', `/api/suppressions?address=${email}`);
    expect(list.body.items).toEqual([expect.objectContaining({
      address: email, scope: 'all', reason: 'hard_bounce', createdBy: null,
      source: expect.objectContaining({ type: 'bounce', bounceId: res.body.bounces[0].id }),
    })]);
    const doc = (await fetch(`${app.url}/openapi.json`).then((r) => r.json())) as { paths: Record<string, Record<string, { 'x-scope': string }>> };
    expect(Object.keys(doc.paths['/api/suppressions'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/api/suppressions/{address}']?.delete?.['x-scope']).toBe('subscribers');
  });
});

describe('DELETE /api/suppressions/:address', () => {
  it('requires a reason (422 reason_required, nothing changed), then removes with it from the body or the query', async () => {
    const t = await app.tenant({ name: 'Remover' });
    for (const address of ['r1@example.org', 'r2@example.org']) expect((await t.api('POST', '/api/suppressions', { address, reason: 'manual' })).status).toBe(201);
    const before = await counts();
    for (const attempt of [
      await t.api('DELETE', '/api/suppressions/r1@example.org'),
      await t.api('DELETE', '/api/suppressions/r1@example.org', {}),
      await t.api('DELETE', '/api/suppressions/r1@example.org', { reason: '   ' }),
      await t.api('DELETE', '/api/suppressions/r1@example.org?reason='),
    ]) {
      expect(attempt.status).toBe(422);
      expect(attempt.body.error).toMatchObject({ code: 'reason_required', field: 'reason' });
    }
    expect(await counts()).toEqual(before);

    const viaBody = await t.api('DELETE', '/api/suppressions/R1@Example.org', { reason: 'support ticket 12: address works again' });
    expect(viaBody.status, JSON.stringify(viaBody.body)).toBe(200);
    expect(viaBody.body).toMatchObject({ address: 'r1@example.org', removed: [{ scope: 'all', reason: 'manual' }], kept: [], contact: null });
    const viaQuery = await t.api('DELETE', `/api/suppressions/r2@example.org?reason=${encodeURIComponent('typo by an operator')}`);
    expect(viaQuery.status).toBe(200);
    expect((await t.api('GET', '/api/suppressions')).body.items).toEqual([]);
    const again = await t.api('DELETE', '/api/suppressions/r2@example.org', { reason: 'again' });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('not_found');
  });

  it('removing a hard-bounce suppression lets a notice through again; subscriptions stay as they were; recorded with the reason', async () => {
    const email = 'hard-then-fine@example.net';
    const contact = await given(app, a).subscribedContact(email, onTwoLists(email));
    // One list unsubscribed by the person, one still subscribed.
    const out = await a.api('DELETE', `/api/contacts/${contact.id}/subscriptions/${contact.lists[1]}`);
    expect(out.status).toBe(200);
    const res = await a.api('POST', '/api/inbound', dsn({ to: 'bounces@relay.example', finalRecipient: email, messageId: '<lost@elsewhere.example>' }), RAW);
    expect(res.body.bounces[0]).toMatchObject({ contactId: contact.id, action: 'suppressed' });
    expect(await contactStatus(contact.id)).toBe('suppressed');
    const subsBefore = await subscriptions(contact.id);
    expect(subsBefore.map((s: any) => s.status).sort()).toEqual(['subscribed', 'unsubscribed']);

    const blocked = await notice(a, email, 'hard-1');
    expect(blocked).toMatchObject({ status: 'suppressed', reason: 'suppressed' });

    const removed = await a.api('DELETE', `/api/suppressions/${encodeURIComponent(email.toUpperCase())}`, { reason: 'the mailbox exists: the receiving server misreported' });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body).toMatchObject({ removed: [{ scope: 'all', reason: 'hard_bounce' }], kept: [],
      contact: { id: contact.id, status: 'active', previousStatus: 'suppressed' } });
    expect(await contactStatus(contact.id)).toBe('active');
    expect(await subscriptions(contact.id)).toEqual(subsBefore);

    const history = await a.api('GET', `/api/contacts/${contact.id}/consent`);
    const unsuppress = history.body.items.filter((e: any) => e.action === 'unsuppress');
    const [keyRow] = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM api_keys WHERE tenant_id = $1', [a.id]);
    expect(unsuppress).toEqual([expect.objectContaining({ source: 'api', detail: {
      reason: 'the mailbox exists: the receiving server misreported', by: keyRow.id,
      removed: [{ scope: 'all', reason: 'hard_bounce' }], from: 'suppressed', to: 'active' } })]);

    const delivered = await notice(a, email, 'hard-2');
    expect(delivered.status).toBe('sent');
    expect(mailsTo(app.sink.received, email).some((m) => m.parsed.messageId === delivered.messageId)).toBe(true);
    expect(await subscriptions(contact.id)).toEqual(subsBefore);
  });

  it('keeps an erasure suppression (409) and the erased contact erased', async () => {
    const email = 'erase-me@example.net';
    const contact = await given(app, a).subscribedContact(email, onTwoLists(email));
    expect((await a.api('DELETE', `/api/contacts/${contact.id}`)).status).toBe(200);
    const rows = await ownerQuery(app.db.url, 'SELECT address, note, reason FROM suppressions WHERE tenant_id = $1 AND reason = $2', [a.id, 'erased']);
    expect(rows).toEqual([{ address: null, note: null, reason: 'erased' }]);
    const r = await a.api('DELETE', `/api/suppressions/${email}`, { reason: 'please' });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'erasure_suppression', field: 'address' });
    expect(await contactStatus(contact.id)).toBe('erased');
    expect((await a.api('GET', `/api/suppressions?address=${email}`)).body.items).toEqual([expect.objectContaining({ address: null, reason: 'erased' })]);
  });
});

describe('POST /api/suppressions', () => {
  it('adds by hand (201, then 200 with the same one), records it for the contact and blocks a send', async () => {
    const email = 'manual-block@example.net';
    const contact = await given(app, a).subscribedContact(email, onTwoLists(email));
    const first = await a.api('POST', '/api/suppressions', { address: ' Manual-Block@EXAMPLE.net', scope: 'all', reason: 'manual', note: 'asked by phone' });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ address: email, scope: 'all', reason: 'manual', note: 'asked by phone', source: { type: 'api' } });
    const second = await a.api('POST', '/api/suppressions', { address: email, scope: 'all', reason: 'manual' });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const history = (await a.api('GET', `/api/contacts/${contact.id}/consent`)).body.items.filter((e: any) => e.action === 'suppress');
    expect(history).toEqual([expect.objectContaining({ source: 'api', detail: expect.objectContaining({ scope: 'all', reason: 'manual', note: 'asked by phone' }) })]);
    expect(await contactStatus(contact.id)).toBe('active');

    const blocked = await notice(a, email, 'manual-1');
    expect(blocked).toMatchObject({ status: 'suppressed', reason: 'suppressed' });
  });

  it('refuses bad input with 422, the code and the field, and writes nothing', async () => {
    const before = await counts();
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/suppressions', { address: 'not-an-address', reason: 'manual' }, 'address'],
      ['POST', '/api/suppressions', { address: '"quoted local"@example.org', reason: 'manual' }, 'address'],
      ['POST', '/api/suppressions', { address: 'x@example.org', scope: 'transactional', reason: 'manual' }, 'scope'],
      ['POST', '/api/suppressions', { address: 'x@example.org' }, 'reason'],
      ['POST', '/api/suppressions', { address: 'x@example.org', reason: 'Because I said so' }, 'reason'],
      ['POST', '/api/suppressions', { address: 'x@example.org', reason: 'erased' }, 'reason'],
      ['POST', '/api/suppressions', { address: 'x@example.org', reason: 'manual', extra: 1 }, 'extra'],
      ['GET', '/api/suppressions?limit=501', undefined, 'query.limit'],
      ['GET', '/api/suppressions?scope=everything', undefined, 'query.scope'],
      ['GET', '/api/suppressions?since=yesterday', undefined, 'query.since'],
      ['GET', '/api/suppressions?cursor=bm90LWEtY3Vyc29y', undefined, 'query.cursor'],
      ['GET', '/api/suppressions?address=nobody', undefined, 'query.address'],
      ['DELETE', '/api/suppressions/nobody', { reason: 'x' }, 'address'],
      ['DELETE', '/api/suppressions/x@example.org', { reason: 'broken \ud800 text' }, 'reason'],
      ['POST', '/api/suppressions', { address: 'x@example.org', reason: 'manual', note: '\udc00' }, 'note'],
      ['GET', '/api/suppressions?reason=%00', undefined, 'query.reason'],
      ['GET', '/api/suppressions?since=0000-01-01T00:00:00Z', undefined, 'query.since'],
      ['DELETE', '/api/suppressions/%00x@example.org', { reason: 'x' }, 'address'],
      ['DELETE', '/api/suppressions/x@example.org?scope=nope', { reason: 'x' }, 'query.scope'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await a.api(method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)} → ${JSON.stringify(r.body)}`).toBe(422);
      expect(r.body.error.code, path).toMatch(/^(invalid|reason_required)$/);
      expect(r.body.error.field, `${method} ${path} ${JSON.stringify(body)}`).toBe(field);
    }
    expect(await counts()).toEqual(before);
  });

  it('needs the subscribers scope', async () => {
    const t = await app.tenant({ name: 'Narrow', scopes: ['transactional'] });
    const r = await t.api('GET', '/api/suppressions');
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden_scope');
  });
});

describe('tenant isolation', () => {
  it('tenant B can neither see nor remove tenant A’s suppressions', async () => {
    const email = 'isolated@example.org';
    expect((await a.api('POST', '/api/suppressions', { address: email, reason: 'manual' })).status).toBe(201);
    expect((await b.api('GET', `/api/suppressions?address=${email}`)).body.items).toEqual([]);
    const all = await allPages(b, '', 500);
    expect(all.ids).toEqual([]);
    const del = await b.api('DELETE', `/api/suppressions/${email}`, { reason: 'not mine' });
    expect(del.status).toBe(404);
    expect((await a.api('GET', `/api/suppressions?address=${email}`)).body.items).toHaveLength(1);
  });
});
