// Group commit of necessary-mail requests (issue 18): concurrent requests of one tenant are written
// in ONE transaction, their new messages in one statement (ledger enqueueMessages). While a tenant's
// transaction is in flight, its next requests wait and go together in the next one: alone, a request
// is written at once (no timer, no added latency); under load, batches grow by themselves.
//
// Guarantees, as for a request written alone:
//   - each caller's promise settles only after the transaction that wrote its message committed
//     (the API answers 202 after that: no acknowledged request is lost);
//   - idempotency holds per request: the same purpose twice in one batch is one message, the later
//     request replays it (200) or gets 409 if its payload differs;
//   - a bad request does not fail the others: a domain error (409, 422) is that request's answer
//     alone, and if the batch's transaction fails, every request of it is written again alone.
// The queue is this process's own (requests it holds); nothing is shared between processes: the
// ledger's unique (tenant, purpose) settles duplicates across processes.
import type { Db, Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { findContacts, type ContactRow } from '../consent/contacts.js';
import { enqueueMessages, type LedgerMessage } from '../mail/ledger.js';
import { stage } from '../platform/stages.js';
import { replay, resolveSubmission, submitNecessary, type Submission, type Submitted } from './submit.js';

/** Most requests written in one transaction. */
export const MAX_BATCH = 100;

interface Pending { s: Submission; resolve(r: Submitted): void; reject(err: unknown): void }
type Result = Submitted | DomainError;

export class SubmissionBatcher {
  private readonly queues = new Map<string, Pending[]>();

  constructor(private readonly db: Db) {}

  /**
   * Submits one request (see submitNecessary for its rules): resolves once its transaction committed;
   * rejects with its DomainError (409 idempotency_conflict, a prepare's 422) or a database error.
   */
  submit(s: Submission): Promise<Submitted> {
    return new Promise<Submitted>((resolve, reject) => {
      const queue = this.queues.get(s.tenantId);
      if (queue) { queue.push({ s, resolve, reject }); return; } // a flush is running: it takes this one next
      this.queues.set(s.tenantId, [{ s, resolve, reject }]);
      void this.flush(s.tenantId);
    });
  }

  /** Writes the tenant's queue, MAX_BATCH at a time, until it is empty; then the tenant has no queue (the next request flushes at once). */
  private async flush(tenantId: string): Promise<void> {
    const queue = this.queues.get(tenantId) as Pending[];
    try {
      while (queue.length) await this.write(tenantId, queue.splice(0, MAX_BATCH));
    } finally {
      this.queues.delete(tenantId);
    }
  }

  /**
   * One transaction for `batch`. If a statement of it failed (a value the database refuses), each
   * request is written again alone; if the database is unreachable, every request gets the error at
   * once (no retry one by one, each waiting for a connection). Never throws.
   */
  private async write(tenantId: string, batch: Pending[]): Promise<void> {
    let results: Result[];
    try {
      results = await stage('ledger', () => this.db.withTenant(tenantId, (c) => writeBatch(c, tenantId, batch.map((p) => p.s))));
    } catch (err) {
      if (batch.length === 1 || !isStatementError(err)) { for (const p of batch) p.reject(err); return; }
      for (const p of batch) await this.write(tenantId, [p]);
      return;
    }
    batch.forEach((p, i) => {
      const r = results[i];
      if (r instanceof DomainError) p.reject(r); else p.resolve(r);
    });
  }
}

/** A PostgreSQL error of a statement (an SQLSTATE outside connection failure 08, resources 53, operator intervention 57). */
function isStatementError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57)/.test(code);
}

/** Runs `fn`; its DomainError becomes the result (the transaction is intact), any other error is thrown. */
async function settled(fn: () => Submitted | Promise<Submitted>): Promise<Result> {
  try { return await fn(); } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
}

/**
 * Writes submissions of one tenant in the caller's transaction: their contacts read in one statement,
 * every new message whose contact is known written in one statement, the rest (no such contact: a
 * refusal on record; a submission with `prepare`) one by one as submitNecessary does. Results in order.
 */
export async function writeBatch(c: Queryable, tenantId: string, subs: readonly Submission[]): Promise<Result[]> {
  const found = await findContacts(c, subs.map((s) => s.contact));
  const resolved = subs.map((s, i) => resolveSubmission(s, found[i]));
  const fast = (i: number): boolean => Boolean(resolved[i].contact?.email) && !subs[i].prepare;
  const first = new Map<string, number>(); // purpose → the first fast submission of it in this batch
  subs.forEach((s, i) => { if (fast(i) && !first.has(s.purpose)) first.set(s.purpose, i); });
  const order = [...first.values()];
  const written = await enqueueMessages(c, tenantId, order.map((i) => newMessage(subs[i], resolved[i].contact as ContactRow, resolved[i].hash)));
  const byPurpose = new Map(order.map((i, k) => [subs[i].purpose, { i, ...written[k] }]));
  const results: Result[] = [];
  for (const [i, s] of subs.entries()) {
    const w = fast(i) ? byPurpose.get(s.purpose) : undefined;
    if (!w) results.push(await settled(() => submitNecessary(c, s)));
    else if (w.i === i && w.created) results.push({ outcome: 'created', message: w.message });
    else results.push(await settled(() => replay(w.message as LedgerMessage, s, resolved[i].hash)));
  }
  // A refused request's statements may have failed before its DomainError: then the transaction is
  // aborted and COMMIT would roll everyone back silently. This throws instead (each is written alone).
  if (results.some((r) => r instanceof DomainError)) await c.query('SELECT 1');
  return results;
}

function newMessage(s: Submission, contact: ContactRow, hash: string) {
  return { purpose: s.purpose, kind: s.kind, contactId: contact.id, recipient: contact.email as string,
    template: s.template, templateVersion: s.templateVersion, data: s.data, requestHash: hash };
}
