// Webhooks end to end: a real Postgate, a real HTTP receiver on loopback (WEBHOOK_ALLOW_PRIVATE=1),
// a short retry schedule. Events come from the real paths (a notice through the API) and from the
// feed's owner (appendEvent), as engagement and other parts write them.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { waitFor } from '../support/wait.js';
import { appendEvent } from '../../src/events/feed.js';
import { MAX_ENDPOINTS, purgeFinishedDeliveries } from '../../src/webhooks/store.js';
import type { EventType } from '../../src/events/types.js';
import { startReceiver, type Receiver } from './receiver.js';

const { app, t, tenant } = useApp({ config: {
  WEBHOOK_ALLOW_PRIVATE: true, WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,300ms', WEBHOOK_POLL_MS: 100, WEBHOOK_TIMEOUT_MS: 2000,
} });
const other = tenant({ name: 'Other' });
const feedOnly = tenant({ name: 'Feed', scopes: ['events'] });
const mailOnly = tenant({ name: 'Mail', scopes: ['transactional'] });
const capped = tenant({ name: 'Capped' });

let rx: Receiver;
beforeAll(async () => { rx = await startReceiver(); });
afterAll(async () => { await rx?.close(); });

/** Appends one event to tenant `tenantId`'s feed in its own transaction; returns its id (found by a marker in its data). */
async function event(tenantId: string, type: EventType, data: Record<string, unknown> = {}): Promise<string> {
  const marker = randomUUID();
  return app.pg.deps.db.withTenant(tenantId, async (c) => {
    await appendEvent(c, tenantId, { type, data: { ...data, marker } });
    return (await c.query<{ id: string }>("SELECT id::text FROM events WHERE data->>'marker' = $1", [marker])).rows[0].id;
  });
}

async function endpoint(tt: typeof t, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const r = await tt.api('POST', '/api/webhooks', body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

const from = (id: string) => rx.received.filter((x) => x.id === id);

describe('endpoints', () => {
  it('creates an endpoint and shows its Standard Webhooks secret once', async () => {
    const r = await t.api('POST', '/api/webhooks', { url: `${rx.url}?a=1`, types: ['message.sent', 'message.bounced'], description: 'CRM' });
    expect(r.status).toBe(201);
    expect(r.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(r.body).toMatchObject({ types: ['message.sent', 'message.bounced'], enabled: true, disabledReason: null, description: 'CRM' });
    const got = await t.api('GET', `/api/webhooks/${r.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    expect((await t.api('GET', '/api/webhooks')).body.items.map((e: { id: string }) => e.id)).toContain(r.body.id);
    expect((await other.api('GET', `/api/webhooks/${r.body.id}`)).status).toBe(404);
    const rotated = await t.api('POST', `/api/webhooks/${r.body.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(r.body.secret);
    expect((await mailOnly.api('GET', '/api/webhooks')).status).toBe(403); // scope events (or admin)
    const own = await feedOnly.api('POST', '/api/webhooks', { url: rx.url, types: ['*'] });
    expect(own.status).toBe(201);
    expect((await feedOnly.api('DELETE', `/api/webhooks/${own.body.id}`)).status).toBe(204);
    expect((await t.api('DELETE', `/api/webhooks/${r.body.id}`)).status).toBe(204);
    expect((await t.api('GET', `/api/webhooks/${r.body.id}`)).status).toBe(404);
  });

  it('keeps a tenant to MAX_ENDPOINTS endpoints (409 beyond, even when asked at once), so one event cannot fan out without bound', async () => {
    const made = await Promise.all(Array.from({ length: MAX_ENDPOINTS + 3 }, (_, i) => capped.api('POST', '/api/webhooks', { url: `${rx.url}?cap=${i}`, types: ['*'] })));
    expect(made.filter((r) => r.status === 201)).toHaveLength(MAX_ENDPOINTS);
    for (const r of made.filter((x) => x.status !== 201)) expect(r).toMatchObject({ status: 409, body: { error: { code: 'conflict', field: 'url' } } });
    const list = await capped.api('GET', '/api/webhooks');
    expect(list.body.items).toHaveLength(MAX_ENDPOINTS);
    for (const e of list.body.items) await capped.api('DELETE', `/api/webhooks/${e.id}`);
  });

  it('refuses a bad URL or event type with 422 naming the field, writing nothing', async () => {
    const before = (await t.api('GET', '/api/webhooks')).body.items.length;
    const cases: [Record<string, unknown>, string][] = [
      [{ url: 'ftp://example.org/x', types: ['*'] }, 'url'],
      [{ url: 'not a url', types: ['*'] }, 'url'],
      [{ url: 'https://user:pw@example.org/x', types: ['*'] }, 'url'],
      [{ url: 'https://example.org/x', types: ['message.sent', 'message.nope'] }, 'types[1]'],
      [{ url: 'https://example.org/x', types: ['*', 'message.sent'] }, 'types'],
    ];
    for (const [body, field] of cases) {
      const r = await t.api('POST', '/api/webhooks', body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.error.field).toBe(field);
    }
    expect((await t.api('GET', '/api/webhooks')).body.items.length).toBe(before);
  });
});

describe('delivery', () => {
  it('delivers a notice\'s events, signed so that standardwebhooks verifies them', async () => {
    await given(app, t).pendingContact('sig@example.org');
    const ep = await endpoint(t, { url: rx.url, types: ['message.queued', 'message.sent'] });
    const r = await t.api('POST', '/api/messages', { kind: 'account', contact: 'sig@example.org', data: { body: 'Hello.' } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const mine = () => rx.received.filter((x) => JSON.parse(x.body).data.messageId === r.body.id);
    await waitFor(() => mine().length === 2, { message: () => JSON.stringify(rx.received.map((x) => x.body)) });
    const wh = new Webhook(ep.secret);
    for (const x of mine()) {
      const verified = wh.verify(x.body, { 'webhook-id': x.id, 'webhook-timestamp': x.timestamp, 'webhook-signature': x.signature }) as Record<string, any>;
      expect(verified.data.eventId).toBe(x.id.replace(/^evt_/, ''));
      expect(x.userAgent).toBe('Postgate');
    }
    const bodies = mine().map((x) => JSON.parse(x.body));
    expect(bodies.map((b) => b.type).sort()).toEqual(['message.queued', 'message.sent']);
    expect(bodies[0]).toMatchObject({ timestamp: expect.stringMatching(/Z$/), data: { messageId: r.body.id, recipient: 'sig@example.org', kind: 'account' } });
    // a tampered body does not verify
    const x = mine()[0];
    expect(() => wh.verify(x.body.replace('sig@', 'evil@'), { 'webhook-id': x.id, 'webhook-timestamp': x.timestamp, 'webhook-signature': x.signature })).toThrow();
    await t.api('DELETE', `/api/webhooks/${ep.id}`);
  });

  it('sends the same event again, with the same webhook-id, after a 500, and logs both attempts', async () => {
    const ep = await endpoint(t, { url: rx.url, types: ['import.finished'] });
    rx.answer((_, wid) => (from(wid).length === 0 ? 500 : 200)); // set before the event: it may go out at once
    const eventId = await event(t.id, 'import.finished', { importId: 'x', status: 'completed', counts: {} });
    const id = `evt_${eventId}`;
    await waitFor(() => from(id).length === 2);
    expect(from(id).map((x) => x.status)).toEqual([500, 200]);
    expect(from(id)[0].body).toBe(from(id)[1].body);
    const log = await waitFor(async () => {
      const l = await t.api('GET', `/api/webhooks/${ep.id}/deliveries`);
      return l.body.items[0]?.status === 'delivered' && l.body;
    });
    expect(log.items).toHaveLength(1);
    const d = log.items[0];
    expect(d).toMatchObject({ eventId, eventType: 'import.finished', webhookId: id, replay: 0, attempts: 2, lastStatusCode: 200, lastError: null });
    expect(d.attemptLog.map((a: any) => [a.attempt, a.statusCode, a.error])).toEqual([[1, 500, 'http_500'], [2, 200, null]]);
    expect(d.attemptLog[0].response.length).toBeLessThanOrEqual(1024);
    expect(d.attemptLog[0].response).toMatch(/^nope x+$/);
    rx.answer(() => 200);
    await t.api('DELETE', `/api/webhooks/${ep.id}`);
  });

  it('delivers only the endpoint\'s types and tenant', async () => {
    const ep = await endpoint(other, { url: `${rx.url}?other`, types: ['contact.suppressed'] });
    const skipped = await event(other.id, 'contact.unsubscribed', { contactId: 'c' });
    const wanted = await event(other.id, 'contact.suppressed', { contactId: 'c' });
    const foreign = await event(t.id, 'contact.suppressed', { contactId: 'd' });
    await waitFor(() => from(`evt_${wanted}`).length === 1);
    const l = await other.api('GET', `/api/webhooks/${ep.id}/deliveries`);
    expect(l.body.items.map((d: any) => d.eventId)).toEqual([wanted]);
    expect(from(`evt_${skipped}`)).toEqual([]);
    expect(from(`evt_${foreign}`)).toEqual([]);
    await other.api('DELETE', `/api/webhooks/${ep.id}`);
  });

  it('replays one event, and a time range, with the event\'s webhook-id', async () => {
    const t0 = new Date(Date.now() - 1000).toISOString();
    const ep = await endpoint(t, { url: rx.url, types: ['campaign.paused'] });
    const a = await event(t.id, 'campaign.paused', { campaignId: 'c1', reason: 'complaints' });
    const b = await event(t.id, 'campaign.paused', { campaignId: 'c2', reason: 'complaints' });
    await waitFor(() => from(`evt_${a}`).length === 1 && from(`evt_${b}`).length === 1);
    const one = await t.api('POST', `/api/webhooks/${ep.id}/replay`, { eventId: a });
    expect(one.status).toBe(202);
    expect(one.body).toEqual({ replayed: 1 });
    await waitFor(() => from(`evt_${a}`).length === 2);
    const range = await t.api('POST', `/api/webhooks/${ep.id}/replay`, { since: t0, until: new Date(Date.now() + 1000).toISOString() });
    expect(range.body).toEqual({ replayed: 2 });
    await waitFor(() => from(`evt_${a}`).length === 3 && from(`evt_${b}`).length === 2);
    const l = await t.api('GET', `/api/webhooks/${ep.id}/deliveries?limit=2`);
    expect(l.body.items).toHaveLength(2);
    const rest = await t.api('GET', `/api/webhooks/${ep.id}/deliveries?limit=10&cursor=${l.body.nextCursor}`);
    expect([...l.body.items, ...rest.body.items].map((d: any) => `${d.eventId}/${d.replay}`).sort())
      .toEqual([`${a}/0`, `${a}/1`, `${a}/2`, `${b}/0`, `${b}/1`].sort());
    expect((await t.api('POST', `/api/webhooks/${ep.id}/replay`, { eventId: '999999999' })).status).toBe(404);
    const bad = await t.api('POST', `/api/webhooks/${ep.id}/replay`, { since: t0 });
    expect([bad.status, bad.body.error.field]).toEqual([422, 'until']);
    // a disabled endpoint sends nothing: a replay there is refused (409), not accepted and left pending
    expect((await t.api('PATCH', `/api/webhooks/${ep.id}`, { enabled: false })).status).toBe(200);
    const off = await t.api('POST', `/api/webhooks/${ep.id}/replay`, { eventId: a });
    expect([off.status, off.body.error.code, off.body.error.field]).toEqual([409, 'endpoint_disabled', 'enabled']);
    await t.api('DELETE', `/api/webhooks/${ep.id}`);
  });

  it('signs with the new and the previous secret for a while after a rotation', async () => {
    const ep = await endpoint(t, { url: rx.url, types: ['campaign.resumed'] });
    const rotated = await t.api('POST', `/api/webhooks/${ep.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const eventId = await event(t.id, 'campaign.resumed', { campaignId: 'rot', from: 'paused' });
    const x = await waitFor(() => from(`evt_${eventId}`)[0]);
    expect(x.signature.split(' ')).toHaveLength(2);
    for (const secret of [ep.secret, rotated.body.secret]) {
      const body = new Webhook(secret).verify(x.body, { 'webhook-id': x.id, 'webhook-timestamp': x.timestamp, 'webhook-signature': x.signature });
      expect(body).toMatchObject({ type: 'campaign.resumed' });
    }
    // once the grace period is over, only the new secret signs
    await ownerQuery(app.db.url, `UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second' WHERE id = $1`, [ep.id]);
    const later = await event(t.id, 'campaign.resumed', { campaignId: 'rot2', from: 'paused' });
    const y = await waitFor(() => from(`evt_${later}`)[0]);
    expect(y.signature.split(' ')).toHaveLength(1);
    expect(() => new Webhook(ep.secret).verify(y.body, { 'webhook-id': y.id, 'webhook-timestamp': y.timestamp, 'webhook-signature': y.signature })).toThrow();
    await t.api('DELETE', `/api/webhooks/${ep.id}`);
  });

  it('drops a delivery whose event was erased before it could be sent', async () => {
    const ep = await endpoint(t, { url: rx.url, types: ['contact.confirmed'] });
    rx.answer(async (_, wid) => { // set before the event: it may go out at once
      if (from(wid).length > 0) return 200;
      await ownerQuery(app.db.url, 'DELETE FROM events WHERE id = $1', [wid.replace(/^evt_/, '')]); // as erasure does
      return 503;
    });
    const eventId = await event(t.id, 'contact.confirmed', { contactId: 'e', recipient: 'gone@example.org' });
    const id = `evt_${eventId}`;
    let last: unknown;
    const d = await waitFor(async () => {
      const l = await t.api('GET', `/api/webhooks/${ep.id}/deliveries`);
      last = l.body;
      return l.body.items[0]?.status === 'dropped' && l.body.items[0];
    }, { message: () => JSON.stringify(last) });
    expect(d).toMatchObject({ attempts: 2, eventType: null, lastError: 'event_deleted' });
    expect(from(id)).toHaveLength(1);
    rx.answer(() => 200);
    await t.api('DELETE', `/api/webhooks/${ep.id}`);
  });

  it('disables an endpoint after persistent failure, with a webhook.disabled notice in the feed', async () => {
    const down = await startReceiver();
    down.answer(() => 500);
    const notices = await endpoint(t, { url: rx.url, types: ['webhook.disabled'] });
    const ep = await endpoint(t, { url: down.url, types: ['message.complained'] });
    const eventId = await event(t.id, 'message.complained', { messageId: 'm' });
    const notice = await waitFor(() => rx.received.find((x) => JSON.parse(x.body).type === 'webhook.disabled'), { timeout: 15_000 });
    await down.close();
    expect(JSON.parse(notice.body).data).toMatchObject({ endpointId: ep.id, url: down.url, reason: expect.stringContaining(`event ${eventId}`) });
    expect(down.received).toHaveLength(4); // 1 + the 3 retries of the schedule
    const got = (await t.api('GET', `/api/webhooks/${ep.id}`)).body;
    expect(got).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('failed after 4 attempts') });
    expect((await t.api('GET', `/api/webhooks/${ep.id}/deliveries`)).body.items[0]).toMatchObject({ status: 'failed', attempts: 4 });
    // re-enabling clears the disabled state
    const back = await t.api('PATCH', `/api/webhooks/${ep.id}`, { enabled: true });
    expect(back.body).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null });
    await t.api('DELETE', `/api/webhooks/${ep.id}`);
    await t.api('DELETE', `/api/webhooks/${notices.id}`);
  });
});

describe('retention', () => {
  it('the maintenance sweep deletes finished deliveries older than EVENTS_RETENTION_DAYS, with their attempts, and keeps pending ones', async () => {
    const ep = await endpoint(t, { url: `${rx.url}?retention`, types: ['contact.suppressed'] });
    const old = await event(t.id, 'contact.suppressed', { contactId: 'r1' });
    await waitFor(() => from(`evt_${old}`).length === 1);
    await waitFor(async () => (await ownerQuery(app.db.url, "SELECT 1 FROM webhook_deliveries WHERE event_id = $1 AND status = 'delivered'", [old])).length === 1);
    await t.api('PATCH', `/api/webhooks/${ep.id}`, { enabled: false });
    const pending = await event(t.id, 'contact.suppressed', { contactId: 'r2' });
    await ownerQuery(app.db.url, `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, created_at) VALUES ($1, $2, $3, now() - interval '400 days')`, [t.id, ep.id, pending]);
    await ownerQuery(app.db.url, `UPDATE webhook_deliveries SET finished_at = now() - interval '31 days' WHERE event_id = $1`, [old]);
    const n = await app.pg.deps.db.withSystem((c) => purgeFinishedDeliveries(c, app.pg.config.EVENTS_RETENTION_DAYS));
    expect(n).toBe(1);
    const left = await ownerQuery<{ event_id: string; status: string }>(app.db.url, 'SELECT event_id::text, status FROM webhook_deliveries WHERE endpoint_id = $1', [ep.id]);
    expect(left).toEqual([{ event_id: pending, status: 'pending' }]);
    expect(await ownerQuery(app.db.url, 'SELECT 1 FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1', [old])).toEqual([]);
    await t.api('DELETE', `/api/webhooks/${ep.id}`);
  });
});
