// GET /api/dashboard (scope campaigns, a read: viewers may call it): the console's dashboard, read
// by src/dashboard/dashboard.ts from the services that own each figure. No SQL here.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import type { Api } from '../platform/http.js';
import { id, timestamp } from '../platform/responses.js';
import { readDashboard } from './dashboard.js';
import { isTimeZone } from './days.js';

const count = z.number().int().min(0);
const rate = z.number().min(0).nullable().describe('Over the messages sent; null while nothing was sent');
const when = timestamp.nullable();

export const dashboardQuery = z.strictObject({
  days: z.coerce.number().int().min(1).max(90).default(14).describe('Calendar days shown, today included (1-90, default 14)'),
  timeZone: z.string().max(64).regex(/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/, 'must be an IANA time zone such as Europe/Paris')
    .refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris').default('UTC')
    .describe('The IANA time zone whose calendar days the series uses (default UTC)'),
});

const dayView = z.object({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).describe('The calendar day in timeZone'),
  sent: count, delivered: count.describe('Of the messages sent that day: not bounced, sent at least deliveredAfterHours ago'),
  pending: count.describe('Of the messages sent that day: not bounced, sent more recently (a bounce may still come)'),
  bounced: count.describe('Messages with a first bounce that day, any kind'), hard: count, soft: count, blocked: count,
  complaints: count, unsubscribes: count.describe('Opt-outs through a campaign\'s links'),
});
const campaignView = z.object({
  id, name: z.string(), status: z.enum(['draft', 'scheduled', 'running', 'paused', 'cancelled', 'completed']), pausedReason: z.string().nullable(),
  startedAt: when, completedAt: when, cancelledAt: when,
  audience: count, sent: count, delivered: count, pending: count, bounced: count, hardBounced: count,
  complaints: count, unsubscribes: count, uniqueOpens: count, uniqueClicks: count,
  rates: z.object({ delivered: rate, bounced: rate, complaints: rate, unsubscribes: rate, uniqueOpens: rate, uniqueClicks: rate }),
});
const warningView = z.object({
  code: z.enum(['sender_domain_unverified', 'unverified_domains', 'insecure_public_url', 'complaint_rate']),
  severity: z.enum(['warning', 'critical']), message: z.string(),
  domains: z.array(z.string()).optional(),
  complaints: count.optional(), sent: count.optional(), rate: z.number().min(0).optional(), warnAt: z.number().optional(), limit: z.number().optional(),
});
export const dashboardView = z.object({
  timeZone: z.string(), days: z.number().int().min(1).max(90),
  source: z.literal('campaigns').describe('The series counts campaign mail only (single messages are not in it)'),
  series: z.array(dayView).describe('One entry per calendar day, oldest first, today last'),
  totals: dayView.omit({ date: true }),
  queue: z.object({
    queued: count, deferred: count, sending: count,
    countLimit: z.number().int().describe('Each count stops here: a count equal to countLimit means that many or more'),
    oldestQueuedSeconds: count.nullable().describe('How long the longest-waiting queued message has been due; null with none queued'),
  }),
  complaintRate: z.object({
    windowDays: z.number().int(), sent: count, complaints: count, rate,
    warnAt: z.number().describe('The rate the dashboard warns at (0.0025)'), limit: z.number().describe('Google and Yahoo\'s limit (0.003)'),
  }),
  warnings: z.array(warningView),
  campaigns: z.object({
    running: z.array(campaignView).describe('Running and paused campaigns, newest first (at most 20)'),
    recent: z.array(campaignView).describe('The newest completed or cancelled campaigns (at most 5)'),
  }),
});

const DESCRIPTION = 'Campaign mail per calendar day of timeZone (from the counters campaign figures use: no scan of the ledger; an '
  + 'hour counts for the day it starts in), open work now (queued, deferred, sending, and how long the oldest queued message '
  + 'has been due), warnings (sender domain or other sending domains unverified, an http PUBLIC_URL, a complaint rate over the '
  + 'last 30 days at or above 0.25%, near the 0.3% Google and Yahoo allow), and running and recent campaigns with their figures.';

/** Registers GET /api/dashboard. */
export function dashboardRoutes(api: Api, deps: AppDeps): void {
  const settings = { deliveredAfterHours: deps.config.STATS_DELIVERED_AFTER_HOURS, publicUrl: deps.config.PUBLIC_URL };
  api.route({ method: 'get', path: '/api/dashboard', scope: 'campaigns', query: dashboardQuery, response: dashboardView,
    summary: 'The dashboard: campaign mail per day, queue health, warnings, running and recent campaigns', description: DESCRIPTION },
  async ({ tenantId, query }) => ({ body: await readDashboard(deps.db, tenantId, query, settings) }));
}
