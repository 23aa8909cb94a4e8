// Campaigns: named queries. Status changes are guarded by the statuses they may start from, so two
// requests (or a request and a worker) racing on one campaign cannot both win.
import type { Queryable } from '../platform/db.js';

export type CampaignStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'cancelled' | 'completed';

export interface Campaign {
  id: string; tenantId: string; name: string; subject: string; templateId: string; templateVersion: number;
  listIds: string[]; replyTo: string | null; sendAt: Date | null; status: CampaignStatus; pausedReason: string | null;
  startJobId: string | null; audienceReadyAt: Date | null; excluded: Record<string, number>;
  startedAt: Date | null; completedAt: Date | null; cancelledAt: Date | null; createdAt: Date; updatedAt: Date;
}

const COLUMNS = `id, tenant_id AS "tenantId", name, subject, template_id AS "templateId", template_version AS "templateVersion",
  list_ids AS "listIds", reply_to AS "replyTo", send_at AS "sendAt", status, paused_reason AS "pausedReason",
  start_job_id AS "startJobId", audience_ready_at AS "audienceReadyAt", excluded, started_at AS "startedAt",
  completed_at AS "completedAt", cancelled_at AS "cancelledAt", created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface NewCampaign {
  name: string; subject: string; templateId: string; templateVersion: number; listIds: string[]; replyTo: string | null; sendAt: Date | null;
}

export async function insertCampaign(c: Queryable, tenantId: string, n: NewCampaign): Promise<Campaign> {
  const r = await c.query<Campaign>(`INSERT INTO campaigns (tenant_id, name, subject, template_id, template_version, list_ids, reply_to, send_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
  [tenantId, n.name, n.subject, n.templateId, n.templateVersion, n.listIds, n.replyTo, n.sendAt]);
  return r.rows[0];
}

export async function getCampaign(c: Queryable, id: string, forUpdate = false): Promise<Campaign | null> {
  const r = await c.query<Campaign>(`SELECT ${COLUMNS} FROM campaigns WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ?? null;
}

export async function listCampaigns(c: Queryable, limit: number, after: string | null): Promise<Campaign[]> {
  const r = await c.query<Campaign>(`SELECT ${COLUMNS} FROM campaigns
    WHERE $2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM campaigns WHERE id = $2::uuid)
    ORDER BY created_at DESC, id DESC LIMIT $1`, [limit, after]);
  return r.rows;
}

/** The ids among `ids` that are not lists of this tenant. */
export async function missingLists(c: Queryable, ids: readonly string[]): Promise<string[]> {
  const r = await c.query<{ id: string }>('SELECT id FROM lists WHERE id = ANY($1::uuid[])', [ids]);
  const found = new Set(r.rows.map((row) => row.id));
  return ids.filter((id) => !found.has(id));
}

export interface Transition {
  status: CampaignStatus; pausedReason?: string | null; sendAt?: Date | null; startJobId?: string | null;
  started?: boolean; completed?: boolean; cancelled?: boolean;
}

/** Moves the campaign to t.status if it is in one of `from`; null when it was not (or does not exist). */
export async function transition(c: Queryable, id: string, from: readonly CampaignStatus[], t: Transition): Promise<Campaign | null> {
  const r = await c.query<Campaign>(`UPDATE campaigns SET status = $3, updated_at = now(),
      paused_reason = CASE WHEN $3 = 'paused' THEN $4 ELSE NULL END,
      send_at = CASE WHEN $5 THEN $6::timestamptz ELSE send_at END,
      start_job_id = CASE WHEN $7 THEN $8 ELSE start_job_id END,
      started_at = CASE WHEN $9 THEN coalesce(started_at, now()) ELSE started_at END,
      heartbeat_at = CASE WHEN $9 THEN now() ELSE heartbeat_at END,
      completed_at = CASE WHEN $10 THEN now() ELSE completed_at END,
      cancelled_at = CASE WHEN $11 THEN now() ELSE cancelled_at END
    WHERE id = $1 AND status = ANY($2::text[]) RETURNING ${COLUMNS}`,
  [id, from, t.status, t.pausedReason ?? null, t.sendAt !== undefined, t.sendAt ?? null, t.startJobId !== undefined, t.startJobId ?? null,
    t.started === true, t.completed === true, t.cancelled === true]);
  return r.rows[0] ?? null;
}

/**
 * Pauses a running (or scheduled) campaign with a reason, e.g. 'complaint_rate' from bounce handling.
 * Drains stop at their next batch; resume through the API. Returns false when it was not running.
 */
export async function pauseCampaign(c: Queryable, campaignId: string, reason: string): Promise<boolean> {
  return (await transition(c, campaignId, ['running', 'scheduled'], { status: 'paused', pausedReason: reason })) !== null;
}

/** Cancel: every recipient not yet handed to SMTP is marked cancelled (one event each). */
export async function cancelOpenMessages(c: Queryable, campaignId: string): Promise<number> {
  const r = await c.query(`WITH x AS (
      UPDATE messages SET status = 'cancelled', reason = 'campaign_cancelled', lease_until = NULL, updated_at = now()
      WHERE campaign_id = $1 AND status IN ('queued', 'deferred') RETURNING id, tenant_id)
    INSERT INTO message_events (tenant_id, message_id, type, detail) SELECT tenant_id, id, 'cancelled', '{"reason":"campaign_cancelled"}' FROM x`, [campaignId]);
  return r.rowCount ?? 0;
}

/** A drain is alive on this campaign (written at most every few seconds). */
export async function heartbeat(c: Queryable, campaignId: string): Promise<void> {
  await c.query(`UPDATE campaigns SET heartbeat_at = now() WHERE id = $1 AND (heartbeat_at IS NULL OR heartbeat_at < now() - interval '2 seconds')`, [campaignId]);
}

export async function setWake(c: Queryable, campaignId: string, at: Date): Promise<void> {
  await c.query('UPDATE campaigns SET wake_at = $2 WHERE id = $1', [campaignId, at]);
}

export async function markAudienceReady(c: Queryable, campaignId: string, excluded: Record<string, number>): Promise<void> {
  await c.query('UPDATE campaigns SET audience_ready_at = now(), excluded = $2, heartbeat_at = now() WHERE id = $1', [campaignId, JSON.stringify(excluded)]);
}

export interface OpenWork { open: number; due: number; nextAt: Date | null; leaseAt: Date | null }

/** What is left of a campaign: rows not final, rows due now, and when the next one becomes due. */
export async function openWork(c: Queryable, campaignId: string): Promise<OpenWork> {
  const r = await c.query<OpenWork>(`SELECT count(*)::int AS open,
      count(*) FILTER (WHERE status IN ('queued', 'deferred') AND next_attempt_at <= now())::int AS due,
      min(next_attempt_at) FILTER (WHERE status IN ('queued', 'deferred')) AS "nextAt",
      min(lease_until) FILTER (WHERE status = 'sending') AS "leaseAt"
    FROM messages WHERE campaign_id = $1 AND status IN ('queued', 'deferred', 'sending')`, [campaignId]);
  return r.rows[0];
}

/** Completed once the audience is in and nothing is queued, deferred or being sent. */
export async function completeIfDone(c: Queryable, campaignId: string): Promise<boolean> {
  const r = await c.query(`UPDATE campaigns SET status = 'completed', completed_at = now(), updated_at = now()
    WHERE id = $1 AND status = 'running' AND audience_ready_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM messages WHERE campaign_id = $1 AND status IN ('queued', 'deferred', 'sending'))`, [campaignId]);
  return (r.rowCount ?? 0) > 0;
}
