// API keys: the one owner of api_keys' SQL. A key is `pg_` + 32 base64url characters (192 random
// bits), shown once and stored only as its sha-256 with a short prefix for people to recognise it.
// Keys can be listed (never the secret or its hash), revoked (at once: the next request with it is
// 401) and given an expiry; authentication goes through the SECURITY DEFINER function
// auth_api_key() (migrations/065_api_keys.sql), which also records the last use, to the minute.
import { randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../platform/db.js';
import { hashApiKey, type AuthContext, type Scope } from '../platform/http.js';
import { DomainError, notFoundError } from '../domain-error.js';

/** A key as it is listed: never the secret, never its hash. Timestamps are Dates (JSON: ISO 8601). */
export interface ApiKeyView {
  id: string;
  name: string | null;
  /** The first 7 characters of the key (`pg_` and 4 more), to tell keys apart. */
  prefix: string;
  scopes: Scope[];
  createdAt: Date;
  /** When the key last authenticated a request; written at most once a minute, so up to 60 s old. */
  lastUsedAt: Date | null;
  /** Past this instant the key is refused (401); null: it does not expire. */
  expiresAt: Date | null;
  /** When it was revoked (401 ever since); null: not revoked. */
  revokedAt: Date | null;
}
/** A key just made: its view and the secret itself, which is never stored and never shown again. */
export interface NewApiKey extends ApiKeyView { key: string }
export interface NewApiKeyOptions {
  /** A label for people, 1–200 characters. */
  name?: string | null;
  /** When it stops working; null or absent: never. */
  expiresAt?: Date | null;
}
/** Longest expiry asked in days (about 10 years). */
export const MAX_EXPIRES_IN_DAYS = 3650;

const VIEW_COLUMNS = `id, name, prefix, scopes, created_at AS "createdAt", last_used_at AS "lastUsedAt",
  expires_at AS "expiresAt", revoked_at AS "revokedAt"`;
const CURSOR_AT = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt"`;

/**
 * The tenant and scopes of a live API key (neither revoked nor expired), by the key's sha-256,
 * across tenants: through the narrow SECURITY DEFINER function auth_api_key(), on a connection with
 * no tenant. That function also stamps last_used_at when it is null or more than 60 s old.
 * @returns null for an unknown, revoked or expired key.
 */
export async function findApiKey(db: Db, keyHash: Buffer): Promise<AuthContext | null> {
  // One statement in a transaction of its own: one round trip per authenticated request.
  const row = (await db.systemQuery<{ tenant_id: string; key_id: string; scopes: Scope[] }>(
    'SELECT tenant_id, key_id, scopes FROM auth_api_key($1)', [keyHash])).rows[0];
  return row ? { tenantId: row.tenant_id, keyId: row.key_id, scopes: row.scopes } : null;
}

/**
 * A new random key for the tenant of `c`'s transaction: shown once (the `key` of the result),
 * stored only as its sha-256.
 * @throws DomainError `invalid` (field `expiresAt`) for an expiry that is not in the future.
 */
export async function createApiKey(c: Queryable, tenantId: string, scopes: Scope[], opts: NewApiKeyOptions = {}): Promise<NewApiKey> {
  if (opts.expiresAt && opts.expiresAt.getTime() <= Date.now()) throw new DomainError('invalid', 'expiresAt: must be in the future', 'expiresAt');
  const key = `pg_${randomBytes(24).toString('base64url')}`;
  const r = await c.query<ApiKeyView>(`INSERT INTO api_keys (tenant_id, key_hash, prefix, scopes, name, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${VIEW_COLUMNS}`,
  [tenantId, hashApiKey(key), key.slice(0, 7), scopes, opts.name ?? null, opts.expiresAt ?? null]);
  return { ...r.rows[0], key };
}

/**
 * The expiry asked for: an ISO 8601 instant (`expiresAt`, in the future) or a number of days from
 * `now` (`expiresInDays`, 1–3650), not both; neither: null (no expiry).
 * @throws DomainError `invalid` naming the field (`<prefix>expiresAt`, `<prefix>expiresInDays`).
 */
export function expiryOf(input: { expiresAt?: string | Date; expiresInDays?: number }, now = new Date(), prefix = ''): Date | null {
  if (input.expiresAt !== undefined && input.expiresInDays !== undefined) {
    throw new DomainError('invalid', `${prefix}expiresInDays: give expiresAt or expiresInDays, not both`, `${prefix}expiresInDays`);
  }
  if (input.expiresInDays !== undefined) {
    const days = input.expiresInDays;
    if (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRES_IN_DAYS) {
      throw new DomainError('invalid', `${prefix}expiresInDays: a whole number of days from 1 to ${MAX_EXPIRES_IN_DAYS}`, `${prefix}expiresInDays`);
    }
    return new Date(now.getTime() + days * 86_400_000);
  }
  if (input.expiresAt !== undefined) {
    const at = input.expiresAt instanceof Date ? input.expiresAt : new Date(input.expiresAt);
    if (Number.isNaN(at.getTime())) throw new DomainError('invalid', `${prefix}expiresAt: not an ISO 8601 date-time`, `${prefix}expiresAt`);
    if (at.getTime() <= now.getTime()) throw new DomainError('invalid', `${prefix}expiresAt: must be in the future`, `${prefix}expiresAt`);
    return at;
  }
  return null;
}

/** One key of the tenant of `c`'s transaction (row-level security hides other tenants' keys); null: none. */
export async function getApiKey(c: Queryable, id: string): Promise<ApiKeyView | null> {
  const r = await c.query<ApiKeyView>(`SELECT ${VIEW_COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return r.rows[0] ?? null;
}

/**
 * The tenant's keys, newest first, keyset-paged on (created_at to the microsecond, id) after `after`;
 * returns up to limit + 1 rows (the extra one says more follow). Revoked and expired keys included.
 */
export async function listApiKeys(c: Queryable, tenantId: string, f: { limit: number; after?: { at: string; id: string } }):
Promise<(ApiKeyView & { cursorAt: string })[]> {
  const r = await c.query<ApiKeyView & { cursorAt: string }>(`SELECT ${VIEW_COLUMNS}, ${CURSOR_AT} FROM api_keys
    WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
    ORDER BY created_at DESC, id DESC LIMIT $4`, [tenantId, f.after?.at ?? null, f.after?.id ?? null, f.limit + 1]);
  return r.rows;
}

/**
 * Revokes a key of the tenant: from the commit on, a request with it is 401 (no cache sits in
 * between). Revoking an already revoked key changes nothing (its first revokedAt stays). The
 * tenant's last live admin key (not revoked, not expired, scope `admin`) is not revoked, so the
 * tenant is never left without a way to manage itself through the API: create another first. The
 * admin keys are locked while counting, so two revocations at once cannot both pass the check.
 * @throws DomainError `not_found` (field `id`) when the tenant has no such key, `last_admin_key` (409).
 */
export async function revokeApiKey(c: Queryable, tenantId: string, id: string): Promise<ApiKeyView> {
  const live = await c.query<{ id: string }>(`SELECT id FROM api_keys
    WHERE tenant_id = $1 AND 'admin' = ANY(scopes) AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
    ORDER BY id FOR UPDATE`, [tenantId]);
  const key = await getApiKey(c, id);
  if (!key) throw notFoundError('API key', 'id');
  if (live.rows.length === 1 && live.rows[0].id === id) {
    throw new DomainError('last_admin_key', 'this is the tenant\'s last live admin key: create another admin key before revoking it', 'id');
  }
  if (key.revokedAt) return key;
  const r = await c.query<ApiKeyView>(`UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL
    RETURNING ${VIEW_COLUMNS}`, [tenantId, id]);
  return r.rows[0] ?? key;
}

/**
 * The first start's admin key (named `first start`) for a tenant that has no key at all (revoked
 * and expired ones count): null when it has one. Holds a transaction-level advisory lock on the
 * tenant until `c`'s transaction ends, so concurrent first starts (web and worker) make one key.
 */
export async function createFirstAdminKey(c: Queryable, tenantId: string): Promise<NewApiKey | null> {
  await c.query("SELECT pg_advisory_xact_lock(hashtext('postgate:first-admin-key:' || $1))", [tenantId]);
  const any = await c.query('SELECT 1 FROM api_keys WHERE tenant_id = $1 LIMIT 1', [tenantId]);
  if ((any.rowCount ?? 0) > 0) return null;
  return createApiKey(c, tenantId, ['admin'], { name: 'first start' });
}
