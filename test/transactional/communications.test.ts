// The record of communications: the timeline through a temporary SMTP failure and a retry, listing
// with filters and keyset pagination, tenant isolation, and body retention.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { invoice, mailsTo, waitForMessage } from './helpers.js';

const refusedOnce = new Set<string>();

const { app, t } = useApp({
  sink: {
    // The first attempt to flaky@ is refused with a temporary error; the retry is accepted.
    onRcpt: (address) => {
      if (address !== 'flaky@example.org' || refusedOnce.has(address)) return null;
      refusedOnce.add(address);
      return { code: 451, message: 'try later' };
    },
  },
});

describe('message record', () => {
  it('shows queued, sending, deferred (with the SMTP reply), sending, sent through a temporary failure', async () => {
    const c = await given(app, t).pendingContact('flaky@example.org');
    const r = await t.api('POST', '/api/invoices', invoice('T-FLAKY', { id: c.id }));
    expect(r.status).toBe(202);
    const done = await waitForMessage(t, r.body.id, 'sent');
    expect(done.events.map((e: any) => e.type)).toEqual(['queued', 'sending', 'deferred', 'sending', 'sent']);
    const deferred = done.events[2];
    expect(deferred.detail.response).toMatch(/451/);
    expect(deferred.detail.response).toMatch(/try later/);
    expect(deferred.detail.attempt).toBe(1);
    expect(done.events[4].detail.response).toMatch(/^250/);
    expect(done).toMatchObject({ attempts: 2, kind: 'invoice', template: 'invoice', templateVersion: 1, recipient: 'flaky@example.org', contactId: c.id });
    expect(done.smtpResponse).toMatch(/^250/);
    expect(done.messageId).toMatch(/^<.+@acme\.org>$/);
    expect(done.body.html).toContain('€1,234.50');
    expect(mailsTo(app.sink.received, 'flaky@example.org')).toHaveLength(1);
    const times = done.events.map((e: any) => Date.parse(e.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('lists newest first with filters and keyset pagination', async () => {
    for (const e of ['l1@example.org', 'l2@example.org']) await given(app, t).pendingContact(e);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await t.api('POST', '/api/invoices', invoice(`T-LIST-${i}`, i % 2 ? 'l1@example.org' : 'l2@example.org'));
      ids.push(r.body.id);
    }
    const notice = await t.api('POST', '/api/messages', { kind: 'account', contact: 'l1@example.org', template: 'account', data: { body: 'Your account.' } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await t.api('GET', `/api/messages?kind=invoice&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((m: any) => m.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.filter((id) => ids.includes(id))).toEqual([...ids].reverse());
    expect(seen).not.toContain(notice.body.id);
    expect(new Set(seen).size).toBe(seen.length);
    const l1 = await t.api('GET', '/api/messages?recipient=L1@example.org');
    expect(l1.body.items.map((m: any) => m.id).sort()).toEqual([ids[1], ids[3], notice.body.id].sort());
    const accounts = await t.api('GET', '/api/messages?kind=account');
    expect(accounts.body.items.map((m: any) => m.id)).toEqual([notice.body.id]);
    const future = await t.api('GET', `/api/messages?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(future.body.items).toEqual([]);
    expect((await t.api('GET', '/api/messages?cursor=garbage')).status).toBe(422);
    expect((await t.api('GET', '/api/messages?status=lost')).status).toBe(422);
  });

  it('hides other tenants\' messages', async () => {
    const other = await app.tenant({ name: 'Other', fromEmail: 'billing@other.org', replyTo: 'help@other.org' });
    const mine = (await t.api('GET', '/api/messages')).body.items;
    expect(mine.length).toBeGreaterThan(0);
    expect((await other.api('GET', '/api/messages')).body.items).toEqual([]);
    expect((await other.api('GET', `/api/messages/${mine[0].id}`)).status).toBe(404);
    expect((await t.api('GET', '/api/messages/not-a-uuid')).status).toBe(404);
  });

  it('keeps the body for the retention period, then keeps only the metadata', async () => {
    const c = await given(app, t).pendingContact('keep@example.org');
    const r = await t.api('POST', '/api/invoices', invoice('T-KEEP', { id: c.id }));
    const sent = await waitForMessage(t, r.body.id, 'sent');
    expect(sent.body.text).toContain('€1,234.50');
    expect(Date.parse(sent.body.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000); // BODY_RETENTION_DAYS 30
    await ownerQuery(app.db.url, `UPDATE message_bodies SET expires_at = now() - interval '1 second' WHERE message_id = $1`, [r.body.id]);
    await ownerQuery(app.db.url, 'SELECT purge_expired()');
    const after = (await t.api('GET', `/api/messages/${r.body.id}`)).body;
    expect(after.body).toBeNull();
    expect(after).toMatchObject({ status: 'sent', subject: 'Invoice T-KEEP from Acme', messageId: sent.messageId, recipient: 'keep@example.org' });
    expect(after.events.map((e: any) => e.type)).toEqual(['queued', 'sending', 'sent']);
    const [row] = await ownerQuery<{ data: unknown }>(app.db.url, 'SELECT data FROM messages WHERE id = $1', [r.body.id]);
    expect(row.data).toEqual({});
  });
});
