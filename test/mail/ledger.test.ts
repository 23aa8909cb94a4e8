// The ledger's event channel: every event it writes reaches in-process subscribers after commit and
// LISTENing PostgreSQL clients (NOTIFY postgate_message_events, payload: the event id), and a
// rolled-back write reaches neither.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/platform/db.js';
import {
  enqueueMessage, markSendingMany, recordSentMany, MESSAGE_EVENTS_CHANNEL, messageEvents, subscribe, type LedgerEvent,
} from '../../src/mail/ledger.js';
import { createTenant } from '../../src/tenants/store.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../support/db.js';

let tdb: TestDatabase;
let db: Db;
let listener: pg.Client;
const tenantId = randomUUID();
const notified: string[] = [];

const waitFor = async (ok: () => boolean, ms = 5000) => {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url);
  await createTenant(db, { name: 'Acme', fromEmail: 'news@acme.org', fromName: 'Acme', replyTo: 'team@acme.org' }, tenantId);
  listener = new pg.Client({ connectionString: tdb.url });
  await listener.connect();
  listener.on('notification', (n) => { if (n.channel === MESSAGE_EVENTS_CHANNEL) notified.push(n.payload ?? ''); });
  await listener.query(`LISTEN ${MESSAGE_EVENTS_CHANNEL}`);
});

afterAll(async () => {
  await listener?.end();
  await db?.close();
  await tdb?.drop();
});

const newMessage = (purpose: string) => ({
  tenantId, purpose, kind: 'technical' as const, contactId: null, recipient: 'ann@inbox.example', template: 'notice', data: {},
});

describe('ledger event channel', () => {
  it('delivers each event to in-process subscribers and LISTENing clients, after commit', async () => {
    const heard: LedgerEvent[] = [];
    const unsubscribe = subscribe((e) => heard.push(e));
    try {
      let seenBeforeCommit = -1;
      const message = await db.withTenant(tenantId, async (c) => {
        const { message: m } = await enqueueMessage(c, newMessage(`notice:${randomUUID()}`));
        await markSendingMany(c, [{ id: m.id, attempt: 1, subject: 'Hello', messageIdHeader: '<x@acme.org>' }], 60);
        seenBeforeCommit = heard.length;
        return m;
      });
      expect(seenBeforeCommit).toBe(0);
      await db.withTenant(tenantId, (c) => recordSentMany(c, [{ id: message.id, tenantId, response: '250 ok', attempt: 1, body: { html: '', text: '' }, links: [] }], 0));

      expect(heard.map((e) => e.type)).toEqual(['queued', 'sending', 'sent']);
      expect(heard.every((e) => e.messageId === message.id && e.tenantId === tenantId)).toBe(true);
      expect(heard[2].detail).toEqual({ response: '250 ok', attempt: 1 });
      await waitFor(() => heard.every((e) => notified.includes(e.id)));

      // The payload is the message_events id: a consumer reads the event by it.
      const rows = await ownerQuery<{ id: string; type: string }>(tdb.url, 'SELECT id::text, type FROM message_events WHERE id = ANY($1::bigint[]) ORDER BY id', [heard.map((e) => e.id)]);
      expect(rows.map((r) => r.type)).toEqual(['queued', 'sending', 'sent']);
      const timeline = await db.withTenant(tenantId, (c) => messageEvents(c, message.id));
      expect(timeline.map((e) => e.type)).toEqual(['queued', 'sending', 'sent']);
    } finally {
      unsubscribe();
    }
  });

  it('announces nothing for a rolled-back write', async () => {
    const heard: LedgerEvent[] = [];
    const unsubscribe = subscribe((e) => heard.push(e));
    const before = notified.length;
    try {
      await expect(db.withTenant(tenantId, async (c) => {
        await enqueueMessage(c, newMessage(`notice:${randomUUID()}`));
        throw new Error('changed my mind');
      })).rejects.toThrow('changed my mind');
      // A committed write after it: once its notification is in, the rolled-back one would have been too.
      const { message } = await db.withTenant(tenantId, (c) => enqueueMessage(c, newMessage(`notice:${randomUUID()}`)));
      await waitFor(() => notified.length > before);
      expect(heard.map((e) => [e.type, e.messageId])).toEqual([['queued', message.id]]);
      expect(notified.length - before).toBe(1);
    } finally {
      unsubscribe();
    }
  });
});
