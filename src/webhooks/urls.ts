// Which endpoint URLs and event types an endpoint may have, and the endpoint secret. PURE: no I/O.
// The address a host name resolves to is judged at connect time by request-filtering-agent (send.ts);
// here only a literal IP address in the URL is judged, by ipaddr.js (the library the agent uses).
import { randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { DomainError } from '../domain-error.js';
import { EVENT_TYPES, isEventType } from '../events/types.js';

/** The longest endpoint URL accepted, in characters. */
export const MAX_URL_LENGTH = 2000;

/** A literal IP address's range as ipaddr.js names it ('unicast' is public); null for a host name. */
function literalRange(hostname: string): string | null {
  const h = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (!ipaddr.isValid(h)) return null;
  const a = ipaddr.process(h);
  // ::a.b.c.d, the deprecated IPv4-compatible form (RFC 4291 2.5.5.1), is 'unicast' to ipaddr.js
  // whatever IPv4 address it carries: never a public target.
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0)) return a.range() === 'unicast' ? 'ipv4Compatible' : a.range();
  return a.range();
}

/**
 * Checks an endpoint URL: absolute, https (http too when `allowPrivate`, WEBHOOK_ALLOW_PRIVATE), no
 * user name or password, at most MAX_URL_LENGTH characters, and unless `allowPrivate` no literal IP
 * address outside public unicast (loopback, private, link-local, …). Returns the URL as written;
 * throws DomainError 'invalid' on `field`.
 */
export function checkEndpointUrl(raw: string, allowPrivate: boolean, field = 'url'): string {
  const bad = (why: string) => new DomainError('invalid', `${field}: ${why}`, field);
  if (raw.length > MAX_URL_LENGTH) throw bad(`longer than ${MAX_URL_LENGTH} characters`);
  let u: URL;
  try { u = new URL(raw); } catch { throw bad('not an absolute URL'); }
  if (u.protocol !== 'https:' && !(allowPrivate && u.protocol === 'http:')) {
    throw bad(allowPrivate ? 'must be an https or http URL' : 'must be an https URL');
  }
  if (u.username || u.password) throw bad('must not hold a user name or password');
  const range = literalRange(u.hostname);
  if (range !== null && range !== 'unicast' && !allowPrivate) {
    throw bad(`the address ${u.hostname} is ${range}, not public (private, loopback and link-local targets are refused)`);
  }
  return raw;
}

/**
 * Checks an endpoint's event types: ['*'] (every type) or a non-empty list of EVENT_TYPES, returned
 * without duplicates in EVENT_TYPES order. Throws DomainError 'invalid' on `field` (naming the entry).
 */
export function checkEventTypes(types: readonly string[], field = 'types'): string[] {
  if (types.length === 0) throw new DomainError('invalid', `${field}: name at least one event type, or "*"`, field);
  if (types.includes('*')) {
    if (types.length > 1) throw new DomainError('invalid', `${field}: "*" stands alone (it means every type)`, field);
    return ['*'];
  }
  types.forEach((t, i) => {
    if (!isEventType(t)) throw new DomainError('invalid', `${field}[${i}]: unknown event type "${t}"`, `${field}[${i}]`);
  });
  return EVENT_TYPES.filter((t) => types.includes(t));
}

/** A new endpoint secret in the Standard Webhooks format: "whsec_" and 32 random bytes in base64. */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
