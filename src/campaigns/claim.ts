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
 * 'sending' with attempts + 1 until `leaseSeconds` from the moment of the claim (clock time, not the
 * transaction's start, which may be older if the transaction waited for a lock).
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
      UPDATE messages m SET status = 'sending', attempts = m.attempts + 1, lease_until = clock_timestamp() + $3 * interval '1 second', updated_at = now()
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
  /** The attempt number of the claim this outcome belongs to: the fence against a row taken over meanwhile. */
  id: string; attempt: number; status: OutcomeStatus; reason: string | null; response: string | null; retryInSeconds: number;
  subject: string | null; messageIdHeader: string | null; detail: Record<string, unknown>;
}

/**
 * Writes a batch of outcomes and their events in one statement. Rows no longer 'sending' (another
 * worker reclaimed and finished them) are left alone, and so are rows claimed again since (a higher
 * attempt number), except that a 'sent' is always recorded: the message did go out. Rows are locked in id order, like every other
 * multi-row update of campaign rows, so concurrent writers cannot deadlock.
 */
export async function recordOutcomes(c: Queryable, outcomes: readonly Outcome[]): Promise<number> {
  if (!outcomes.length) return 0;
  const col = <K extends keyof Outcome>(k: K) => outcomes.map((o) => o[k]);
  const r = await c.query(`WITH r AS (
      SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[], $8::jsonb[], $9::int[])
        AS r(id, status, reason, response, delay, subject, mid, detail, attempt)),
    locked AS (SELECT m.id FROM messages m JOIN r ON r.id = m.id WHERE m.status = 'sending' ORDER BY m.id FOR UPDATE OF m),
    u AS (
      UPDATE messages m SET status = CASE WHEN r.status = 'released' THEN 'queued' ELSE r.status END,
        reason = r.reason, smtp_response = coalesce(r.response, m.smtp_response),
        attempts = CASE WHEN r.status = 'released' THEN greatest(m.attempts - 1, 0) ELSE m.attempts END,
        sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE m.sent_at END,
        next_attempt_at = CASE WHEN r.status = 'deferred' THEN now() + r.delay * interval '1 second'
                               WHEN r.status = 'released' THEN now() ELSE m.next_attempt_at END,
        lease_until = NULL, subject = coalesce(r.subject, m.subject), message_id_header = coalesce(r.mid, m.message_id_header), updated_at = now()
      FROM r JOIN locked USING (id) WHERE m.id = r.id AND m.status = 'sending' AND (r.status = 'sent' OR m.attempts = r.attempt)
      RETURNING m.id, m.tenant_id, r.status, r.detail)
    INSERT INTO message_events (tenant_id, message_id, type, detail) SELECT tenant_id, id, status, detail FROM u`,
  [col('id'), col('status'), col('reason'), col('response'), col('retryInSeconds'), col('subject'), col('messageIdHeader'),
    outcomes.map((o) => JSON.stringify(o.detail)), col('attempt')]);
  return r.rowCount ?? 0;
}

/**
 * Keeps a live worker's claim: extends the lease of the rows it still holds, fenced by the attempt
 * number of its claim (a row taken over meanwhile is not renewed). Never waits: a row being written
 * right now is skipped, so renewals and outcome writes cannot deadlock. Returns the ids renewed.
 */
export async function renewLeases(c: Queryable, held: ReadonlyMap<string, number>, leaseSeconds: number): Promise<Set<string>> {
  if (!held.size) return new Set();
  const r = await c.query<{ id: string }>(`WITH want AS (SELECT * FROM unnest($1::uuid[], $2::int[]) AS w(id, attempt)),
      l AS (SELECT m.id FROM messages m JOIN want w ON w.id = m.id AND m.attempts = w.attempt
            WHERE m.status = 'sending' ORDER BY m.id FOR UPDATE OF m SKIP LOCKED)
    UPDATE messages m SET lease_until = clock_timestamp() + $3 * interval '1 second' FROM l WHERE m.id = l.id RETURNING m.id`,
  [[...held.keys()], [...held.values()], leaseSeconds]);
  return new Set(r.rows.map((row) => row.id));
}
