// Self-service data rights (issue 20): the person, from the preference page, asks for a copy of their
// data or for its erasure; either way Postgate first mails a link to the address itself (whoever holds
// the preference link may not own the mailbox: the mailbox is the proof).
//   request    (POST /u/:token/my-data) rate-limited per contact (DATA_RIGHTS_REQUESTS_PER_DAY per
//              rolling 24 h, export and erasure together, counted from the consent records under the
//              contact's row lock: correct across processes), recorded ('export_request' /
//              'erasure_request'), and a 'legal' message queued: necessary mail to the person's own
//              address, so the gate sends it whatever their subscriptions (templates data-export,
//              data-erasure; the chosen locale and the link's expiry in the row's data).
//   the link   signed at render time like activation (purpose data_export / data_erasure; tenant,
//              contact, the message's id; expiry fixed when the row was made, DATA_RIGHTS_LINK_HOURS),
//              and valid only while its message row exists for that contact and was handed to SMTP.
//   export     the same document as GET /api/contacts/:id/export (exportContact); its first download
//              is recorded ('export_download', once per link through token_uses).
//   erasure    single-use (token_uses, keyed by the message id: every render of one row is one link),
//              then the same erasure as DELETE /api/contacts/:id (eraseContact, source 'self_service').
import { suppressionsFor } from '../consent/suppressions.js';
import { createHash, randomUUID } from 'node:crypto';
import type { PoolClient, Queryable } from '../platform/db.js';
import { signToken, verifyToken, type TokenKeys } from '../policy/tokens.js';
import { isUuid } from '../policy/ids.js';
import { enqueueMessage, getMessage, type LedgerMessage } from '../mail/ledger.js';
import { recentConsentCount, recordConsent } from '../consent/records.js';
import { claimUse, isUsed } from '../consent/activation.js';
import { cleanIp } from '../consent/unsubscribe.js';
import type { Requester } from '../consent/confirm.js';
import { eraseContact, type ErasureResult } from './erase.js';
import { exportContact } from './export.js';
import { getPageTenant, type PageTenant } from '../tenants/store.js';
import { findContact, type ContactRow } from '../consent/contacts.js';

export type RightsKind = 'export' | 'erasure';

/** DATA_RIGHTS_LINK_HOURS and DATA_RIGHTS_REQUESTS_PER_DAY. */
export interface SelfServiceSettings { linkHours: number; perDay: number }

/** What a data-rights message row carries: when its link expires and the language the person used (its page's). */
export interface RightsData { expiresAt: string; locale: string | null }

/** What a valid link says. */
/** What a link's token says: the tenant and the ledger message; the contact is read from the message (a link of the first, longer format also named it). */
export interface TokenClaim { tenantId: string; messageId: string; contactId: string | null }
/** A claim whose message was found: its contact is the message's. */
export interface RightsClaim { tenantId: string; contactId: string; messageId: string }

export type LinkError = 'invalid' | 'expired' | 'used' | 'gone';

/** The ledger template of each kind (also the renderer's name and the purpose's prefix). */
export const RIGHTS_TEMPLATE = { export: 'data-export', erasure: 'data-erasure' } as const;
const TOKEN_PURPOSE = { export: 'data_export', erasure: 'data_erasure' } as const;
const REQUEST_ACTION = { export: 'export_request', erasure: 'erasure_request' } as const;
const WINDOW_HOURS = 24;

/** Queued; or refused: over the rate limit (seconds until a request is taken again), or the address takes no mail at all (suppressed). */
export type RequestOutcome = { ok: true; message: LedgerMessage } | { ok: false; why: 'limited'; retryAfter: number } | { ok: false; why: 'unmailable' };

/** The person a request is about: the preference link's live contact (row locked by the caller). */
export interface RightsPerson { tenantId: string; contactId: string; email: string; status: string }

/**
 * Takes a request slot, records it and queues the mail, in the caller's tenant transaction. The
 * caller holds the contact's row lock (unsubscribe/targets loadLink forUpdate), so two requests of one
 * person are serialised and the count is exact; a refused request records nothing.
 */
export async function requestRights(c: Queryable, p: RightsPerson, kind: RightsKind, who: Requester & { locale: string },
  s: SelfServiceSettings): Promise<RequestOutcome> {
  // The gate never mails a suppressed address (nor a hard-bounced contact): say so now, rather than
  // promise a mail that will not come. Nothing is recorded and the limit is not spent.
  if (p.status === 'suppressed' || (await suppressionsFor(c, p.tenantId, p.email)).all) return { ok: false, why: 'unmailable' };
  const seen = await recentConsentCount(c, p.contactId, Object.values(REQUEST_ACTION), WINDOW_HOURS, s.perDay);
  if (seen.n >= s.perDay) return { ok: false, why: 'limited', retryAfter: seen.retryAfter };
  const data: RightsData = { expiresAt: new Date(Date.now() + s.linkHours * 3_600_000).toISOString(), locale: who.locale };
  const { message } = await enqueueMessage(c, {
    tenantId: p.tenantId, purpose: `${RIGHTS_TEMPLATE[kind]}:${randomUUID()}`, kind: 'legal', contactId: p.contactId,
    recipient: p.email, template: RIGHTS_TEMPLATE[kind], data: { ...data },
  });
  await recordConsent(c, p.tenantId, { contactId: p.contactId, listId: null, action: REQUEST_ACTION[kind], source: 'preferences',
    ip: cleanIp(who.ip), userAgent: who.userAgent, textHash: null, detail: { messageId: message.id, locale: who.locale } });
  return { ok: true, message };
}

/** A data-rights row's data, or null when it lacks it (erased: data is {}). */
export function readRightsData(data: Record<string, unknown>): RightsData | null {
  const { expiresAt, locale } = data;
  if (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt))) return null;
  return { expiresAt, locale: typeof locale === 'string' ? locale : null };
}

/** Signs a message's link token; the expiry comes from the row, so every render of it yields the same link. */
export function rightsToken(keys: TokenKeys, kind: RightsKind, m: Pick<LedgerMessage, 'id' | 'tenantId' | 'contactId'>, expiresAt: string): string {
  if (!m.contactId) throw new Error('a data-rights message needs a contact');
  const expires = Math.floor(Date.parse(expiresAt) / 1000);
  // The message alone (its row names the contact): the link stays under 100 characters.
  return signToken(keys, TOKEN_PURPOSE[kind], m.tenantId, { m: m.id }, { ttlSeconds: 0, now: expires });
}

/** The link of each kind: /data/<token> (summary and download), /erase/<token> (confirm). */
export function rightsUrl(publicUrl: string, kind: RightsKind, token: string): string {
  return `${publicUrl}/${kind === 'export' ? 'data' : 'erase'}/${token}`;
}

/** Verifies a link's token without a look-up. */
export function readRightsToken(keys: TokenKeys, kind: RightsKind, token: unknown, nowSeconds?: number):
{ ok: true; claim: TokenClaim } | { ok: false; error: 'invalid' | 'expired' } {
  const r = verifyToken(keys, token, TOKEN_PURPOSE[kind], nowSeconds);
  if (!r.ok) return { ok: false, error: r.error === 'expired' ? 'expired' : 'invalid' };
  const { t, s } = r.payload;
  if (!isUuid(t) || !isUuid(s.m ?? '') || (s.c !== undefined && !isUuid(s.c))) return { ok: false, error: 'invalid' };
  return { ok: true, claim: { tenantId: t, contactId: s.c ?? null, messageId: s.m } };
}

/** The single-use key of a link: one per message row, whatever the render (and whatever the token format). */
function useIdOf(kind: RightsKind, claim: RightsClaim): string {
  return createHash('sha256').update(`${TOKEN_PURPOSE[kind]}:${claim.tenantId}:${claim.messageId}`).digest('hex');
}

const UNSENT = new Set(['queued', 'failed', 'suppressed', 'cancelled']);

/**
 * The message a link names, in its tenant's transaction: null unless it is that contact's message of
 * this kind AND it was handed to SMTP (a link is a capability of the mailbox).
 */
export async function rightsMessage(c: Queryable, kind: RightsKind, claim: TokenClaim): Promise<(LedgerMessage & { contactId: string }) | null> {
  const m = await getMessage(c, claim.messageId);
  if (!m || !m.contactId || (claim.contactId !== null && m.contactId !== claim.contactId)) return null;
  if (m.template !== RIGHTS_TEMPLATE[kind] || UNSENT.has(m.status)) return null;
  return { ...m, contactId: m.contactId };
}

/** What a link's page needs: the tenant, the person (null once erased) and their stored locale. */
export interface RightsLink {
  claim: RightsClaim; tenant: PageTenant; contact: (ContactRow & { email: string }) | null; contactLocale: string | null;
  /** When the link expires (null once erasure emptied the row's data). */
  expiresAt: Date | null;
}

/**
 * The link's tenant and person, in the tenant's transaction; null when the link names no message of
 * this kind that was mailed to that contact (or the tenant is gone). `contact` is null once erased.
 */
export async function loadRightsLink(c: Queryable, kind: RightsKind, token: TokenClaim): Promise<RightsLink | null> {
  const tenant = await getPageTenant(c, token.tenantId);
  const message = tenant ? await rightsMessage(c, kind, token) : null;
  if (!tenant || !message) return null;
  const claim: RightsClaim = { tenantId: token.tenantId, messageId: token.messageId, contactId: message.contactId };
  const data = readRightsData(message.data);
  const found = await findContact(c, { id: claim.contactId });
  const contact = found && found.status !== 'erased' && found.email ? { ...found, email: found.email } : null;
  return { claim, tenant, contact, contactLocale: contact?.locale ?? null, expiresAt: data ? new Date(data.expiresAt) : null };
}

/**
 * The export of a loaded link's person (the API's document). `download` records the first download
 * of this link as 'export_download' (before the document is built, so it is in it).
 */
export async function exportByLink(c: Queryable, link: RightsLink, download: boolean, who: Requester): Promise<Record<string, unknown> | null> {
  const { claim } = link;
  if (!link.contact) return null;
  if (download && await claimUse(c, claim.tenantId, useIdOf('export', claim), 'data_export')) {
    await recordConsent(c, claim.tenantId, { contactId: claim.contactId, listId: null, action: 'export_download', source: 'self_service',
      ip: cleanIp(who.ip), userAgent: who.userAgent, textHash: null, detail: { messageId: claim.messageId } });
  }
  return exportContact(c, claim.tenantId, claim.contactId);
}

/** Why a loaded erasure link may not be used (GET: changes nothing), or null. */
export async function erasureLinkState(c: Queryable, link: RightsLink): Promise<LinkError | null> {
  if (await isUsed(c, useIdOf('erasure', link.claim))) return 'used';
  return link.contact ? null : 'gone';
}

/** Uses a loaded erasure link: claims it (single use), then erases exactly as the API does. */
export async function eraseByLink(c: PoolClient, link: RightsLink): Promise<{ ok: true; erased: ErasureResult } | { ok: false; error: LinkError }> {
  if (!(await claimUse(c, link.claim.tenantId, useIdOf('erasure', link.claim), 'data_erasure'))) return { ok: false, error: 'used' };
  if (!link.contact) return { ok: false, error: 'gone' };
  const erased = await eraseContact(c, link.claim.tenantId, link.claim.contactId, 'self_service');
  if (!erased) throw new LinkGone(); // erased meanwhile: the claim rolls back with the transaction
  return { ok: true, erased };
}

/** Thrown inside the transaction when the person was already erased: the claim rolls back. */
export class LinkGone extends Error {
  constructor() { super('the person of this link was already erased'); }
}
