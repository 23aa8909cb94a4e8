// The single-message kind of delivery (activation, invoices, notices, test sends): the row pointed
// to by send_queue is locked, its gate facts loaded and its renderer looked up, and the delivery core
// (mail/delivery.ts) does gate → render → compose → DKIM → SMTP; the ledger records each step.
// A dead worker's row stays 'sending' and is reclaimed after its lease: the only re-send, counted.
// Not an event bus: message events go out on the ledger's channel (mail/ledger.ts subscribe).
import type { Db, PoolClient, Queryable } from '../platform/db.js';
import type { GateFacts } from '../policy/gate.js';
import type { TokenKeys } from '../policy/tokens.js';
import { suppressionsFor } from '../consent/suppressions.js';
import type { ContactStatus } from '../consent/state.js';
import { getTenant, type Tenant } from '../tenants/store.js';
import { signingSetup } from '../tenants/domains.js';
import { envelopeDomain, type SendingDomains } from '../policy/domains.js';
import { testAddressState, type TestAddressState } from '../campaigns/test-addresses.js';
import { backoffSeconds, domainOf, failureText, type Delivery, type Prepared } from './delivery.js';
import {
  FINAL_STATUSES, getMessage, MESSAGE_COLUMNS, markDeferred, markFailed, markSending, markSuppressed, messageEvents, recordEvent, recordSent, type LedgerMessage,
} from './ledger.js';
import type { RendererRegistry, RenderContext, RenderOutput } from './renderers.js';
import { stage } from '../platform/stages.js';

export { backoffSeconds, domainOf, verpAddress, type SendCounters } from './delivery.js';

/** Preparations of one message that may throw (outside its renderer) before it is 'failed' (prepare_failed). */
export const PREPARE_ERROR_LIMIT = 3;

/** Errors that say nothing about the message: the database is unreachable, or a transaction lost a conflict. */
function isTransient(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (/^(08|53|57|40)/.test(code) || /^E[A-Z]+$/.test(code)) return true;
  return typeof e?.message === 'string' && /connection|terminat|timeout|pool/i.test(e.message);
}

export interface SenderConfig { publicUrl: string; bodyRetentionDays: number; leaseSeconds: number }
export interface SenderDeps { db: Db; delivery: Delivery; tokens: TokenKeys; renderers: RendererRegistry; config: SenderConfig }

type Contact = NonNullable<RenderContext['contact']> & { status: ContactStatus };

/** The message (locked) and its contact (null without one), in one round trip. */
async function loadMessage(c: PoolClient, id: string): Promise<{ message: LedgerMessage; contact: Contact | null } | null> {
  const r = await c.query<LedgerMessage & { contact: Contact | null }>(`SELECT x.*, (SELECT row_to_json(ct) FROM (
      SELECT id, email, name, attributes, status FROM contacts WHERE id = x."contactId") ct) AS contact
    FROM (SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = $1 FOR UPDATE) x`, [id]);
  if (!r.rows[0]) return null;
  const { contact, ...message } = r.rows[0];
  return { message, contact };
}

/** The gate's facts for a single message, given what its renderer made of it (null before rendering). */
export function singleFacts(tenant: Tenant, m: LedgerMessage, contact: Contact | null, suppressed: GateFacts['suppressed'], out: RenderOutput | null,
  testAddress: TestAddressState | null, domains: SendingDomains): GateFacts {
  const recipient = m.recipient ?? '';
  return {
    kind: m.kind, recipient,
    contact: contact ? { status: contact.status, email: contact.email ?? '' } : null,
    suppressed,
    subscription: null,
    replyTo: typeof m.data.replyTo === 'string' ? m.data.replyTo : tenant.replyTo,
    fromAddress: tenant.fromEmail, tenantFromAddress: tenant.fromEmail,
    postalAddress: tenant.postalAddress,
    domains,
    hasUnsubscribeLink: out?.hasUnsubscribeLink ?? false,
    hasListUnsubscribeHeaders: Boolean(out?.listUnsubscribe),
    isTestAddress: testAddress !== null, testAddressVerified: testAddress === 'verified',
  };
}

type Ready = { message: LedgerMessage; prepared: Extract<Prepared, { kind: 'mail' }> };

export class Sender {
  constructor(private readonly deps: SenderDeps) {}

  /** Sends one queued message end to end. Safe to call twice: the ledger decides. */
  async process(tenantId: string, messageId: string): Promise<void> {
    const { db, delivery } = this.deps;
    let ready: Ready | null;
    try {
      ready = await stage('prepare', () => db.withTenant(tenantId, (c) => this.prepare(c, messageId)));
    } catch (err) {
      await this.crashed(tenantId, messageId, err);
      return;
    }
    if (!ready) return;
    const attempt = ready.message.attempts + 1;
    const outcome = await stage('smtp', () => delivery.send(ready.prepared.mail));
    const settled = delivery.settle(ready.message.kind, attempt, outcome);
    await stage('record', () => db.withTenant(tenantId, async (c) => {
      const m = ready.message;
      if (settled.status === 'sent') {
        await recordSent(c, m, { response: settled.response, attempt }, ready.prepared.rendered, ready.prepared.capabilityLinks, this.deps.config.bodyRetentionDays);
      } else if (settled.status === 'deferred') {
        await markDeferred(c, m, { response: settled.response, attempt, delaySeconds: settled.retryInSeconds, reason: settled.reason });
        await requeue(c, m.id, settled.retryInSeconds);
      } else {
        await markFailed(c, m, { response: settled.response, attempt, reason: settled.reason as string });
        await dequeue(c, m.id);
      }
    }));
    if (outcome.kind === 'permanent') await delivery.permanentFailure(tenantId, messageId, outcome);
  }

  private async prepare(c: PoolClient, messageId: string): Promise<Ready | null> {
    const { delivery, renderers, config, tokens } = this.deps;
    const loaded = await loadMessage(c, messageId);
    const m = loaded?.message;
    if (!m || FINAL_STATUSES.includes(m.status)) { await dequeue(c, messageId); return null; }
    if (m.status === 'sending') { await recordEvent(c, m, 'reclaimed', {}); delivery.reclaimed(); }
    const tenant = await getTenant(c, m.tenantId);
    if (!tenant) { await dequeue(c, messageId); return null; }
    const contact = loaded.contact;
    const suppressed = m.recipient ? await suppressionsFor(c, tenant.id, m.recipient) : { all: false, marketing: false };
    const testAddress = m.kind === 'test' || m.kind === 'verification' ? await testAddressState(c, tenant.id, m.recipient) : null;
    const renderer = renderers.get(m.template);
    const fromDomain = domainOf(tenant.fromEmail);
    const { verified, dkim } = await signingSetup(c, fromDomain); // one round trip: verified domains and the signing key
    const domains: SendingDomains = { verified, envelope: envelopeDomain(tenant.bounceDomain, delivery.config.bounceDomain) };
    const prepared = await delivery.prepareAsync<RenderOutput>({
      envelope: {
        messageId: m.id, kind: m.kind, tenant, fromDomain, dkim,
        replyTo: typeof m.data.replyTo === 'string' ? m.data.replyTo : tenant.replyTo,
        to: { name: contact?.name ?? null, address: m.recipient as string },
      },
      facts: (out) => singleFacts(tenant, m, contact, suppressed, out, testAddress, domains),
    }, renderer ? () => stage('render', () => inSavepoint(c, (db) => renderer({ tenant, message: m, contact, publicUrl: config.publicUrl, tokens, db }))) : null);
    if (prepared.kind === 'refused') return this.stop(c, m, () => markSuppressed(c, m, prepared.reason), prepared.reason);
    if (prepared.kind === 'failed' && prepared.reason === 'no_renderer') {
      return this.stop(c, m, () => markSuppressed(c, m, 'no_renderer', `no renderer for ${m.template}`), 'no_renderer');
    }
    if (prepared.kind === 'failed') {
      // A render error is the message's own: the same template and data throw again, so no retry.
      const extra = { stage: prepared.stage ?? 'render', error: prepared.error };
      return this.stop(c, m, () => markFailed(c, m, { response: null, attempt: m.attempts + 1, reason: prepared.reason, extra }), prepared.reason);
    }
    await markSending(c, m, { attempt: m.attempts + 1, subject: prepared.subject, messageIdHeader: String(prepared.mail.messageId), leaseSeconds: config.leaseSeconds });
    return { message: m, prepared };
  }

  /**
   * Preparing the message threw outside its renderer (a query of the sender's own, a write the
   * database refused): the transaction is gone, so it is recorded in a new one, as an 'error' event,
   * and tried again after a backoff; at the PREPARE_ERROR_LIMIT-th it is 'failed' (prepare_failed),
   * so no message comes back after every lease forever. While the database cannot be reached (or the
   * transaction lost a conflict) nothing is counted: the error is thrown and the lease retries it.
   */
  private async crashed(tenantId: string, messageId: string, err: unknown): Promise<void> {
    if (isTransient(err)) throw err;
    const error = failureText(err);
    await this.deps.db.withTenant(tenantId, async (c) => {
      const m = await getMessage(c, messageId, true);
      if (!m || FINAL_STATUSES.includes(m.status)) { await dequeue(c, messageId); return; }
      const n = (await messageEvents(c, m.id)).filter((e) => e.type === 'error' && e.detail.stage === 'prepare').length + 1;
      if (n >= PREPARE_ERROR_LIMIT) {
        await markFailed(c, m, { response: null, attempt: m.attempts + 1, reason: 'prepare_failed', extra: { stage: 'prepare', error, errors: n } });
        await dequeue(c, m.id);
        this.deps.delivery.refused('prepare_failed');
        return;
      }
      await recordEvent(c, m, 'error', { stage: 'prepare', error, errors: n });
      await requeue(c, m.id, backoffSeconds(n, this.deps.delivery.config.retryBaseSeconds));
    });
  }

  private async stop(c: PoolClient, m: LedgerMessage, record: () => Promise<void>, reason: string): Promise<null> {
    await record();
    await dequeue(c, m.id);
    this.deps.delivery.refused(reason);
    this.deps.delivery.logRefusal(m.id, reason);
    return null;
  }
}

/**
 * Runs a renderer inside a savepoint: a query of its own that fails (a stored template it reads, a
 * list) must not abort the message's transaction, or the failure could not be recorded and the
 * message would come back after every lease. The savepoint is opened by the renderer's first query
 * (queued before it on the same connection), so a renderer that reads nothing (an invoice) costs no
 * round trip for it.
 */
async function inSavepoint<T>(c: PoolClient, fn: (db: Queryable) => Promise<T>): Promise<T> {
  let opened = false;
  const run = c.query.bind(c) as (...args: unknown[]) => Promise<unknown>;
  const query = ((...args: unknown[]) => {
    if (!opened) { opened = true; void run('SAVEPOINT render').catch(() => undefined); } // its failure fails the query queued after it
    return run(...args);
  }) as unknown as PoolClient['query'];
  try {
    const out = await fn({ query });
    if (opened) await c.query('RELEASE SAVEPOINT render');
    return out;
  } catch (err) {
    if (opened) await c.query('ROLLBACK TO SAVEPOINT render');
    throw err;
  }
}

async function dequeue(c: PoolClient, messageId: string): Promise<void> {
  await c.query('DELETE FROM send_queue WHERE message_id = $1', [messageId]);
}

/** Puts the message back on the queue, due in `seconds`, its lease dropped. */
async function requeue(c: PoolClient, messageId: string, seconds: number): Promise<void> {
  await c.query(`UPDATE send_queue SET due_at = now() + $2 * interval '1 second', lease_until = NULL WHERE message_id = $1`, [messageId, seconds]);
}
