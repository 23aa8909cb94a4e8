// Progress figures of a campaign, read from the ledger (one GROUP BY), the exclusions counted at
// materialisation, and opt-outs that name the campaign.
import type { Queryable } from '../platform/db.js';
import type { Campaign } from './campaigns-store.js';

export interface Progress {
  audience: number; queued: number; deferred: number; sending: number; sent: number; failed: number;
  /** The failed rows by reason: 'rejected' (5xx), 'retries_exhausted', 'render_error' (the template threw for that recipient). */
  failedByReason: Record<string, number>;
  bounced: number; complained: number; unsubscribed: number; cancelled: number;
  skipped: { total: number; byReason: Record<string, number> };
  /**
   * The gate's refusals at send time (ledger rows 'suppressed', by reason: unsubscribed, suppressed,
   * complained, …): the part of `skipped` decided when each message was about to go, not `excluded`.
   */
  refused: { total: number; byReason: Record<string, number> };
  /** Skips decided when the audience was materialised (on the lists, not subscribed). */
  excluded: Record<string, number>;
}

interface Row { status: string; reason: string | null; n: number; went_out: number }

/**
 * sent: handed to and accepted by SMTP (including those later marked bounced or complained).
 * failed: refused at send time (5xx, or retries exhausted), whatever bounce handling made of them.
 * bounced / complained: the ledger status bounce handling set (a 5xx at send time counts in both).
 */

export async function campaignProgress(c: Queryable, campaign: Campaign): Promise<Progress> {
  const rows = (await c.query<Row>(`SELECT status, reason, count(*)::int AS n, count(sent_at)::int AS went_out
    FROM messages WHERE campaign_id = $1 GROUP BY status, reason`, [campaign.id])).rows;
  const unsub = await c.query<{ n: number }>(`SELECT count(DISTINCT contact_id)::int AS n FROM consent_events
    WHERE action = 'opt_out' AND detail ? 'campaignId' AND detail->>'campaignId' = $1`, [campaign.id]);
  const p: Progress = {
    audience: 0, queued: 0, deferred: 0, sending: 0, sent: 0, failed: 0, failedByReason: {}, bounced: 0, complained: 0,
    unsubscribed: unsub.rows[0].n, cancelled: 0, skipped: { total: 0, byReason: {} }, refused: { total: 0, byReason: {} }, excluded: { ...campaign.excluded },
  };
  for (const r of rows) {
    p.audience += r.n;
    p.sent += r.went_out;
    if (r.status === 'queued' || r.status === 'deferred' || r.status === 'sending' || r.status === 'failed'
      || r.status === 'bounced' || r.status === 'complained' || r.status === 'cancelled') p[r.status] += r.n;
    if (r.status === 'bounced' || r.status === 'complained') p.failed += r.n - r.went_out;
    if (r.status === 'failed') p.failedByReason[r.reason ?? 'unknown'] = (p.failedByReason[r.reason ?? 'unknown'] ?? 0) + r.n;
    if (r.status === 'suppressed') {
      const reason = r.reason ?? 'unknown';
      p.skipped.byReason[reason] = (p.skipped.byReason[reason] ?? 0) + r.n;
      p.refused.byReason[reason] = (p.refused.byReason[reason] ?? 0) + r.n;
      p.refused.total += r.n;
    }
  }
  for (const [reason, n] of Object.entries(p.excluded)) p.skipped.byReason[reason] = (p.skipped.byReason[reason] ?? 0) + n;
  p.skipped.total = Object.values(p.skipped.byReason).reduce((a, b) => a + b, 0);
  return p;
}
