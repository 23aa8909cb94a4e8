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
/**
 * Key ranges of contact ids materialised at once, each on its own connection: a chunk's cost is
 * mostly PostgreSQL inserting ledger rows (indexes, foreign-key checks), which one connection keeps
 * on one core. Measured with fsync on, 2 cores: see bench/million.bench.ts.
 */
export const MATERIALISE_LANES = 4;

/** A key range of contact ids: after `after` (exclusive) through `through` (inclusive); null: open. */
export interface IdRange { after: string | null; through: string | null }

/**
 * The uuid space cut into `n` (1–256) consecutive ranges of equal width by the first two hex digits,
 * together covering every id exactly once. Random (v4) ids spread evenly over them. PURE.
 */
export function idRanges(n: number): IdRange[] {
  const lanes = Math.max(1, Math.min(256, Math.floor(n)));
  // Boundary k is the last id whose first byte is below k·256/lanes: (prefix − 1)ffffff-ffff-…
  const bound = (k: number) => `${(Math.floor((k * 256) / lanes) - 1).toString(16).padStart(2, '0')}ffffff-ffff-ffff-ffff-ffffffffffff`;
  return Array.from({ length: lanes }, (_, k) => ({ after: k === 0 ? null : bound(k), through: k === lanes - 1 ? null : bound(k + 1) }));
}

export interface ChunkResult { scanned: number; inserted: number; last: string | null }

/** The filter of the campaign's segment (src/audience/segments.ts), or null when the campaign takes its lists whole. */
export async function campaignSegment(c: Queryable, campaign: Pick<Campaign, 'segmentId'>): Promise<SegmentFilter | null> {
  if (!campaign.segmentId) return null;
  const segment = await getSegment(c, campaign.segmentId);
  if (!segment) throw new Error(`campaign segment ${campaign.segmentId} not found`); // the foreign key RESTRICTs its deletion
  return segment.filter;
}

/** One chunk of subscribed contacts after `after` (by id; through `through` when given), within `segment` when given; inserts their ledger rows. */
export async function materialiseChunk(c: Queryable, campaign: Campaign, after: string | null, limit: number, segment: SegmentFilter | null = null,
  through: string | null = null): Promise<ChunkResult> {
  return queueCampaignRecipients(c, { // the ledger owns message rows
    tenantId: campaign.tenantId, campaignId: campaign.id, listIds: campaign.listIds, templateVersion: campaign.templateVersion, after, through, limit,
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

/** One key range, chunk after chunk (each its own transaction, with a heartbeat); returns the rows inserted. */
async function materialiseRange(db: Db, campaign: Campaign, range: IdRange, chunk: number, segment: SegmentFilter | null): Promise<number> {
  let after = range.after;
  let inserted = 0;
  for (;;) {
    const r: ChunkResult = await db.withTenant(campaign.tenantId, async (c) => {
      const out = await materialiseChunk(c, campaign, after, chunk, segment, range.through);
      await heartbeat(c, campaign.id);
      return out;
    });
    inserted += r.inserted;
    if (r.scanned < chunk || r.last === null) return inserted;
    after = r.last;
  }
}

/**
 * Materialises the whole audience (resumable: ON CONFLICT DO NOTHING), `lanes` key ranges of
 * contact ids at once, then records the exclusions and marks it ready. Returns the rows inserted.
 */
export async function materialiseAudience(db: Db, campaign: Campaign, chunk = MATERIALISE_CHUNK, lanes = MATERIALISE_LANES): Promise<number> {
  const segment = await db.withTenant(campaign.tenantId, (c) => campaignSegment(c, campaign));
  const counts = await Promise.all(idRanges(lanes).map((range) => materialiseRange(db, campaign, range, chunk, segment)));
  const inserted = counts.reduce((a, b) => a + b, 0);
  await db.withTenant(campaign.tenantId, async (c) => markAudienceReady(c, campaign.id, await excludedByReason(c, campaign.listIds, segment)));
  return inserted;
}
