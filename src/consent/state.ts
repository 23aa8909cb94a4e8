// Consent state machine (PURE): which subscription and contact transitions are allowed.
// Callers persist the result and record a consent event whenever `changed` is true.
//
// Subscription (contact × list):
//   opt_in:  null | unsubscribed → unconfirmed; unconfirmed, subscribed → unchanged.
//            A fresh confirmation click is always needed, even for an already active contact.
//   confirm: unconfirmed → subscribed; subscribed → unchanged; null | unsubscribed → invalid
//            (a confirmation only confirms a pending opt-in).
//   opt_out: anything → unsubscribed (unchanged if already). Every opt-out goes through the one
//            action, unsubscribe.ts, which applies this rule to many lists in one UPDATE.
// Contact:
//   verify:      pending → active; active → unchanged; suppressed, erased → invalid
//                (a suppressed address comes back only through unsuppress).
//   hard_bounce: pending, active → suppressed; suppressed → unchanged; erased → invalid.
//   unsuppress:  suppressed → active; anything else → invalid.
// Erasure is not an event here: data-rights/erase.ts sets 'erased' whatever the status, and no event
// leaves 'erased'.

export const CONTACT_STATUSES = ['pending', 'active', 'suppressed', 'erased'] as const;
export const SUBSCRIPTION_STATUSES = ['unconfirmed', 'subscribed', 'unsubscribed'] as const;
export type ContactStatus = (typeof CONTACT_STATUSES)[number];
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export type SubscriptionAction = 'opt_in' | 'confirm' | 'opt_out';
export type ContactEvent = 'verify' | 'hard_bounce' | 'unsuppress';
export type InvalidTransition = { error: 'invalid_transition' };
export type Transition<S> = { status: S; changed: boolean } | InvalidTransition;

const INVALID: InvalidTransition = { error: 'invalid_transition' };

function to<S>(current: S | null, next: S): { status: S; changed: boolean } {
  return { status: next, changed: current !== next };
}

/**
 * The next subscription status. `contactActive` never skips the confirmation step (opt_in always
 * lands on 'unconfirmed' from null/unsubscribed); it is part of the signature for callers' symmetry.
 */
export function nextSubscription(current: SubscriptionStatus | null, action: SubscriptionAction, _contactActive: boolean): Transition<SubscriptionStatus> {
  switch (action) {
    case 'opt_in':
      return current === null || current === 'unsubscribed' ? to(current, 'unconfirmed') : to(current, current);
    case 'confirm':
      return current === 'unconfirmed' || current === 'subscribed' ? to(current, 'subscribed') : INVALID;
    case 'opt_out':
      return to(current, 'unsubscribed');
    default:
      return INVALID;
  }
}

/** The next contact status. */
export function nextContact(current: ContactStatus, event: ContactEvent): Transition<ContactStatus> {
  if (current === 'erased') return INVALID;
  switch (event) {
    case 'verify':
      return current === 'pending' || current === 'active' ? to(current, 'active') : INVALID;
    case 'hard_bounce':
      return to(current, 'suppressed');
    case 'unsuppress':
      return current === 'suppressed' ? to(current, 'active') : INVALID;
    default:
      return INVALID;
  }
}

/** Type guard for the error branch of a transition. */
export function isInvalid<S>(t: Transition<S>): t is InvalidTransition {
  return 'error' in t;
}
