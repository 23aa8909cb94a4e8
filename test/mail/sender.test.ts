// The single-message sender in batches (mail/sender.ts processMany) over real PostgreSQL and the real
// SMTP sink: a tenant's batch is prepared in one transaction and recorded in one, each message keeps
// its own timeline, and a message whose preparation fails does not hold up the others.
// No dispatcher runs: the test hands the batch to a Sender built from the app's own parts.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { waitFor } from '../support/wait.js';
import { Sender } from '../../src/mail/sender.js';
import type { Db } from '../../src/platform/db.js';

const { app, t } = useApp({ roles: { worker: false } });

function sender(db: Db = app.pg.deps.db): Sender {
  const d = app.pg.deps;
  return new Sender({ db, delivery: d.delivery, tokens: d.tokens, renderers: d.renderers,
    config: { publicUrl: d.config.PUBLIC_URL, bodyRetentionDays: 30, leaseSeconds: 60 } });
}

async function notices(email: string, keys: string[]): Promise<string[]> {
  await given(app, t).pendingContact(email, { name: 'Batch' });
  const ids: string[] = [];
  for (const key of keys) {
    const r = await t.api('POST', '/api/messages', { kind: 'account', contact: email, data: { body: `Hello ${key}` }, idempotencyKey: key });
    expect(r.status).toBe(202);
    ids.push(r.body.id as string);
  }
  return ids;
}

const timeline = async (id: string) => (await ownerQuery<{ type: string }>(app.db.url, 'SELECT type FROM message_events WHERE message_id = $1 ORDER BY id', [id])).map((e) => e.type);
const queued = async (ids: string[]) => (await ownerQuery<{ n: number }>(app.db.url, 'SELECT count(*)::int AS n FROM send_queue WHERE message_id = ANY($1::uuid[])', [ids]))[0].n;
const mailsTo = (email: string) => app.sink.received.filter((m) => m.envelopeTo.includes(email));

describe('a batch of single messages', () => {
  it('is prepared in one transaction and recorded in one; every message sent with its own timeline and body', async () => {
    const ids = await notices('batch@example.org', ['b-1', 'b-2', 'b-3', 'b-4', 'b-5']);
    const real = app.pg.deps.db;
    let transactions = 0;
    const db: Db = { ...real, withTenant: (tenantId, fn) => { transactions++; return real.withTenant(tenantId, fn); } };
    await sender(db).processMany(t.id, ids);
    expect(transactions).toBe(2);
    for (const id of ids) expect(await timeline(id)).toEqual(['queued', 'sending', 'sent']);
    expect(await queued(ids)).toBe(0);
    const kept = await ownerQuery<{ n: number }>(app.db.url, 'SELECT count(*)::int AS n FROM message_bodies WHERE message_id = ANY($1::uuid[])', [ids]);
    expect(kept[0].n).toBe(5);
    const attempts = await ownerQuery<{ attempts: number; subject: string | null; mid: string | null }>(app.db.url,
      'SELECT attempts, subject, message_id_header AS mid FROM messages WHERE id = ANY($1::uuid[])', [ids]);
    expect(attempts.every((r) => r.attempts === 1 && r.subject !== null && r.mid !== null)).toBe(true);
    await waitFor(() => mailsTo('batch@example.org').length === 5, { timeout: 5000 });
  });

  it('sends the others when one message of the batch cannot be prepared, and retries that one alone', async () => {
    const ids = await notices('batch2@example.org', ['c-1', 'crashb-2', 'c-3']);
    // A real fault in PostgreSQL: the database refuses this one message's move to 'sending'.
    await ownerQuery(app.db.url, `CREATE OR REPLACE FUNCTION test_refuse_batch() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.status = 'sending' AND NEW.purpose = 'notice:crashb-2' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`);
    await ownerQuery(app.db.url, 'CREATE TRIGGER test_refuse_batch BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION test_refuse_batch()');
    try {
      await sender().processMany(t.id, ids);
    } finally {
      await ownerQuery(app.db.url, 'DROP TRIGGER test_refuse_batch ON messages');
    }
    expect(await timeline(ids[0])).toEqual(['queued', 'sending', 'sent']);
    expect(await timeline(ids[2])).toEqual(['queued', 'sending', 'sent']);
    expect(await timeline(ids[1])).toEqual(['queued', 'error']); // counted, and due again after a backoff
    expect(await queued([ids[1]])).toBe(1);
    await waitFor(() => mailsTo('batch2@example.org').length === 2, { timeout: 5000 });
  });
});
