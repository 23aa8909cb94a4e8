// The suppression list: a salted hash of the address per tenant, so it survives erasure and still
// stops every later send or import to that address. The hash is sha256(tenant salt ‖ lower(address))
// in hex: a salted digest, not an HMAC (the salt is not a secret key; it only keeps one tenant's
// hashes from matching another's). Scope 'all' (hard bounce, erasure request) or
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

/**
 * Tenants' salts already read. A salt is set when its tenant is created and never changed
 * (migration 001: no statement updates hash_salt), so each process may keep what it read: one
 * round trip fewer per single message. Bounded: emptied when it reaches SALT_CACHE_MAX tenants.
 */
const salts = new Map<string, Buffer>();
const SALT_CACHE_MAX = 10_000;

async function saltOf(c: Queryable, tenantId: string): Promise<Buffer> {
  const known = salts.get(tenantId);
  if (known) return known;
  const r = await c.query<{ hash_salt: Buffer }>('SELECT hash_salt FROM tenants WHERE id = $1', [tenantId]);
  if (!r.rows[0]) throw new Error('tenant not visible in this transaction');
  if (salts.size >= SALT_CACHE_MAX) salts.clear();
  salts.set(tenantId, r.rows[0].hash_salt);
  return r.rows[0].hash_salt;
}

export async function suppressionsFor(c: Queryable, tenantId: string, address: string): Promise<{ all: boolean; marketing: boolean }> {
  const hash = addressHash(await saltOf(c, tenantId), address);
  const r = await c.query<{ scope: SuppressionScope }>('SELECT scope FROM suppressions WHERE tenant_id = $1 AND address_hash = $2', [tenantId, hash]);
  const scopes = new Set(r.rows.map((row) => row.scope));
  return { all: scopes.has('all'), marketing: scopes.has('marketing') || scopes.has('all') };
}

/** When the address was last suppressed because a person was erased; null when it is not. */
export async function erasureSuppressedAt(c: Queryable, tenantId: string, address: string): Promise<Date | null> {
  const hash = addressHash(await saltOf(c, tenantId), address);
  const r = await c.query<{ at: Date | null }>(`SELECT max(created_at) AS at FROM suppressions WHERE tenant_id = $1 AND address_hash = $2 AND reason = 'erased'`,
    [tenantId, hash]);
  return r.rows[0]?.at ?? null;
}

/** Who or what added a suppression (migration 060): shown by GET /api/suppressions. */
export interface SuppressionMeta {
  note?: string | null;
  /** API key id or 'cli' for manual additions; absent when Postgate added it itself. */
  createdBy?: string | null;
  /** What caused it, e.g. {type: 'bounce', bounceId, messageId, status}. */
  source?: Record<string, unknown>;
}

/**
 * Adds a suppression; returns true when it is new. The normalised address is stored next to the
 * hash only while the person is not erased: never for reason 'erased', never for a hash that
 * carries an 'erased' suppression (see forgetSuppressedAddress).
 */
export async function addSuppression(c: Queryable, tenantId: string, address: string, scope: SuppressionScope, reason: string, meta: SuppressionMeta = {}): Promise<boolean> {
  const hash = addressHash(await saltOf(c, tenantId), address);
  const r = await c.query(`INSERT INTO suppressions (tenant_id, address_hash, scope, reason, address, note, created_by, source)
    SELECT $1::uuid, $2::text, $3::text, $4::text,
      CASE WHEN $4::text = 'erased' OR EXISTS (SELECT 1 FROM suppressions e WHERE e.tenant_id = $1::uuid AND e.address_hash = $2::text AND e.reason = 'erased')
        THEN NULL ELSE $5::text END, $6::text, $7::text, $8::jsonb
    ON CONFLICT DO NOTHING`,
  [tenantId, hash, scope, reason, address.trim().toLowerCase(), meta.note ?? null, meta.createdBy ?? null, JSON.stringify(meta.source ?? {})]);
  return (r.rowCount ?? 0) > 0;
}

/** Erasure: the address (and any hand-written note) leaves every suppression row of its hash. */
export async function forgetSuppressedAddress(c: Queryable, tenantId: string, address: string): Promise<void> {
  const hash = addressHash(await saltOf(c, tenantId), address);
  await c.query('UPDATE suppressions SET address = NULL, note = NULL WHERE tenant_id = $1 AND address_hash = $2 AND (address IS NOT NULL OR note IS NOT NULL)',
    [tenantId, hash]);
}

export async function removeSuppression(c: Queryable, tenantId: string, address: string, scope: SuppressionScope): Promise<boolean> {
  const hash = addressHash(await saltOf(c, tenantId), address);
  const r = await c.query('DELETE FROM suppressions WHERE tenant_id = $1 AND address_hash = $2 AND scope = $3', [tenantId, hash, scope]);
  return (r.rowCount ?? 0) > 0;
}

// ---- suppression management (src/consent/suppression-admin.ts) -------------------------------------

export interface SuppressionRow {
  id: string; address: string | null; scope: SuppressionScope; reason: string; createdAt: Date;
  note: string | null; createdBy: string | null; source: Record<string, unknown>;
  /** created_at to the microsecond, UTC (a JS Date would lose the microseconds): the paging key. */
  cursorAt: string;
}

const ROW_COLUMNS = `id, address, scope, reason, created_at AS "createdAt", note, created_by AS "createdBy", source,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt"`;

/** The hashes of several spellings of one address (e.g. as typed and as normalised), deduplicated. */
export async function addressHashes(c: Queryable, tenantId: string, addresses: string[]): Promise<string[]> {
  const salt = await saltOf(c, tenantId);
  return [...new Set(addresses.map((a) => addressHash(salt, a)))];
}

export interface SuppressionFilter {
  hashes?: string[]; scope?: SuppressionScope; reason?: string; since?: string; until?: string;
  after?: { at: string; id: string }; limit: number;
}

/** Newest first, keyset-paged on (created_at, id); returns up to limit + 1 rows (the extra says more follow). */
export async function listSuppressions(c: Queryable, tenantId: string, f: SuppressionFilter): Promise<SuppressionRow[]> {
  const where: string[] = ['tenant_id = $1'];
  const params: unknown[] = [tenantId];
  const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
  if (f.hashes) where.push(`address_hash = ANY(${p(f.hashes)}::text[])`);
  if (f.scope) where.push(`scope = ${p(f.scope)}`);
  if (f.reason) where.push(`reason = ${p(f.reason)}`);
  if (f.since) where.push(`created_at >= ${p(f.since)}::timestamptz`);
  if (f.until) where.push(`created_at < ${p(f.until)}::timestamptz`);
  if (f.after) where.push(`(created_at, id) < (${p(f.after.at)}::timestamptz, ${p(f.after.id)}::uuid)`);
  const r = await c.query<SuppressionRow>(`SELECT ${ROW_COLUMNS} FROM suppressions WHERE ${where.join(' AND ')}
    ORDER BY created_at DESC, id DESC LIMIT ${p(f.limit + 1)}`, params);
  return r.rows;
}

/** The suppressions of one address (any of its hashes), optionally of one scope, locked for update when asked. */
export async function suppressionsOf(c: Queryable, tenantId: string, hashes: string[], scope?: SuppressionScope, forUpdate = false): Promise<SuppressionRow[]> {
  const r = await c.query<SuppressionRow>(`SELECT ${ROW_COLUMNS} FROM suppressions
    WHERE tenant_id = $1 AND address_hash = ANY($2::text[]) AND ($3::text IS NULL OR scope = $3::text)
    ORDER BY created_at, id${forUpdate ? ' FOR UPDATE' : ''}`, [tenantId, hashes, scope ?? null]);
  return r.rows;
}

/** Deletes suppressions by id; returns the ids deleted. */
export async function deleteSuppressions(c: Queryable, tenantId: string, ids: string[]): Promise<string[]> {
  const r = await c.query<{ id: string }>('DELETE FROM suppressions WHERE tenant_id = $1 AND id = ANY($2::uuid[]) RETURNING id', [tenantId, ids]);
  return r.rows.map((row) => row.id);
}

/** One suppression of an address, as a batch look-up returns it. */
export interface AddressSuppression { scope: SuppressionScope; reason: string }

/**
 * The suppressions of many addresses in one statement (a CSV import judging a batch): address (as
 * given) → its suppressions; addresses without any are absent. Hashes are computed here, salted per tenant.
 */
export async function suppressionsOfAddresses(c: Queryable, tenantId: string, addresses: readonly string[]): Promise<Map<string, AddressSuppression[]>> {
  const out = new Map<string, AddressSuppression[]>();
  if (addresses.length === 0) return out;
  const salt = await saltOf(c, tenantId);
  const byHash = new Map<string, string[]>();
  for (const a of addresses) {
    const h = addressHash(salt, a);
    byHash.set(h, [...(byHash.get(h) ?? []), a]);
  }
  const r = await c.query<{ address_hash: string; scope: SuppressionScope; reason: string }>(`SELECT address_hash, scope, reason FROM suppressions
    WHERE tenant_id = $1 AND address_hash = ANY($2::text[])`, [tenantId, [...byHash.keys()]]);
  for (const row of r.rows) {
    for (const a of byHash.get(row.address_hash) ?? []) out.set(a, [...(out.get(a) ?? []), { scope: row.scope, reason: row.reason }]);
  }
  return out;
}

/** One suppression of a batch (a CSV import applying its source's opt-outs). */
export interface NewSuppression { address: string; scope: SuppressionScope; reason: string; source: Record<string, unknown> }

/**
 * Adds many suppressions in one statement, as addSuppression does one (the address is kept next to
 * the hash unless the hash carries an 'erased' suppression); returns the addresses (as given) that
 * got a new suppression.
 */
export async function addSuppressions(c: Queryable, tenantId: string, rows: readonly NewSuppression[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const salt = await saltOf(c, tenantId);
  const hashes = rows.map((x) => addressHash(salt, x.address));
  const r = await c.query<{ address_hash: string }>(`INSERT INTO suppressions (tenant_id, address_hash, scope, reason, address, source)
    SELECT $1::uuid, u.h, u.scope, u.reason,
      CASE WHEN EXISTS (SELECT 1 FROM suppressions e WHERE e.tenant_id = $1::uuid AND e.address_hash = u.h AND e.reason = 'erased') THEN NULL ELSE u.a END,
      u.source
    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[]) AS u(h, scope, reason, a, source)
    ON CONFLICT DO NOTHING RETURNING address_hash`,
  [tenantId, hashes, rows.map((x) => x.scope), rows.map((x) => x.reason), rows.map((x) => x.address.trim().toLowerCase()),
    rows.map((x) => JSON.stringify(x.source))]);
  const added = new Set(r.rows.map((row) => row.address_hash));
  return new Set(rows.filter((_, i) => added.has(hashes[i])).map((x) => x.address));
}
