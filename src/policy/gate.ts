// The compliance gate (PURE): one function, called at send time for every message of every kind,
// that says yes or names the one reason it said no. The caller gathers the facts; decide() judges.
//
// Checks run in this fixed order; the first failing one is the reason (most specific first:
// the recipient's own state, then the tenant's set-up, then the rendered content):
//   1. no_association     a contact is required and there is none        (all kinds but test)
//   2. contact_erased     the contact was erased                          (all kinds but test)
//   3. bad_recipient      the recipient address does not parse            (all kinds)
//   4. no_association     the recipient is not the contact's address      (all kinds but test, verification)
//      not_test_address   the recipient is not one of the tenant's test addresses   (test, verification)
//      test_address_unverified  the test address has not confirmed its link yet    (test)
//   5. suppressed         suppression list (hard bounce) or contact status suppressed
//                         (test, verification: the suppression list only; no contact)
//   6. complained         suppression list, marketing (complaint; also erasure and manual 'marketing')
//                                                                          (marketing, test, verification)
//   7. not_active         contact still pending                            (marketing)
//   8. unsubscribed / not_subscribed  best subscription across the lists  (marketing)
//   9. no_reply_to        reply-to missing, unparseable, on a reserved domain or a no-reply box
//  10. bad_from           From missing, unparseable or not the tenant's from address
//  11. unverified_domain  the From domain is not verified for the tenant, or the envelope (its
//                         bounce domain) is neither the operator's BOUNCE_DOMAIN nor covered by one
//  12. no_postal_address  the tenant has no postal address               (marketing, test)
//  13. no_unsubscribe_link, 14. no_list_unsubscribe_header                (marketing, test)
// 13–14 come last on purpose: the sender runs decide() once before rendering (content unknown) and
// ignores exactly these two reasons there, so every other refusal is found before rendering.
import { isReplyToAcceptable, parseAddress } from './addresses.js';
import { sendingDomainsOk, type SendingDomains } from './domains.js';
import type { ContactStatus, SubscriptionStatus } from '../consent/state.js';
import type { MessageKind } from './kinds.js';
export type GateReason = 'no_association' | 'contact_erased' | 'suppressed' | 'not_active' | 'not_subscribed' | 'unsubscribed' | 'no_reply_to' | 'bad_from' | 'no_postal_address' | 'no_unsubscribe_link' | 'no_list_unsubscribe_header' | 'complained' | 'bad_recipient' | 'not_test_address' | 'unverified_domain'
  | 'test_address_unverified';

export interface GateFacts {
  kind: MessageKind;
  recipient: string;                 // the address it would go to
  contact: null | { status: ContactStatus; email: string };
  suppressed: { all: boolean; marketing: boolean }; // from the suppression list (hard bounce → all; complaint → marketing)
  subscription: null | SubscriptionStatus; // best status across the campaign's lists (marketing only)
  replyTo: string | null;
  fromAddress: string | null; tenantFromAddress: string;
  domains: SendingDomains;           // the tenant's verified domains and the envelope domain (null: the operator's)
  postalAddress: string | null;      // tenant's (marketing requires it)
  hasUnsubscribeLink: boolean; hasListUnsubscribeHeaders: boolean; // marketing only
  isTestAddress?: boolean;           // kinds 'test', 'verification': one of the tenant's own test addresses (any state)
  testAddressVerified?: boolean;     // kind 'test': that test address confirmed its verification link
}

export type GateDecision = { allow: true } | { allow: false; reason: GateReason };

type Check = (f: GateFacts) => GateReason | null;

/** Lower-cased normalised form for comparison; the trimmed lower-case text when it does not parse. */
function addressKey(value: string | null | undefined): string {
  if (!value) return '';
  const r = parseAddress(value);
  return r.ok ? r.value.key : value.trim().toLowerCase();
}

const hasContact: Check = (f) => (f.contact === null ? 'no_association' : null);
const notErased: Check = (f) => (f.contact?.status === 'erased' ? 'contact_erased' : null);
const recipientParses: Check = (f) => (parseAddress(f.recipient).ok ? null : 'bad_recipient');
const recipientIsContact: Check = (f) =>
  (f.contact && addressKey(f.contact.email) === addressKey(f.recipient) ? null : 'no_association');
const isTestAddress: Check = (f) => (f.isTestAddress === true ? null : 'not_test_address');
const isVerifiedTestAddress: Check = (f) => (f.testAddressVerified === true ? null : 'test_address_unverified');
const notSuppressed: Check = (f) => (f.suppressed.all || f.contact?.status === 'suppressed' ? 'suppressed' : null);
const notOnSuppressionList: Check = (f) => (f.suppressed.all ? 'suppressed' : null);
const notComplained: Check = (f) => (f.suppressed.marketing ? 'complained' : null);
const isActive: Check = (f) => (f.contact?.status === 'active' ? null : 'not_active');
const isSubscribed: Check = (f) => {
  if (f.subscription === 'subscribed') return null;
  return f.subscription === 'unsubscribed' ? 'unsubscribed' : 'not_subscribed';
};
const replyToOk: Check = (f) => (isReplyToAcceptable(f.replyTo).ok ? null : 'no_reply_to');
const fromOk: Check = (f) => {
  const from = parseAddress(f.fromAddress);
  const tenant = parseAddress(f.tenantFromAddress);
  return from.ok && tenant.ok && from.value.key === tenant.value.key ? null : 'bad_from';
};
const domainsVerified: Check = (f) => (sendingDomainsOk(f.fromAddress, f.domains) ? null : 'unverified_domain');
const hasPostalAddress: Check = (f) => (f.postalAddress?.trim() ? null : 'no_postal_address');
const hasUnsubscribeLink: Check = (f) => (f.hasUnsubscribeLink ? null : 'no_unsubscribe_link');
const hasListUnsubscribe: Check = (f) => (f.hasListUnsubscribeHeaders ? null : 'no_list_unsubscribe_header');

const SENDER: Check[] = [replyToOk, fromOk, domainsVerified];
const BULK_CONTENT: Check[] = [hasPostalAddress, hasUnsubscribeLink, hasListUnsubscribe];

/** activation and the necessary kinds: a live association with the contact; consent is irrelevant. */
const NECESSARY: Check[] = [hasContact, notErased, recipientParses, recipientIsContact, notSuppressed, ...SENDER];
const MARKETING: Check[] = [
  hasContact, notErased, recipientParses, recipientIsContact, notSuppressed, notComplained, isActive, isSubscribed,
  ...SENDER, ...BULK_CONTENT,
];
/** Test sends: only to a verified test address that no suppression of any scope names (no contact needed). */
const TEST: Check[] = [recipientParses, isTestAddress, isVerifiedTestAddress, notOnSuppressionList, notComplained, ...SENDER, ...BULK_CONTENT];
/** The mail asking a (pending) test address to confirm: necessary, no marketing content, never to a suppressed address. */
const VERIFICATION: Check[] = [recipientParses, isTestAddress, notOnSuppressionList, notComplained, ...SENDER];

const GATE_CHECKS: Readonly<Record<MessageKind, readonly Check[]>> = {
  activation: NECESSARY, invoice: NECESSARY, account: NECESSARY, technical: NECESSARY, legal: NECESSARY,
  support: NECESSARY, marketing: MARKETING, test: TEST, verification: VERIFICATION,
};

/**
 * The compliance gate: allow, or the first failing reason in the documented order. Fails closed: a
 * kind outside MessageKind (say, a bad database row) is refused as 'bad_recipient'.
 */
export function decide(f: GateFacts): GateDecision {
  const checks = GATE_CHECKS[f.kind] as readonly Check[] | undefined;
  if (!checks) return { allow: false, reason: 'bad_recipient' };
  for (const check of checks) {
    const reason = check(f);
    if (reason !== null) return { allow: false, reason };
  }
  return { allow: true };
}
