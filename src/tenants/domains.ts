// Sending domains of a tenant; the one owner of the domains table's SQL. A domain is pending until
// verified: by DNS (verified_by 'dns', through the API) or vouched for by the operator ('operator',
// the CLI). The cross-tenant question "is it verified for someone else?" goes through the narrow
// SECURITY DEFINER function domain_verified_elsewhere() (migrations/064_domains.sql).
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import type { RecordCheck } from './records.js';
import type { DkimKey } from './dkim.js';
import { addressDomain, isCoveredDomain, isVerifiedDomain, normalizeDomain } from '../policy/domains.js';

export type DomainState = 'pending' | 'verified';
export type VerifiedBy = 'dns' | 'operator';
export interface SendingDomain {
  id: string; domain: string; token: string; state: DomainState; verifiedBy: VerifiedBy | null; verifiedAt: Date | null;
  lastCheck: { checks?: RecordCheck[]; grandfathered?: boolean } | null; checkedAt: Date | null; createdAt: Date; cursorAt: string;
}

/** A domain as the API and CLI take it: policy/domains.ts (DOMAIN_PATTERN, and isDomainName: no numeric TLD). */
export { DOMAIN_PATTERN, isDomainName } from '../policy/domains.js';

const COLUMNS = `id, domain, token, state, verified_by AS "verifiedBy", verified_at AS "verifiedAt", last_check AS "lastCheck",
  checked_at AS "checkedAt", created_at AS "createdAt",
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt"`;

function domainTaken(domain: string, field: string | null): DomainError {
  return new DomainError('domain_taken', `${domain} is verified for another tenant; ask the operator if it should be shared`, field);
}

/** Is the domain verified for a tenant other than the current one (app.tenant_id)? */
export async function verifiedElsewhere(c: Queryable, domain: string): Promise<boolean> {
  return (await c.query<{ taken: boolean }>('SELECT domain_verified_elsewhere($1) AS taken', [domain])).rows[0].taken;
}

/** One domain of the current tenant, or null. */
export async function getDomain(c: Queryable, domain: string): Promise<SendingDomain | null> {
  return (await c.query<SendingDomain>(`SELECT ${COLUMNS} FROM domains WHERE domain = $1`, [domain])).rows[0] ?? null;
}

/** The current tenant's domains, newest first, keyset-paged (limit + 1 rows: the caller tells if there is more). */
export async function listDomains(c: Queryable, q: { after?: { at: string; id: string }; limit: number }): Promise<SendingDomain[]> {
  return (await c.query<SendingDomain>(`SELECT ${COLUMNS} FROM domains
    WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid))
    ORDER BY created_at DESC, id DESC LIMIT $3`, [q.after?.at ?? null, q.after?.id ?? null, q.limit + 1])).rows;
}

/** The domains verified for the current tenant: the gate's fact (one small query per message or campaign batch). */
export async function verifiedDomains(c: Queryable): Promise<string[]> {
  return (await c.query<{ domain: string }>(`SELECT domain FROM domains WHERE state = 'verified' ORDER BY domain`)).rows.map((r) => r.domain);
}

/** The current tenant's pending (unverified) domains, by name, at most `limit` (the API allows MAX_PENDING_DOMAINS; the CLI may add more). */
export async function pendingDomains(c: Queryable, limit: number): Promise<string[]> {
  return (await c.query<{ domain: string }>(`SELECT domain FROM domains WHERE state = 'pending' ORDER BY domain LIMIT $1`, [limit])).rows.map((r) => r.domain);
}

/** The most pending (unverified) domains a tenant may have through the API. */
export const MAX_PENDING_DOMAINS = 20;

/**
 * Adds a domain to the tenant (pending, with a new verification token), or returns the one it has
 * (created false: same token). Through the API (`operator` false) a domain verified for another
 * tenant is refused: DomainError domain_taken (409); so is a new domain when the tenant has
 * MAX_PENDING_DOMAINS pending ones: too_many_pending (checked under a
 * per-tenant transaction-level advisory lock, so concurrent requests cannot race past it).
 */
export async function addDomain(c: Queryable, tenantId: string, domain: string, opts: { operator?: boolean; field?: string } = {}): Promise<{ created: boolean; domain: SendingDomain }> {
  if (!opts.operator) await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`postgate:pending-domains:${tenantId}`]);
  const existing = await getDomain(c, domain);
  if (existing) return { created: false, domain: existing };
  if (!opts.operator && await verifiedElsewhere(c, domain)) throw domainTaken(domain, opts.field ?? 'domain');
  if (!opts.operator) {
    const pending = (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM domains WHERE state = 'pending'`)).rows[0].n;
    if (pending >= MAX_PENDING_DOMAINS) {
      throw new DomainError('too_many_pending', `this tenant already has ${pending} pending domains (at most ${MAX_PENDING_DOMAINS}): verify or delete one before adding another`,
        opts.field ?? 'domain', { limit: MAX_PENDING_DOMAINS });
    }
  }
  await c.query(`INSERT INTO domains (tenant_id, domain, token) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, domain) DO NOTHING`,
    [tenantId, domain, randomBytes(16).toString('hex')]);
  return { created: true, domain: (await getDomain(c, domain)) as SendingDomain };
}

/** Records the per-record status of a DNS check. */
export async function recordCheck(c: Queryable, domain: string, checks: RecordCheck[]): Promise<void> {
  await c.query(`UPDATE domains SET last_check = $2, checked_at = now() WHERE domain = $1`, [domain, JSON.stringify({ checks })]);
}

/**
 * Marks the tenant's domain verified (no-op if it is). By DNS: refused with domain_taken when it is
 * verified for another tenant (checked here, and by the partial unique index against a race). By the
 * operator: always (the operator may share a domain between tenants).
 */
export async function markVerified(c: Queryable, tenantId: string, domain: string, by: VerifiedBy): Promise<SendingDomain> {
  const row = await getDomain(c, domain);
  if (!row) throw new DomainError('not_found', `${domain} is not a domain of this tenant`, 'domain');
  if (row.state === 'verified') return row;
  if (by === 'dns' && await verifiedElsewhere(c, domain)) throw domainTaken(domain, 'domain');
  try {
    await c.query(`UPDATE domains SET state = 'verified', verified_by = $3, verified_at = now() WHERE tenant_id = $1 AND domain = $2`, [tenantId, domain, by]);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw domainTaken(domain, 'domain');
    throw err;
  }
  return (await getDomain(c, domain)) as SendingDomain;
}

/** The operator vouches for a domain: added if new, verified by 'operator' (kept as it is if already verified). */
export async function vouchDomain(c: Queryable, tenantId: string, domain: string): Promise<SendingDomain> {
  await addDomain(c, tenantId, domain, { operator: true });
  return markVerified(c, tenantId, domain, 'operator');
}

/** Removes a domain from the tenant; false if it had none. Its DKIM keys stay (they sign nothing without it). */
export async function deleteDomain(c: Queryable, domain: string): Promise<boolean> {
  return ((await c.query('DELETE FROM domains WHERE domain = $1', [domain])).rowCount ?? 0) > 0;
}

/**
 * Refuses a sender identity on domains the tenant has not verified: the From address's domain must
 * be verified, a bounce domain must be the operator's BOUNCE_DOMAIN or a verified domain or a
 * subdomain of one. DomainError unverified_domain (422) on field fromEmail or bounceDomain.
 */
export async function assertIdentityDomains(c: Queryable, patch: { fromEmail?: string; bounceDomain?: string | null }, operatorBounceDomain: string): Promise<void> {
  if (patch.fromEmail === undefined && (patch.bounceDomain ?? null) === null) return;
  const verified = await verifiedDomains(c);
  if (patch.fromEmail !== undefined && !isVerifiedDomain(addressDomain(patch.fromEmail), verified)) {
    throw new DomainError('unverified_domain', `${addressDomain(patch.fromEmail)} is not a verified domain of this tenant: add it with POST /api/domains and verify it`, 'fromEmail');
  }
  const bounce = patch.bounceDomain ? normalizeDomain(patch.bounceDomain) : null;
  if (bounce !== null && bounce !== normalizeDomain(operatorBounceDomain) && !isCoveredDomain(bounce, verified)) {
    throw new DomainError('unverified_domain', `${bounce} is neither a verified domain of this tenant nor a subdomain of one`, 'bounceDomain');
  }
}

/**
 * What the send path needs of the tenant's set-up in one round trip: the domains verified for the
 * current tenant (the gate's fact) and the active DKIM key of `fromDomain` (null: unsigned).
 * Used per single message and once per campaign batch.
 */
export async function signingSetup(c: Queryable, fromDomain: string): Promise<{ verified: string[]; dkim: DkimKey | null }> {
  const r = await c.query<{ verified: string[] | null; domain: string | null; selector: string; privateKey: string; publicKey: string }>(
    `SELECT (SELECT array_agg(d.domain ORDER BY d.domain) FROM domains d WHERE d.state = 'verified') AS verified,
       k.domain, k.selector, k.private_key AS "privateKey", k.public_key AS "publicKey"
     FROM (SELECT 1) one
     LEFT JOIN LATERAL (SELECT * FROM dkim_keys WHERE domain = $1 AND state = 'active' ORDER BY activated_at DESC LIMIT 1) k ON true`, [fromDomain]);
  const row = r.rows[0];
  return {
    verified: row?.verified ?? [],
    dkim: row?.domain ? { domain: row.domain, selector: row.selector, privateKey: row.privateKey, publicKey: row.publicKey } : null,
  };
}
