// Which inbound recipient addresses Postgate answers for: `bounces+<VERP token>@…` (the envelope
// sender of every message it sends) and `unsubscribe+<token>@…` (the optional List-Unsubscribe
// mailto: the compact token of mailto.ts, or a link token of unsubscribe/links.ts where it fits).
// Only the signed local part decides: any domain is accepted, because the listener is the final
// destination for whatever MX points at it (the bounce domain, or a tenant's own bounce_domain) and
// never relays; a local part whose token does not verify is refused.
import { verifyVerp, type TokenKeys } from '../policy/tokens.js';
import { readUnsubscribeToken } from '../unsubscribe/links.js';
import { verifyMailtoToken } from './mailto.js';

export type InboundTarget =
  | { kind: 'verp'; address: string; messageId: string }
  /** tenantId null: the compact token names only the contact (its tenant is looked up). */
  | { kind: 'unsubscribe'; address: string; contactId: string; tenantId: string | null; campaignId: string | null };

/** Longest address considered at all (tokens are long; this only bounds the work). */
export const MAX_INBOUND_ADDRESS = 1024;

const LOCAL = /^(bounces|unsubscribe)\+([A-Za-z0-9._-]+)$/i;

/** The target of one recipient address, or null when it is not an address Postgate answers for. */
export function parseInboundRecipient(keys: TokenKeys, input: string): InboundTarget | null {
  const address = input.trim().replace(/^<(.*)>$/, '$1');
  if (!address || address.length > MAX_INBOUND_ADDRESS) return null;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const m = LOCAL.exec(address.slice(0, at));
  if (!m) return null;
  if (m[1].toLowerCase() === 'bounces') {
    const v = verifyVerp(keys, m[2]);
    return v.ok ? { kind: 'verp', address, messageId: v.messageId } : null;
  }
  const contactId = verifyMailtoToken(keys, m[2]);
  if (contactId) return { kind: 'unsubscribe', address, contactId, tenantId: null, campaignId: null };
  const subject = readUnsubscribeToken(keys, m[2]);
  // A message link (campaign mail's, ~60 chars) never fits a local part with `unsubscribe+`: only contact links are taken here.
  return subject && 'contactId' in subject ? { kind: 'unsubscribe', address, ...subject } : null;
}

/** Distinct targets of a list of addresses (envelope recipients, or headers naming them). */
export function inboundTargets(keys: TokenKeys, addresses: readonly string[]): InboundTarget[] {
  const seen = new Set<string>();
  const out: InboundTarget[] = [];
  for (const a of addresses) {
    const t = parseInboundRecipient(keys, a);
    if (!t) continue;
    const key = t.kind === 'verp' ? `v:${t.messageId}` : `u:${t.contactId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(t);
  }
  return out;
}
