// Per-recipient links that Postgate builds into marketing mail. Signed (policy/tokens.ts, compact:
// about 60 characters), verifiable without a lookup, bound to the tenant. Campaign mail and test sends
// name their ledger message (`l`): its contact and campaign are read where the link is opened
// (targets.ts loadLink), so the link stays short and the send path writes nothing more. A link made
// for a contact directly names the contact (`c`) and, when given, the campaign (`m`); links in mail
// sent before issue 20 name all three in the JSON format and keep working.
import { signToken, verifyToken, type TokenKeys } from '../policy/tokens.js';

export interface UnsubscribeSubject { tenantId: string; contactId: string; campaignId: string | null }
/** A link naming the ledger message it came in (campaign mail, test sends). */
export interface MessageLink { tenantId: string; messageId: string }
/** What a verified link names: a subject, or the message to read the subject from. */
export type UnsubscribeLink = UnsubscribeSubject | MessageLink;

/** The link's token: `{ l: message }` for a message link, else `{ c: contact[, m: campaign] }`. */
export function unsubscribeToken(keys: TokenKeys, s: UnsubscribeLink): string {
  const subject: Record<string, string> = 'messageId' in s ? { l: s.messageId } : { c: s.contactId, ...(s.campaignId ? { m: s.campaignId } : {}) };
  return signToken(keys, 'unsubscribe', s.tenantId, subject, { ttlSeconds: null });
}

/** https one-click URL (RFC 8058 List-Unsubscribe target, and the link in the body). */
export function unsubscribeUrl(publicUrl: string, keys: TokenKeys, s: UnsubscribeLink): string {
  return `${publicUrl}/u/${unsubscribeToken(keys, s)}`;
}

export function preferencesUrl(publicUrl: string, keys: TokenKeys, s: UnsubscribeLink): string {
  return `${publicUrl}/u/${unsubscribeToken(keys, s)}/preferences`;
}

/** What a valid unsubscribe token names (either format), or null. */
export function readUnsubscribeToken(keys: TokenKeys, token: unknown): UnsubscribeLink | null {
  const r = verifyToken(keys, token, 'unsubscribe');
  if (!r.ok) return null;
  const { c, m, l } = r.payload.s;
  if (typeof l === 'string' && l) return { tenantId: r.payload.t, messageId: l };
  if (typeof c !== 'string' || !c) return null;
  return { tenantId: r.payload.t, contactId: c, campaignId: m ? m : null };
}
