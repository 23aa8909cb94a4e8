// The pure decision per imported row: skips and their reasons, attested vs unconfirmed, never
// re-subscribing, never downgrading, activation only for what stays unconfirmed.
import { describe, expect, it } from 'vitest';
import { planRow, skipReasonOf, type RowFacts } from '../../src/audience/import-rules.js';

const A = 'list-a';
const B = 'list-b';
const facts = (over: Partial<RowFacts> = {}): RowFacts => ({
  existing: null, suppressionReasons: [], lists: [A], current: new Map(), sourceStatus: null,
  attested: false, profileUpdate: false, sendActivation: false, ...over,
});

describe('planRow', () => {
  it('creates an unconfirmed subscription without attested consent, and asks for activation when requested', () => {
    expect(planRow(facts({ sendActivation: true }))).toEqual({
      kind: 'import', contact: 'create', activate: false, changes: [{ listId: A, from: null, to: 'unconfirmed' }],
      keptUnsubscribed: [], outcome: 'unconfirmed', activationLists: [A],
    });
  });

  it('subscribes with attested consent, activating a pending contact, and sends no activation', () => {
    const plan = planRow(facts({ attested: true, sendActivation: true, existing: { id: 'c', status: 'pending' }, current: new Map([[A, 'unconfirmed']]) }));
    expect(plan).toMatchObject({ kind: 'import', contact: 'update', activate: true, changes: [{ listId: A, from: 'unconfirmed', to: 'subscribed' }], outcome: 'subscribed', activationLists: [] });
  });

  it('never downgrades a subscribed list and never touches an unsubscribed one', () => {
    const plan = planRow(facts({ lists: [A, B], existing: { id: 'c', status: 'active' }, current: new Map([[A, 'subscribed'], [B, 'unsubscribed']]) }));
    expect(plan).toMatchObject({ kind: 'import', contact: 'keep', changes: [], keptUnsubscribed: [B], outcome: 'unchanged' });
  });

  it('skips a row whose every list the contact unsubscribed from', () => {
    expect(planRow(facts({ attested: true, existing: { id: 'c', status: 'active' }, current: new Map([[A, 'unsubscribed']]) })))
      .toMatchObject({ kind: 'skip', reason: 'unsubscribed' });
  });

  it.each([
    [['complaint'], 'complained'], [['hard_bounce'], 'bounced'], [['soft_bounces'], 'bounced'], [['erased'], 'erased'],
    [['manual'], 'suppressed'], [['manual', 'complaint'], 'complained'], [['complained'], 'complained'], [['bounced'], 'bounced'], [['complaint', 'erased'], 'erased'],
  ] as const)('skips an address suppressed for %j as %s', (reasons, reason) => {
    expect(planRow(facts({ attested: true, suppressionReasons: reasons }))).toMatchObject({ kind: 'skip', reason });
  });

  it.each([
    ['unsubscribed', 'unsubscribed', 'create', [{ listId: A, from: null }], null],
    ['cleaned', 'bounced', 'none', [], { scope: 'all', reason: 'hard_bounce' }],
    ['blocklisted', 'suppressed', 'none', [], { scope: 'marketing', reason: 'blocklisted' }],
  ] as const)('applies a new address\'s source opt-out %s (reason %s)', (sourceStatus, reason, contact, unsubscribe, suppress) => {
    expect(planRow(facts({ attested: true, sourceStatus }))).toEqual(expect.objectContaining({ kind: 'optout', reason, contact, unsubscribe, suppress }));
  });

  it.each(['unsubscribed', 'cleaned', 'blocklisted'] as const)('unsubscribes an existing contact\'s target lists when the source marks it %s', (sourceStatus) => {
    const plan = planRow(facts({ attested: true, sourceStatus, lists: [A, B], existing: { id: 'c', status: 'active' }, current: new Map([[A, 'subscribed'], [B, 'unsubscribed']]) }));
    expect(plan).toMatchObject({ kind: 'optout', contact: 'keep', unsubscribe: [{ listId: A, from: 'subscribed' }] });
  });

  it('keeps a row the source marks pending unconfirmed, even with an attestation', () => {
    expect(planRow(facts({ attested: true, sourceStatus: 'pending', existing: { id: 'c', status: 'pending' }, sendActivation: true })))
      .toMatchObject({ kind: 'import', activate: false, changes: [{ listId: A, from: null, to: 'unconfirmed' }], outcome: 'unconfirmed', activationLists: [A] });
  });

  it('skips a suppressed contact even without a suppression row', () => {
    expect(planRow(facts({ attested: true, existing: { id: 'c', status: 'suppressed' } }))).toMatchObject({ kind: 'skip', reason: 'bounced' });
  });

  it('updates an existing contact only when a profile update is asked', () => {
    const existing = { id: 'c', status: 'active' as const };
    expect(planRow(facts({ existing, current: new Map([[A, 'subscribed']]) }))).toMatchObject({ contact: 'keep' });
    expect(planRow(facts({ existing, current: new Map([[A, 'subscribed']]), profileUpdate: true }))).toMatchObject({ contact: 'update' });
  });

  it('maps unknown suppression reasons to suppressed', () => {
    expect(skipReasonOf('something_new')).toBe('suppressed');
  });
});
