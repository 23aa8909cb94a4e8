// The staff audit log (issue 19): the one owner of staff_audit's SQL. Who did what, when: every
// request a staff session makes that changes something (its API operation, method, path and
// status) and every sign-in event. Paged newest first on (at, id).
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';

export interface AuditEntry {
  tenantId: string; userId: string | null; userEmail: string;
  /** The API operation (e.g. postCampaignsByIdStart), or login, login_failed, login_locked, logout, logout_everywhere, password_set. */
  action: string; method?: string | null; path?: string | null; status?: number | null;
}
export interface AuditView { id: string; at: Date; userId: string | null; userEmail: string; action: string; method: string | null; path: string | null; status: number | null }

/** Appends one entry (in the tenant's transaction `c`). */
export async function appendAudit(c: Queryable, e: AuditEntry): Promise<void> {
  await c.query(`INSERT INTO staff_audit (tenant_id, user_id, user_email, action, method, path, status) VALUES ($1, $2, $3, $4, $5, left($6, 500), $7)`,
    [e.tenantId, e.userId, e.userEmail, e.action, e.method ?? null, e.path ?? null, e.status ?? null]);
}

const CURSOR = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)_(\d{1,19})$/;

/**
 * The tenant's audit log, newest first, `limit` (1–200) per page after `cursor` (the previous page's
 * nextCursor), optionally one account's entries.
 * @throws DomainError `invalid` (field `query.cursor`) for a malformed cursor.
 */
export async function listAudit(c: Queryable, opts: { limit: number; cursor?: string; userId?: string }): Promise<{ items: AuditView[]; nextCursor: string | null }> {
  let after: [string, string] | null = null;
  if (opts.cursor) {
    const m = CURSOR.exec(opts.cursor);
    if (!m) throw new DomainError('invalid', 'query.cursor: not a cursor of this list', 'query.cursor');
    after = [m[1], m[2]];
  }
  const r = await c.query<AuditView & { cursorAt: string }>(`SELECT id::text, at, user_id AS "userId", user_email AS "userEmail", action, method, path, status,
      to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt"
    FROM staff_audit
    WHERE ($1::timestamptz IS NULL OR (at, id) < ($1::timestamptz, $2::bigint)) AND ($3::uuid IS NULL OR user_id = $3)
    ORDER BY at DESC, id DESC LIMIT $4`, [after?.[0] ?? null, after?.[1] ?? null, opts.userId ?? null, opts.limit + 1]);
  const rows = r.rows.slice(0, opts.limit);
  const last = rows[rows.length - 1];
  const nextCursor = r.rows.length > opts.limit && last ? `${last.cursorAt}_${last.id}` : null;
  return { items: rows.map(({ cursorAt: _c, ...v }) => v), nextCursor };
}
