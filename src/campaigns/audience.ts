// Audience materialisation: the campaign's recipients become 'queued' ledger rows, chunk by chunk
// (each chunk its own transaction, ON CONFLICT DO NOTHING, so a repeated or resumed start adds
// nobody twice). Only contacts subscribed to one of the lists, and matching the campaign's segment when
// it has one, are materialised; contacts on the lists left out are counted by reason (not_in_segment:
// subscribed but outside the segment). Consent and suppression are checked again at send time.
import type { Db, Queryable } from '../platform/db.js';
import type { Campaign } from './campaigns-store.js';
import { heartbeat, markAudienceReady } from './campaigns-store.js';
import { CAMPAIGN_SEGMENT_FIRST_PARAM, queueCampaignRecipients } from '../mail/ledger.js';
import { compileSegment, type SegmentFilter } from '../audience/segment-filter.js';
import { getSegment } from '../audience/segments.js';

export const MATERIALISE_CHUNK = 5000;

export interface ChunkResult { scanned: number; inserted: number; last: string | null }

/** The filter of the campaign's segment (src/audience/segments.ts), or null when the campaign takes its lists whole. */
export async function campaignSegment(c: Queryable, campaign: Pick<Campaign, 'segmentId'>): Promise<SegmentFilter | null> {
  if (!campaign.segmentId) return null;
  const segment = await getSegment(c, campaign.segmentId);
  if (!segment) throw new Error(`campaign segment ${campaign.segmentId} not found`); // the foreign key RESTRICTs its deletion
  return segment.filter;
}

/** One chunk of subscribed contacts after `after` (by id), within `segment` when given; inserts their ledger rows. */
export async function materialiseChunk(c: Queryable, campaign: Campaign, after: string | null, limit: number, segment: SegmentFilter | null = null): Promise<ChunkResult> {
  return queueCampaignRecipients(c, { // the ledger owns message rows
    tenantId: campaign.tenantId, campaignId: campaign.id, listIds: campaign.listIds, templateVersion: campaign.templateVersion, after, limit,
    segment: segment ? compileSegment(segment, 'ct', CAMPAIGN_SEGMENT_FIRST_PARAM) : undefined,
  });
}

/** Contacts on the campaign's lists that were not materialised, by the gate's vocabulary (not_in_segment: subscribed, outside `segment`). */
export async function excludedByReason(c: Queryable, listIds: readonly string[], segment: SegmentFilter | null = null): Promise<Record<string, number>> {
  const within = segment ? compileSegment(segment, 'ct', 2) : { sql: 'true', params: [] };
  const r = await c.query<{ reason: string; n: number }>(`SELECT reason, count(*)::int AS n FROM (
      SELECT CASE WHEN bool_or(ct.email IS NULL OR ct.status = 'erased') THEN 'contact_erased'
                  WHEN bool_or(s.status = 'subscribed') THEN 'not_in_segment'
                  WHEN bool_or(s.status = 'unsubscribed') THEN 'unsubscribed' ELSE 'not_subscribed' END AS reason
      FROM subscriptions s JOIN contacts ct ON ct.id = s.contact_id
      WHERE s.list_id = ANY($1::uuid[])
      GROUP BY ct.id
      HAVING NOT bool_or(s.status = 'subscribed' AND ct.email IS NOT NULL AND ct.status <> 'erased' AND (${within.sql}))) x
    GROUP BY reason`, [listIds, ...within.params]);
  return Object.fromEntries(r.rows.map((row) => [row.reason, row.n]));
}

/** Materialises the whole audience (resumable), then records the exclusions and marks it ready. */
export async function materialiseAudience(db: Db, campaign: Campaign, chunk = MATERIALISE_CHUNK): Promise<number> {
  let after: string | null = null;
  let inserted = 0;
  const segment = await db.withTenant(campaign.tenantId, (c) => campaignSegment(c, campaign));
  for (;;) {
    const r: ChunkResult = await db.withTenant(campaign.tenantId, async (c) => {
      const out = await materialiseChunk(c, campaign, after, chunk, segment);
      await heartbeat(c, campaign.id);
      return out;
    });
    inserted += r.inserted;
    if (r.scanned < chunk || r.last === null) break;
    after = r.last;
  }
  await db.withTenant(campaign.tenantId, async (c) => markAudienceReady(c, campaign.id, await excludedByReason(c, campaign.listIds, segment)));
  return inserted;
}
