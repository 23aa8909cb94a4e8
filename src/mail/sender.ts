// The single-message kind of delivery (activation, invoices, notices, test sends): the row pointed
// to by send_queue is locked, its gate facts loaded and its renderer looked up, and the delivery core
// (mail/delivery.ts) does gate → render → compose → DKIM → SMTP; the ledger records each step.
// A dead worker's row stays 'sending' and is reclaimed after its lease: the only re-send, counted.
// Not an event bus: message events go out on the ledger's channel (mail/ledger.ts subscribe).
import type { Db, PoolClient, Queryable } from '../platform/db.js';
import type { GateFacts } from '../policy/gate.js';
import type { TokenKeys } from '../policy/tokens.js';
import { sqlAddressHash } from '../consent/suppressions.js';
import type { ContactStatus } from '../consent/state.js';
import { getTenant, type DkimKey, type Tenant } from '../tenants/store.js';
import { signingSetup } from '../tenants/domains.js';
import { envelopeDomain, type SendingDomains } from '../policy/domains.js';
import { testAddressState, type TestAddressState } from '../campaigns/test-addresses.js';
import { backoffSeconds, domainOf, failureText, type Delivery, type Prepared, type Settled } from './delivery.js';
import type { SendOutcome } from '../platform/smtp.js';
import {
  FINAL_STATUSES, getMessage, MESSAGE_COLUMNS, markDeferred, markFailed, markSendingMany, markSuppressed, messageEvents, recordEvent, recordSentMany, type LedgerMessage,
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

type Suppressed = GateFacts['suppressed'];
/** A message as the sender loads it: the row (locked), its contact (null without one) and its suppression facts. */
interface Loaded { message: LedgerMessage; contact: Contact | null; suppressed: Suppressed }

/**
 * The messages (locked, in id order, so two workers cannot deadlock), each with its contact and the
 * suppression facts of its recipient, in ONE round trip. The address hash is computed in SQL
 * (consent/suppressions sqlAddressHash, as the campaign claim does). A missing id is left out.
 */
async function loadMessages(c: PoolClient, ids: readonly string[]): Promise<Loaded[]> {
  const r = await c.query<LedgerMessage & { contact: Contact | null; suppressedAll: boolean; suppressedMarketing: boolean }>(`SELECT x.*,
      (SELECT row_to_json(ct) FROM (SELECT id, email, name, attributes, locale, status FROM contacts WHERE id = x."contactId") ct) AS contact,
      coalesce(sp.all_scope, false) AS "suppressedAll", coalesce(sp.marketing_scope, false) AS "suppressedMarketing"
    FROM (SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE) x
    LEFT JOIN LATERAL (SELECT bool_or(s.scope = 'all') AS all_scope, bool_or(s.scope IN ('all', 'marketing')) AS marketing_scope
      FROM tenants t JOIN suppressions s ON s.tenant_id = t.id AND s.address_hash = ${sqlAddressHash('t.hash_salt', 'x.recipient')}
      WHERE t.id = x."tenantId" AND x.recipient IS NOT NULL) sp ON true`, [ids]);
  return r.rows.map(({ contact, suppressedAll, suppressedMarketing, ...message }) => (
    { message, contact, suppressed: { all: suppressedAll, marketing: suppressedMarketing || suppressedAll } }));
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
/** What every message of one tenant's batch shares, read once per batch: the tenant, its sending domains and DKIM key. */
interface TenantSetup { tenant: Tenant; fromDomain: string; dkim: DkimKey | null; domains: SendingDomains }
/** A message handed to SMTP: the attempt, the relay's answer, and what the ledger records of it. */
interface Handed { ready: Ready; attempt: number; outcome: SendOutcome; settled: Settled }

/** Messages a batch prepares between two turns of the event loop (render, compose and DKIM are CPU: ~3 ms each). */
const YIELD_EVERY = 4;

export class Sender {
  constructor(private readonly deps: SenderDeps) {}

  /** Sends one queued message end to end. Safe to call twice: the ledger decides. */
  async process(tenantId: string, messageId: string): Promise<void> {
    await this.processMany(tenantId, [messageId]);
  }

  /**
   * Sends queued messages of one tenant end to end, as a batch: ONE transaction loads them all
   * (locked, with contacts and suppression facts), gates, renders and composes each, and marks the
   * ready ones 'sending' in one statement; they are handed to SMTP side by side; ONE transaction
   * records the outcomes (every 'sent' in one statement). Safe to call twice: the ledger decides.
   * If preparing the batch throws (other than a transient database error), each message is tried
   * alone, so one bad message cannot hold up the others; alone, a failure is counted (crashed).
   */
  async processMany(tenantId: string, messageIds: readonly string[]): Promise<void> {
    const { db, delivery } = this.deps;
    const ids = [...new Set(messageIds)];
    let ready: Ready[];
    try {
      ready = await stage('prepare', () => db.withTenant(tenantId, (c) => this.prepareMany(c, tenantId, ids)));
    } catch (err) {
      if (ids.length === 1) { await this.crashed(tenantId, ids[0], err); return; }
      if (isTransient(err)) throw err;
      await Promise.all(ids.map((id) => this.processMany(tenantId, [id])));
      return;
    }
    if (!ready.length) return;
    const handed = await Promise.all(ready.map((r) => this.handOver(r)));
    await stage('record', () => db.withTenant(tenantId, (c) => this.record(c, handed)));
    for (const h of handed) if (h.outcome.kind === 'permanent') await delivery.permanentFailure(tenantId, h.ready.message.id, h.outcome);
  }

  /** One message to SMTP. A hand-over that throws is a temporary failure of this message alone (retried later), never the batch's. */
  private async handOver(ready: Ready): Promise<Handed> {
    const { delivery } = this.deps;
    const attempt = ready.message.attempts + 1;
    const outcome = await stage('smtp', () => delivery.send(ready.prepared.mail))
      .catch((err: unknown): SendOutcome => ({ kind: 'temporary', response: `hand-over failed: ${failureText(err)}` }));
    return { ready, attempt, outcome, settled: delivery.settle(ready.message.kind, attempt, outcome) };
  }

  /** The outcomes of one batch: every 'sent' in one statement (recordSentMany), deferrals and failures one by one. */
  private async record(c: PoolClient, handed: readonly Handed[]): Promise<void> {
    const sent = handed.filter((h) => h.settled.status === 'sent').map(({ ready: { message: m, prepared: p }, attempt, settled }) => (
      { id: m.id, tenantId: m.tenantId, response: settled.response, attempt, body: p.rendered, links: p.capabilityLinks }));
    await recordSentMany(c, sent, this.deps.config.bodyRetentionDays);
    for (const { ready: { message: m }, attempt, settled } of handed) {
      if (settled.status === 'deferred') {
        await markDeferred(c, m, { response: settled.response, attempt, delaySeconds: settled.retryInSeconds, reason: settled.reason });
        await requeue(c, m.id, settled.retryInSeconds);
      } else if (settled.status === 'failed') {
        await markFailed(c, m, { response: settled.response, attempt, reason: settled.reason as string });
        await dequeue(c, m.id);
      }
    }
  }

  /** Loads, gates, renders and composes a batch; marks the ready ones 'sending' (one statement). */
  private async prepareMany(c: PoolClient, tenantId: string, ids: readonly string[]): Promise<Ready[]> {
    const loaded = await loadMessages(c, ids);
    const tenant = await getTenant(c, tenantId);
    const found = new Set(loaded.map((l) => l.message.id));
    for (const id of ids) if (!found.has(id)) await dequeue(c, id);
    if (!tenant) { for (const l of loaded) await dequeue(c, l.message.id); return []; }
    const setup = await this.setupOf(c, tenant);
    const ready: Ready[] = [];
    for (const [i, l] of loaded.entries()) {
      if (i > 0 && i % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const r = await this.prepareOne(c, l, setup);
      if (r) ready.push(r);
    }
    await markSendingMany(c, ready.map(({ message: m, prepared: p }) => (
      { id: m.id, attempt: m.attempts + 1, subject: p.subject, messageIdHeader: String(p.mail.messageId) })), this.deps.config.leaseSeconds);
    return ready;
  }

  private async setupOf(c: PoolClient, tenant: Tenant): Promise<TenantSetup> {
    const fromDomain = domainOf(tenant.fromEmail);
    const { verified, dkim } = await signingSetup(c, fromDomain); // one round trip: verified domains and the signing key
    return { tenant, fromDomain, dkim, domains: { verified, envelope: envelopeDomain(tenant.bounceDomain, this.deps.delivery.config.bounceDomain) } };
  }

  /** Gate, render, compose one loaded message; a refusal or failure is recorded here (null), a ready one returned. */
  private async prepareOne(c: PoolClient, l: Loaded, setup: TenantSetup): Promise<Ready | null> {
    const { delivery, renderers, config, tokens } = this.deps;
    const { message: m, contact, suppressed } = l;
    if (FINAL_STATUSES.includes(m.status)) { await dequeue(c, m.id); return null; }
    if (m.status === 'sending') { await recordEvent(c, m, 'reclaimed', {}); delivery.reclaimed(); }
    const { tenant, fromDomain, dkim, domains } = setup;
    const testAddress = m.kind === 'test' || m.kind === 'verification' ? await testAddressState(c, tenant.id, m.recipient) : null;
    const renderer = renderers.get(m.template);
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
