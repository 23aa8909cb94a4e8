// Per-tenant campaign send rate, shared by every worker process without in-process state: a row
// per tenant and second in rate_windows; a drain reserves tokens for a batch with one atomic upsert
// (granting what is left of this second's budget) and gives back what it did not use.
import type { Queryable } from '../platform/db.js';

export interface Reservation { granted: number; window: Date; waitMs: number }

/** Reserves up to `wanted` sends in the current second for the tenant, never exceeding `limit`. */
export async function reserve(c: Queryable, tenantId: string, wanted: number, limit: number): Promise<Reservation> {
  const r = await c.query<{ granted: number; window: Date; wait_ms: number }>(`INSERT INTO rate_windows AS w (tenant_id, window_start, used, last_grant)
      VALUES ($1, date_trunc('second', clock_timestamp()), least($2::int, $3::int), least($2::int, $3::int))
    ON CONFLICT (tenant_id, window_start) DO UPDATE
      SET last_grant = least(w.used + $2::int, $3::int) - least(w.used, $3::int), used = greatest(w.used, least(w.used + $2::int, $3::int))
    RETURNING last_grant AS granted, window_start AS window,
      greatest(1, ceil(extract(epoch FROM (window_start + interval '1 second' - clock_timestamp())) * 1000))::int AS wait_ms`,
  [tenantId, wanted, limit]);
  const row = r.rows[0];
  return { granted: row.granted, window: row.window, waitMs: row.wait_ms };
}

/** Returns unused tokens to the window they came from. */
export async function release(c: Queryable, tenantId: string, window: Date, unused: number): Promise<void> {
  if (unused <= 0) return;
  await c.query('UPDATE rate_windows SET used = greatest(0, used - $3) WHERE tenant_id = $1 AND window_start = $2', [tenantId, window, unused]);
}

/** Old windows are useless: drop them now and then. */
export async function pruneWindows(c: Queryable, tenantId: string): Promise<void> {
  await c.query("DELETE FROM rate_windows WHERE tenant_id = $1 AND window_start < now() - interval '1 minute'", [tenantId]);
}
