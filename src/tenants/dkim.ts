// DKIM keys (RFC 6376) and their lifecycle; the one owner of dkim_keys' SQL.
//   pending  generated; its TXT record is not yet seen in DNS: never signs
//   active   its record resolved with the right p= (or the operator activated it): signs; at most
//            one per tenant and domain (the newest activated)
//   retired  a newer key of the domain became active: signs no more; its record may be removed once
//            DKIM_RETIRE_GRACE_DAYS have passed (mail signed with it may still be verified until then)
// A key is never replaced: a selector that exists for the domain is refused (selector_exists).
// Through the API a tenant has at most MAX_PENDING_DKIM_KEYS pending keys per domain (each costs
// RSA-2048 CPU to make): lockDkimGeneration + assertRoomForDkimKey, then generate, in one transaction.
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';

/** What signing needs: the domain (d=), selector (s=) and the private key (PKCS#8 PEM). */
export interface DkimKey { domain: string; selector: string; privateKey: string; publicKey: string }
export type DkimState = 'pending' | 'active' | 'retired';
/** A key as listed: no private key. Times are Date objects (UTC). */
export interface DkimKeyInfo {
  id: string; domain: string; selector: string; state: DkimState; publicKey: string;
  createdAt: Date; activatedAt: Date | null; retiredAt: Date | null; cursorAt: string;
}

const generateRsaKeyPair = promisify(generateKeyPair);

/** The most pending (unverified) DKIM keys a tenant may have per domain through the API. */
export const MAX_PENDING_DKIM_KEYS = 3;

/**
 * Serializes the tenant's DKIM key generation across processes until the caller's transaction ends
 * (a transaction-level advisory lock): taken BEFORE generating, so a flood of requests is checked
 * and generated one at a time, never in parallel, and the pending cap cannot be raced past.
 */
export async function lockDkimGeneration(c: Queryable, tenantId: string): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`postgate:dkim-generate:${tenantId}`]);
}

/**
 * Refuses, before any key is generated, a selector the domain already has (selector_exists) and a
 * domain that already has MAX_PENDING_DKIM_KEYS pending keys (too_many_pending: verify one first).
 * Call under lockDkimGeneration.
 */
export async function assertRoomForDkimKey(c: Queryable, domain: string, selector: string): Promise<void> {
  const r = await c.query<{ taken: boolean; pending: number }>(`SELECT
      EXISTS (SELECT 1 FROM dkim_keys WHERE domain = $1 AND selector = $2) AS taken,
      (SELECT count(*)::int FROM dkim_keys WHERE domain = $1 AND state = 'pending') AS pending`, [domain, selector.toLowerCase()]);
  const { taken, pending } = r.rows[0];
  if (taken) throw new DomainError('selector_exists', `the selector '${selector}' already has a key for ${domain}; keys are never replaced: choose a new selector to rotate`, 'selector');
  if (pending >= MAX_PENDING_DKIM_KEYS) {
    throw new DomainError('too_many_pending', `${domain} already has ${pending} pending DKIM keys (at most ${MAX_PENDING_DKIM_KEYS}): publish and verify one before generating another`,
      'domain', { limit: MAX_PENDING_DKIM_KEYS });
  }
}

/**
 * A new RSA-2048 DKIM key pair (RFC 6376): the private key as PKCS#8 PEM, the public key as base64
 * DER (SPKI) for the p= tag. Generated on libuv's thread pool: RSA key generation takes 50–800 ms
 * of CPU, which must never hold the event loop. The API generates under lockDkimGeneration (one
 * key per tenant at a time, after the cap is checked); the CLI before opening its transaction.
 */
export async function generateDkimKey(): Promise<{ privateKey: string; publicKey: string }> {
  const { privateKey, publicKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

const INFO_COLUMNS = `id, domain, selector, state, public_key AS "publicKey", created_at AS "createdAt",
  activated_at AS "activatedAt", retired_at AS "retiredAt",
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt"`;

/**
 * Stores a generated key as pending (or active at once: `activate`, the operator's choice), in the
 * caller's tenant transaction. Throws DomainError selector_exists (field `selector`) when the
 * domain already has a key with that selector: keys are never replaced.
 */
export async function insertDkimKey(c: Queryable, tenantId: string, domain: string, selector: string,
  pair: { privateKey: string; publicKey: string }, opts: { activate?: boolean } = {}): Promise<DkimKeyInfo> {
  const r = await c.query<{ id: string }>(`INSERT INTO dkim_keys (tenant_id, domain, selector, private_key, public_key, state)
    VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT (tenant_id, domain, selector) DO NOTHING RETURNING id`,
  [tenantId, domain, selector.toLowerCase(), pair.privateKey, pair.publicKey]);
  if (!r.rows[0]) {
    throw new DomainError('selector_exists', `the selector '${selector}' already has a key for ${domain}; keys are never replaced: choose a new selector to rotate`, 'selector');
  }
  if (opts.activate) await activateDkimKey(c, tenantId, domain, selector);
  return (await getDkimKey(c, domain, selector)) as DkimKeyInfo;
}

/** One key of the current tenant, or null. */
export async function getDkimKey(c: Queryable, domain: string, selector: string): Promise<DkimKeyInfo | null> {
  const r = await c.query<DkimKeyInfo>(`SELECT ${INFO_COLUMNS} FROM dkim_keys WHERE domain = $1 AND selector = $2`, [domain, selector.toLowerCase()]);
  return r.rows[0] ?? null;
}

/** The current tenant's keys of a domain in the given states, oldest first. */
export async function dkimKeysOf(c: Queryable, domain: string, states: DkimState[]): Promise<DkimKeyInfo[]> {
  const r = await c.query<DkimKeyInfo>(`SELECT ${INFO_COLUMNS} FROM dkim_keys WHERE domain = $1 AND state = ANY($2) ORDER BY created_at, id`, [domain, states]);
  return r.rows;
}

/** The current tenant's keys, newest first, keyset-paged (limit + 1 rows: the caller tells if there is more). */
export async function listDkimKeys(c: Queryable, q: { domain?: string; after?: { at: string; id: string }; limit: number }): Promise<DkimKeyInfo[]> {
  const r = await c.query<DkimKeyInfo>(`SELECT ${INFO_COLUMNS} FROM dkim_keys
    WHERE ($1::text IS NULL OR domain = $1) AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
    ORDER BY created_at DESC, id DESC LIMIT $4`, [q.domain ?? null, q.after?.at ?? null, q.after?.id ?? null, q.limit + 1]);
  return r.rows;
}

/**
 * Makes a pending key active and retires the domain's active key (retired_at now: its record may go
 * after the grace period). No-op for a key already active; false for a retired or unknown key.
 */
export async function activateDkimKey(c: Queryable, tenantId: string, domain: string, selector: string): Promise<boolean> {
  const sel = selector.toLowerCase();
  const rows = (await c.query<{ selector: string; state: DkimState }>(
    'SELECT selector, state FROM dkim_keys WHERE tenant_id = $1 AND domain = $2 ORDER BY id FOR UPDATE', [tenantId, domain])).rows;
  const key = rows.find((r) => r.selector === sel);
  if (!key || key.state === 'retired') return false;
  if (key.state === 'active') return true;
  await c.query(`UPDATE dkim_keys SET state = 'retired', retired_at = now() WHERE tenant_id = $1 AND domain = $2 AND state = 'active'`, [tenantId, domain]);
  await c.query(`UPDATE dkim_keys SET state = 'active', activated_at = now() WHERE tenant_id = $1 AND domain = $2 AND selector = $3`, [tenantId, domain, sel]);
  return true;
}

/** The key that signs the current tenant's mail from `domain`: its active key, or null (pending keys never sign). */
export async function activeDkimKey(c: Queryable, domain: string): Promise<DkimKey | null> {
  const r = await c.query<DkimKey>(`SELECT domain, selector, private_key AS "privateKey", public_key AS "publicKey"
    FROM dkim_keys WHERE domain = $1 AND state = 'active' ORDER BY activated_at DESC LIMIT 1`, [domain]);
  return r.rows[0] ?? null;
}
