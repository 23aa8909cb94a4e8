// The single-message path in few statements (issue 18): enqueueMessage writes the row, its 'queued'
// event and its send_queue entry in one statement; recordSentMany writes 'sent', its event and the body
// and drops the queue entry in one; migration 080's feed trigger announces only statements that
// added feed rows. Over real PostgreSQL, with no dispatcher running (nothing is claimed meanwhile).
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { waitFor } from '../support/wait.js';
import { getMessage, markSendingMany, recordEvent, recordSentMany } from '../../src/mail/ledger.js';

const { app, t } = useApp({ roles: { worker: false } });

const queueOf = async (id: string) => (await ownerQuery<{ n: number }>(app.db.url, 'SELECT count(*)::int AS n FROM send_queue WHERE message_id = $1', [id]))[0].n;
const eventsOf = async (id: string) => (await ownerQuery<{ type: string }>(app.db.url, 'SELECT type FROM message_events WHERE message_id = $1 ORDER BY id', [id])).map((e) => e.type);

describe('the single-message statements', () => {
  it('queue a message with its event and queue entry, and record it sent with its body, dequeued', async () => {
    const contact = await given(app, t).pendingContact('rt@example.org', { name: 'Rt' });
    const id = await given(app, t).queuedMessage({ kind: 'account', template: 'notice:account', recipient: 'rt@example.org', contactId: contact.id, data: {} });
    expect(await queueOf(id)).toBe(1);
    expect(await eventsOf(id)).toEqual(['queued']);

    const db = app.pg.deps.db;
    await db.withTenant(t.id, async (c) => {
      const m = (await getMessage(c, id, true))!;
      await markSendingMany(c, [{ id: m.id, attempt: 1, subject: 'Hi', messageIdHeader: '<x@acme.org>' }], 60);
      await recordSentMany(c, [{ id: m.id, tenantId: m.tenantId, response: '250 OK', attempt: 1, body: { html: '<p>Hello</p>', text: 'Hello' }, links: [] }], 30);
    });
    const [row] = await ownerQuery<{ status: string; smtp_response: string; html: string; text: string }>(app.db.url,
      'SELECT m.status, m.smtp_response, b.html, b.text FROM messages m JOIN message_bodies b ON b.message_id = m.id WHERE m.id = $1', [id]);
    expect(row).toEqual({ status: 'sent', smtp_response: '250 OK', html: '<p>Hello</p>', text: 'Hello' });
    expect(await queueOf(id)).toBe(0);
    expect(await eventsOf(id)).toEqual(['queued', 'sending', 'sent']);
    const feed = await ownerQuery<{ type: string }>(app.db.url, 'SELECT type FROM events WHERE message_id = $1 ORDER BY id', [id]);
    expect(feed.map((e) => e.type)).toEqual(['message.queued', 'message.sent']);
  });

  it('keeps no body when retention is 0', async () => {
    const contact = await given(app, t).pendingContact('rt0@example.org', { name: 'Rt0' });
    const id = await given(app, t).queuedMessage({ kind: 'account', template: 'notice:account', recipient: 'rt0@example.org', contactId: contact.id, data: {} });
    await app.pg.deps.db.withTenant(t.id, async (c) => {
      const m = (await getMessage(c, id, true))!;
      await markSendingMany(c, [{ id: m.id, attempt: 1, subject: 'Hi', messageIdHeader: '<y@acme.org>' }], 60);
      await recordSentMany(c, [{ id: m.id, tenantId: m.tenantId, response: '250 OK', attempt: 1, body: { html: '<p>Hello</p>', text: 'Hello' }, links: [] }], 0);
    });
    expect(await ownerQuery(app.db.url, 'SELECT 1 FROM message_bodies WHERE message_id = $1', [id])).toHaveLength(0);
    expect(await queueOf(id)).toBe(0);
  });

  it('announces on postgate_events only statements that added feed rows', async () => {
    const contact = await given(app, t).pendingContact('rt2@example.org', { name: 'Rt2' });
    const id = await given(app, t).queuedMessage({ kind: 'account', template: 'notice:account', recipient: 'rt2@example.org', contactId: contact.id, data: {} });
    const listener = new pg.Client({ connectionString: app.db.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => { if (n.channel === 'postgate_events') heard.push(n.payload ?? ''); });
    try {
      await listener.query('LISTEN postgate_events');
      const db = app.pg.deps.db;
      await db.withTenant(t.id, async (c) => recordEvent(c, { id, tenantId: t.id }, 'reclaimed', {})); // no feed row
      await db.withTenant(t.id, async (c) => recordEvent(c, { id, tenantId: t.id }, 'delayed', {})); // message.delivery_report
      await waitFor(() => heard.length >= 1, { timeout: 5000 });
      await listener.query('SELECT 1'); // any notification of the first commit has arrived by now
      expect(heard).toEqual([t.id]);
    } finally {
      await listener.end();
    }
  });
});
