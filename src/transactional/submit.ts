// Submitting necessary mail (invoices, notices) to the ledger: idempotency by purpose + request hash,
// and the association rule. All writes of one request happen in the caller's withTenant transaction.
//
// Association (decision): necessary mail goes only to a contact of the tenant. When `contact` names
// no contact (unknown id or address, or an erased contact), the request is refused with
// 422 no_association (field `contact`) AND the refused attempt is recorded in the ledger as a
// `suppressed` message with reason `no_association` and no queue entry, so the record of
// communications shows it (GET /api/messages?status=suppressed). The refusal row has its own purpose
// (`refused:<purpose>:<request hash>`), so the real purpose stays free: once the contact exists, the
// same request goes through. A suppressed (e.g. hard-bounced) contact is accepted (202) and the gate
// records the message as suppressed at send time: it is never sent.
import { createHash } from 'node:crypto';
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { findContact, type ContactRow } from '../consent/contacts.js';
import { enqueueMessage, MESSAGE_COLUMNS, recordRefusal as recordRefusedMessage, type LedgerMessage } from '../mail/ledger.js';
import type { MessageKind } from '../policy/kinds.js';
import { canonicalJson, type ContactRef } from './requests.js';

export interface Submission {
  tenantId: string;
  purpose: string;
  kind: MessageKind;
  template: string;
  templateVersion?: number;
  contact: ContactRef;
  /** The validated request, hashed for idempotency. */
  request: unknown;
  /** What the renderer needs (ledger `data`). */
  data: Record<string, unknown>;
  /** The request field that names the idempotency key, for the 409. */
  keyField: string;
  /** Checks that need the transaction (e.g. a stored template), run only for a new message; may throw DomainError. */
  prepare?: (c: Queryable) => Promise<{ templateVersion?: number }>;
}

export type Submitted =
  | { outcome: 'created' | 'replayed'; message: LedgerMessage }
  | { outcome: 'refused'; message: LedgerMessage };

export function requestHash(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

async function byPurpose(c: Queryable, tenantId: string, purpose: string): Promise<LedgerMessage | null> {
  const r = await c.query<LedgerMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND purpose = $2`, [tenantId, purpose]);
  return r.rows[0] ?? null;
}

/** The first message of this purpose, or 409 idempotency_conflict (DomainError) when it came from a different request. */
export function replay(existing: LedgerMessage, s: Submission, hash: string): Submitted {
  if (existing.requestHash !== hash) {
    throw new DomainError('idempotency_conflict',
      `${s.keyField} was already used for a different request; the first message stands`, s.keyField, { messageId: existing.id });
  }
  return { outcome: 'replayed', message: existing };
}

/** Records a refused attempt (no association): a suppressed row with its reason, never queued. */
async function recordRefusal(c: Queryable, s: Submission, hash: string): Promise<LedgerMessage> {
  const purpose = `refused:${s.purpose}:${hash}`;
  const recipient = 'email' in s.contact ? s.contact.email : null;
  return recordRefusedMessage(c, { tenantId: s.tenantId, purpose, kind: s.kind, recipient, template: s.template,
    data: { contact: s.contact }, requestHash: hash }, 'no_association');
}

/** The request as hashed for idempotency: its `contact` replaced by the contact it names, so an id and an address of the same person hash equal. */
function resolvedRequest(request: unknown, contactId: string | null): unknown {
  if (contactId === null || request === null || typeof request !== 'object' || Array.isArray(request)) return request;
  return { ...(request as Record<string, unknown>), contact: { id: contactId } };
}

/** The contact a submission names if mail may go to it (null: none, no address, or erased), and the request's hash with that contact resolved. */
export function resolveSubmission(s: Submission, found: ContactRow | null): { contact: ContactRow | null; hash: string } {
  const contact = found && found.email && found.status !== 'erased' ? found : null;
  return { contact, hash: requestHash(resolvedRequest(s.request, contact?.id ?? null)) };
}

/**
 * First time: queues the message (created). Same purpose and same request again: the first message
 * (replayed). Same purpose, different request: 409 idempotency_conflict. No such contact: refused.
 * The request is compared with its contact resolved: {"id": …} and the address of the same contact
 * are the same request. Concurrent duplicates are settled by the ledger's unique (tenant, purpose):
 * one insert wins, the others wait for it and replay it.
 */
export async function submitNecessary(c: Queryable, s: Submission): Promise<Submitted> {
  const { contact, hash } = resolveSubmission(s, await findContact(c, s.contact));
  if (contact?.email && !s.prepare) {
    // Nothing to check first (an invoice): the insert itself finds an existing purpose (ON CONFLICT), one round trip fewer.
    const { message, created } = await enqueueMessage(c, {
      tenantId: s.tenantId, purpose: s.purpose, kind: s.kind, contactId: contact.id, recipient: contact.email,
      template: s.template, templateVersion: s.templateVersion, data: s.data, requestHash: hash,
    });
    return created ? { outcome: 'created', message } : replay(message, s, hash);
  }
  const existing = await byPurpose(c, s.tenantId, s.purpose);
  if (existing) return replay(existing, s, hash);
  const templateVersion = (await s.prepare?.(c))?.templateVersion ?? s.templateVersion;
  if (!contact || !contact.email) {
    return { outcome: 'refused', message: await recordRefusal(c, s, hash) };
  }
  const { message, created } = await enqueueMessage(c, {
    tenantId: s.tenantId, purpose: s.purpose, kind: s.kind, contactId: contact.id, recipient: contact.email,
    template: s.template, templateVersion, data: s.data, requestHash: hash,
  });
  return created ? { outcome: 'created', message } : replay(message, s, hash);
}

/** Turns a refusal into the API's answer (after its transaction committed the record). */
export function refusalError(m: LedgerMessage): DomainError {
  return new DomainError('no_association',
    'necessary mail goes only to contacts of this tenant: no such contact (create the contact first)', 'contact', { messageId: m.id });
}
