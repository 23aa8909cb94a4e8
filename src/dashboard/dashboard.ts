// The dashboard (GET /api/dashboard): the tenant's campaign mail per day, queue health, warnings and
// its running and recent campaigns, gathered from the services that own each figure. No SQL here:
// campaign figures come from campaigns/stats.ts (the hourly counters of migration 077, never a scan
// of the ledger), open work from mail/ledger.ts, domains from tenants/domains.ts.
import type { Db } from '../platform/db.js';
import { listCampaigns, type Campaign, type CampaignStatus } from '../campaigns/campaigns-store.js';
import { campaignStats, tenantHours, type Rate } from '../campaigns/stats.js';
import { queueCounts } from '../mail/ledger.js';
import { pendingDomains, verifiedDomains } from '../tenants/domains.js';
import { getTenant } from '../tenants/store.js';
import { addressDomain, isVerifiedDomain } from '../policy/domains.js';
import { isReplyToAcceptable } from '../policy/addresses.js';
import {
  COMPLAINT_LIMIT_RATE, COMPLAINT_WARN_RATE, COMPLAINT_WINDOW_DAYS, complaintRate, foldDays, sumDays, type DayFigures,
} from './days.js';

/** What the dashboard asks for: `days` local days (1–90, today included) in IANA `timeZone`. */
export interface DashboardQuery { days: number; timeZone: string }

/** The settings the dashboard reads: STATS_DELIVERED_AFTER_HOURS and PUBLIC_URL. */
export interface DashboardSettings { deliveredAfterHours: number; publicUrl: string }

export type WarningCode = 'no_reply_to' | 'no_postal_address' | 'sender_domain_unverified' | 'unverified_domains' | 'insecure_public_url' | 'complaint_rate';

/** Something the staff should act on. `severity` critical: mail is or soon will be refused. */
export interface DashboardWarning {
  code: WarningCode; severity: 'warning' | 'critical'; message: string;
  /** unverified_domains / sender_domain_unverified: the domains concerned. */
  domains?: string[];
  /** complaint_rate: complaints over sent in the last COMPLAINT_WINDOW_DAYS days, and the thresholds. */
  complaints?: number; sent?: number; rate?: number; warnAt?: number; limit?: number;
}

/** A campaign with its figures (campaigns/stats.ts: counted as events happen). */
export interface CampaignSummary {
  id: string; name: string; status: CampaignStatus; pausedReason: string | null;
  startedAt: Date | null; completedAt: Date | null; cancelledAt: Date | null;
  audience: number; sent: number; delivered: number; pending: number;
  bounced: number; hardBounced: number; complaints: number; unsubscribes: number; uniqueOpens: number; uniqueClicks: number;
  rates: { delivered: Rate; bounced: Rate; complaints: Rate; unsubscribes: Rate; uniqueOpens: Rate; uniqueClicks: Rate };
}

export interface Dashboard {
  timeZone: string; days: number;
  /** What the series counts: campaign mail (the single messages, transactional and activation, are not in it). */
  source: 'campaigns';
  series: DayFigures[];
  totals: Omit<DayFigures, 'date'>;
  /**
   * Open work now, each count up to countLimit (a count equal to it means that many or more);
   * oldestQueuedSeconds: how long the longest-waiting queued message has been due (null: none queued).
   */
  queue: { queued: number; deferred: number; sending: number; countLimit: number; oldestQueuedSeconds: number | null };
  /** Complaints over campaign mail sent in the last COMPLAINT_WINDOW_DAYS days (rate null while nothing was sent). */
  complaintRate: { windowDays: number; sent: number; complaints: number; rate: number | null; warnAt: number; limit: number };
  warnings: DashboardWarning[];
  /** running: running and paused campaigns (newest first, at most RUNNING_SHOWN); recent: the newest completed or cancelled (RECENT_SHOWN). */
  campaigns: { running: CampaignSummary[]; recent: CampaignSummary[] };
}

/** Running and paused campaigns shown (their open work is counted for all of them, up to OPEN_CAMPAIGNS_COUNTED). */
export const RUNNING_SHOWN = 20;
export const RECENT_SHOWN = 5;
/** Running and paused campaigns whose queued rows the queue health counts (a tenant has a handful). */
const OPEN_CAMPAIGNS_COUNTED = 1000;
/**
 * Open messages counted per state at most: counting reads each row (row security needs the heap), so
 * beyond this the dashboard says "10,000 or more" instead of spending a second on an exact figure.
 */
export const QUEUE_COUNT_LIMIT = 10_000;
/** Pending domains named in the warning. */
const DOMAINS_NAMED = 50;
const DAY_MS = 86_400_000;

/**
 * Reads the dashboard of `tenantId` in one tenant transaction. Figures per day are the tenant's
 * campaign mail (sent, delivered, bounced by kind, complaints, unsubscribes through campaigns),
 * folded into `q.days` calendar days of `q.timeZone` (the caller has checked it: days.ts isTimeZone).
 * Cost: one sum over the tenant's hourly counters since max(days + 1, 31) days ago (≤ 24 rows a day
 * out), three small reads per campaign shown, the open-work counts (mail/ledger.ts queueCounts) and
 * two reads of the domains table. `now` is for tests.
 *
 * Measured (embedded PostgreSQL, fsync off, the machine shared with other test runs): 1,000,000
 * campaign messages of one running campaign (410,000 queued, 20,000 deferred, the rest sent), 10,000
 * open single messages, 401 campaigns and 34,560 hourly counter rows: GET /api/dashboard 340-560 ms
 * (14 or 90 days); of it queueCounts 220-450 ms (two thirds of it the 10,000 single messages' key
 * look-ups; the campaign rows stop at QUEUE_COUNT_LIMIT), tenantHours 40 ms (34,000 counter rows of
 * the window), the fold 15-50 ms. With 1,152,000 more counter rows (200 campaigns, a row every hour
 * and slot), tenantHours still reads only the window's rows: 54 ms for 100,000 of them.
 */
export async function readDashboard(db: Db, tenantId: string, q: DashboardQuery, s: DashboardSettings, now = new Date()): Promise<Dashboard> {
  const since = new Date(now.getTime() - Math.max(q.days + 1, COMPLAINT_WINDOW_DAYS + 1) * DAY_MS);
  const stats = { deliveredAfterHours: s.deliveredAfterHours, maxLinks: 0 };
  return db.withTenant(tenantId, async (c) => {
    const hours = await tenantHours(c, since);
    const open = await listCampaigns(c, OPEN_CAMPAIGNS_COUNTED, null, ['running', 'paused']);
    const recent = await listCampaigns(c, RECENT_SHOWN, null, ['completed', 'cancelled']);
    const summarise = async (k: Campaign) => summary(k, await campaignStats(c, k.id, stats));
    const running: CampaignSummary[] = [];
    for (const k of open.slice(0, RUNNING_SHOWN)) running.push(await summarise(k));
    const done: CampaignSummary[] = [];
    for (const k of recent) done.push(await summarise(k));
    const work = await queueCounts(c, tenantId, open.map((k) => k.id), QUEUE_COUNT_LIMIT);
    const tenant = await getTenant(c, tenantId);
    const verified = await verifiedDomains(c);
    const pending = await pendingDomains(c, DOMAINS_NAMED);
    const series = foldDays(hours, { now, days: q.days, timeZone: q.timeZone, deliveredAfterHours: s.deliveredAfterHours });
    const complaints = complaintRate(hours, now);
    return {
      timeZone: q.timeZone, days: q.days, source: 'campaigns', series, totals: sumDays(series),
      queue: {
        queued: work.queued, deferred: work.deferred, sending: work.sending, countLimit: QUEUE_COUNT_LIMIT,
        oldestQueuedSeconds: work.oldestQueuedAt ? Math.max(0, Math.floor((now.getTime() - new Date(work.oldestQueuedAt).getTime()) / 1000)) : null,
      },
      complaintRate: { windowDays: COMPLAINT_WINDOW_DAYS, ...complaints, warnAt: COMPLAINT_WARN_RATE, limit: COMPLAINT_LIMIT_RATE },
      warnings: warnings({ fromEmail: tenant?.fromEmail ?? null, replyTo: tenant?.replyTo ?? null, postalAddress: tenant?.postalAddress ?? null,
        verified, pending, publicUrl: s.publicUrl, complaints }),
      campaigns: { running, recent: done },
    };
  });
}

/** The warnings of the dashboard from its facts (PURE). */
export function warnings(f: {
  fromEmail: string | null; replyTo?: string | null; postalAddress?: string | null; verified: readonly string[]; pending: readonly string[]; publicUrl: string;
  complaints: { sent: number; complaints: number; rate: number | null };
}): DashboardWarning[] {
  const out: DashboardWarning[] = [];
  // The gate's own checks (policy/gate.ts): a reply-to it refuses stops every message; no postal address stops marketing mail.
  if (f.replyTo !== undefined && !isReplyToAcceptable(f.replyTo).ok) {
    out.push({ code: 'no_reply_to', severity: 'critical',
      message: `The reply-to address ${f.replyTo ?? '(none)'} is not one people can answer (a placeholder, a reserved domain or a no-reply box): every message is refused until Settings gives a real one.` });
  }
  if (f.postalAddress !== undefined && !f.postalAddress?.trim()) {
    out.push({ code: 'no_postal_address', severity: 'critical',
      message: 'There is no postal address: newsletters and test sends are refused until Settings gives one (the law asks for it in marketing mail).' });
  }
  const fromDomain = addressDomain(f.fromEmail);
  if (f.fromEmail && !isVerifiedDomain(fromDomain, f.verified)) {
    out.push({ code: 'sender_domain_unverified', severity: 'critical', domains: [fromDomain],
      message: `The sender address's domain ${fromDomain} is not verified: mail from ${f.fromEmail} is refused until it is.` });
  }
  if (f.pending.length) {
    out.push({ code: 'unverified_domains', severity: 'warning', domains: [...f.pending],
      message: `${f.pending.length} sending domain${f.pending.length === 1 ? ' is' : 's are'} not verified yet: ${f.pending.join(', ')}.` });
  }
  if (new URL(f.publicUrl).protocol === 'http:') {
    out.push({ code: 'insecure_public_url', severity: 'warning',
      message: `PUBLIC_URL (${f.publicUrl}) is http, not https: mailbox providers ignore one-click unsubscribe links over http, and links in mail are not protected.` });
  }
  const r = f.complaints;
  if (r.rate !== null && r.rate >= COMPLAINT_WARN_RATE) {
    out.push({ code: 'complaint_rate', severity: r.rate >= COMPLAINT_LIMIT_RATE ? 'critical' : 'warning',
      complaints: r.complaints, sent: r.sent, rate: r.rate, warnAt: COMPLAINT_WARN_RATE, limit: COMPLAINT_LIMIT_RATE,
      message: `Complaint rate ${(r.rate * 100).toFixed(2)}% over the last ${COMPLAINT_WINDOW_DAYS} days (${r.complaints} of ${r.sent} sent): `
        + `Google and Yahoo ask bulk senders to stay under ${(COMPLAINT_LIMIT_RATE * 100).toFixed(1)}%.` });
  }
  return out;
}

function summary(k: Campaign, st: Awaited<ReturnType<typeof campaignStats>>): CampaignSummary {
  return {
    id: k.id, name: k.name, status: k.status, pausedReason: k.pausedReason,
    startedAt: k.startedAt, completedAt: k.completedAt, cancelledAt: k.cancelledAt,
    audience: st.audience, sent: st.sent, delivered: st.delivered, pending: st.pending,
    bounced: st.bounced.total, hardBounced: st.bounced.hard, complaints: st.complaints, unsubscribes: st.unsubscribes,
    uniqueOpens: st.opens.unique, uniqueClicks: st.clicks.unique,
    rates: {
      delivered: st.rates.delivered, bounced: st.rates.bounced, complaints: st.rates.complaints,
      unsubscribes: st.rates.unsubscribes, uniqueOpens: st.rates.uniqueOpens, uniqueClicks: st.rates.uniqueClicks,
    },
  };
}
