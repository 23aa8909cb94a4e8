// Campaigns: named queries. Every status change is a lifecycle event (lifecycle.ts): its UPDATE is
// guarded by the statuses the table allows it from, so two requests (or a request and a worker)
// racing on one campaign cannot both win.
import { listsByIds } from '../consent/lists.js';
import type { Queryable } from '../platform/db.js';
import { cancelCampaignMessages } from '../mail/ledger.js';
import { pausedReasonText, transitionOf, type CampaignEvent, type CampaignState, type PauseReason } from './lifecycle.js';

export type CampaignStatus = CampaignState;

export interface Campaign {
  id: string; tenantId: string; name: string; subject: string; templateId: string; templateVersion: number;
  listIds: string[]; replyTo: string | null; sendAt: Date | null; status: CampaignStatus; pausedReason: string | null;
  startJobId: string | null; audienceReadyAt: Date | null; excluded: Record<string, number>;
  startedAt: Date | null; completedAt: Date | null; cancelledAt: Date | null; createdAt: Date; updatedAt: Date;
  /** The segment that narrows the lists' audience (null: the whole lists). */
  segmentId: string | null;
  /** true: templateVersion is pinned; false: until it starts, templateVersion is the template's latest (taken at start). */
  templatePinned: boolean;
  /** Engagement tracking of this campaign's mail (issue 17); null: the tenant's trackClicks / trackOpens. */
  trackClicks: boolean | null; trackOpens: boolean | null;
}

/**
 * The version a campaign uses: the stored one once it started (or when pinned); before that, the
 * template's latest, which the start records (so a fixed template is what goes out).
 */
const EFFECTIVE_VERSION = `CASE WHEN NOT campaigns.template_pinned AND campaigns.started_at IS NULL
  THEN coalesce((SELECT tv.current_version FROM templates tv WHERE tv.id = campaigns.template_id), campaigns.template_version)
  ELSE campaigns.template_version END`;

const COLUMNS = `id, tenant_id AS "tenantId", name, subject, template_id AS "templateId", ${EFFECTIVE_VERSION} AS "templateVersion",
  segment_id AS "segmentId", template_pinned AS "templatePinned", track_clicks AS "trackClicks", track_opens AS "trackOpens",
  list_ids AS "listIds", reply_to AS "replyTo", send_at AS "sendAt", status, paused_reason AS "pausedReason",
  start_job_id AS "startJobId", audience_ready_at AS "audienceReadyAt", excluded, started_at AS "startedAt",
  completed_at AS "completedAt", cancelled_at AS "cancelledAt", created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface NewCampaign {
  name: string; subject: string; templateId: string; templateVersion: number; listIds: string[]; replyTo: string | null; sendAt: Date | null;
  segmentId?: string | null; templatePinned?: boolean; trackClicks?: boolean | null; trackOpens?: boolean | null;
}

export async function insertCampaign(c: Queryable, tenantId: string, n: NewCampaign): Promise<Campaign> {
  const r = await c.query<Campaign>(`INSERT INTO campaigns (tenant_id, name, subject, template_id, template_version, list_ids, reply_to, send_at, segment_id, template_pinned,
      track_clicks, track_opens)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ${COLUMNS}`,
  [tenantId, n.name, n.subject, n.templateId, n.templateVersion, n.listIds, n.replyTo, n.sendAt, n.segmentId ?? null, n.templatePinned === true,
    n.trackClicks ?? null, n.trackOpens ?? null]);
  return r.rows[0];
}

/** The content of a campaign that is not yet sending: the whole of it, as resolved by the caller. */
export interface DraftContent {
  name: string; subject: string; templateId: string; templateVersion: number; templatePinned: boolean;
  listIds: string[]; segmentId: string | null; replyTo: string | null; sendAt: Date | null;
  trackClicks: boolean | null; trackOpens: boolean | null;
}

/**
 * Rewrites a draft's (or a scheduled campaign's) content. Null when the campaign is in another state
 * (or gone): the status guard makes an edit racing a start lose rather than change a running campaign.
 */
export async function updateDraft(c: Queryable, id: string, d: DraftContent): Promise<Campaign | null> {
  const r = await c.query<Campaign>(`UPDATE campaigns SET name = $2, subject = $3, template_id = $4, template_version = $5, template_pinned = $6,
      list_ids = $7, segment_id = $8, reply_to = $9, send_at = $10, track_clicks = $11, track_opens = $12, updated_at = now()
    WHERE id = $1 AND status IN ('draft', 'scheduled') AND started_at IS NULL RETURNING ${COLUMNS}`,
  [id, d.name, d.subject, d.templateId, d.templateVersion, d.templatePinned, d.listIds, d.segmentId, d.replyTo, d.sendAt, d.trackClicks, d.trackOpens]);
  return r.rows[0] ?? null;
}

/** Test sends of the campaign not yet final (queued, deferred, being sent): their renderer needs the campaign. */
export async function openTestSends(c: Queryable, campaignId: string): Promise<number> {
  const r = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages
    WHERE kind = 'test' AND template = 'campaign:' || $1::text AND status IN ('queued', 'deferred', 'sending')`, [campaignId]);
  return r.rows[0].n;
}

/**
 * Deletes a campaign that never sent: draft or scheduled, never started, no ledger row of its own.
 * Nothing references a campaign row by foreign key; its sent test copies stay in the ledger as the
 * record of what went to the test addresses. False when it was not deletable (or gone).
 */
export async function deleteDraft(c: Queryable, id: string): Promise<boolean> {
  const r = await c.query(`DELETE FROM campaigns WHERE id = $1 AND status IN ('draft', 'scheduled') AND started_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM messages WHERE campaign_id = $1)`, [id]);
  return (r.rowCount ?? 0) > 0;
}

export async function getCampaign(c: Queryable, id: string, forUpdate = false): Promise<Campaign | null> {
  const r = await c.query<Campaign>(`SELECT ${COLUMNS} FROM campaigns WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ?? null;
}

/**
 * The tenant's campaigns, newest first (created_at, id), at most `limit`, after the campaign `after`
 * (the cursor: the last id of the previous page); `statuses` (non-empty) keeps only those statuses.
 */
export async function listCampaigns(c: Queryable, limit: number, after: string | null, statuses: readonly CampaignStatus[] | null = null): Promise<Campaign[]> {
  const r = await c.query<Campaign>(`SELECT ${COLUMNS} FROM campaigns
    WHERE ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM campaigns WHERE id = $2::uuid))
      AND ($3::text[] IS NULL OR status = ANY($3::text[]))
    ORDER BY created_at DESC, id DESC LIMIT $1`, [limit, after, statuses && statuses.length ? statuses : null]);
  return r.rows;
}

/** The ids among `ids` that are not lists a campaign may target: not this tenant's, deleted or archived. */
export async function missingLists(c: Queryable, ids: readonly string[]): Promise<string[]> {
  const found = new Set((await listsByIds(c, ids)).filter((l) => !l.archivedAt).map((l) => l.id));
  return ids.filter((id) => !found.has(id));
}

interface StatusChange {
  status: CampaignStatus; pausedReason?: string | null; sendAt?: Date | null; startJobId?: string | null; templateVersion?: number;
  started?: boolean; completed?: boolean; cancelled?: boolean;
}

/**
 * Columns an event may set besides the status: a schedule's sendAt, the start job's id, and the
 * template version a first start records (the one the compliance check judged; ignored when pinned
 * or already started; a first start without it records the template's latest).
 */
export interface CampaignEventData { sendAt?: Date | null; startJobId?: string | null; templateVersion?: number }

/**
 * Applies a lifecycle event: moves the campaign to the event's status if the table allows the event
 * from its current status; null when it does not (or the campaign does not exist).
 */
export async function applyCampaignEvent(c: Queryable, id: string, event: CampaignEvent, data: CampaignEventData = {}): Promise<Campaign | null> {
  const { from, to } = transitionOf(event);
  return transition(c, id, from, {
    status: to, ...data, templateVersion: data.templateVersion,
    pausedReason: event.type === 'pause' ? pausedReasonText(event.reason) : null,
    started: event.type === 'start' || event.type === 'resume', completed: event.type === 'complete', cancelled: event.type === 'cancel',
  });
}

/** Moves the campaign to t.status if it is in one of `from`; null when it was not (or does not exist). */
async function transition(c: Queryable, id: string, from: readonly CampaignStatus[], t: StatusChange): Promise<Campaign | null> {
  const r = await c.query<Campaign>(`UPDATE campaigns SET status = $3, updated_at = now(),
      paused_reason = CASE WHEN $3 = 'paused' THEN $4 ELSE NULL END,
      send_at = CASE WHEN $5 THEN $6::timestamptz ELSE send_at END,
      start_job_id = CASE WHEN $7 THEN $8 ELSE start_job_id END,
      started_at = CASE WHEN $9 THEN coalesce(started_at, now()) ELSE started_at END,
      heartbeat_at = CASE WHEN $9 THEN now() ELSE heartbeat_at END,
      completed_at = CASE WHEN $10 THEN now() ELSE completed_at END,
      cancelled_at = CASE WHEN $11 THEN now() ELSE cancelled_at END,
      template_version = CASE WHEN $9 AND started_at IS NULL AND NOT template_pinned
        THEN coalesce($12::int, (SELECT tv.current_version FROM templates tv WHERE tv.id = campaigns.template_id), template_version) ELSE template_version END
    WHERE id = $1 AND status = ANY($2::text[]) RETURNING ${COLUMNS}`,
  [id, from, t.status, t.pausedReason ?? null, t.sendAt !== undefined, t.sendAt ?? null, t.startJobId !== undefined, t.startJobId ?? null,
    t.started === true, t.completed === true, t.cancelled === true, t.templateVersion ?? null]);
  return r.rows[0] ?? null;
}

/**
 * Pauses a running (or scheduled) campaign with a reason, e.g. a complaint rate from bounce handling.
 * Drains stop at their next batch; resume through the API. Returns false when the table refused it.
 */
export async function pauseCampaign(c: Queryable, campaignId: string, reason: PauseReason): Promise<boolean> {
  return (await applyCampaignEvent(c, campaignId, { type: 'pause', reason })) !== null;
}

/** Cancel: every recipient not yet handed to SMTP is marked cancelled (one event each). */
export function cancelOpenMessages(c: Queryable, campaignId: string): Promise<number> {
  return cancelCampaignMessages(c, campaignId); // the ledger owns message state
}

/** A drain is alive on this campaign (written at most every few seconds). */
/** Remembers the pg-boss job that starts a scheduled campaign (so a reschedule can cancel it). */
export async function setStartJob(c: Queryable, campaignId: string, jobId: string | null): Promise<void> {
  await c.query('UPDATE campaigns SET start_job_id = $2 WHERE id = $1 AND status = $3', [campaignId, jobId, 'scheduled']);
}

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
  const { from, to } = transitionOf({ type: 'complete' });
  const r = await c.query(`UPDATE campaigns SET status = $3, completed_at = now(), updated_at = now()
    WHERE id = $1 AND status = ANY($2::text[]) AND audience_ready_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM messages WHERE campaign_id = $1 AND status IN ('queued', 'deferred', 'sending'))`, [campaignId, from, to]);
  return (r.rowCount ?? 0) > 0;
}
