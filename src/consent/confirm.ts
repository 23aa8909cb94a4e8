// The activation link's two steps. preview (GET) reads only: what the click will do. confirm (POST)
// claims the single-use token and, in the same transaction, verifies the address and turns the
// opt-ins the token names into subscriptions, appending a 'confirm' consent record for each change.
import type { Queryable } from '../platform/db.js';
import { getPageTenant, type PageTenant } from '../tenants/store.js';
import { translatorFor } from '../i18n/catalogues.js';
import type { Translator } from '../i18n/translate.js';
import { isInvalid, nextContact, nextSubscription } from './state.js';
import { activationContactId, activationRow, claimUse, isUsed, type ActivationClaim } from './activation.js';
import { findContact, setContactStatus, type ContactRow } from './contacts.js';
import { listsByIds } from './lists.js';
import { recordConsent, storeConsentText } from './records.js';
import { setSubscription, subscriptionsOf } from './subscriptions.js';
import { erasureSuppressedAt } from './suppressions.js';

export interface Plan { tenant: PageTenant; contact: ContactRow & { email: string }; verify: boolean; lists: { id: string; name: string }[] }
export type PlanResult = { ok: true; plan: Plan } | { ok: false; reason: 'gone' | 'used' };

/** The wording of the confirmation page, in the page's language: shown on GET, stored (by hash) as the proof on POST. */
export function confirmationWording(p: Plan, t: Translator = translatorFor('en')): string {
  const args = { email: p.contact.email, tenant: p.tenant.name };
  const parts: string[] = [];
  if (p.verify) parts.push(t.t('page.activation.wording.verify', args));
  if (p.lists.length > 0) {
    parts.push(t.t('page.activation.wording.lists', { ...args, lists: p.lists.map((l) => l.name).join(', ') }));
    parts.push(t.t('page.activation.wording.unsubscribe'));
  }
  if (parts.length === 0) parts.push(t.t('page.activation.wording.already', args));
  return parts.join(' ');
}

/** What the link would do now; reads only. */
export async function planConfirmation(c: Queryable, claim: ActivationClaim, forUpdate = false): Promise<PlanResult> {
  const tenant = await getPageTenant(c, claim.tenantId);
  const contactId = await activationContactId(c, claim);
  const contact = contactId === null ? null : await findContact(c, { id: contactId }, forUpdate);
  if (!tenant || !contact || !contact.email || (contact.status !== 'pending' && contact.status !== 'active')) return { ok: false, reason: 'gone' };
  const row = await activationRow(c, { ...claim, contactId: contact.id });
  if (!row) return { ok: false, reason: 'gone' };
  // A link minted before the address was erased never confirms (nor lifts that suppression): only a
  // fresh registration's link, mailed after the erasure, may (migration 040's trigger).
  const erasedAt = await erasureSuppressedAt(c, claim.tenantId, contact.email);
  if (erasedAt && erasedAt.getTime() >= new Date(row.createdAt).getTime()) return { ok: false, reason: 'gone' };
  const listIds = row.listIds;
  if (await isUsed(c, claim.useId)) return { ok: false, reason: 'used' };
  const unconfirmed = new Set((await subscriptionsOf(c, [contact.id], forUpdate)).filter((s) => s.status === 'unconfirmed').map((s) => s.listId));
  const lists = (await listsByIds(c, listIds)).filter((l) => unconfirmed.has(l.id)).map((l) => ({ id: l.id, name: l.name }));
  return { ok: true, plan: { tenant, contact: contact as ContactRow & { email: string }, verify: contact.status === 'pending', lists } };
}

/** Who made a consent request from a page: the client's address and user agent, as recorded. */
export interface Requester { ip: string | null; userAgent: string | null }

/** Uses the link: claims it, then applies the plan. 'used' when it was already used (nothing changes). */
export async function confirm(c: Queryable, claim: ActivationClaim, who: Requester,
  wordingOf: (plan: Plan) => string = (plan) => confirmationWording(plan)): Promise<PlanResult> {
  const planned = await planConfirmation(c, claim, true);
  if (!planned.ok) return planned;
  if (!(await claimUse(c, claim.tenantId, claim.useId))) return { ok: false, reason: 'used' };
  const { plan } = planned;
  const tenantId = plan.tenant.id;
  const textHash = await storeConsentText(c, tenantId, wordingOf(plan));
  // The record names the evidence: the link of this activation mail (which only went to the mailbox) was used on the page.
  const via = { via: 'activation_link', activationMessageId: claim.messageId };
  const base = { contactId: plan.contact.id, action: 'confirm' as const, source: 'page', ip: who.ip, userAgent: who.userAgent, textHash };
  const verified = nextContact(plan.contact.status, 'verify');
  if (plan.verify && !isInvalid(verified) && verified.changed) {
    await setContactStatus(c, plan.contact.id, verified.status, true);
    await recordConsent(c, tenantId, { ...base, listId: null, detail: { from: plan.contact.status, to: verified.status, ...via } });
  }
  for (const list of plan.lists) {
    const t = nextSubscription('unconfirmed', 'confirm', true);
    if (isInvalid(t) || !t.changed) continue;
    await setSubscription(c, tenantId, plan.contact.id, list.id, t.status);
    await recordConsent(c, tenantId, { ...base, listId: list.id, detail: { from: 'unconfirmed', to: t.status, ...via } });
  }
  return planned;
}
