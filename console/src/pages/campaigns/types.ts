// The shapes the campaign pages read from the API (GET /api/campaigns[/:id][/stats|/compliance]).
// They mirror src/campaigns/campaigns-api.ts and stats-api.ts; the server is the one source of truth.

export type CampaignStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled';
export const CAMPAIGN_STATUSES: readonly CampaignStatus[] = ['draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled'];

export interface Campaign {
  id: string; name: string; subject: string; templateId: string; templateVersion: number; templatePinned: boolean;
  listIds: string[]; segmentId: string | null; replyTo: string; from?: { email: string; name: string };
  /** ISO 8601 instants (UTC). */
  sendAt: string | null; status: CampaignStatus; pausedReason: string | null;
  startedAt: string | null; completedAt: string | null; cancelledAt: string | null; createdAt: string; updatedAt: string;
}

export interface ByReason { total: number; byReason: Record<string, number> }

export interface Progress {
  audience: number; queued: number; deferred: number; sending: number; sent: number; failed: number;
  failedByReason: Record<string, number>; bounced: number; complained: number; unsubscribed: number; cancelled: number;
  skipped: ByReason;
  /** The gate's refusals at send time (absent from servers older than issue 19). */
  refused?: ByReason;
  excluded: Record<string, number>;
}

export interface CampaignWithProgress extends Campaign { progress: Progress }

export interface Compliance { compliant: boolean; reasons: { reason: string; message: string }[] }

type Rate = number | null;
export interface Stats {
  campaignId: string; audience: number; sent: number; delivered: number; pending: number; deliveredAfterHours: number;
  bounced: { total: number; hard: number; soft: number; blocked: number };
  complaints: number; unsubscribes: number;
  opens: { total: number; unique: number; scanner: number };
  clicks: { total: number; unique: number; scanner: number; links: { url: string; total: number; unique: number; scanner: number; uniqueRate: Rate }[] };
  rates: { delivered: Rate; bounced: Rate; hardBounced: Rate; complaints: Rate; unsubscribes: Rate; uniqueOpens: Rate; uniqueClicks: Rate };
}

export interface TemplateItem { id: string; name: string; version: number }
export interface ListItem { id: string; name: string; archivedAt: string | null; isDefault: boolean }
export interface SegmentItem { id: string; name: string }

/** What a status is called on screen. */
export const STATUS_LABEL: Record<CampaignStatus, string> = {
  draft: 'Draft', scheduled: 'Scheduled', running: 'Sending', paused: 'Paused', completed: 'Completed', cancelled: 'Cancelled',
};

/** The badge style of a status. */
export const STATUS_BADGE: Record<CampaignStatus, string> = {
  draft: 'badge', scheduled: 'badge badge--warn', running: 'badge badge--ok', paused: 'badge badge--warn', completed: 'badge badge--ok', cancelled: 'badge badge--bad',
};

/** The gate's and the audience's reason codes as plain words (src/policy/gate.ts, src/campaigns/audience.ts). */
const REASON_WORDS: Record<string, string> = {
  suppressed: 'Suppressed address',
  not_subscribed: 'Not subscribed',
  unsubscribed: 'Unsubscribed',
  not_in_segment: 'Outside the segment',
  contact_erased: 'Contact erased',
  not_active: 'Contact not active',
  complained: 'Complained (marked as spam)',
  bad_recipient: 'Invalid recipient address',
  no_association: 'Not on the campaign\'s lists',
  no_reply_to: 'No reply-to address',
  bad_from: 'From address not allowed',
  no_postal_address: 'No postal address in the footer',
  no_unsubscribe_link: 'No unsubscribe link',
  no_list_unsubscribe_header: 'No List-Unsubscribe header',
  not_test_address: 'Not a test address',
  test_address_unverified: 'Test address not confirmed',
  unverified_domain: 'Sending domain not verified',
  template_error: 'Template failed to render',
  unknown: 'Unknown reason',
};

/** A reason code as one readable label ("not_subscribed" → "Not subscribed"; an unknown code → its words, capitalised). */
export function reasonLabel(code: string): string {
  const known = REASON_WORDS[code];
  if (known) return known;
  const words = code.replace(/_/g, ' ').trim();
  return words ? words[0].toUpperCase() + words.slice(1) : code;
}
