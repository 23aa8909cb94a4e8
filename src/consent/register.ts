// Registration and later opt-ins: the write side of double opt-in. One call = one transaction:
// lock the address, check the activation cap, create or reuse the contact, record the consent
// events, mark the opted-in subscriptions unconfirmed and queue one activation message.
import type { Queryable } from '../platform/db.js';
import { DomainError, notFoundError } from '../domain-error.js';
import type { LedgerMessage } from '../mail/ledger.js';
import { isInvalid, nextSubscription, type SubscriptionStatus } from './state.js';
import { assertMayActivate, lockAddress, queueActivation, type ActivationSettings } from './activation.js';
import { findContact, updateContactProfile, upsertContact, type ContactRow } from './contacts.js';
import { defaultList, listsByIds } from './lists.js';
import { recordConsent, storeConsentText } from './records.js';
import type { ConsentInput, RegisterInput } from './schemas.js';
import { setSubscription, subscriptionsOf } from './subscriptions.js';

export interface OptInOutcome { contact: ContactRow; created: boolean; activation: LedgerMessage | null }

/**
 * The list ids of `newsletter` (true = the default list), each checked to belong to the tenant, not
 * deleted (unknown_list, 422) and not archived (list_archived, 422). selfService (the recipient's own
 * pages): private lists are refused too, as unknown, so a forged form learns nothing about them.
 */
export async function resolveLists(c: Queryable, requested: boolean | string[], field: string, selfService = false): Promise<string[]> {
  if (requested === false) return [];
  if (requested === true) {
    const d = await defaultList(c);
    if (!d) throw new DomainError('no_default_list', 'this tenant has no default list', field);
    return [d.id];
  }
  const ids = [...new Set(requested.map((id) => id.toLowerCase()))];
  const found = new Map((await listsByIds(c, ids)).filter((l) => !selfService || l.visibility === 'public').map((l) => [l.id, l]));
  const missing = requested.findIndex((id) => !found.has(id.toLowerCase()));
  if (missing >= 0) throw new DomainError('unknown_list', `list ${requested[missing]} does not exist`, `${field}[${missing}]`);
  const archived = requested.findIndex((id) => found.get(id.toLowerCase())?.archivedAt);
  if (archived >= 0) throw new DomainError('list_archived', `list ${requested[archived]} is archived and takes no new subscribers`, `${field}[${archived}]`);
  return ids;
}

/** The status an opt-in leads to, per the consent state machine. */
function afterOptIn(current: SubscriptionStatus | null, contactActive: boolean): SubscriptionStatus {
  const t = nextSubscription(current, 'opt_in', contactActive);
  return isInvalid(t) ? (current ?? 'unconfirmed') : t.status;
}

interface Consent { textHash: string; source: string; ip: string | null; userAgent: string | null; origin: string }

/** Where the consent was given: the app's API, one of Postgate's own pages, or a public subscription form (hosted or embedded). */
export type ConsentChannel = 'api' | 'page' | 'preferences' | 'form';

async function consentOf(c: Queryable, tenantId: string, consent: ConsentInput, channel: ConsentChannel = 'api'): Promise<Consent> {
  return { textHash: await storeConsentText(c, tenantId, consent.text), source: channel, ip: consent.ip ?? null,
    userAgent: consent.userAgent ?? null, origin: consent.source };
}

/**
 * Applies opt-ins to lists: each not yet subscribed becomes (or stays) unconfirmed, with an opt_in
 * record. Already-subscribed lists stay as they are and record nothing.
 */
async function applyOptIns(c: Queryable, tenantId: string, contact: ContactRow, listIds: string[], consent: Consent): Promise<void> {
  const current = new Map((await subscriptionsOf(c, [contact.id], true)).map((s) => [s.listId, s.status]));
  for (const listId of listIds) {
    const before = current.get(listId) ?? null;
    if (before === 'subscribed') continue;
    const after = afterOptIn(before, contact.status === 'active');
    if (after !== before) await setSubscription(c, tenantId, contact.id, listId, after);
    await recordConsent(c, tenantId, { contactId: contact.id, listId, action: 'opt_in', source: consent.source, ip: consent.ip,
      userAgent: consent.userAgent, textHash: consent.textHash, detail: { source: consent.origin, from: before, to: after } });
  }
}

async function pendingLists(c: Queryable, contactId: string): Promise<string[]> {
  return (await subscriptionsOf(c, [contactId])).filter((s) => s.status === 'unconfirmed').map((s) => s.listId);
}

/** Does this call need an activation message (and so count against the cap)? */
async function needsActivation(c: Queryable, contact: ContactRow | null, listIds: string[]): Promise<boolean> {
  if (!contact || contact.status === 'pending') return true;
  if (contact.status !== 'active') return false;
  const subs = new Map((await subscriptionsOf(c, [contact.id])).map((s) => [s.listId, s.status]));
  return listIds.some((id) => subs.get(id) !== 'subscribed' && afterOptIn(subs.get(id) ?? null, true) === 'unconfirmed');
}

async function updateIdentity(c: Queryable, contact: ContactRow, name: string | undefined, attrs: Record<string, unknown> | undefined): Promise<ContactRow> {
  if (name === undefined && attrs === undefined) return contact;
  await updateContactProfile(c, contact.id, name ?? null, attrs ?? {});
  return (await findContact(c, { id: contact.id })) as ContactRow;
}

/** POST /api/contacts: creates (or reuses) the contact and queues its activation. */
export async function registerContact(c: Queryable, tenantId: string, input: RegisterInput, s: ActivationSettings, channel: ConsentChannel = 'api'): Promise<OptInOutcome> {
  await lockAddress(c, tenantId, input.email);
  const listIds = await resolveLists(c, input.newsletter, 'newsletter');
  const existing = await findContact(c, { email: input.email }, true);
  const activate = await needsActivation(c, existing, listIds);
  if (activate) await assertMayActivate(c, tenantId, input.email, s);
  const { contact: row, created } = existing
    ? { contact: await updateIdentity(c, existing, input.name, input.attributes), created: false }
    : await upsertContact(c, tenantId, { email: input.email, name: input.name ?? null, attributes: input.attributes ?? {}, locale: input.locale ?? null });
  const consent = await consentOf(c, tenantId, input.consent, channel);
  await recordConsent(c, tenantId, { contactId: row.id, listId: null, action: 'register', source: consent.source, ip: consent.ip,
    userAgent: consent.userAgent, textHash: consent.textHash, detail: { source: consent.origin, newContact: created } });
  await applyOptIns(c, tenantId, row, listIds, consent);
  const activation = activate ? await queueActivation(c, tenantId, withEmail(row), await pendingLists(c, row.id), s.ttlDays) : null;
  return { contact: row, created, activation };
}

/** POST /api/contacts/:id/subscriptions: a later opt-in, confirmed by a click like the first one. */
export async function optIn(c: Queryable, tenantId: string, contactId: string,
  input: { listIds: string[]; consent: ConsentInput; channel?: ConsentChannel }, s: ActivationSettings): Promise<OptInOutcome> {
  const found = await findContact(c, { id: contactId });
  if (!found || !found.email) throw notFoundError('contact');
  await lockAddress(c, tenantId, found.email);
  const contact = (await findContact(c, { id: contactId }, true)) as ContactRow;
  if (contact.status !== 'pending' && contact.status !== 'active') {
    throw new DomainError('contact_not_eligible', `a ${contact.status} contact cannot opt in`, 'id');
  }
  const listIds = await resolveLists(c, input.listIds, 'listIds', input.channel === 'page' || input.channel === 'preferences');
  const activate = await needsActivation(c, contact, listIds);
  if (activate) await assertMayActivate(c, tenantId, found.email, s);
  await applyOptIns(c, tenantId, contact, listIds, await consentOf(c, tenantId, input.consent, input.channel));
  const activation = activate ? await queueActivation(c, tenantId, withEmail(contact), await pendingLists(c, contact.id), s.ttlDays) : null;
  return { contact, created: false, activation };
}

function withEmail(contact: ContactRow): ContactRow & { email: string } {
  if (!contact.email) throw new Error('contact has no address');
  return contact as ContactRow & { email: string };
}
