// The compliance gate: every reason for every kind, the order in which reasons win, and a property
// test against an independently written oracle over random combinations of facts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, type GateFacts, type GateReason } from '../../src/policy/gate.js';
import type { MessageKind } from '../../src/policy/kinds.js';
import type { SendingDomains } from '../../src/policy/domains.js';

const RECIPIENT = 'ann@example.com';
const NECESSARY: MessageKind[] = ['activation', 'invoice', 'account', 'technical', 'legal', 'support'];
const ALL: MessageKind[] = [...NECESSARY, 'marketing', 'test', 'verification'];
/** Kinds without a contact: they go to one of the tenant's test addresses. */
const TEST_ADDRESSED: MessageKind[] = ['test', 'verification'];

/** The tenant's verified domains: acme.io, envelope on the operator's bounce domain. */
const VERIFIED: SendingDomains = { verified: ['acme.io'], envelope: null };

/** Facts that pass the gate for the given kind. */
function ok(kind: MessageKind): GateFacts {
  return {
    kind, recipient: RECIPIENT,
    contact: TEST_ADDRESSED.includes(kind) ? null : { status: 'active', email: RECIPIENT },
    suppressed: { all: false, marketing: false },
    subscription: kind === 'marketing' ? 'subscribed' : null,
    replyTo: 'support@acme.io', fromAddress: 'news@acme.io', tenantFromAddress: 'news@acme.io',
    domains: VERIFIED,
    postalAddress: 'Acme GmbH, Hauptstr. 1, 10115 Berlin',
    hasUnsubscribeLink: kind === 'marketing' || kind === 'test',
    hasListUnsubscribeHeaders: kind === 'marketing' || kind === 'test',
    isTestAddress: TEST_ADDRESSED.includes(kind),
    testAddressVerified: kind === 'test',
  };
}

const refuse = (reason: GateReason) => ({ allow: false, reason });
type Override = Partial<GateFacts>;
const contact = (status: 'pending' | 'active' | 'suppressed' | 'erased', email = RECIPIENT): Override => ({ contact: { status, email } });

describe('decide: allowed', () => {
  it.each(ALL)('%s with complete facts', (kind) => {
    expect(decide(ok(kind))).toEqual({ allow: true });
  });

  const allowed: Array<[MessageKind[], string, Override]> = [
    [NECESSARY, 'pending contact', contact('pending')],
    [NECESSARY, 'any subscription status', { subscription: 'unsubscribed' }],
    [NECESSARY, 'complaint (marketing-only suppression)', { suppressed: { all: false, marketing: true } }],
    [NECESSARY, 'no postal address', { postalAddress: null }],
    [NECESSARY, 'no unsubscribe link or header', { hasUnsubscribeLink: false, hasListUnsubscribeHeaders: false }],
    [ALL, 'From differing only in case', { fromAddress: 'News@ACME.io' }],
    [ALL, 'recipient differing in case and spacing', { recipient: ' Ann@EXAMPLE.com ' }],
    [TEST_ADDRESSED, 'a contact that does not match (contact is ignored for tests)', contact('erased', 'other@example.com')],
    [TEST_ADDRESSED, 'no subscription', { subscription: 'unsubscribed' }],
    [['verification'], 'a pending test address (the mail asks it to confirm)', { testAddressVerified: false }],
    [['verification'], 'no postal address, unsubscribe link or header (no marketing content)', { postalAddress: null, hasUnsubscribeLink: false, hasListUnsubscribeHeaders: false }],
    [['marketing'], 'IDNA recipient matching its Unicode contact address', { recipient: 'a@xn--bcher-kva.de', contact: { status: 'active', email: 'a@Bücher.de' } }],
  ];
  for (const [kinds, name, override] of allowed) {
    it.each(kinds)(`%s: ${name}`, (kind) => {
      expect(decide({ ...ok(kind), ...override })).toEqual({ allow: true });
    });
  }
});

describe('decide: each reason on its own', () => {
  const table: Array<[MessageKind[], Override, GateReason]> = [
    // recipient
    [ALL, { recipient: 'not an address' }, 'bad_recipient'],
    [ALL, { recipient: '' }, 'bad_recipient'],
    [ALL, { recipient: 'ann@example.com\r\nBcc: x@y.z' }, 'bad_recipient'],
    // association and contact state
    [[...NECESSARY, 'marketing'], { contact: null }, 'no_association'],
    [[...NECESSARY, 'marketing'], contact('active', 'someone-else@example.com'), 'no_association'],
    [[...NECESSARY, 'marketing'], contact('erased', ''), 'contact_erased'],
    [[...NECESSARY, 'marketing'], contact('suppressed'), 'suppressed'],
    [ALL, { suppressed: { all: true, marketing: false } }, 'suppressed'],
    [['marketing'], { suppressed: { all: false, marketing: true } }, 'complained'],
    [['marketing'], contact('pending'), 'not_active'],
    [TEST_ADDRESSED, { isTestAddress: false }, 'not_test_address'],
    [TEST_ADDRESSED, { isTestAddress: undefined }, 'not_test_address'],
    [['test'], { testAddressVerified: false }, 'test_address_unverified'],
    [['test'], { testAddressVerified: undefined }, 'test_address_unverified'],
    [TEST_ADDRESSED, { suppressed: { all: false, marketing: true } }, 'complained'],
    // consent
    [['marketing'], { subscription: 'unsubscribed' }, 'unsubscribed'],
    [['marketing'], { subscription: 'unconfirmed' }, 'not_subscribed'],
    [['marketing'], { subscription: null }, 'not_subscribed'],
    // sender set-up
    [ALL, { replyTo: null }, 'no_reply_to'],
    [ALL, { replyTo: '' }, 'no_reply_to'],
    [ALL, { replyTo: 'noreply@acme.io' }, 'no_reply_to'],
    [ALL, { replyTo: 'do-not-reply+x@acme.io' }, 'no_reply_to'],
    [ALL, { replyTo: 'support@example.com' }, 'no_reply_to'],
    [ALL, { replyTo: 'support@acme.io\nBcc: x@y.z' }, 'no_reply_to'],
    [ALL, { fromAddress: null }, 'bad_from'],
    [ALL, { fromAddress: 'other@acme.io' }, 'bad_from'],
    [ALL, { fromAddress: 'news@acme.io.evil.com' }, 'bad_from'],
    [ALL, { fromAddress: 'garbage', tenantFromAddress: 'garbage' }, 'bad_from'],
    [ALL, { domains: { verified: [], envelope: null } }, 'unverified_domain'],
    [ALL, { domains: { verified: ['b-corp.org'], envelope: null } }, 'unverified_domain'],
    [ALL, { domains: { verified: ['mail.acme.io'], envelope: null } }, 'unverified_domain'], // a subdomain does not cover its parent
    [ALL, { domains: { verified: ['acme.io'], envelope: 'bounces.b-corp.org' } }, 'unverified_domain'],
    [ALL, { domains: { verified: ['acme.io'], envelope: 'evilacme.io' } }, 'unverified_domain'],
    [ALL, { domains: undefined as unknown as SendingDomains }, 'unverified_domain'], // missing fact: fails closed
    // bulk content
    [['marketing', 'test'], { postalAddress: null }, 'no_postal_address'],
    [['marketing', 'test'], { postalAddress: '   ' }, 'no_postal_address'],
    [['marketing', 'test'], { hasUnsubscribeLink: false }, 'no_unsubscribe_link'],
    [['marketing', 'test'], { hasListUnsubscribeHeaders: false }, 'no_list_unsubscribe_header'],
  ];
  for (const [kinds, override, reason] of table) {
    it.each(kinds)(`%s: ${JSON.stringify(override)} → ${reason}`, (kind) => {
      expect(decide({ ...ok(kind), ...override })).toEqual(refuse(reason));
    });
  }

  it('allows an envelope on a verified domain or a subdomain of one', () => {
    for (const envelope of ['acme.io', 'bounces.acme.io', 'a.b.acme.io']) {
      expect(decide({ ...ok('invoice'), domains: { verified: ['acme.io'], envelope } })).toEqual({ allow: true });
    }
  });

  it('fails closed on an unknown kind', () => {
    expect(decide({ ...ok('invoice'), kind: 'bogus' as MessageKind }).allow).toBe(false);
  });
});

describe('decide: which reason wins', () => {
  const everythingWrong: Override = {
    recipient: 'bad', contact: contact('erased', '').contact, suppressed: { all: true, marketing: true }, subscription: 'unsubscribed',
    replyTo: null, fromAddress: null, postalAddress: null, hasUnsubscribeLink: false, hasListUnsubscribeHeaders: false, isTestAddress: false,
    testAddressVerified: false, domains: { verified: [], envelope: 'bounces.evil.org' },
  };
  // Fix one fact after another, in the documented order; the reason moves on each time.
  const marketingSteps: Array<[Override, GateReason]> = [
    [{}, 'contact_erased'],
    [contact('suppressed'), 'bad_recipient'],
    [{ recipient: 'x@example.com' }, 'no_association'],
    [{ recipient: RECIPIENT }, 'suppressed'],
    [{ suppressed: { all: false, marketing: true } }, 'suppressed'],
    [contact('pending'), 'complained'],
    [{ suppressed: { all: false, marketing: false } }, 'not_active'],
    [contact('active'), 'unsubscribed'],
    [{ subscription: 'unconfirmed' }, 'not_subscribed'],
    [{ subscription: 'subscribed' }, 'no_reply_to'],
    [{ replyTo: 'help@acme.io' }, 'bad_from'],
    [{ fromAddress: 'news@acme.io' }, 'unverified_domain'],
    [{ domains: VERIFIED }, 'no_postal_address'],
    [{ postalAddress: 'Acme, Berlin' }, 'no_unsubscribe_link'],
    [{ hasUnsubscribeLink: true }, 'no_list_unsubscribe_header'],
  ];
  it('marketing', () => {
    let facts: GateFacts = { ...ok('marketing'), ...everythingWrong };
    expect(decide({ ...facts, contact: null })).toEqual(refuse('no_association'));
    for (const [fix, reason] of marketingSteps) {
      facts = { ...facts, ...fix };
      expect(decide(facts), reason).toEqual(refuse(reason));
    }
    expect(decide({ ...facts, hasListUnsubscribeHeaders: true })).toEqual({ allow: true });
  });

  it.each(NECESSARY)('%s', (kind) => {
    let facts: GateFacts = { ...ok(kind), ...everythingWrong };
    const steps: Array<[Override, GateReason]> = [
      [{}, 'contact_erased'], [contact('pending'), 'bad_recipient'], [{ recipient: RECIPIENT }, 'suppressed'],
      [{ suppressed: { all: false, marketing: true } }, 'no_reply_to'], [{ replyTo: 'help@acme.io' }, 'bad_from'],
      [{ fromAddress: 'news@acme.io' }, 'unverified_domain'],
    ];
    for (const [fix, reason] of steps) {
      facts = { ...facts, ...fix };
      expect(decide(facts), reason).toEqual(refuse(reason));
    }
    expect(decide({ ...facts, domains: VERIFIED })).toEqual({ allow: true });
  });

  it('test', () => {
    let facts: GateFacts = { ...ok('test'), ...everythingWrong };
    const steps: Array<[Override, GateReason]> = [
      [{}, 'bad_recipient'], [{ recipient: RECIPIENT }, 'not_test_address'], [{ isTestAddress: true }, 'test_address_unverified'],
      [{ testAddressVerified: true }, 'suppressed'], [{ suppressed: { all: false, marketing: true } }, 'complained'],
      [{ suppressed: { all: false, marketing: false } }, 'no_reply_to'], [{ replyTo: 'help@acme.io' }, 'bad_from'],
      [{ fromAddress: 'news@acme.io' }, 'unverified_domain'], [{ domains: VERIFIED }, 'no_postal_address'], [{ postalAddress: 'Acme' }, 'no_unsubscribe_link'],
      [{ hasUnsubscribeLink: true }, 'no_list_unsubscribe_header'],
    ];
    for (const [fix, reason] of steps) {
      facts = { ...facts, ...fix };
      expect(decide(facts), reason).toEqual(refuse(reason));
    }
    expect(decide({ ...facts, hasListUnsubscribeHeaders: true })).toEqual({ allow: true });
  });

  it('verification', () => {
    let facts: GateFacts = { ...ok('verification'), ...everythingWrong };
    const steps: Array<[Override, GateReason]> = [
      [{}, 'bad_recipient'], [{ recipient: RECIPIENT }, 'not_test_address'], [{ isTestAddress: true }, 'suppressed'],
      [{ suppressed: { all: false, marketing: true } }, 'complained'], [{ suppressed: { all: false, marketing: false } }, 'no_reply_to'],
      [{ replyTo: 'help@acme.io' }, 'bad_from'], [{ fromAddress: 'news@acme.io' }, 'unverified_domain'],
    ];
    for (const [fix, reason] of steps) {
      facts = { ...facts, ...fix };
      expect(decide(facts), reason).toEqual(refuse(reason));
    }
    // Unverified, with no postal address, link or List-Unsubscribe: the verification mail still goes.
    expect(decide({ ...facts, domains: VERIFIED })).toEqual({ allow: true });
  });

  it('content reasons come last, so a pre-render check sees every other refusal', () => {
    const pre = (f: GateFacts): GateFacts => ({ ...f, hasUnsubscribeLink: false, hasListUnsubscribeHeaders: false });
    expect(decide(pre({ ...ok('marketing'), subscription: 'unsubscribed' }))).toEqual(refuse('unsubscribed'));
    expect(decide(pre({ ...ok('marketing'), postalAddress: null }))).toEqual(refuse('no_postal_address'));
    expect(decide(pre(ok('marketing')))).toEqual(refuse('no_unsubscribe_link'));
  });
});

/** The rules of the brief, written out again as a plain if-chain. */
function oracle(f: GateFacts): GateReason | null {
  const key = (s: string | null | undefined) => (s ?? '').trim().toLowerCase();
  const validRecipient = /^[a-z]+@[a-z]+\.[a-z]+$/i.test(f.recipient.trim());
  const c = f.contact;
  if (f.kind === 'test' || f.kind === 'verification') {
    if (!validRecipient) return 'bad_recipient';
    if (!f.isTestAddress) return 'not_test_address';
    if (f.kind === 'test' && !f.testAddressVerified) return 'test_address_unverified';
    if (f.suppressed.all) return 'suppressed';
    if (f.suppressed.marketing) return 'complained';
  } else {
    if (!c) return 'no_association';
    if (c.status === 'erased') return 'contact_erased';
    if (!validRecipient) return 'bad_recipient';
    if (key(c.email) !== key(f.recipient)) return 'no_association';
    if (f.suppressed.all || c.status === 'suppressed') return 'suppressed';
    if (f.kind === 'marketing') {
      if (f.suppressed.marketing) return 'complained';
      if (c.status !== 'active') return 'not_active';
      if (f.subscription === 'unsubscribed') return 'unsubscribed';
      if (f.subscription !== 'subscribed') return 'not_subscribed';
    }
  }
  if (f.replyTo !== 'help@acme.io') return 'no_reply_to';
  if (key(f.fromAddress) !== 'news@acme.io') return 'bad_from';
  const verified = f.domains?.verified ?? [];
  const env = f.domains?.envelope ?? null;
  if (!verified.includes('acme.io')) return 'unverified_domain';
  if (env !== null && !verified.some((d) => env === d || env.endsWith(`.${d}`))) return 'unverified_domain';
  if (f.kind === 'marketing' || f.kind === 'test') {
    if (!f.postalAddress?.trim()) return 'no_postal_address';
    if (!f.hasUnsubscribeLink) return 'no_unsubscribe_link';
    if (!f.hasListUnsubscribeHeaders) return 'no_list_unsubscribe_header';
  }
  return null;
}

describe('decide: property against the oracle', () => {
  const factsArb: fc.Arbitrary<GateFacts> = fc.record({
    kind: fc.constantFrom(...ALL),
    recipient: fc.constantFrom(RECIPIENT, 'ANN@example.com', 'bob@example.com', 'broken', ''),
    contact: fc.option(fc.record({
      status: fc.constantFrom('pending' as const, 'active' as const, 'suppressed' as const, 'erased' as const),
      email: fc.constantFrom(RECIPIENT, 'bob@example.com', ''),
    })),
    suppressed: fc.record({ all: fc.boolean(), marketing: fc.boolean() }),
    subscription: fc.constantFrom(null, 'unconfirmed' as const, 'subscribed' as const, 'unsubscribed' as const),
    replyTo: fc.constantFrom(null, 'help@acme.io', 'noreply@acme.io', 'help@example.com', ''),
    fromAddress: fc.constantFrom(null, 'news@acme.io', 'NEWS@acme.io', 'other@acme.io'),
    tenantFromAddress: fc.constant('news@acme.io'),
    domains: fc.record({
      verified: fc.constantFrom([], ['acme.io'], ['other.io'], ['mail.acme.io'], ['other.io', 'acme.io']),
      envelope: fc.constantFrom(null, 'acme.io', 'bounces.acme.io', 'bounces.other.io', 'xacme.io'),
    }),
    postalAddress: fc.constantFrom(null, '', ' ', 'Acme, Berlin'),
    hasUnsubscribeLink: fc.boolean(),
    hasListUnsubscribeHeaders: fc.boolean(),
    isTestAddress: fc.constantFrom(undefined, true, false),
    testAddressVerified: fc.constantFrom(undefined, true, false),
  });

  it('agrees with the oracle on random facts', () => {
    fc.assert(fc.property(factsArb, (f) => {
      const want = oracle(f);
      expect(decide(f)).toEqual(want === null ? { allow: true } : refuse(want));
    }), { numRuns: 20_000 });
  });
});
