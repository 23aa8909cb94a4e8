// The consent state machine: every (state, action) pair of subscriptions and contacts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isInvalid, nextContact, nextSubscription, type ContactEvent, type ContactStatus, type SubscriptionAction,
  type SubscriptionStatus,
} from '../../src/consent/state.js';

const INVALID = { error: 'invalid_transition' };
const to = <S>(status: S, changed: boolean) => ({ status, changed });

describe('nextSubscription', () => {
  const table: Array<[SubscriptionStatus | null, SubscriptionAction, ReturnType<typeof to<SubscriptionStatus>> | typeof INVALID]> = [
    [null, 'opt_in', to('unconfirmed', true)],
    ['unsubscribed', 'opt_in', to('unconfirmed', true)],
    ['unconfirmed', 'opt_in', to('unconfirmed', false)],
    ['subscribed', 'opt_in', to('subscribed', false)],
    [null, 'confirm', INVALID],
    ['unsubscribed', 'confirm', INVALID],
    ['unconfirmed', 'confirm', to('subscribed', true)],
    ['subscribed', 'confirm', to('subscribed', false)],
    [null, 'opt_out', to('unsubscribed', true)],
    ['unconfirmed', 'opt_out', to('unsubscribed', true)],
    ['subscribed', 'opt_out', to('unsubscribed', true)],
    ['unsubscribed', 'opt_out', to('unsubscribed', false)],
  ];
  for (const [from, action, want] of table) {
    it.each([true, false])(`${from} --${action}--> ${JSON.stringify(want)} (contactActive %s)`, (active) => {
      expect(nextSubscription(from, action, active)).toEqual(want);
    });
  }

  it('always needs a fresh confirmation, even for an active contact', () => {
    expect(nextSubscription('unsubscribed', 'opt_in', true)).toEqual(to('unconfirmed', true));
  });

  it('rejects unknown actions', () => {
    expect(nextSubscription('subscribed', 'resubscribe' as SubscriptionAction, true)).toEqual(INVALID);
  });

  it('never reaches subscribed without a confirm (property)', () => {
    const action = fc.constantFrom<SubscriptionAction>('opt_in', 'confirm', 'opt_out');
    fc.assert(fc.property(fc.array(action, { maxLength: 20 }), fc.boolean(), (actions, active) => {
      let s: SubscriptionStatus | null = null;
      let last: SubscriptionAction | null = null;
      for (const a of actions) {
        const r = nextSubscription(s, a, active);
        if (isInvalid(r)) continue;
        if (r.status === 'subscribed' && s !== 'subscribed') expect(a).toBe('confirm');
        expect(r.changed).toBe(r.status !== s);
        s = r.status;
        last = a;
      }
      if (last === 'opt_out') expect(s).toBe('unsubscribed');
    }));
  });
});

describe('nextContact', () => {
  const table: Array<[ContactStatus, ContactEvent, ReturnType<typeof to<ContactStatus>> | typeof INVALID]> = [
    ['pending', 'verify', to('active', true)],
    ['active', 'verify', to('active', false)],
    ['suppressed', 'verify', INVALID],
    ['erased', 'verify', INVALID],
    ['pending', 'hard_bounce', to('suppressed', true)],
    ['active', 'hard_bounce', to('suppressed', true)],
    ['suppressed', 'hard_bounce', to('suppressed', false)],
    ['erased', 'hard_bounce', INVALID],
    ['pending', 'unsuppress', INVALID],
    ['active', 'unsuppress', INVALID],
    ['suppressed', 'unsuppress', to('active', true)],
    ['erased', 'unsuppress', INVALID],
  ];
  it.each(table)('%s --%s--> %j', (from, event, want) => {
    expect(nextContact(from, event)).toEqual(want);
  });

  it('erasure is final: no event leaves erased (property)', () => {
    const event = fc.constantFrom<ContactEvent>('verify', 'hard_bounce', 'unsuppress');
    fc.assert(fc.property(event, (e) => { expect(isInvalid(nextContact('erased', e))).toBe(true); }));
  });

  it('never reaches erased (erasure is data-rights/erase.ts, not an event) (property)', () => {
    const event = fc.constantFrom<ContactEvent>('verify', 'hard_bounce', 'unsuppress');
    fc.assert(fc.property(fc.array(event, { maxLength: 20 }), (events) => {
      let s: ContactStatus = 'pending';
      for (const e of events) {
        const r = nextContact(s, e);
        if (!isInvalid(r)) s = r.status;
        expect(s).not.toBe('erased');
      }
    }));
  });
});
