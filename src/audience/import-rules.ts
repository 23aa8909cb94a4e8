// What an import does with one parsed row (PURE): skip it (and why), or which contact write,
// which subscription changes and whether an activation mail follows. The job (import-job.ts)
// gathers the facts for a batch in a few queries and applies the plans in a few statements.
//
// Consent (issue 16, "Consent on import"):
// - A row is `subscribed` only with ATTESTED consent: the import carries an attestation (the API key,
//   a source) and the row has a consent date (its own column, else the attestation's date). The
//   contact becomes `active` (the gate mails active contacts) with verified_at left NULL: imported
//   consent is the tenant's proof of opt-in; Postgate itself never verified the address.
// - Without it, new subscriptions are `unconfirmed` and the contact stays `pending`; an activation
//   mail (the normal double opt-in) may be requested for them.
// - A row the source marks pending/unconfirmed stays `unconfirmed` even with an attestation (the
//   source says double opt-in was never completed).
// - Never re-subscribe: an address with a suppression (complaint, hard or soft bounces, erasure,
//   manual), or a suppressed or erased contact, is skipped with its reason, and nothing is written.
//   A list the contact unsubscribed from is left as it is; a row whose every list is such is
//   skipped as `unsubscribed`.
// - A source opt-out is APPLIED (plan kind 'optout', counted as skipped with its reason and in
//   `optedOut`): `unsubscribed` sets the row's target lists to unsubscribed (an existing contact's,
//   or a new pending contact's, created only to hold them), so no later import subscribes them;
//   `cleaned` adds an 'all' suppression (reason hard_bounce) and `blocklisted` a 'marketing' one
//   (reason blocklisted), and unsubscribes an existing contact's target lists.
import type { SkipReason } from './imports.js';

export type SubStatus = 'unconfirmed' | 'subscribed' | 'unsubscribed';
export type SourceStatus = 'subscribed' | 'pending' | 'unsubscribed' | 'cleaned' | 'blocklisted' | null;

/** The facts about one row, gathered for its batch. */
export interface RowFacts {
  /** The existing contact with this address, or null. */
  existing: { id: string; status: 'pending' | 'active' | 'suppressed' | 'erased' } | null;
  /** The reasons of the suppressions naming this address (any scope). */
  suppressionReasons: readonly string[];
  /** The row's target lists (ids, deduplicated) and the existing contact's subscription to each. */
  lists: readonly string[];
  current: ReadonlyMap<string, SubStatus>;
  sourceStatus: SourceStatus;
  /** The row has attested consent (an attestation, and a consent date from the row or the attestation). */
  attested: boolean;
  /** The row carries a name or attributes, and the import may update existing contacts. */
  profileUpdate: boolean;
  sendActivation: boolean;
}

export interface SubscriptionChange { listId: string; from: SubStatus | null; to: 'unconfirmed' | 'subscribed' }

/** A suppression an opt-out adds (see consent/suppressions.ts). */
export interface OptOutSuppression { scope: 'all' | 'marketing'; reason: 'hard_bounce' | 'blocklisted' }

export type RowPlan =
  | { kind: 'skip'; reason: SkipReason; message: string }
  | {
    /** The source's opt-out, applied: counted as skipped (reason) and as optedOut. */
    kind: 'optout'; reason: SkipReason; message: string;
    /** 'create': a new pending contact holds the unsubscribed lists (source `unsubscribed` only). */
    contact: 'create' | 'keep' | 'none';
    /** Target lists set to unsubscribed, with their status before. */
    unsubscribe: { listId: string; from: SubStatus | null }[];
    suppress: OptOutSuppression | null;
  }
  | {
    kind: 'import';
    contact: 'create' | 'update' | 'keep';
    /** Make a pending contact active (attested consent). */
    activate: boolean;
    changes: SubscriptionChange[];
    /** Lists left alone because the contact unsubscribed from them. */
    keptUnsubscribed: string[];
    outcome: 'subscribed' | 'unconfirmed' | 'unchanged';
    /** The lists an activation mail confirms (empty: no mail). */
    activationLists: string[];
  };

/** The skip reason of a suppression reason (suppressions.reason: hard_bounce, soft_bounces, complaint, erased, manual…). */
export function skipReasonOf(reason: string): SkipReason {
  if (reason === 'erased') return 'erased';
  // A manual suppression may name its reason in the report's own words (complained, bounced, unsubscribed).
  if (reason === 'complaint' || reason === 'complained') return 'complained';
  if (reason === 'hard_bounce' || reason === 'soft_bounces' || reason === 'bounce' || reason === 'bounced') return 'bounced';
  if (reason === 'unsubscribed') return 'unsubscribed';
  return 'suppressed';
}

const SKIP_ORDER: readonly SkipReason[] = ['erased', 'complained', 'bounced', 'unsubscribed', 'suppressed'];

/** Why this row must not be imported at all, or null. */
export function skipOf(f: Pick<RowFacts, 'existing' | 'suppressionReasons' | 'sourceStatus'>): { reason: SkipReason; message: string } | null {
  if (f.suppressionReasons.length) {
    const reasons = f.suppressionReasons.map(skipReasonOf);
    const reason = SKIP_ORDER.find((r) => reasons.includes(r)) ?? 'suppressed';
    return { reason, message: `the address is suppressed (${[...new Set(f.suppressionReasons)].join(', ')}); it is never re-subscribed` };
  }
  if (f.existing?.status === 'suppressed') return { reason: 'bounced', message: 'the contact is suppressed (hard bounce); it is never re-subscribed' };
  if (f.existing?.status === 'erased') return { reason: 'erased', message: 'the contact was erased' };
  return null;
}

/** The source's opt-out applied (unsubscribed, cleaned, blocklisted), or null for any other row. */
export function optOutOf(f: Pick<RowFacts, 'existing' | 'sourceStatus' | 'lists' | 'current'>): Extract<RowPlan, { kind: 'optout' }> | null {
  const s = f.sourceStatus;
  if (s !== 'unsubscribed' && s !== 'cleaned' && s !== 'blocklisted') return null;
  const unsubscribe = f.lists.map((listId) => ({ listId, from: f.current.get(listId) ?? null }))
    .filter((x) => x.from !== 'unsubscribed' && (f.existing !== null || s === 'unsubscribed'));
  const suppress: OptOutSuppression | null = s === 'cleaned' ? { scope: 'all', reason: 'hard_bounce' }
    : s === 'blocklisted' ? { scope: 'marketing', reason: 'blocklisted' } : null;
  const contact = f.existing ? 'keep' : s === 'unsubscribed' ? 'create' : 'none';
  const did = [
    unsubscribe.length ? `unsubscribed from ${unsubscribe.length} list(s)` : '',
    suppress ? `suppressed (${suppress.scope}, ${suppress.reason})` : '',
  ].filter(Boolean).join(' and ');
  const reason: SkipReason = s === 'unsubscribed' ? 'unsubscribed' : s === 'cleaned' ? 'bounced' : 'suppressed';
  return { kind: 'optout', reason, contact, unsubscribe, suppress, message: `the source marks this address ${s}: ${did || 'already unsubscribed'}; it is never re-subscribed` };
}

/** The plan for one row. */
export function planRow(f: RowFacts): RowPlan {
  const skip = skipOf(f);
  if (skip) return { kind: 'skip', ...skip };
  const optOut = optOutOf(f);
  if (optOut) return optOut;
  // The source says the person never completed its double opt-in: no attestation makes that consent.
  const attested = f.attested && f.sourceStatus !== 'pending';
  const target = attested ? 'subscribed' : 'unconfirmed';
  const changes: SubscriptionChange[] = [];
  const keptUnsubscribed: string[] = [];
  const pending: string[] = [];
  for (const listId of f.lists) {
    const now = f.current.get(listId) ?? null;
    if (now === 'unsubscribed') { keptUnsubscribed.push(listId); continue; }
    if (now === 'subscribed') continue;
    if (now !== target) changes.push({ listId, from: now, to: target });
    if (target === 'unconfirmed') pending.push(listId);
  }
  if (f.lists.length > 0 && keptUnsubscribed.length === f.lists.length) {
    return { kind: 'skip', reason: 'unsubscribed', message: 'the contact unsubscribed from every list of this row; it is never re-subscribed' };
  }
  const activate = attested && f.existing?.status === 'pending';
  const contact = !f.existing ? 'create' : (f.profileUpdate || activate ? 'update' : 'keep');
  const outcome = changes.some((c) => c.to === 'subscribed') ? 'subscribed' : pending.length ? 'unconfirmed' : 'unchanged';
  return { kind: 'import', contact, activate, changes, keptUnsubscribed, outcome, activationLists: f.sendActivation ? pending : [] };
}
