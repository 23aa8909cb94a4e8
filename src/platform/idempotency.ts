// The Idempotency-Key store (table idempotency_keys, migration 063): the only file with its SQL.
// Semantics (IETF httpapi draft "The Idempotency-Key HTTP Header Field"), applied by http.ts to every
// POST that carries the header: keys are scoped per tenant and kept IDEMPOTENCY_TTL_HOURS; the first
// request claims the key with its fingerprint; a success stores its status and JSON body, which a
// retry with the same fingerprint gets back; a failure deletes the claim, so the key may be retried.
import { createHash } from 'node:crypto';
import type { Db, Queryable } from './db.js';

export const IDEMPOTENCY_TTL_HOURS = 24;
/** A claim older than this, never completed (its process died), may be taken over by a retry. */
export const STALE_CLAIM_SECONDS = 300;

/** What claiming a key found. */
export type Claim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; body: string }
  | { kind: 'mismatch' }
  | { kind: 'in_progress' };

/**
 * Canonical JSON: object keys sorted at every level (UTF-16 code-unit order), undefined dropped, so
 * equal payloads hash equal whatever their key order or spacing. Recursive: a JSON body reaches it
 * only within the shape limits of json-shape.ts (64 levels, 10 000 values: ~5 ms at those limits).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Buffer.isBuffer(value)) return `"base64:${value.toString('base64')}"`;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = '{';
  for (const k of Object.keys(record).sort()) {
    const v = record[k];
    if (v === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** The request fingerprint: sha-256 of the method, the path, the query and the body (canonical JSON, or the raw bytes). */
export function requestFingerprint(method: string, path: string, query: unknown, body: unknown): string {
  return createHash('sha256').update(`${method.toUpperCase()}\n${path}\n${canonicalJson(query ?? {})}\n${canonicalJson(body ?? null)}`).digest('hex');
}

/**
 * Claims `key` for a request of this fingerprint, or says what holds it: the stored response of the
 * same request (replay), a different request (mismatch), or the same request still running
 * (in_progress). An expired row, or a stale claim of the same request, is taken over.
 */
export async function claimIdempotencyKey(c: Queryable, tenantId: string, key: string, fingerprint: string, method: string, path: string): Promise<Claim> {
  const claimed = await c.query(`INSERT INTO idempotency_keys AS k (tenant_id, key, fingerprint, method, path, status, expires_at)
    VALUES ($1, $2, $3, $4, $5, 'in_progress', now() + make_interval(hours => $6))
    ON CONFLICT (tenant_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, method = EXCLUDED.method, path = EXCLUDED.path,
      status = 'in_progress', response_status = NULL, response_body = NULL, created_at = now(), locked_at = now(), expires_at = EXCLUDED.expires_at
    WHERE k.expires_at < now()
       OR (k.status = 'in_progress' AND k.fingerprint = EXCLUDED.fingerprint AND k.locked_at < now() - make_interval(secs => $7))
    RETURNING 1`, [tenantId, key, fingerprint, method, path, IDEMPOTENCY_TTL_HOURS, STALE_CLAIM_SECONDS]);
  if (claimed.rowCount) return { kind: 'claimed' };
  const r = await c.query<{ fingerprint: string; status: string; responseStatus: number | null; responseBody: string | null }>(
    `SELECT fingerprint, status, response_status AS "responseStatus", response_body AS "responseBody"
       FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`, [tenantId, key]);
  const row = r.rows[0];
  if (!row) return { kind: 'in_progress' }; // released between the two statements: the client retries
  if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
  if (row.status === 'completed' && row.responseStatus !== null && row.responseBody !== null) {
    return { kind: 'replay', status: row.responseStatus, body: row.responseBody };
  }
  return { kind: 'in_progress' };
}

/** Stores the response of the request that claimed `key` (status and JSON text), for replays. */
export async function completeIdempotencyKey(c: Queryable, tenantId: string, key: string, fingerprint: string, status: number, body: string): Promise<void> {
  await c.query(`UPDATE idempotency_keys SET status = 'completed', response_status = $4, response_body = $5
    WHERE tenant_id = $1 AND key = $2 AND fingerprint = $3 AND status = 'in_progress'`, [tenantId, key, fingerprint, status, body]);
}

/** Frees `key` after its request failed: nothing was done, so the client may retry with it. */
export async function releaseIdempotencyKey(c: Queryable, tenantId: string, key: string, fingerprint: string): Promise<void> {
  await c.query(`DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND fingerprint = $3 AND status = 'in_progress'`, [tenantId, key, fingerprint]);
}

/**
 * The ids in the stored 2xx responses of `key` for these paths (a message looked up by the
 * Idempotency-Key its POST carried); [] when none is kept (expired after IDEMPOTENCY_TTL_HOURS).
 */
export async function idempotentResponseIds(c: Queryable, tenantId: string, key: string, paths: readonly string[]): Promise<string[]> {
  const r = await c.query<{ id: string }>(`SELECT response_body::jsonb->>'id' AS id FROM idempotency_keys
    WHERE tenant_id = $1 AND key = $2 AND path = ANY($3::text[]) AND status = 'completed' AND response_status BETWEEN 200 AND 299
      AND expires_at > now() AND response_body IS NOT NULL`, [tenantId, key, paths]);
  return r.rows.map((x) => x.id).filter((x): x is string => typeof x === 'string');
}

/** Erasure: forgets every stored response that mentions one of these values (a contact's id or address). */
export async function forgetIdempotentResponses(c: Queryable, needles: readonly string[]): Promise<number> {
  const values = needles.filter((n) => n.length >= 3);
  if (!values.length) return 0;
  const r = await c.query(`DELETE FROM idempotency_keys WHERE response_body IS NOT NULL
    AND EXISTS (SELECT 1 FROM unnest($1::text[]) AS n(v) WHERE strpos(lower(response_body), lower(n.v)) > 0)`, [values]);
  return r.rowCount ?? 0;
}

/** Where the API's Idempotency-Key claims live; http.ts uses it, each call in its own tenant transaction. */
export interface IdempotencyStore {
  claim(tenantId: string, key: string, fingerprint: string, method: string, path: string): Promise<Claim>;
  complete(tenantId: string, key: string, fingerprint: string, status: number, body: string): Promise<void>;
  release(tenantId: string, key: string, fingerprint: string): Promise<void>;
}

/** The store over the database: a claim commits at once, so a concurrent request sees it (409). */
export function idempotencyStore(db: Db): IdempotencyStore {
  return {
    claim: (tenantId, key, fingerprint, method, path) => db.withTenant(tenantId, (c) => claimIdempotencyKey(c, tenantId, key, fingerprint, method, path)),
    complete: (tenantId, key, fingerprint, status, body) => db.withTenant(tenantId, (c) => completeIdempotencyKey(c, tenantId, key, fingerprint, status, body)),
    release: (tenantId, key, fingerprint) => db.withTenant(tenantId, (c) => releaseIdempotencyKey(c, tenantId, key, fingerprint)),
  };
}

/** Retention: deletes at most `limit` expired Idempotency-Key rows, every tenant (purge_expired_idempotency_keys(), migration 079); returns how many. */
export async function purgeExpiredIdempotencyKeys(c: Queryable, limit: number): Promise<number> {
  const r = await c.query<{ n: string }>('SELECT purge_expired_idempotency_keys($1)::text AS n', [limit]);
  return Number(r.rows[0].n);
}
