// Group commit of requests (transactional/batch.ts) over real PostgreSQL: concurrent submissions of
// one tenant share one transaction, idempotency holds per request inside a batch, and a request that
// makes the batch's transaction fail is answered alone while the others are still written.
// No dispatcher runs, so what the batch wrote stays as written.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { SubmissionBatcher } from '../../src/transactional/batch.js';
import type { Submission } from '../../src/transactional/submit.js';
import { DomainError } from '../../src/domain-error.js';
import type { Db } from '../../src/platform/db.js';

const { app, t } = useApp({ roles: { worker: false } });

/** The app's pool, counting the tenant transactions it opens. */
function countingDb(): { db: Db; transactions: () => number } {
  const real = app.pg.deps.db;
  let n = 0;
  const db: Db = { ...real, withTenant: (tenantId, fn) => { n++; return real.withTenant(tenantId, fn); } };
  return { db, transactions: () => n };
}

function invoice(id: string, email: string, total = 100, data: Record<string, unknown> = {}): Submission {
  const request = { transactionId: id, contact: { email }, total };
  return { tenantId: t.id, purpose: `invoice:${id}`, kind: 'invoice', template: 'invoice', contact: { email }, request,
    data: { invoice: { transactionId: id, total, ...data } }, keyField: 'transactionId' };
}

const rows = async (purposes: string[]) => ownerQuery<{ purpose: string; queued: number; events: number }>(app.db.url,
  `SELECT m.purpose, (SELECT count(*)::int FROM send_queue q WHERE q.message_id = m.id) AS queued,
     (SELECT count(*)::int FROM message_events e WHERE e.message_id = m.id AND e.type = 'queued') AS events
   FROM messages m WHERE m.tenant_id = $1 AND m.purpose = ANY($2::text[]) ORDER BY m.purpose`, [t.id, purposes]);

describe('group commit of invoice requests', () => {
  it('writes concurrent requests of a tenant in few transactions, each message with its event and queue entry', async () => {
    await given(app, t).pendingContact('gc@example.org', { name: 'Gc' });
    const { db, transactions } = countingDb();
    const batcher = new SubmissionBatcher(db);
    const subs = Array.from({ length: 12 }, (_, i) => invoice(`GC-${String(i).padStart(2, '0')}`, 'gc@example.org'));
    const out = await Promise.all(subs.map((s) => batcher.submit(s)));
    expect(out.map((r) => r.outcome)).toEqual(subs.map(() => 'created'));
    expect(new Set(out.map((r) => r.message.id)).size).toBe(12);
    expect(transactions()).toBeLessThanOrEqual(2); // the first alone, the other eleven together
    const written = await rows(subs.map((s) => s.purpose));
    expect(written).toEqual(subs.map((s) => ({ purpose: s.purpose, queued: 1, events: 1 })));
  });

  it('answers each request of one batch by its own rules: replay, conflict, refusal', async () => {
    await given(app, t).pendingContact('gd@example.org', { name: 'Gd' });
    const { db, transactions } = countingDb();
    const batcher = new SubmissionBatcher(db);
    const settle = (s: Submission) => batcher.submit(s).then((r) => r.outcome, (e: unknown) => (e instanceof DomainError ? e.code : 'error'));
    const first = settle(invoice('GD-0', 'gd@example.org')); // written alone; the rest wait for it and go together
    const rest = await Promise.all([
      settle(invoice('GD-1', 'gd@example.org')),
      settle(invoice('GD-1', 'gd@example.org')), // the same request again: the first message
      settle(invoice('GD-1', 'gd@example.org', 999)), // the same key, another payload
      settle(invoice('GD-2', 'nobody@example.org')), // no such contact: refused, on record
      settle(invoice('GD-0', 'gd@example.org')), // replays the one committed just before
    ]);
    expect(await first).toBe('created');
    expect(rest).toEqual(['created', 'replayed', 'idempotency_conflict', 'refused', 'replayed']);
    expect(transactions()).toBe(2);
    expect((await rows(['invoice:GD-0', 'invoice:GD-1'])).map((r) => r.queued)).toEqual([1, 1]);
  });

  it('writes the others when one request makes the batch transaction fail, and nothing of the bad one', async () => {
    await given(app, t).pendingContact('ge@example.org', { name: 'Ge' });
    const batcher = new SubmissionBatcher(app.pg.deps.db);
    const good = ['GE-1', 'GE-2', 'GE-3'].map((id) => invoice(id, 'ge@example.org'));
    const bad = invoice('GE-BAD', 'ge@example.org', 100, { note: 'nul \u0000 byte' }); // jsonb refuses U+0000
    const pending = [batcher.submit(invoice('GE-0', 'ge@example.org')), ...[good[0], bad, good[1], good[2]].map((s) => batcher.submit(s))];
    const out = await Promise.allSettled(pending);
    expect(out.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(String((out[2] as PromiseRejectedResult).reason)).toMatch(/unicode|\\u0000/i);
    expect((await rows(['invoice:GE-0', ...good.map((s) => s.purpose), 'invoice:GE-BAD'])).map((r) => r.purpose))
      .toEqual(['invoice:GE-0', 'invoice:GE-1', 'invoice:GE-2', 'invoice:GE-3']);
  });
});
