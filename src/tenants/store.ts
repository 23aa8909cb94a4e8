// Tenants, their sender identity, API keys (stored as sha-256 only) and DKIM keys.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db, Queryable } from '../platform/db.js';
import { hashApiKey, type AuthContext, type Scope } from '../platform/http.js';
import { createDefaultList } from '../consent/lists.js';

export interface Tenant {
  id: string; name: string; fromEmail: string; fromName: string; replyTo: string; postalAddress: string | null;
  bounceDomain: string | null; requireDkim: boolean; testEmails: string[]; sendRatePerSecond: number | null;
}
export interface NewTenant { name: string; fromEmail: string; fromName: string; replyTo: string; postalAddress?: string | null }
export interface DkimKey { domain: string; selector: string; privateKey: string; publicKey: string }

const TENANT_COLUMNS = `id, name, from_email AS "fromEmail", from_name AS "fromName", reply_to AS "replyTo",
  postal_address AS "postalAddress", bounce_domain AS "bounceDomain", require_dkim AS "requireDkim",
  test_emails AS "testEmails", send_rate_per_second AS "sendRatePerSecond"`;

export async function getTenant(c: Queryable, id: string): Promise<Tenant | null> {
  const r = await c.query<Tenant>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = $1`, [id]);
  return r.rows[0] ?? null;
}

export async function tenantExists(c: Queryable, id: string): Promise<boolean> {
  return ((await c.query('SELECT 1 FROM tenants WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

/**
 * The tenant and scopes of a live API key, by the key's sha-256, across tenants: through the narrow
 * SECURITY DEFINER function auth_api_key() (migrations/001_core.sql), on a connection with no tenant.
 */
export async function findApiKey(db: Db, keyHash: Buffer): Promise<AuthContext | null> {
  const row = await db.withSystem(async (c) => (await c.query<{ tenant_id: string; key_id: string; scopes: Scope[] }>(
    'SELECT tenant_id, key_id, scopes FROM auth_api_key($1)', [keyHash])).rows[0]);
  return row ? { tenantId: row.tenant_id, keyId: row.key_id, scopes: row.scopes } : null;
}

/** Creates the tenant with its default list, in one transaction scoped to the new tenant. */
export async function createTenant(db: Db, t: NewTenant, id: string): Promise<Tenant> {
  return db.withTenant(id, async (c) => {
    await c.query(`INSERT INTO tenants (id, name, from_email, from_name, reply_to, postal_address)
      VALUES ($1, $2, $3, $4, $5, $6)`, [id, t.name, t.fromEmail, t.fromName, t.replyTo, t.postalAddress ?? null]);
    await createDefaultList(c, id);
    return (await getTenant(c, id)) as Tenant;
  });
}

export interface TenantPatch {
  name?: string; fromEmail?: string; fromName?: string; replyTo?: string; postalAddress?: string | null;
  bounceDomain?: string | null; requireDkim?: boolean; testEmails?: string[]; sendRatePerSecond?: number | null;
}
const PATCH_COLUMNS: Record<keyof TenantPatch, string> = {
  name: 'name', fromEmail: 'from_email', fromName: 'from_name', replyTo: 'reply_to', postalAddress: 'postal_address',
  bounceDomain: 'bounce_domain', requireDkim: 'require_dkim', testEmails: 'test_emails', sendRatePerSecond: 'send_rate_per_second',
};

export async function updateTenant(c: Queryable, id: string, patch: TenantPatch): Promise<Tenant | null> {
  const keys = (Object.keys(patch) as (keyof TenantPatch)[]).filter((k) => patch[k] !== undefined);
  if (keys.length > 0) {
    const sets = keys.map((k, i) => `${PATCH_COLUMNS[k]} = $${i + 2}`).join(', ');
    await c.query(`UPDATE tenants SET ${sets} WHERE id = $1`, [id, ...keys.map((k) => patch[k])]);
  }
  return getTenant(c, id);
}

/** A new random key: shown once, stored only as its sha-256. */
export async function createApiKey(c: Queryable, tenantId: string, scopes: Scope[]): Promise<{ id: string; key: string }> {
  const key = `pg_${randomBytes(24).toString('base64url')}`;
  const r = await c.query<{ id: string }>(`INSERT INTO api_keys (tenant_id, key_hash, prefix, scopes) VALUES ($1, $2, $3, $4) RETURNING id`,
    [tenantId, hashApiKey(key), key.slice(0, 7), scopes]);
  return { id: r.rows[0].id, key };
}

const generateRsaKeyPair = promisify(generateKeyPair);

/**
 * A new RSA-2048 DKIM key pair (RFC 6376): the private key as PKCS#8 PEM, the public key as base64
 * DER (SPKI) for the p= tag. Generated on libuv's thread pool: RSA key generation takes 50–800 ms
 * of CPU, which must never hold the event loop.
 */
export async function generateDkimKey(): Promise<{ privateKey: string; publicKey: string }> {
  const { privateKey, publicKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

export function dkimTxtRecord(k: Pick<DkimKey, 'domain' | 'selector' | 'publicKey'>): string {
  return `${k.selector}._domainkey.${k.domain}. IN TXT "v=DKIM1; k=rsa; p=${k.publicKey}"`;
}

export async function storeDkimKey(c: Queryable, tenantId: string, domain: string, selector: string): Promise<DkimKey> {
  const k = await generateDkimKey();
  await c.query(`UPDATE dkim_keys SET active = false WHERE tenant_id = $1 AND domain = $2`, [tenantId, domain]);
  await c.query(`INSERT INTO dkim_keys (tenant_id, domain, selector, private_key, public_key) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (tenant_id, domain, selector) DO UPDATE SET private_key = EXCLUDED.private_key, public_key = EXCLUDED.public_key, active = true`,
    [tenantId, domain, selector, k.privateKey, k.publicKey]);
  return { domain, selector, ...k };
}

export async function activeDkimKey(c: Queryable, domain: string): Promise<DkimKey | null> {
  const r = await c.query<DkimKey>(`SELECT domain, selector, private_key AS "privateKey", public_key AS "publicKey"
    FROM dkim_keys WHERE domain = $1 AND active ORDER BY created_at DESC LIMIT 1`, [domain]);
  return r.rows[0] ?? null;
}
