// The API says no clearly and consistently (issue 14): each measured careless call answered with the
// right status and code, against a real Postgate (PostgreSQL, SMTP sink, HTTP).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { request, useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { invoice } from '../transactional/helpers.js';
import { claimIdempotencyKey, requestFingerprint } from '../../src/platform/idempotency.js';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other' });

const rows = async (sql: string, params: unknown[] = []) => ownerQuery(app.db.url, sql, params);

describe('notices: every field typed at the API', () => {
  it('refuses a notice with no body (422 data.body) and sends nothing', async () => {
    await given(app, t).pendingContact('empty@example.org');
    for (const data of [undefined, {}, { body: '   ' }, { subject: 'Only a subject' }]) {
      const r = await t.api('POST', '/api/messages', { kind: 'technical', contact: 'empty@example.org', ...(data ? { data } : {}) });
      expect(r.status, JSON.stringify(data)).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'invalid', field: 'data.body' });
    }
    expect(await rows(`SELECT 1 FROM messages WHERE recipient = 'empty@example.org'`)).toHaveLength(0);
  });

  it('refuses data.subject given as an array holding a control character (422 at the API, not a failure at send time)', async () => {
    await given(app, t).pendingContact('typed@example.org');
    const r = await t.api('POST', '/api/messages', { kind: 'technical', contact: 'typed@example.org', data: { subject: ['Hi\u0007'], body: 'Text' } });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field: 'data.subject' });
    const num = await t.api('POST', '/api/messages', { kind: 'technical', contact: 'typed@example.org', data: { actionLabel: 42, body: 'Text' } });
    expect(num.body.error).toMatchObject({ code: 'invalid', field: 'data.actionLabel' });
  });

  it('refuses data keys a built-in notice does not know, naming the key', async () => {
    await given(app, t).pendingContact('keys@example.org');
    const r = await t.api('POST', '/api/messages', { kind: 'technical', contact: 'keys@example.org', data: { body: 'Text', renewsOn: 'June 1' } });
    expect(r.status).toBe(422);
    expect(r.body.error.field).toBe('data.renewsOn');
    const ok = await t.api('POST', '/api/messages', { kind: 'support', contact: 'keys@example.org', data: { body: 'Text', ticketId: 'T-1' } });
    expect(ok.status).toBe(202);
  });
});

describe('Idempotency-Key on every POST', () => {
  it('replays the first response for the same key and request; one list is created', async () => {
    const key = `list-${randomUUID()}`;
    const first = await t.api('POST', '/api/lists', { name: 'Once' }, { 'idempotency-key': `"${key}"` });
    expect(first.status).toBe(201);
    const again = await t.api('POST', '/api/lists', { name: 'Once' }, { 'idempotency-key': `"${key}"` });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await rows(`SELECT 1 FROM lists WHERE tenant_id = $1 AND name = 'Once'`, [t.id])).toHaveLength(1);
    // The same key with keys in another order is the same request.
    const reordered = await t.api('POST', '/api/lists', '{"isDefault":false,"name":"Twice"}', { 'idempotency-key': 'k-order' });
    const same = await t.api('POST', '/api/lists', '{"name":"Twice","isDefault":false}', { 'idempotency-key': 'k-order' });
    expect(same.body.id).toBe(reordered.body.id);
  });

  it('answers 422 idempotency_key_reused for the same key with another body or path', async () => {
    const key = `k-${randomUUID()}`;
    expect((await t.api('POST', '/api/lists', { name: 'A' }, { 'idempotency-key': key })).status).toBe(201);
    const other1 = await t.api('POST', '/api/lists', { name: 'B' }, { 'idempotency-key': key });
    expect(other1.status).toBe(422);
    expect(other1.body.error).toMatchObject({ code: 'idempotency_key_reused', field: 'Idempotency-Key' });
    const otherPath = await t.api('POST', '/api/keys', { scopes: ['subscribers'] }, { 'idempotency-key': key });
    expect(otherPath.status).toBe(422);
  });

  it('answers 409 idempotency_key_in_use while the first request is in progress', async () => {
    const key = `k-${randomUUID()}`;
    const body = { name: 'Slow' };
    const fp = requestFingerprint('POST', '/api/lists', {}, body);
    await app.pg.deps.db.withTenant(t.id, (c) => claimIdempotencyKey(c, t.id, key, fp, 'POST', '/api/lists'));
    const r = await t.api('POST', '/api/lists', body, { 'idempotency-key': key });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('idempotency_key_in_use');
    expect(r.headers.get('retry-after')).toBe('1');
    expect(await rows(`SELECT 1 FROM lists WHERE tenant_id = $1 AND name = 'Slow'`, [t.id])).toHaveLength(0);
  });

  it('frees the key of a failed request, keeps keys per tenant, refuses a malformed key', async () => {
    const key = `k-${randomUUID()}`;
    expect((await t.api('POST', '/api/lists', { name: '' }, { 'idempotency-key': key })).status).toBe(422);
    expect((await t.api('POST', '/api/lists', { name: 'Fixed' }, { 'idempotency-key': key })).status).toBe(201);
    const theirs = await other.api('POST', '/api/lists', { name: 'Fixed' }, { 'idempotency-key': key });
    expect(theirs.status).toBe(201);
    const bad = await t.api('POST', '/api/lists', { name: 'X' }, { 'idempotency-key': 'has space' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_idempotency_key', field: 'Idempotency-Key' });
    const card = await t.api('POST', '/api/lists', { name: 'X' }, { 'idempotency-key': '5555.5555.5555.4444' });
    expect(card.status).toBe(422);
    expect(card.body.error).toMatchObject({ code: 'card_data_rejected', field: 'Idempotency-Key' });
    expect(await rows(`SELECT 1 FROM idempotency_keys WHERE key LIKE '5555%'`)).toHaveLength(0);
  });

  it('never stores a secret shown once: a replay of POST /api/keys has the id and key null', async () => {
    const first = await t.api('POST', '/api/keys', { scopes: ['subscribers'] }, { 'idempotency-key': 'new-key-1' });
    expect(first.status).toBe(201);
    expect(first.body.key).toMatch(/^pg_/);
    const replay = await t.api('POST', '/api/keys', { scopes: ['subscribers'] }, { 'idempotency-key': 'new-key-1' });
    expect(replay).toMatchObject({ status: 201, body: { id: first.body.id, key: null } });
    expect(await rows('SELECT 1 FROM idempotency_keys WHERE strpos(response_body, $1) > 0', [first.body.key])).toHaveLength(0);
  });

  it('refuses a body nested too deep before parsing or fingerprinting it: 413 body_too_large, the key stays free', async () => {
    const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    const r = await t.api('POST', '/api/lists', deep, { 'idempotency-key': 'deep-1' });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('body_too_large');
    expect(await rows(`SELECT 1 FROM idempotency_keys WHERE tenant_id = $1 AND key = 'deep-1'`, [t.id])).toHaveLength(0);
  });

  it('is the notice idempotency key when the body has none; both different is 422', async () => {
    await given(app, t).pendingContact('retry@example.org');
    const key = `notice-${randomUUID()}`;
    const notice = { kind: 'account', contact: 'retry@example.org', data: { body: 'Your plan changed.' } };
    const first = await t.api('POST', '/api/messages', notice, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(first.body.purpose).toBe(`notice:${key}`);
    const retry = await t.api('POST', '/api/messages', notice, { 'idempotency-key': key });
    expect(retry.body.id).toBe(first.body.id);
    // The same key in the body, without the header: the same notice (the ledger's own idempotency).
    const viaBody = await t.api('POST', '/api/messages', { ...notice, idempotencyKey: key });
    expect(viaBody.status).toBe(200);
    expect(viaBody.body.id).toBe(first.body.id);
    const both = await t.api('POST', '/api/messages', { ...notice, idempotencyKey: 'another' }, { 'idempotency-key': `x-${key}` });
    expect(both.status).toBe(422);
    expect(both.body.error.field).toBe('idempotencyKey');
    expect(await rows(`SELECT 1 FROM messages WHERE recipient = 'retry@example.org'`)).toHaveLength(1);
  });

  it('forgets stored responses that name a contact when the contact is erased', async () => {
    const consent = { text: 'Yes, send me the newsletter.', source: 'test' };
    const reg = await t.api('POST', '/api/contacts', { email: 'forget-me@example.org', newsletter: true, consent }, { 'idempotency-key': 'reg-forget' });
    expect(reg.status).toBe(201);
    expect(await rows(`SELECT 1 FROM idempotency_keys WHERE strpos(response_body, 'forget-me@example.org') > 0`)).toHaveLength(1);
    expect((await t.api('DELETE', `/api/contacts/${reg.body.id}`)).status).toBe(200);
    expect(await rows(`SELECT 1 FROM idempotency_keys WHERE strpos(response_body, 'forget-me@example.org') > 0 OR strpos(response_body, $1) > 0`, [reg.body.id])).toHaveLength(0);
  });

  it('expires keys: purge_expired() (the maintenance cron) deletes them', async () => {
    const key = `k-${randomUUID()}`;
    expect((await t.api('POST', '/api/lists', { name: 'Expiring' }, { 'idempotency-key': key })).status).toBe(201);
    expect(await rows('SELECT 1 FROM idempotency_keys WHERE key = $1', [key])).toHaveLength(1);
    await rows(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [key]);
    await rows('SELECT purge_expired()');
    expect(await rows('SELECT 1 FROM idempotency_keys WHERE key = $1', [key])).toHaveLength(0);
  });
});

describe('careless calls', () => {
  it('refuses a campaign sendAt in the past (422 sendAt), on create and on schedule', async () => {
    const g = given(app, t);
    const template = await g.template();
    const list = await g.defaultList();
    const past = await t.api('POST', '/api/campaigns', { name: 'Old', templateId: template, listIds: [list], sendAt: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(422);
    expect(past.body.error).toMatchObject({ code: 'invalid', field: 'sendAt' });
    expect(await rows(`SELECT 1 FROM campaigns WHERE tenant_id = $1 AND name = 'Old'`, [t.id])).toHaveLength(0);
    const skewed = await t.api('POST', '/api/campaigns', { name: 'Skewed', templateId: template, listIds: [list], sendAt: new Date(Date.now() - 20_000).toISOString() });
    expect(skewed.status).toBe(201);
    const draft = await g.campaign(template, [list]);
    const sched = await t.api('POST', `/api/campaigns/${draft.id}/schedule`, { sendAt: '2020-01-01T00:00:00Z' });
    expect(sched.status).toBe(422);
    expect(sched.body.error.field).toBe('sendAt');
  });

  it('answers 415 unsupported_media_type for a body that is not JSON, and changes nothing', async () => {
    const r = await t.api('PATCH', '/api/tenant', 'name=Changed', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('unsupported_media_type');
    const plain = await t.api('PATCH', '/api/tenant', '{"name":"Changed"}', { 'content-type': 'text/plain' });
    expect(plain.status).toBe(415);
    expect((await t.api('GET', '/api/tenant')).body.name).toBe('Acme');
    const merge = await t.api('PATCH', '/api/tenant', { fromName: 'Acme News' }, { 'content-type': 'application/merge-patch+json' });
    expect(merge.status).toBe(200);
  });

  it('replays an invoice sent again with the contact as its id instead of its address', async () => {
    const c = await given(app, t).pendingContact('buyer@example.org');
    const first = await t.api('POST', '/api/invoices', invoice('T-spelling', 'buyer@example.org'));
    expect(first.status).toBe(202);
    for (const contact of [c.id, { id: c.id.toUpperCase() }, { email: 'Buyer@Example.org' }]) {
      const again = await t.api('POST', '/api/invoices', invoice('T-spelling', contact));
      expect(again.status, JSON.stringify(contact)).toBe(200);
      expect(again.body.id).toBe(first.body.id);
    }
    const changed = await t.api('POST', '/api/invoices', invoice('T-spelling', c.id, { issuedAt: '2024-06-01' }));
    expect(changed.status).toBe(409);
  });

  it('answers unknown routes with 404 not_found (JSON under /api), a wrong method with 405 and Allow', async () => {
    const missing = await t.api('GET', '/api/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'not_found' });
    const anon = await request(app.url, null, 'POST', '/api/nope/deeper', { a: 1 });
    expect(anon.status).toBe(404);
    expect(anon.body.error.code).toBe('not_found');
    const method = await t.api('PUT', '/api/lists');
    expect(method.status).toBe(405);
    expect(method.body.error.code).toBe('method_not_allowed');
    expect(method.headers.get('allow')).toBe('GET, POST');
    const page = await fetch(`${app.url}/no/such/page`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('answers every list with one envelope: {items, nextCursor}', async () => {
    const g = given(app, t);
    await g.campaign(await g.template(), [await g.defaultList()]);
    for (const path of ['/api/campaigns', '/api/bounces', '/api/templates', '/api/lists', '/api/contacts', '/api/messages', '/api/suppressions']) {
      const r = await t.api('GET', `${path}?limit=1`.replace('/api/lists?limit=1', '/api/lists'));
      expect(r.status, path).toBe(200);
      expect(Object.keys(r.body).sort(), path).toEqual(['items', 'nextCursor']);
      expect(Array.isArray(r.body.items), path).toBe(true);
    }
    const first = await t.api('GET', '/api/campaigns?limit=1');
    if (first.body.nextCursor) {
      const next = await t.api('GET', `/api/campaigns?limit=1&cursor=${first.body.nextCursor}`);
      expect(next.body.items[0]?.id).not.toBe(first.body.items[0].id);
    }
  });

  it('refuses unknown keys everywhere, naming the key', async () => {
    const template = await given(app, t).template();
    const preview = await t.api('POST', `/api/templates/${template}/preview`, { data: {}, colour: 'red' });
    expect(preview.status).toBe(422);
    expect(preview.body.error).toMatchObject({ code: 'invalid', field: 'colour' });
    const noBody = await t.api('POST', `/api/campaigns/${randomUUID()}/pause`, { force: true });
    expect(noBody.status).toBe(422);
    expect(noBody.body.error.field).toBe('force');
    const query = await t.api('GET', '/api/lists?sort=name');
    expect(query.status).toBe(422);
    expect(query.body.error.field).toBe('query.sort');
  });

  it('authenticates before it reads a body: 401 before 400, 413, 415 and the card check; 403 before them too', async () => {
    const huge = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) });
    for (const [body, type] of [['{"name": ', 'application/json'], [huge, 'application/json'], ['name=x', 'text/plain'], ['{"name":"4111 1111 1111 1111"}', 'application/json']]) {
      const anon = await request(app.url, null, 'PATCH', '/api/tenant', body, { 'content-type': type });
      expect(anon.status, `${type} ${body.slice(0, 20)}`).toBe(401);
    }
    const narrow = await app.tenant({ scopes: ['subscribers'] });
    const r = await narrow.api('PATCH', '/api/tenant', '{"name": ', { 'content-type': 'application/json' });
    expect(r.status).toBe(403);
    // Authenticated, the body is read and judged: malformed 400, too large 413.
    expect((await t.api('PATCH', '/api/tenant', '{"name": ')).status).toBe(400);
    expect((await t.api('PATCH', '/api/tenant', huge)).status).toBe(413);
  });

  it('takes 256 KiB of JSON on most routes and 1 MiB where a resource needs it (templates): 413 body_too_large beyond', async () => {
    const padded = JSON.stringify({ name: `List ${'x'.repeat(300 * 1024)}` });
    const r = await t.api('POST', '/api/lists', padded);
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'body_too_large', field: 'body' });
    // A 300 KiB template body is read and judged by its own rules (the MJML limit), not refused as too large.
    const template = await t.api('POST', '/api/templates', { name: 'Big', subject: 's', mjml: `<mjml><mj-body><mj-section><mj-column><mj-text>${'y'.repeat(150 * 1024)}</mj-text></mj-column></mj-section></mj-body></mjml>`, text: 'z'.repeat(150 * 1024) });
    expect(template.status).toBe(201);
  });
});
