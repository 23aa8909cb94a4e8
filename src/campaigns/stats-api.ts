// GET /api/campaigns/{id}/stats (scope campaigns): a campaign's figures, read from the counters
// that migration 077's triggers keep (src/campaigns/stats.ts). No SQL here.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { isUuid } from '../policy/ids.js';
import { notFound, type Api } from '../platform/http.js';
import { id } from '../platform/responses.js';
import { getCampaign } from './campaigns-store.js';
import { campaignStats } from './stats.js';

const count = z.number().int().min(0);
const rate = z.number().min(0).nullable().describe('Over the messages sent; null while nothing was sent');
const hourView = z.object({
  hour: z.string().describe('The start of the UTC hour (ISO 8601)'),
  sent: count, bounced: count, complaints: count, unsubscribes: count,
  opens: count, uniqueOpens: count, clicks: count, uniqueClicks: count, scannerClicks: count,
});
const linkView = z.object({
  url: z.string().describe('The link as counted: scheme://host/path, without query, fragment or user info'), total: count.describe('Human clicks'), unique: count.describe('Messages with a human click on this link'),
  scanner: count.describe('Clicks by link scanners, never in total or unique'), uniqueRate: rate,
});
export const statsView = z.object({
  campaignId: id,
  audience: count.describe('Recipients materialised (ledger rows of the campaign)'),
  sent: count.describe('Accepted by the relay'),
  delivered: count.describe('Sent, not bounced, sent at least deliveredAfterHours ago (whole UTC hours)'),
  pending: count.describe('Sent, not bounced, more recently: a bounce may still come'),
  deliveredAfterHours: z.number().min(0),
  bounced: z.object({ total: count, hard: count, soft: count, blocked: count }).describe('Sent messages that bounced (total: any kind, each message once)'),
  complaints: count, unsubscribes: count.describe('Contacts who unsubscribed through this campaign'),
  opens: z.object({
    total: count, unique: count, scanner: count,
    machineOpensPossible: z.literal(true).describe('Mail clients (Apple Mail Privacy Protection) load images unread: opens are an upper bound'),
  }),
  clicks: z.object({ total: count, unique: count.describe('Messages with at least one human click on any link'), scanner: count, links: z.array(linkView) }),
  rates: z.object({ delivered: rate, bounced: rate, hardBounced: rate, complaints: rate, unsubscribes: rate, uniqueOpens: rate, uniqueClicks: rate }),
  series: z.array(hourView).describe('Per UTC hour with activity, oldest first; sums to the totals'),
});

const DESCRIPTION = 'Counted as events happen (no scan of the ledger per request). Bounces and complaints are those of sent '
  + 'messages, each message once per kind; delivered counts a send hour once its end is STATS_DELIVERED_AFTER_HOURS past. '
  + 'Opens and clicks need tracking on (off by default); scanner hits are reported apart. 404 for a campaign of another tenant.';

/** Registers GET /api/campaigns/:id/stats. */
export function campaignStatsRoutes(api: Api, deps: AppDeps): void {
  const deliveredAfterHours = deps.config.STATS_DELIVERED_AFTER_HOURS;
  api.route({ method: 'get', path: '/api/campaigns/:id/stats', scope: 'campaigns', summary: "A campaign's figures: delivery, bounces, complaints, unsubscribes, opens, clicks per link, per hour",
    description: DESCRIPTION, response: statsView, errors: [404] },
  async ({ tenantId, params }) => {
    if (!isUuid(params.id)) throw notFound('campaign');
    const out = await deps.db.withTenant(tenantId, async (c) => ((await getCampaign(c, params.id))
      ? campaignStats(c, params.id, { deliveredAfterHours }) : null));
    if (!out) throw notFound('campaign');
    return { body: out };
  });
}
