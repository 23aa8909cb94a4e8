// Preference changes from the pages: leaving lists is immediate (a consent record per list); joining
// a list, or resubscribing, goes through the consent module's double opt-in (the subscription becomes
// 'unconfirmed' and a confirmation email is queued; only the click makes it 'subscribed').
import type { Queryable } from '../platform/db.js';
import { optIn } from '../consent/register.js';
import type { ActivationSettings } from '../consent/activation.js';
import type { Requester } from '../consent/confirm.js';
import type { LinkContext, ListChoice } from './targets.js';
import { unsubscribeContact, cleanIp, type UnsubscribeSource } from '../consent/unsubscribe.js';
import { redactCardNumbers } from '../policy/cards.js';

export interface PreferencePlan { leave: string[]; join: string[] }

/** PURE: from the lists and the ticked ids, what changes. Awaiting-confirmation counts as chosen. */
export function planPreferences(lists: readonly ListChoice[], ticked: ReadonlySet<string>): PreferencePlan {
  const chosen = (l: ListChoice) => l.status === 'subscribed' || l.status === 'unconfirmed';
  return {
    leave: lists.filter((l) => chosen(l) && !ticked.has(l.id)).map((l) => l.id),
    join: lists.filter((l) => !chosen(l) && ticked.has(l.id)).map((l) => l.id),
  };
}

/** The ids a form field carried (one value or repeated), kept only when they name a known list. */
export function tickedIds(field: unknown, lists: readonly ListChoice[]): Set<string> {
  const values = Array.isArray(field) ? field : field === undefined ? [] : [field];
  const known = new Set(lists.map((l) => l.id));
  return new Set(values.filter((v): v is string => typeof v === 'string').map((v) => v.toLowerCase()).filter((v) => known.has(v)));
}

/** Opt in again through the consent flow; true when a confirmation email was queued. */
export async function requestOptIn(c: Queryable, link: LinkContext, listIds: string[], wording: string, origin: string,
  who: Requester, settings: ActivationSettings): Promise<boolean> {
  if (listIds.length === 0) return false;
  const out = await optIn(c, link.tenant.id, link.contact.id, {
    listIds, channel: origin === 'preferences' ? 'preferences' : 'page',
    consent: { text: wording, source: origin, ip: cleanIp(who.ip) ?? undefined, userAgent: redactCardNumbers(who.userAgent ?? '').slice(0, 500) || undefined },
  }, settings);
  return out.activation !== null;
}

export interface SaveOutcome { left: string[]; joined: string[]; confirmationSent: boolean }

/** Applies a preference form: leaves, then opt-ins needing confirmation, in the caller's transaction. */
export async function savePreferences(c: Queryable, link: LinkContext, lists: readonly ListChoice[], ticked: ReadonlySet<string>,
  wording: string, who: Requester, settings: ActivationSettings): Promise<SaveOutcome> {
  const plan = planPreferences(lists, ticked);
  const source: UnsubscribeSource = 'preferences';
  let left: string[] = [];
  if (plan.leave.length) {
    left = (await unsubscribeContact(c, { tenantId: link.tenant.id, contactId: link.contact.id, listIds: plan.leave, source,
      campaignId: link.subject.campaignId, ip: who.ip, userAgent: who.userAgent })).changedListIds;
  }
  const confirmationSent = await requestOptIn(c, link, plan.join, wording, 'preferences', who, settings);
  return { left, joined: plan.join, confirmationSent };
}
