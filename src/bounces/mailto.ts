// The List-Unsubscribe mailto address: `unsubscribe+<token>@<bounce domain>`. The link tokens of
// src/unsubscribe/links.ts are about 60 characters (~220 in the JSON format before issue 20) and
// case-sensitive: with `unsubscribe+` too long for a local part (RFC 5321: 64 octets), and an MTA may
// fold its case. So this compact form exists alongside them:
//   token = base32(contactUuid16 ‖ mac8) "-" kidTag      (39 + 1 + ≤ 12 chars; local part ≤ 64)
//   mac8  = first 8 bytes of HMAC-SHA256(keys[kid], "unsubscribe-mailto\0" ‖ contactUuid16)
// Lower-case, so an MTA folding the case of the local part does not break it. The contact id alone
// identifies the tenant (contact_tenant(), a SECURITY DEFINER look-up in 050). Signing is pure.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { base32Decode, base32Encode, verpKidTag, type TokenKeys } from '../policy/tokens.js';
import { isUuid } from '../policy/ids.js';

const MAC_BYTES = 8;
const TOKEN = /^([a-z2-7]{39})-([a-z0-9]{1,12})$/;

function mailtoMac(secret: string, id: Buffer): Buffer {
  return createHmac('sha256', secret).update(Buffer.concat([Buffer.from('unsubscribe-mailto\0', 'latin1'), id])).digest().subarray(0, MAC_BYTES);
}

function uuidText(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The compact mailto token for a contact. Throws if contactId is not a UUID. */
export function signMailtoToken(keys: TokenKeys, contactId: string): string {
  if (!isUuid(contactId)) throw new Error('contact id must be a UUID');
  const secret = keys.keys[keys.current];
  if (!secret) throw new Error('no current token key');
  const id = Buffer.from(contactId.replace(/-/g, ''), 'hex');
  return `${base32Encode(Buffer.concat([id, mailtoMac(secret, id)]))}-${verpKidTag(keys.current)}`;
}

/** The contact id of a compact mailto token (any letter case), or null. Never throws. */
export function verifyMailtoToken(keys: TokenKeys, token: string): string | null {
  if (token.length > 52) return null;
  const m = TOKEN.exec(token.toLowerCase());
  const raw = m ? base32Decode(m[1]) : null;
  if (!m || !raw || raw.length !== 16 + MAC_BYTES) return null;
  const id = raw.subarray(0, 16);
  const given = raw.subarray(16);
  const ok = Object.entries(keys.keys).some(([kid, secret]) => verpKidTag(kid) === m[2] && timingSafeEqual(mailtoMac(secret, id), given));
  return ok ? uuidText(id) : null;
}

/** `unsubscribe+<token>@<domain>`: the mailto target for List-Unsubscribe (tenant's bounce domain, else BOUNCE_DOMAIN). */
export function unsubscribeMailto(keys: TokenKeys, tenant: { bounceDomain: string | null }, contactId: string, defaultDomain: string): string {
  return `unsubscribe+${signMailtoToken(keys, contactId)}@${tenant.bounceDomain ?? defaultDomain}`;
}
