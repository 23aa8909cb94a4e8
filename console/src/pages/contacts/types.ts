// What the contact pages read from the API (shapes of /api/contacts…, /api/suppressions).
export type ContactStatus = 'pending' | 'active' | 'suppressed' | 'erased';
export type SubscriptionStatus = 'unconfirmed' | 'subscribed' | 'unsubscribed';

export interface Subscription { listId: string; listName: string; status: SubscriptionStatus; createdAt: string; updatedAt: string }
export interface Contact {
  id: string; email: string | null; name: string | null; attributes: Record<string, unknown>; status: ContactStatus;
  createdAt: string; verifiedAt: string | null; locale: string | null; subscriptions: Subscription[];
}
export interface ConsentRecord {
  id: string; contactId: string; listId: string | null; action: string; source: string; ip: string | null; userAgent: string | null;
  textHash: string | null; text: string | null; detail: Record<string, unknown>; at: string;
}
export type TimelineItem =
  | { type: 'message'; id: string; at: string; kind: string; purpose: string; campaignId: string | null; subject: string | null;
    status: string; reason: string | null; sentAt: string | null }
  | { type: 'consent'; id: string; at: string; action: string; source: string; listId: string | null; listName: string | null;
    textHash: string | null; detail: Record<string, unknown> }
  | { type: 'bounce'; id: string; at: string; kind: string; reason: string | null; status: string | null; diagnostic: string | null;
    feedbackType: string | null; messageId: string | null; campaignId: string | null; action: string | null; rawKept: boolean; rawWithheld: string | null };
export interface Suppression {
  id: string; address: string | null; scope: 'all' | 'marketing'; reason: string; createdAt: string; note: string | null;
  createdBy: string | null; source: { type: string } & Record<string, unknown>;
}

export const CONTACT_STATUS_LABEL: Record<ContactStatus, string> = {
  pending: 'Pending', active: 'Active', suppressed: 'Suppressed', erased: 'Erased',
};
export const CONTACT_STATUS_BADGE: Record<ContactStatus, string> = {
  pending: 'badge badge--warn', active: 'badge badge--ok', suppressed: 'badge badge--bad', erased: 'badge',
};
export const SUBSCRIPTION_LABEL: Record<SubscriptionStatus, string> = {
  unconfirmed: 'Awaiting confirmation', subscribed: 'Subscribed', unsubscribed: 'Unsubscribed',
};

/** Where a consent record or suppression came from, in words (an unknown source: the raw name). */
const SOURCE_LABEL: Record<string, string> = {
  api: 'API', import: 'import', console: 'console', form: 'sign-up form', bounce: 'bounce', complaint: 'complaint', unsubscribe: 'unsubscribe link',
  cli: 'command line', system: 'Postgate',
};

/**
 * Who made a record, for people: a console action (created by `staff:<email>`) reads "by ann@… (console)";
 * an API key's reads "API (key <id>)"; otherwise the source in words. `by` is the API's createdBy (or detail.by).
 */
export function whoLabel(source: string, by: unknown): string {
  if (typeof by === 'string' && by.startsWith('staff:')) return `by ${by.slice('staff:'.length)} (console)`;
  const words = SOURCE_LABEL[source] ?? source;
  return typeof by === 'string' && by ? `${words} (key ${by})` : words;
}

/** Consent actions in words. */
export const ACTION_LABEL: Record<string, string> = {
  register: 'Registered', opt_in: 'Opted in', confirm: 'Confirmed', opt_out: 'Unsubscribed', suppress: 'Suppressed',
  unsuppress: 'Suppression removed', import: 'Imported with consent', export_request: 'Asked for their data',
  erasure_request: 'Asked for erasure', export_download: 'Downloaded their data',
};
