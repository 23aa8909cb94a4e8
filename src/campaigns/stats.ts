// Campaign figures (GET /api/campaigns/{id}/stats): the owner of campaign_stats_hours and
// campaign_stats_links (migration 077). The triggers of 077 keep those counters as the ledger's
// rows and the feed's events are written; this file only reads them (a few rows per campaign, never
// a scan of the ledger) and shapes the figures (campaignFigures, pure).
import type { Queryable } from '../platform/db.js';

/** One UTC hour of a campaign (hour: ISO 8601 start of the hour). Opens and clicks are human (scanners apart). */
export interface HourFigures {
  hour: string; sent: number; bounced: number; complaints: number; unsubscribes: number;
  opens: number; uniqueOpens: number; clicks: number; uniqueClicks: number; scannerClicks: number;
}

/**
 * One link of a campaign (url: scheme://host/path, without query, fragment or user info: see
 * engagement/links.ts statsLink): human clicks (total, unique = first human click of a message on
 * it), scanner clicks apart.
 */
export interface LinkFigures { url: string; total: number; unique: number; scanner: number; uniqueRate: number | null }

/** A ratio over the messages sent; null while nothing was sent. */
export type Rate = number | null;

export interface CampaignStats {
  campaignId: string;
  /** Ledger rows materialised for the campaign (recipients), whatever became of them. */
  audience: number;
  /** Handed to and accepted by the relay (a 5xx at send time is not sent). */
  sent: number;
  /** Sent, not bounced, and sent at least `deliveredAfterHours` ago (by whole UTC hours). */
  delivered: number;
  /** Sent, not bounced, and sent less than `deliveredAfterHours` ago: a bounce may still come. */
  pending: number;
  deliveredAfterHours: number;
  /** Sent messages that bounced (total: at least once, any kind; by kind: at least once of that kind). */
  bounced: { total: number; hard: number; soft: number; blocked: number };
  /** Sent messages with a complaint (feedback report of abuse). */
  complaints: number;
  /** Contacts who unsubscribed through this campaign (its one-click or footer link). */
  unsubscribes: number;
  /** Opens of the tracking image; machineOpensPossible: a mail client (Apple Mail Privacy Protection) may load it unread. */
  opens: { total: number; unique: number; scanner: number; machineOpensPossible: true };
  /** Human clicks; unique: messages with at least one human click on any link (so rates.uniqueClicks ≤ 1); scanner clicks apart. */
  clicks: { total: number; unique: number; scanner: number; links: LinkFigures[] };
  rates: {
    delivered: Rate; bounced: Rate; hardBounced: Rate; complaints: Rate; unsubscribes: Rate; uniqueOpens: Rate; uniqueClicks: Rate;
  };
  series: HourFigures[];
}

export interface StatsOptions {
  /** STATS_DELIVERED_AFTER_HOURS: a sent message counts as delivered once it was sent this long ago without a bounce. */
  deliveredAfterHours: number;
  /** The links listed at most (most clicked first). */
  maxLinks?: number;
}

/** The counters as read: totals, per hour, per link. */
export interface Counters {
  totals: Totals;
  delivered: number;
  pending: number;
  hours: HourFigures[];
  links: Omit<LinkFigures, 'uniqueRate'>[];
}

interface Totals {
  audience: number; sent: number; bounced: number; hard: number; soft: number; blocked: number; complaints: number;
  unsubscribes: number; opens: number; unique_opens: number; scanner_opens: number; clicks: number; unique_clicks: number;
  scanner_clicks: number;
}

const TOTAL_COLUMNS = ['audience', 'sent', 'bounced', 'hard', 'soft', 'blocked', 'complaints', 'unsubscribes', 'opens',
  'unique_opens', 'scanner_opens', 'clicks', 'unique_clicks', 'scanner_clicks'] as const;
const DEFAULT_MAX_LINKS = 1000;

/**
 * Reads a campaign's counters in the caller's (tenant) transaction: one sum over its hour rows,
 * the hours (UTC, oldest first), and its links (most clicked first, at most `maxLinks`). A send
 * hour counts as delivered once its END is `deliveredAfterHours` past (every message in it was sent
 * that long ago); younger send hours are pending. A campaign without counters reads as zeros.
 */
export async function readCounters(c: Queryable, campaignId: string, o: StatsOptions): Promise<Counters> {
  const sums = TOTAL_COLUMNS.map((k) => `coalesce(sum(${k}), 0)::int AS ${k}`).join(', ');
  const totals = await c.query<Totals & { delivered: number; pending: number }>(`SELECT ${sums},
      coalesce(sum(sent - bounced_of_sent) FILTER (WHERE hour + (1 + $2::float8) * interval '1 hour' <= now()), 0)::int AS delivered,
      coalesce(sum(sent - bounced_of_sent) FILTER (WHERE hour + (1 + $2::float8) * interval '1 hour' > now()), 0)::int AS pending
    FROM campaign_stats_hours WHERE campaign_id = $1`, [campaignId, o.deliveredAfterHours]);
  const hours = await c.query<HourFigures>(`SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"') AS hour,
      sum(sent)::int AS sent, sum(bounced)::int AS bounced, sum(complaints)::int AS complaints, sum(unsubscribes)::int AS unsubscribes,
      sum(opens)::int AS "opens", sum(unique_opens)::int AS "uniqueOpens", sum(clicks)::int AS clicks,
      sum(unique_clicks)::int AS "uniqueClicks", sum(scanner_clicks)::int AS "scannerClicks"
    FROM campaign_stats_hours WHERE campaign_id = $1 GROUP BY campaign_stats_hours.hour
    HAVING sum(sent + bounced + complaints + unsubscribes + opens + clicks + scanner_clicks) > 0
    ORDER BY campaign_stats_hours.hour`, [campaignId]);
  const links = await c.query<Omit<LinkFigures, 'uniqueRate'>>(`SELECT min(url) AS url, sum(clicks)::int AS total,
      sum(unique_clicks)::int AS "unique", sum(scanner_clicks)::int AS scanner
    FROM campaign_stats_links WHERE campaign_id = $1 GROUP BY url_hash ORDER BY sum(clicks) DESC, min(url) LIMIT $2`,
  [campaignId, o.maxLinks ?? DEFAULT_MAX_LINKS]);
  const { delivered, pending, ...rest } = totals.rows[0];
  return { totals: rest, delivered, pending, hours: hours.rows, links: links.rows };
}

/**
 * One UTC hour of ALL the tenant's campaign mail (hour: its start). bounced counts messages with a
 * first bounce (any kind) in that hour, hard/soft/blocked each kind's first; bouncedOfSent the first
 * bounces of messages SENT in that hour (so sent − bouncedOfSent is what was delivered of them).
 */
export interface TenantHour {
  hour: Date; sent: number; bounced: number; hard: number; soft: number; blocked: number;
  complaints: number; unsubscribes: number; bouncedOfSent: number;
}

/**
 * The caller's tenant's campaign figures per UTC hour from `since` on (oldest first; hours without
 * any of these figures left out), summed over campaigns and slots: at most 24 rows a day. Only the
 * window's counter rows are read: one primary-key range (campaign_id, hour ≥ since) per campaign the
 * tenant started (only a started campaign has counters; RLS keeps it to the tenant), never the
 * ledger and never the tenant's older counters.
 */
export async function tenantHours(c: Queryable, since: Date): Promise<TenantHour[]> {
  const r = await c.query<TenantHour>(`SELECT hour, sum(sent)::int AS sent, sum(bounced)::int AS bounced, sum(hard)::int AS hard,
      sum(soft)::int AS soft, sum(blocked)::int AS blocked, sum(complaints)::int AS complaints,
      sum(unsubscribes)::int AS unsubscribes, sum(bounced_of_sent)::int AS "bouncedOfSent"
    FROM campaign_stats_hours
    WHERE campaign_id = ANY(ARRAY(SELECT id FROM campaigns WHERE started_at IS NOT NULL))
      AND hour >= date_trunc('hour', $1::timestamptz, 'UTC')
    GROUP BY hour HAVING sum(sent + bounced + complaints + unsubscribes + bounced_of_sent) > 0 ORDER BY hour`, [since]);
  return r.rows;
}

/** n / sent, or null when nothing was sent. PURE. */
export function rateOver(n: number, sent: number): Rate {
  return sent > 0 ? n / sent : null;
}

/** Shapes the counters into the figures of the API, rates over sent. PURE. */
export function campaignFigures(campaignId: string, k: Counters, deliveredAfterHours: number): CampaignStats {
  const t = k.totals;
  const rate = (n: number) => rateOver(n, t.sent);
  return {
    campaignId, audience: t.audience, sent: t.sent, delivered: k.delivered, pending: k.pending, deliveredAfterHours,
    bounced: { total: t.bounced, hard: t.hard, soft: t.soft, blocked: t.blocked },
    complaints: t.complaints, unsubscribes: t.unsubscribes,
    opens: { total: t.opens, unique: t.unique_opens, scanner: t.scanner_opens, machineOpensPossible: true },
    clicks: {
      total: t.clicks, unique: t.unique_clicks, scanner: t.scanner_clicks,
      links: k.links.map((l) => ({ ...l, uniqueRate: rate(l.unique) })),
    },
    rates: {
      delivered: rate(k.delivered), bounced: rate(t.bounced), hardBounced: rate(t.hard), complaints: rate(t.complaints),
      unsubscribes: rate(t.unsubscribes), uniqueOpens: rate(t.unique_opens), uniqueClicks: rate(t.unique_clicks),
    },
    series: k.hours,
  };
}

/** The figures of one campaign (which the caller has checked exists in its tenant). */
export async function campaignStats(c: Queryable, campaignId: string, o: StatsOptions): Promise<CampaignStats> {
  return campaignFigures(campaignId, await readCounters(c, campaignId, o), o.deliveredAfterHours);
}
