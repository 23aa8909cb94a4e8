// The single-message send path (activation, invoices, notices, test sends):
// claim (SKIP LOCKED) → gate (at send time) → render → compose → DKIM → SMTP → ledger.
// A dead worker's row stays 'sending' and is reclaimed after its lease: the only re-send, counted.
import type { SendMailOptions } from 'nodemailer';
import type { Db, PoolClient } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import type { Mailer, SendOutcome } from '../platform/smtp.js';
import { decide, type GateDecision, type GateFacts } from '../policy/gate.js';
import { signVerp, type TokenKeys } from '../policy/tokens.js';
import { suppressionsFor } from '../consent/suppressions.js';
import { activeDkimKey, getTenant, type Tenant } from '../tenants/store.js';
import { composeMessage } from './compose.js';
import { addEvent, FINAL_STATUSES, getMessage, setStatus, storeBody, type LedgerMessage } from './ledger.js';
import type { RendererRegistry, RenderContext, RenderOutput } from './renderers.js';

export interface SenderConfig {
  publicUrl: string; bounceDomain: string; bodyRetentionDays: number; leaseSeconds: number;
  retryBaseSeconds: number; maxAttempts: number;
}
export type FailureHook = (tenantId: string, messageId: string, outcome: Extract<SendOutcome, { kind: 'permanent' }>) => Promise<void>;
export interface SendCounters { sent(kind: string): void; failed(kind: string): void; deferred(kind: string): void; suppressed(reason: string): void; reclaimed(): void }

export interface SenderDeps { db: Db; mailer: Mailer; tokens: TokenKeys; renderers: RendererRegistry; log: Logger; config: SenderConfig; counters?: SendCounters }

type Contact = NonNullable<RenderContext['contact']> & { status: 'pending' | 'active' | 'suppressed' | 'erased' };

export function backoffSeconds(attempt: number, base: number): number {
  const raw = base * 2 ** Math.max(0, attempt - 1);
  return Math.min(raw, 6 * 3600) * (0.8 + Math.random() * 0.4);
}

export function verpAddress(tokens: TokenKeys, tenant: Pick<Tenant, 'id' | 'bounceDomain'>, messageId: string, defaultDomain: string): string {
  return `bounces+${signVerp(tokens, tenant.id, messageId)}@${tenant.bounceDomain ?? defaultDomain}`;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

async function loadContact(c: PoolClient, id: string | null): Promise<Contact | null> {
  if (!id) return null;
  const r = await c.query<Contact>('SELECT id, email, name, attributes, status FROM contacts WHERE id = $1', [id]);
  return r.rows[0] ?? null;
}

export async function gateFacts(c: PoolClient, tenant: Tenant, m: LedgerMessage, contact: Contact | null, out: RenderOutput | null): Promise<GateFacts> {
  const recipient = m.recipient ?? '';
  return {
    kind: m.kind, recipient,
    contact: contact ? { status: contact.status, email: contact.email ?? '' } : null,
    suppressed: recipient ? await suppressionsFor(c, tenant.id, recipient) : { all: false, marketing: false },
    subscription: null,
    replyTo: typeof m.data.replyTo === 'string' ? m.data.replyTo : tenant.replyTo,
    fromAddress: tenant.fromEmail, tenantFromAddress: tenant.fromEmail,
    postalAddress: tenant.postalAddress,
    hasUnsubscribeLink: out?.hasUnsubscribeLink ?? false,
    hasListUnsubscribeHeaders: Boolean(out?.listUnsubscribe),
    isTestAddress: tenant.testEmails.map((e) => e.toLowerCase()).includes(recipient.toLowerCase()),
  };
}

export interface Prepared { message: LedgerMessage; tenant: Tenant; mail: SendMailOptions; rendered: RenderOutput['rendered'] }

export class Sender {
  private readonly failureHooks: FailureHook[] = [];
  constructor(private readonly deps: SenderDeps) {}

  onPermanentFailure(hook: FailureHook): void { this.failureHooks.push(hook); }

  /** Runs the permanent-failure hooks (bounce handling) for a message failed by any send path. */
  async notifyPermanentFailure(tenantId: string, messageId: string, outcome: Extract<SendOutcome, { kind: 'permanent' }>): Promise<void> {
    for (const hook of this.failureHooks) {
      await hook(tenantId, messageId, outcome).catch((err: Error) => this.deps.log.error({ err: err.message, messageId }, 'permanent-failure hook failed'));
    }
  }

  /** Sends one queued message end to end. Safe to call twice: the ledger decides. */
  async process(tenantId: string, messageId: string): Promise<void> {
    const prepared = await this.deps.db.withTenant(tenantId, (c) => this.prepare(c, messageId));
    if (!prepared) return;
    const outcome = await this.deps.mailer.send(prepared.mail);
    await this.deps.db.withTenant(tenantId, (c) => this.record(c, prepared, outcome));
    if (outcome.kind === 'permanent') await this.notifyPermanentFailure(tenantId, messageId, outcome);
  }

  private async prepare(c: PoolClient, messageId: string): Promise<Prepared | null> {
    const m = await getMessage(c, messageId, true);
    if (!m || FINAL_STATUSES.includes(m.status)) { await dequeue(c, messageId); return null; }
    if (m.status === 'sending') { await addEvent(c, m.tenantId, m.id, 'reclaimed', {}); this.deps.counters?.reclaimed(); }
    const tenant = await getTenant(c, m.tenantId);
    if (!tenant) { await dequeue(c, messageId); return null; }
    const contact = await loadContact(c, m.contactId);
    const renderer = this.deps.renderers.get(m.template);
    if (!renderer) return this.refuse(c, m, { allow: false, reason: 'bad_recipient' }, `no renderer for ${m.template}`);
    const precheck = decide(await gateFacts(c, tenant, m, contact, null));
    if (!precheck.allow && precheck.reason !== 'no_unsubscribe_link' && precheck.reason !== 'no_list_unsubscribe_header') {
      return this.refuse(c, m, precheck);
    }
    const out = await renderer({ tenant, message: m, contact, publicUrl: this.deps.config.publicUrl, tokens: this.deps.tokens, db: c });
    const decision = decide(await gateFacts(c, tenant, m, contact, out));
    if (!decision.allow) return this.refuse(c, m, decision);
    const mail = await this.compose(c, tenant, m, contact, out);
    await c.query(`UPDATE messages SET status = 'sending', attempts = attempts + 1, subject = $2, message_id_header = $3,
      lease_until = now() + $4 * interval '1 second', updated_at = now() WHERE id = $1`,
    [m.id, out.rendered.subject, String(mail.messageId), this.deps.config.leaseSeconds]);
    await addEvent(c, m.tenantId, m.id, 'sending', { attempt: m.attempts + 1 });
    return { message: m, tenant, mail, rendered: out.rendered };
  }

  private async compose(c: PoolClient, tenant: Tenant, m: LedgerMessage, contact: Contact | null, out: RenderOutput): Promise<SendMailOptions> {
    const fromDomain = domainOf(tenant.fromEmail);
    const dkim = await activeDkimKey(c, fromDomain);
    return composeMessage({
      messageId: m.id, kind: m.kind,
      from: { name: tenant.fromName, address: tenant.fromEmail },
      replyTo: typeof m.data.replyTo === 'string' ? m.data.replyTo : tenant.replyTo,
      to: { name: contact?.name ?? null, address: m.recipient as string },
      rendered: out.rendered, messageIdDomain: fromDomain,
      envelopeFrom: verpAddress(this.deps.tokens, tenant, m.id, this.deps.config.bounceDomain),
      listUnsubscribe: out.listUnsubscribe ?? null, feedbackId: out.feedbackId ?? null, listId: out.listId ?? null,
      dkim: dkim ? { domainName: dkim.domain, keySelector: dkim.selector, privateKey: dkim.privateKey } : null,
    });
  }

  private async refuse(c: PoolClient, m: LedgerMessage, d: GateDecision, note?: string): Promise<null> {
    const reason = d.allow ? 'unknown' : d.reason;
    await setStatus(c, m, 'suppressed', { reason, ...(note ? { note } : {}) });
    await dequeue(c, m.id);
    this.deps.counters?.suppressed(reason);
    this.deps.log.info({ messageId: m.id, reason }, 'gate refused message');
    return null;
  }

  private async record(c: PoolClient, p: Prepared, outcome: SendOutcome): Promise<void> {
    const { message: m } = p;
    const attempt = m.attempts + 1;
    if (outcome.kind === 'sent') {
      // A DSN processed before this commit may already have moved the row on (bounced): keep that.
      await c.query(`UPDATE messages SET status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END, sent_at = now(), smtp_response = $2,
        lease_until = NULL, reason = CASE WHEN status = 'sending' THEN NULL ELSE reason END, updated_at = now() WHERE id = $1`, [m.id, outcome.response]);
      await addEvent(c, m.tenantId, m.id, 'sent', { response: outcome.response, attempt });
      await storeBody(c, m, p.rendered.html, p.rendered.text, this.deps.config.bodyRetentionDays);
      await dequeue(c, m.id);
      this.deps.counters?.sent(m.kind);
      return;
    }
    if (outcome.kind === 'temporary' && attempt < this.deps.config.maxAttempts) {
      const delay = backoffSeconds(attempt, this.deps.config.retryBaseSeconds);
      await c.query(`UPDATE messages SET status = 'deferred', smtp_response = $2, lease_until = NULL, next_attempt_at = now() + $3 * interval '1 second', updated_at = now() WHERE id = $1`, [m.id, outcome.response, delay]);
      await addEvent(c, m.tenantId, m.id, 'deferred', { response: outcome.response, attempt, retryInSeconds: Math.round(delay) });
      await c.query(`UPDATE send_queue SET due_at = now() + $2 * interval '1 second', lease_until = NULL WHERE message_id = $1`, [m.id, delay]);
      this.deps.counters?.deferred(m.kind);
      return;
    }
    const reason = outcome.kind === 'temporary' ? 'retries_exhausted' : 'rejected';
    await c.query(`UPDATE messages SET status = 'failed', reason = $3, smtp_response = $2, lease_until = NULL, updated_at = now() WHERE id = $1`, [m.id, outcome.response, reason]);
    await addEvent(c, m.tenantId, m.id, 'failed', { response: outcome.response, attempt, reason });
    await dequeue(c, m.id);
    this.deps.counters?.failed(m.kind);
  }
}

async function dequeue(c: PoolClient, messageId: string): Promise<void> {
  await c.query('DELETE FROM send_queue WHERE message_id = $1', [messageId]);
}
