// Sending domains (PURE): which domain an address or envelope uses, and whether a tenant's verified
// domains cover it. Shared by the gate (send time) and the API/CLI (PATCH /api/tenant, DKIM keys).

/** A domain name as Postgate stores it: trimmed, lower-case, no trailing dot. */
export function normalizeDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/** The domain of an address (after the last '@'), normalised; '' when there is none. */
export function addressDomain(address: string | null | undefined): string {
  if (!address) return '';
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : normalizeDomain(address.slice(at + 1).replace(/>$/, ''));
}

/** A domain as Postgate takes it: a host name of two or more labels, lower-case, no trailing dot (RFC 1123 labels). */
export const DOMAIN_PATTERN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Is `domain` (already normalised) a domain name Postgate accepts: DOMAIN_PATTERN, and a top-level
 * label that is not all digits (so no IP literal such as 1.2.3.4: RFC 3696 §2, no TLD is numeric).
 */
export function isDomainName(domain: string): boolean {
  return DOMAIN_PATTERN.test(domain) && !/^[0-9]+$/.test(domain.slice(domain.lastIndexOf('.') + 1));
}

/** Is `domain` exactly one of `verified`? (From and DKIM d= must be a verified domain itself.) */
export function isVerifiedDomain(domain: string, verified: readonly string[]): boolean {
  const d = normalizeDomain(domain);
  return d !== '' && verified.some((v) => normalizeDomain(v) === d);
}

/**
 * Is `domain` a verified domain or a subdomain of one? (A bounce domain such as
 * bounces.example.org is covered by example.org: whoever verified the parent controls its zone.)
 * `domain` must be a domain name itself (isDomainName): "..example.org" or "-.example.org" is not
 * a subdomain of anything.
 */
export function isCoveredDomain(domain: string, verified: readonly string[]): boolean {
  const d = normalizeDomain(domain);
  return isDomainName(d) && verified.some((v) => { const p = normalizeDomain(v); return p !== '' && (d === p || d.endsWith(`.${p}`)); });
}

/** What the gate needs to judge the sender's domains of one message. */
export interface SendingDomains {
  /** The domains verified for the sending tenant (by DNS or vouched for by the operator). */
  verified: readonly string[];
  /** The envelope (MAIL FROM) domain: the tenant's bounce domain, or null for the operator's BOUNCE_DOMAIN (always allowed). */
  envelope: string | null;
}

/**
 * The sender-domain rule: the From address's domain is verified for the tenant, and the envelope
 * domain is the operator's or covered by a verified domain. Fails closed on missing facts.
 */
export function sendingDomainsOk(fromAddress: string | null, domains: SendingDomains | undefined): boolean {
  if (!domains || !Array.isArray(domains.verified)) return false;
  if (!isVerifiedDomain(addressDomain(fromAddress), domains.verified)) return false;
  return domains.envelope === null || isCoveredDomain(domains.envelope, domains.verified);
}

/** The envelope domain the gate judges: the tenant's bounce domain, or null when the operator's BOUNCE_DOMAIN is used. */
export function envelopeDomain(tenantBounceDomain: string | null, operatorBounceDomain: string): string | null {
  if (!tenantBounceDomain) return null;
  const d = normalizeDomain(tenantBounceDomain);
  return d === normalizeDomain(operatorBounceDomain) ? null : d;
}
