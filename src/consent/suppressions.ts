// The suppression list: a salted hash of the address per tenant, so it survives erasure and still
// stops every later send or import to that address. Scope 'all' (hard bounce, erasure request) or
// 'marketing' (complaint). The same hash is computable in SQL: see sqlAddressHash.
import { createHash } from 'node:crypto';
import type { Queryable } from '../platform/db.js';

export type SuppressionScope = 'all' | 'marketing';

export function addressHash(salt: Buffer, address: string): string {
  return createHash('sha256').update(salt).update(address.trim().toLowerCase(), 'utf8').digest('hex');
}

/** SQL expression equal to addressHash(salt, address) for a bytea salt and a text address. */
export function sqlAddressHash(saltExpr: string, addressExpr: string): string {
  return `encode(sha256(${saltExpr} || convert_to(lower(btrim(${addressExpr})), 'UTF8')), 'hex')`;
}

async function saltOf(c: Queryable, tenantId: string): Promise<Buffer> {
  const r = await c.query<{ hash_salt: Buffer }>('SELECT hash_salt FROM tenants WHERE id = $1', [tenantId]);
  if (!r.rows[0]) throw new Error('tenant not visible in this transaction');
  return r.rows[0].hash_salt;
}

export async function suppressionsFor(c: Queryable, tenantId: string, address: string): Promise<{ all: boolean; marketing: boolean }> {
  const hash = addressHash(await saltOf(c, tenantId), address);
  const r = await c.query<{ scope: SuppressionScope }>('SELECT scope FROM suppressions WHERE tenant_id = $1 AND address_hash = $2', [tenantId, hash]);
  const scopes = new Set(r.rows.map((row) => row.scope));
  return { all: scopes.has('all'), marketing: scopes.has('marketing') || scopes.has('all') };
}

/** Adds a suppression; returns true when it is new. */
export async function addSuppression(c: Queryable, tenantId: string, address: string, scope: SuppressionScope, reason: string): Promise<boolean> {
  const hash = addressHash(await saltOf(c, tenantId), address);
  const r = await c.query(`INSERT INTO suppressions (tenant_id, address_hash, scope, reason) VALUES ($1, $2, $3, $4)
    ON CONFLICT DO NOTHING`, [tenantId, hash, scope, reason]);
  return (r.rowCount ?? 0) > 0;
}

export async function removeSuppression(c: Queryable, tenantId: string, address: string, scope: SuppressionScope): Promise<boolean> {
  const hash = addressHash(await saltOf(c, tenantId), address);
  const r = await c.query('DELETE FROM suppressions WHERE tenant_id = $1 AND address_hash = $2 AND scope = $3', [tenantId, hash, scope]);
  return (r.rowCount ?? 0) > 0;
}
