// Activation (double opt-in) messages: the per-address cap, the ledger row, and the signed link.
// The token is signed at render time (it never sits in the DB) and binds tenant and the activation
// message (compact, policy/tokens.ts: about 66 characters, nothing readable); that row names the
// contact and its data holds the list ids the link confirms (immutable), and its id is the link's
// stable single-use key in token_uses. Every render of one row yields the same link, and the token
// stays short however many lists it confirms. Links mailed before issue 20 also name the contact (JSON format).
import { createHash } from 'node:crypto';
import type { Queryable } from '../platform/db.js';
import { rateLimited } from '../domain-error.js';
import { signToken, verifyToken, type TokenKeys } from '../policy/tokens.js';
import { enqueueMessage, type LedgerMessage } from '../mail/ledger.js';
import type { ContactRow } from './contacts.js';
import { isUuid } from '../policy/ids.js';
import { mailboxKey } from '../policy/addresses.js';

/**
 * capPerDay: activation messages per mailbox (policy/addresses mailboxKey) per rolling 24 hours;
 * ttlDays: link lifetime; tenantPerHour: when set, the tenant's activation messages per rolling hour
 * (ACTIVATION_TENANT_PER_HOUR), the ceiling of the API, the public form and the preference page
 * (an import's paced activations are not counted: IMPORT_ACTIVATIONS_PER_MINUTE paces them per tenant).
 */
export interface ActivationSettings { capPerDay: number; ttlDays: number; tenantPerHour?: number }

/** What an activation row carries: the lists its link confirms, when it expires, what the mail says. */
export interface ActivationData { listIds: string[]; expiresAt: string; verifyAddress: boolean }

/** What a valid activation link says; contactId only in links of the JSON format (else the row names it: activationContactId). */
export interface ActivationClaim { tenantId: string; contactId: string | null; messageId: string; useId: string }

export type ClaimError = 'invalid' | 'expired';

/** Serialises every request touching one mailbox (all spellings of an address: mailboxKey) for the rest of the transaction. */
export async function lockAddress(c: Queryable, tenantId: string, address: string): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`address:${tenantId}:${mailboxKey(address)}`]);
}

/**
 * Throws rate_limited (HTTP 429, field email, Retry-After in seconds) when this address's MAILBOX
 * (mailboxKey: +tags and, for gmail.com, dots do not count) already received capPerDay activation
 * messages in the last 24 hours. One lookup in the index messages_activation_mailbox, through the
 * definer function mailbox_activations() of migration 072 (it counts the current tenant's rows only;
 * under row-level security the planner could not use that index); `tenantId` is the transaction's tenant.
 */
export async function assertUnderCap(c: Queryable, tenantId: string, address: string, capPerDay: number): Promise<void> {
  const r = await c.query<{ n: number; retry: number | null }>(`SELECT n, ceil(extract(epoch FROM oldest + interval '24 hours' - now()))::int AS retry
    FROM mailbox_activations($1, $2, now() - interval '24 hours')`, [tenantId, mailboxKey(address)]);
  const { n, retry } = r.rows[0];
  if (n >= capPerDay) {
    throw rateLimited(`this mailbox already received ${n} activation emails in the last 24 hours`, 'email', Math.max(1, retry ?? 1));
  }
}

/** Both activation limits before an activation message is queued: the mailbox cap, then (when set) the tenant's hourly ceiling. */
export async function assertMayActivate(c: Queryable, tenantId: string, address: string, s: ActivationSettings): Promise<void> {
  await assertUnderCap(c, tenantId, address, s.capPerDay);
  if (s.tenantPerHour !== undefined) await assertTenantUnderCeiling(c, tenantId, s.tenantPerHour);
}

/**
 * Throws rate_limited (HTTP 429, no field, Retry-After in seconds) when the tenant already queued
 * perHour activation messages in the last hour (ACTIVATION_TENANT_PER_HOUR), counted from the ledger
 * through messages_tenant_kind_created; reads at most perHour index entries.
 */
export async function assertTenantUnderCeiling(c: Queryable, tenantId: string, perHour: number): Promise<void> {
  const r = await c.query<{ n: number; retry: number | null }>(`SELECT count(*)::int AS n,
      ceil(extract(epoch FROM min(created_at) + interval '1 hour' - now()))::int AS retry
    FROM (SELECT created_at FROM messages WHERE tenant_id = $1 AND kind = 'activation' AND NOT (data ? 'importId')
      AND created_at > now() - interval '1 hour' ORDER BY created_at DESC LIMIT $2) recent`, [tenantId, perHour]);
  const { n, retry } = r.rows[0];
  if (n >= perHour) throw rateLimited(`this tenant already sent ${n} activation emails in the last hour`, null, Math.max(1, retry ?? 1));
}

/**
 * The dispatch time of the tenant's latest scheduled import activation (an import paces its mails
 * after it), or null: one index read (migration 073, messages_import_activations).
 */
export async function latestImportActivationDue(c: Queryable, tenantId: string): Promise<Date | null> {
  const r = await c.query<{ due: Date | null }>(`SELECT max((data->>'dueAt')::timestamptz) AS due FROM (SELECT data FROM messages
    WHERE tenant_id = $1 AND kind = 'activation' AND data ? 'importId' ORDER BY created_at DESC LIMIT 100) recent`, [tenantId]);
  return r.rows[0]?.due ?? null;
}

/**
 * Queues the n-th activation message of a contact, confirming its address and the given lists
 * (dispatched from notBefore on, when given). An import's (importId) carries importId and dueAt in
 * its data: the tenant's hourly ceiling does not count it, and the next import activation is paced after it.
 */
export async function queueActivation(c: Queryable, tenantId: string, contact: ContactRow & { email: string }, listIds: string[], ttlDays: number,
  notBefore?: Date, importId?: string): Promise<LedgerMessage> {
  const r = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE contact_id = $1 AND kind = 'activation'`, [contact.id]);
  // A paced message (an import's: notBefore) gets its full lifetime from when it may go out.
  const from = Math.max(Date.now(), notBefore?.getTime() ?? 0);
  const data: ActivationData = {
    listIds, expiresAt: new Date(from + ttlDays * 86_400_000).toISOString(), verifyAddress: contact.status === 'pending',
  };
  const { message } = await enqueueMessage(c, {
    tenantId, purpose: `activation:${contact.id}:${r.rows[0].n + 1}`, kind: 'activation', contactId: contact.id,
    recipient: contact.email, template: 'activation', notBefore: notBefore ?? null,
    data: importId ? { ...data, importId, dueAt: (notBefore ?? new Date(from)).toISOString() } : { ...data }, // dueAt: the slot the pacing gave it
  });
  return message;
}

export function readActivationData(data: Record<string, unknown>): ActivationData | null {
  const { listIds, expiresAt, verifyAddress } = data;
  if (typeof expiresAt !== 'string' || !Array.isArray(listIds)) return null;
  if (!listIds.every((l): l is string => typeof l === 'string')) return null;
  return { listIds, expiresAt, verifyAddress: verifyAddress === true };
}

/** Signs the link's token; its expiry was fixed when the row was created, so every render matches. */
export function activationToken(keys: TokenKeys, m: Pick<LedgerMessage, 'id' | 'tenantId' | 'contactId'>, expiresAt: string): string {
  if (!m.contactId) throw new Error('an activation message needs a contact');
  const expires = Math.floor(Date.parse(expiresAt) / 1000);
  return signToken(keys, 'activation', m.tenantId, { m: m.id }, { ttlSeconds: 0, now: expires });
}

export function activationUrl(publicUrl: string, token: string): string {
  return `${publicUrl}/a/${token}`;
}

/** The single-use key of a link: one per activation row, whatever the render. */
export function useIdOf(tenantId: string, messageId: string): string {
  return createHash('sha256').update(`activation:${tenantId}:${messageId}`).digest('hex');
}

/** Verifies a link's token without a lookup. */
export function readActivationToken(keys: TokenKeys, token: unknown, nowSeconds?: number): { ok: true; claim: ActivationClaim } | { ok: false; error: ClaimError } {
  const r = verifyToken(keys, token, 'activation', nowSeconds);
  if (!r.ok) return { ok: false, error: r.error === 'expired' ? 'expired' : 'invalid' };
  const { t, s } = r.payload;
  const contactId = s.c ?? null;
  if (!isUuid(t) || (contactId !== null && !isUuid(contactId)) || !isUuid(s.m ?? '')) return { ok: false, error: 'invalid' };
  return { ok: true, claim: { tenantId: t, contactId, messageId: s.m, useId: useIdOf(t, s.m) } };
}

/** The contact a link's activation row names (the claim's own, when its token named one), or null. */
export async function activationContactId(c: Queryable, claim: ActivationClaim): Promise<string | null> {
  if (claim.contactId !== null) return claim.contactId;
  const r = await c.query<{ contactId: string | null }>(`SELECT contact_id AS "contactId" FROM messages WHERE id = $1 AND kind = 'activation'`, [claim.messageId]);
  return r.rows[0]?.contactId ?? null;
}

/** What a link's activation row says: the lists it confirms and when it was queued. */
export interface ActivationRow { listIds: string[]; createdAt: Date }

/**
 * The activation row a link names; null unless it is that contact's activation row AND its mail
 * went out (a link is a capability of the mailbox: a row never handed to SMTP, because it is still
 * queued, failed, was suppressed or cancelled, has no link anyone may hold).
 */
export async function activationRow(c: Queryable, claim: ActivationClaim & { contactId: string }): Promise<ActivationRow | null> {
  const r = await c.query<{ data: Record<string, unknown>; createdAt: Date }>(`SELECT data, created_at AS "createdAt" FROM messages
    WHERE id = $1 AND contact_id = $2 AND kind = 'activation' AND status NOT IN ('queued', 'failed', 'suppressed', 'cancelled')`,
  [claim.messageId, claim.contactId]);
  const row = r.rows[0];
  const listIds = row ? readActivationData(row.data)?.listIds ?? null : null;
  return row && listIds ? { listIds, createdAt: row.createdAt } : null;
}


/**
 * Records the use of a single-use link (purpose: 'activation', or 'test_address' for a test address's
 * verification link, 'data_erasure' / 'data_export' for the self-service links of src/data-rights);
 * false when it was already used (the caller then changes nothing).
 */
export async function claimUse(c: Queryable, tenantId: string, useId: string,
  purpose: 'activation' | 'test_address' | 'data_export' | 'data_erasure' = 'activation'): Promise<boolean> {
  const r = await c.query(`INSERT INTO token_uses (tenant_id, token_hash, purpose) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [tenantId, useId, purpose]);
  return (r.rowCount ?? 0) > 0;
}

export async function isUsed(c: Queryable, useId: string): Promise<boolean> {
  return (await c.query('SELECT 1 FROM token_uses WHERE token_hash = $1', [useId])).rows.length > 0;
}
