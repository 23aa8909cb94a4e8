// What a classified bounce does, inside the caller's tenant transaction:
//   hard       → the contact is suppressed (status + 'all' suppression + consent record)
//   soft       → counted; SOFT_BOUNCE_LIMIT distinct messages within the window → as hard
//   complaint  → unsubscribed from every list + 'marketing' suppression + consent records
//   blocked, autoreply, unknown → recorded only
// and the campaign auto-pause: complaints or hard bounces over their rate of the messages sent.
import type { Queryable } from '../platform/db.js';
import { addSuppression, type SuppressionScope } from '../consent/suppressions.js';
import { setContactStatus } from '../consent/contacts.js';
import { recordConsent } from '../consent/records.js';
import { isInvalid, nextContact } from '../consent/state.js';
import { unsubscribeContact } from '../consent/unsubscribe.js';
import { pauseCampaign } from '../campaigns/campaigns-store.js';
import { campaignFigures, softBounceCount, type BounceKind, type BounceContact } from './store.js';

export interface BounceSettings {
  rawRetentionDays: number; softLimit: number; softWindowDays: number;
  complaintPauseRate: number; hardPauseRate: number; pauseMinSent: number;
}

export type BounceAction = 'suppressed' | 'already_suppressed' | 'counted' | 'unsubscribed' | 'recorded';

export interface ActionInput {
  tenantId: string; kind: BounceKind; bounceId: string; messageId: string | null;
  contact: BounceContact | null; address: string | null; status: string | null; feedbackType: string | null;
}

/** What a suppression row records about its cause (GET /api/suppressions shows it). */
const suppressionSource = (a: ActionInput) => ({ type: a.kind === 'complaint' ? 'complaint' : 'bounce', bounceId: a.bounceId, messageId: a.messageId, status: a.status });

/** Suppresses an address for all mail and its contact, with a consent record; true when anything changed. */
async function suppressAll(c: Queryable, a: ActionInput, reason: 'hard_bounce' | 'soft_bounces'): Promise<boolean> {
  const added = a.address ? await addSuppression(c, a.tenantId, a.address, 'all', reason, { source: suppressionSource(a) }) : false;
  let statusChanged = false;
  if (a.contact) {
    const t = nextContact(a.contact.status, 'hard_bounce');
    if (!isInvalid(t) && t.changed) {
      await setContactStatus(c, a.contact.id, t.status, false);
      statusChanged = true;
    }
    if (added || statusChanged) await recordSuppression(c, a, 'all', reason);
  }
  return added || statusChanged;
}

async function recordSuppression(c: Queryable, a: ActionInput, scope: SuppressionScope, reason: string): Promise<void> {
  if (!a.contact) return;
  await recordConsent(c, a.tenantId, {
    contactId: a.contact.id, listId: null, action: 'suppress', source: a.kind === 'complaint' ? 'complaint' : 'bounce',
    ip: null, userAgent: null, textHash: null,
    detail: { scope, reason, bounceId: a.bounceId, messageId: a.messageId, status: a.status },
  });
}

async function complaint(c: Queryable, a: ActionInput): Promise<BounceAction> {
  if (a.contact && a.contact.status !== 'erased') {
    await unsubscribeContact(c, { tenantId: a.tenantId, contactId: a.contact.id, listIds: 'all', source: 'complaint',
      detail: { bounceId: a.bounceId, messageId: a.messageId, feedbackType: a.feedbackType } });
  }
  const added = a.address ? await addSuppression(c, a.tenantId, a.address, 'marketing', 'complaint', { source: suppressionSource(a) }) : false;
  if (added) await recordSuppression(c, a, 'marketing', 'complaint');
  return 'unsubscribed';
}

/** Applies the effect of one recorded bounce; returns what was done (stored on the bounce row). */
export async function applyBounceActions(c: Queryable, a: ActionInput, s: BounceSettings): Promise<BounceAction> {
  switch (a.kind) {
    case 'hard':
      return (await suppressAll(c, a, 'hard_bounce')) ? 'suppressed' : 'already_suppressed';
    case 'soft': {
      if (!a.contact) return 'counted';
      const n = await softBounceCount(c, a.contact.id, s.softWindowDays);
      if (n < s.softLimit) return 'counted';
      return (await suppressAll(c, a, 'soft_bounces')) ? 'suppressed' : 'already_suppressed';
    }
    case 'complaint':
      return complaint(c, a);
    default:
      return 'recorded';
  }
}

const pct = (rate: number): string => `${Math.round(rate * 10000) / 100}%`;

/** The reason to pause a campaign given its figures, or null while it stays within its limits. */
export function pauseReason(f: { sent: number; hard: number; complaints: number }, s: BounceSettings): string | null {
  if (f.sent === 0 || f.sent < s.pauseMinSent) return null;
  if (f.complaints / f.sent > s.complaintPauseRate) {
    return `auto-paused: complaint rate ${pct(f.complaints / f.sent)} (${f.complaints} of ${f.sent} sent) is over ${pct(s.complaintPauseRate)}`;
  }
  if (f.hard / f.sent > s.hardPauseRate) {
    return `auto-paused: hard bounce rate ${pct(f.hard / f.sent)} (${f.hard} of ${f.sent} sent) is over ${pct(s.hardPauseRate)}`;
  }
  return null;
}

/** After a hard bounce or complaint on a campaign message: pauses the campaign if a rate is exceeded. */
export async function checkCampaignPause(c: Queryable, campaignId: string, kind: BounceKind, s: BounceSettings): Promise<string | null> {
  if (kind !== 'hard' && kind !== 'complaint') return null;
  const reason = pauseReason(await campaignFigures(c, campaignId), s);
  if (!reason) return null;
  return (await pauseCampaign(c, campaignId, { by: 'bounce_rate', text: reason })) ? reason : null;
}
