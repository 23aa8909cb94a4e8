// The campaign side of the ledger: claim a batch of due recipients (FOR UPDATE SKIP LOCKED, under a
// lease) together with the consent facts the gate needs, read in the same statement so an
// unsubscribe committed a moment ago is seen; and record a batch of outcomes in one statement.
import type { Queryable } from '../platform/db.js';
import { sqlAddressHash } from '../consent/suppressions.js';

export interface ClaimedRow {
  id: string; recipient: string | null; attempts: number; reclaimed: boolean;
  contactId: string | null; contactStatus: 'pending' | 'active' | 'suppressed' | 'erased' | null;
  email: string | null; name: string | null; attributes: Record<string, unknown> | null;
  subscription: 'subscribed' | 'unconfirmed' | 'unsubscribed' | null;
  suppressedAll: boolean; suppressedMarketing: boolean;
}

/**
 * Claims up to `limit` rows of the campaign: first those whose lease expired (a dead worker's; they
 * are counted as reclaimed), then queued or deferred rows that are due. Each claimed row is
 * 'sending' with attempts + 1 until `leaseSeconds` from now.
 */
export async function claimBatch(c: Queryable, tenantId: string, campaignId: string, listIds: readonly string[], limit: number, leaseSeconds: number): Promise<ClaimedRow[]> {
  const r = await c.query<ClaimedRow>(`WITH expired AS (
      SELECT id, status FROM messages WHERE campaign_id = $1 AND status = 'sending' AND lease_until < now()
      LIMIT $2 FOR UPDATE SKIP LOCKED),
    due AS (
      SELECT id, status FROM messages WHERE campaign_id = $1 AND status IN ('queued', 'deferred') AND next_attempt_at <= now()
      LIMIT $2 FOR UPDATE SKIP LOCKED),
    picked AS (SELECT * FROM (SELECT * FROM expired UNION ALL SELECT * FROM due) p LIMIT $2),
    claimed AS (
      UPDATE messages m SET status = 'sending', attempts = m.attempts + 1, lease_until = now() + $3 * interval '1 second', updated_at = now()
      FROM picked WHERE m.id = picked.id
      RETURNING m.id, m.contact_id, m.recipient, m.attempts, picked.status = 'sending' AS reclaimed),
    salt AS (SELECT hash_salt FROM tenants WHERE id = $4)
    SELECT k.id, k.recipient, k.attempts, k.reclaimed,
      ct.id AS "contactId", ct.status AS "contactStatus", ct.email, ct.name, ct.attributes,
      (SELECT CASE WHEN bool_or(s.status = 'subscribed') THEN 'subscribed' WHEN bool_or(s.status = 'unsubscribed') THEN 'unsubscribed'
                   WHEN bool_or(s.status = 'unconfirmed') THEN 'unconfirmed' END
         FROM subscriptions s WHERE s.contact_id = k.contact_id AND s.list_id = ANY($5::uuid[])) AS subscription,
      coalesce(sp.all_scope, false) AS "suppressedAll", coalesce(sp.any_scope, false) AS "suppressedMarketing"
    FROM claimed k
    CROSS JOIN salt
    LEFT JOIN contacts ct ON ct.id = k.contact_id
    LEFT JOIN LATERAL (
      SELECT bool_or(x.scope = 'all') AS all_scope, count(*) > 0 AS any_scope FROM suppressions x
      WHERE k.recipient IS NOT NULL AND x.tenant_id = $4 AND x.address_hash = ${sqlAddressHash('salt.hash_salt', 'k.recipient')}) sp ON true`,
  [campaignId, limit, leaseSeconds, tenantId, listIds]);
  return r.rows;
}

export async function recordReclaimed(c: Queryable, tenantId: string, ids: readonly string[], worker: string): Promise<void> {
  if (!ids.length) return;
  await c.query(`INSERT INTO message_events (tenant_id, message_id, type, detail)
    SELECT $1, id, 'reclaimed', $3 FROM unnest($2::uuid[]) AS id`, [tenantId, ids, JSON.stringify({ worker })]);
}

/** 'released': claimed but never handed to SMTP (the worker is stopping); back to 'queued', attempt not counted. */
export type OutcomeStatus = 'sent' | 'deferred' | 'failed' | 'suppressed' | 'released';
export interface Outcome {
  id: string; status: OutcomeStatus; reason: string | null; response: string | null; retryInSeconds: number;
  subject: string | null; messageIdHeader: string | null; detail: Record<string, unknown>;
}

/**
 * Writes a batch of outcomes and their events in one statement. Rows no longer 'sending' (another
 * worker reclaimed and finished them) are left alone.
 */
export async function recordOutcomes(c: Queryable, outcomes: readonly Outcome[]): Promise<number> {
  if (!outcomes.length) return 0;
  const col = <K extends keyof Outcome>(k: K) => outcomes.map((o) => o[k]);
  const r = await c.query(`WITH r AS (
      SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[], $8::jsonb[])
        AS r(id, status, reason, response, delay, subject, mid, detail)),
    u AS (
      UPDATE messages m SET status = CASE WHEN r.status = 'released' THEN 'queued' ELSE r.status END,
        reason = r.reason, smtp_response = coalesce(r.response, m.smtp_response),
        attempts = CASE WHEN r.status = 'released' THEN greatest(m.attempts - 1, 0) ELSE m.attempts END,
        sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE m.sent_at END,
        next_attempt_at = CASE WHEN r.status = 'deferred' THEN now() + r.delay * interval '1 second'
                               WHEN r.status = 'released' THEN now() ELSE m.next_attempt_at END,
        lease_until = NULL, subject = coalesce(r.subject, m.subject), message_id_header = coalesce(r.mid, m.message_id_header), updated_at = now()
      FROM r WHERE m.id = r.id AND m.status = 'sending'
      RETURNING m.id, m.tenant_id, r.status, r.detail)
    INSERT INTO message_events (tenant_id, message_id, type, detail) SELECT tenant_id, id, status, detail FROM u`,
  [col('id'), col('status'), col('reason'), col('response'), col('retryInSeconds'), col('subject'), col('messageIdHeader'),
    outcomes.map((o) => JSON.stringify(o.detail))]);
  return r.rowCount ?? 0;
}

/** Keeps a live worker's claim: extends the lease of rows it still holds (those not yet recorded). */
export async function renewLeases(c: Queryable, ids: readonly string[], leaseSeconds: number): Promise<void> {
  if (!ids.length) return;
  await c.query(`UPDATE messages SET lease_until = now() + $2 * interval '1 second'
    WHERE id = ANY($1::uuid[]) AND status = 'sending'`, [ids, leaseSeconds]);
}
