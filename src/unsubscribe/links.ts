// Per-recipient links that Postgate builds into marketing mail. Signed, verifiable without a lookup,
// bound to tenant, contact and campaign. Used by campaigns (to build) and unsubscribe (to verify).
import { signToken, verifyToken, type TokenKeys } from '../policy/tokens.js';

export interface UnsubscribeSubject { tenantId: string; contactId: string; campaignId: string | null }

export function unsubscribeToken(keys: TokenKeys, s: UnsubscribeSubject): string {
  return signToken(keys, 'unsubscribe', s.tenantId, { c: s.contactId, m: s.campaignId ?? '' }, { ttlSeconds: null });
}

/** https one-click URL (RFC 8058 List-Unsubscribe target, and the link in the body). */
export function unsubscribeUrl(publicUrl: string, keys: TokenKeys, s: UnsubscribeSubject): string {
  return `${publicUrl}/u/${unsubscribeToken(keys, s)}`;
}

export function preferencesUrl(publicUrl: string, keys: TokenKeys, s: UnsubscribeSubject): string {
  return `${publicUrl}/u/${unsubscribeToken(keys, s)}/preferences`;
}

export function readUnsubscribeToken(keys: TokenKeys, token: unknown): UnsubscribeSubject | null {
  const r = verifyToken(keys, token, 'unsubscribe');
  if (!r.ok) return null;
  const { c, m } = r.payload.s;
  if (typeof c !== 'string' || !c) return null;
  return { tenantId: r.payload.t, contactId: c, campaignId: m ? m : null };
}
