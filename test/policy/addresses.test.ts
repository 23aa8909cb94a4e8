// Strict address parsing, IDNA, reserved domains, no-reply detection and header safety.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressLookalike, assertHeaderSafe, displayNameProblem, hasBidiControl, hasFormatCharacter, stripFormatCharacters, hasEncodedWord, hasHeaderInjection, HeaderInjectionError, isReplyToAcceptable, parseAddress,
  stripBidiControls, type AddressError,
} from '../../src/policy/addresses.js';

describe('parseAddress: accepted and normalised', () => {
  it.each([
    ['ann@example.com', 'ann@example.com', 'ann@example.com'],
    ['  Ann.Lee@Example.COM  ', 'Ann.Lee@example.com', 'ann.lee@example.com'],
    ['ann+news@mail.co.uk', 'ann+news@mail.co.uk', 'ann+news@mail.co.uk'],
    ["o'brien!#$%&*/=?^_`{|}~-x@shop.de", "o'brien!#$%&*/=?^_`{|}~-x@shop.de", "o'brien!#$%&*/=?^_`{|}~-x@shop.de"],
    ['kunde@Bücher.DE', 'kunde@xn--bcher-kva.de', 'kunde@xn--bcher-kva.de'],
    ['a@xn--bcher-kva.de', 'a@xn--bcher-kva.de', 'a@xn--bcher-kva.de'],
    ['a@shop.xn--p1ai', 'a@shop.xn--p1ai', 'a@shop.xn--p1ai'],
    ['a@sub-domain.a1.io', 'a@sub-domain.a1.io', 'a@sub-domain.a1.io'],
    ['user@ＥＸＡＭＰＬＥ.com', 'user@example.com', 'user@example.com'],
    ['\tann@example.com\t', 'ann@example.com', 'ann@example.com'],
  ])('%j → %s', (input, address, key) => {
    const r = parseAddress(input);
    expect(r).toEqual({ ok: true, value: { local: address.split('@')[0], domain: address.split('@')[1], address, key } });
  });

  it('accepts reserved domains (tests and local sinks use them)', () => {
    for (const a of ['x@example.com', 'x@mail.example.org', 'x@host.test', 'x@box.localhost', 'x@printer.local', 'x@a.invalid', 'x@foo.example']) {
      expect(parseAddress(a).ok, a).toBe(true);
    }
  });

  it('accepts the length limits exactly', () => {
    const local = 'a'.repeat(64);
    expect(parseAddress(`${local}@example.com`).ok).toBe(true);
    const label = 'b'.repeat(63);
    const domain = `${label}.${label}.${label}.${'c'.repeat(57)}.com`; // 253 chars
    expect(domain.length).toBe(253);
    expect(parseAddress(`a@${domain}`).ok).toBe(false); // 255 in total
    const d2 = `${label}.${label}.${label}.${'c'.repeat(55)}.com`; // 251: a@ + 251 = 253
    expect(parseAddress(`a@${d2}`).ok).toBe(true);
    expect(parseAddress(`ab@${d2}`).ok).toBe(true); // 254
    expect(parseAddress(`abc@${d2}`)).toEqual({ ok: false, error: 'too_long' }); // 255
  });
});

describe('parseAddress: rejected', () => {
  const cases: Array<[unknown, AddressError]> = [
    [undefined, 'empty'], [null, 'empty'], ['', 'empty'], ['   ', 'empty'],
    [42, 'malformed'], [{}, 'malformed'], [['a@b.com'], 'malformed'],
    ['ann@example.com\r\nBcc: all@example.com', 'header_injection'],
    ['ann@example.com\n', 'header_injection'],
    ['ann\u0000@example.com', 'header_injection'],
    ['ann\u007f@example.com', 'header_injection'],
    ['ann\u2028@example.com', 'header_injection'],
    [`${'a'.repeat(65)}@example.com`, 'too_long'],
    [`a@${'b'.repeat(250)}.com`, 'too_long'],
    ['annexample.com', 'malformed'], ['a@b@example.com', 'malformed'], ['@example.com', 'malformed'],
    ['ann@', 'malformed'], ['.ann@example.com', 'malformed'], ['ann.@example.com', 'malformed'],
    ['an..n@example.com', 'malformed'], ['"ann lee"@example.com', 'malformed'], ['"a@b"@example.com', 'malformed'],
    ['ann lee@example.com', 'malformed'], ['ann(comment)@example.com', 'malformed'], ['Ann <ann@example.com>', 'malformed'],
    ['jörg@example.com', 'malformed'], ['ann\t@example.com', 'malformed'],
    ['ann@localhost', 'bad_domain'], ['ann@com', 'bad_domain'], ['ann@[127.0.0.1]', 'bad_domain'],
    ['ann@[IPv6:::1]', 'bad_domain'], ['ann@127.0.0.1', 'bad_domain'], ['ann@1.2.3.4.5', 'bad_domain'],
    ['ann@example..com', 'bad_domain'], ['ann@.example.com', 'bad_domain'], ['ann@example.com.', 'bad_domain'],
    ['ann@-example.com', 'bad_domain'], ['ann@example-.com', 'bad_domain'], ['ann@exa_mple.com', 'bad_domain'],
    ['ann@exa mple.com', 'bad_domain'], ['ann@example.c0m', 'bad_domain'], ['ann@example.123', 'bad_domain'],
    ['ann@example.c', 'bad_domain'], [`ann@${'a'.repeat(64)}.com`, 'bad_domain'], ['ann@exa%mple.com', 'bad_domain'],
  ];
  it.each(cases)('%j → %s', (input, error) => {
    expect(parseAddress(input)).toEqual({ ok: false, error });
  });

  it('never throws and only ever returns a well-formed result (property)', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.emailAddress(), fc.anything()), (input) => {
      const r = parseAddress(input);
      if (!r.ok) return;
      expect(r.value.address.length).toBeLessThanOrEqual(254);
      expect(r.value.local.length).toBeLessThanOrEqual(64);
      expect(r.value.key).toBe(r.value.address.toLowerCase());
      expect(hasHeaderInjection(r.value.address)).toBe(false);
      expect(parseAddress(r.value.address)).toEqual(r); // normalisation is idempotent
    }), { numRuns: 2000 });
  });

  it('accepts what fast-check calls an email address when it fits the strict subset (property)', () => {
    fc.assert(fc.property(fc.emailAddress(), (a) => {
      const r = parseAddress(a);
      const [local] = a.split('@');
      if (r.ok) expect(r.value.local).toBe(local);
      else expect(['too_long', 'bad_domain', 'malformed']).toContain(r.error);
    }), { numRuns: 500 });
  });

  it('handles huge input quickly', () => {
    const t = Date.now();
    expect(parseAddress(`${'a.'.repeat(500_000)}@example.com`)).toEqual({ ok: false, error: 'too_long' });
    expect(parseAddress(`${'a'.repeat(60)}${'.a'.repeat(2)}!@${'b-'.repeat(100)}`).ok).toBe(false);
    expect(Date.now() - t).toBeLessThan(500);
  });
});

describe('isReplyToAcceptable', () => {
  it.each([
    ['support@acme.io'], ['Help.Desk@shop.de'], ['replies+tag@acme.io'], ['reply@acme.io'], ['noreplyx@acme.io'], ['mynoreply@acme.io'],
  ])('accepts %s', (a) => {
    expect(isReplyToAcceptable(a).ok).toBe(true);
  });

  it.each([
    ['noreply@acme.io'], ['NoReply@acme.io'], ['no-reply@acme.io'], ['no_reply@acme.io'], ['donotreply@acme.io'],
    ['do-not-reply@acme.io'], ['DO-NOT-REPLY@acme.io'], ['noreply+billing@acme.io'], ['no-reply+x@acme.io'], ['do_not_reply@acme.io'],
  ])('rejects no-reply box %s', (a) => {
    expect(isReplyToAcceptable(a)).toEqual({ ok: false, error: 'no_reply' });
  });

  it.each([
    ['a@example.com'], ['a@EXAMPLE.NET'], ['a@example.org'], ['a@mail.example.com'], ['a@foo.example'], ['a@host.test'],
    ['a@x.invalid'], ['a@app.localhost'], ['a@printer.local'], ['noreply@example.com'],
  ])('rejects reserved domain %s', (a) => {
    expect(isReplyToAcceptable(a)).toEqual({ ok: false, error: 'reserved_domain' });
  });

  it('does not treat look-alikes as reserved', () => {
    for (const a of ['a@example.co', 'a@myexample.com', 'a@example.com.au', 'a@testing.io', 'a@local.io']) {
      expect(isReplyToAcceptable(a).ok, a).toBe(true);
    }
  });

  it('passes parse errors through', () => {
    expect(isReplyToAcceptable(null)).toEqual({ ok: false, error: 'empty' });
    expect(isReplyToAcceptable('x@acme.io\r\n')).toEqual({ ok: false, error: 'header_injection' });
    expect(isReplyToAcceptable('x@localhost')).toEqual({ ok: false, error: 'bad_domain' });
  });

  it('normalises like parseAddress', () => {
    expect(isReplyToAcceptable(' Help@Bücher.de ')).toEqual({
      ok: true, value: { local: 'Help', domain: 'xn--bcher-kva.de', address: 'Help@xn--bcher-kva.de', key: 'help@xn--bcher-kva.de' },
    });
  });
});

describe('header safety', () => {
  it.each([['\r'], ['\n'], ['\u0000'], ['\u0001'], ['\u001b'], ['\u007f'], ['\u0085'], ['\u2028'], ['\u2029']])('flags %j', (c) => {
    expect(hasHeaderInjection(`Hello${c}World`)).toBe(true);
  });

  it('allows TAB and ordinary Unicode', () => {
    expect(hasHeaderInjection('Hello\tWorld — Grüße 😀 "quoted" <x>')).toBe(false);
    expect(hasHeaderInjection('')).toBe(false);
  });

  it('assertHeaderSafe throws HeaderInjectionError naming the field', () => {
    expect(() => assertHeaderSafe('subject', 'fine')).not.toThrow();
    let caught: unknown;
    try { assertHeaderSafe('subject', 'Hi\r\nBcc: x@y.z'); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(HeaderInjectionError);
    expect(caught).toBeInstanceOf(Error);
    expect((caught as HeaderInjectionError).field).toBe('subject');
  });
});

describe('encoded-words, bidi controls and display names (RFC 2047, UAX #9, RFC 5322)', () => {
  it.each(['=?utf-8?q?a=0D=0Ab?=', '=?UTF-8?B?YQ0KYg==?=', 'x =?iso-8859-1*en?Q?a?= y', '=?utf-8?q?with space?=', '=??q??='])(
    'finds the encoded-word in %j', (v) => expect(hasEncodedWord(v)).toBe(true));
  it.each(['Acme', 'a=?b', 'What? =)', '=?utf-8?x?a?=', '=?utf-8?q?unterminated', '5 = 2 + 3?'])(
    'finds none in %j', (v) => expect(hasEncodedWord(v)).toBe(false));

  it('is linear on hostile input', () => {
    const t0 = performance.now();
    expect(hasEncodedWord('=?a'.repeat(100_000))).toBe(false);
    expect(hasEncodedWord('=?'.repeat(100_000) + '?q?')).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('finds every explicit bidi formatting character and strips them', () => {
    for (const cp of [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
      const c = String.fromCodePoint(cp);
      expect(hasBidiControl(`a${c}b`)).toBe(true);
      expect(stripBidiControls(`a${c}b${c}`)).toBe('ab');
    }
    expect(hasBidiControl('שלום عربي Zoë')).toBe(false); // RTL text itself is fine
    const plain = 'plain';
    expect(stripBidiControls(plain)).toBe(plain);
  });

  it.each([
    ['Acme News', false, null], ['Smith, John', false, null], ['Bob "The Builder"', false, null], ['semi;colon', false, null],
    ['pat@example.org', false, null], ['pat@example.org', true, 'at_sign'], ['Evil <boss@bank.example>', false, 'angle_bracket'],
    ['a > b', false, 'angle_bracket'], ['=?utf-8?q?A=0D=0Ab?=', false, 'encoded_word'], ['Acme\u202egnp.exe', false, 'bidi_control'],
    ['Acme\r\nBcc: x@y.z', false, 'control'],
  ] as const)('displayNameProblem(%j, sender %s) is %s', (v, sender, problem) => expect(displayNameProblem(v, sender)).toBe(problem));
});

describe('look-alikes and invisible characters in names (UAX #15 NFKC, Unicode Cf, UTS #51)', () => {
  it.each([
    // NFKC look-alikes of '<', '>' and '@'
    ['news\uff20 bank.com', true, 'at_sign'], ['news\ufe6b bank.com', true, 'at_sign'], ['Bob \uff1cceo@bank.com\uff1e', false, 'angle_bracket'],
    ['Bob \ufe64ceo\ufe65', false, 'angle_bracket'], ['Bob \u2039ceo\u203a', false, 'angle_bracket'], ['Bob \u3008ceo\u3009', false, 'angle_bracket'],
    ['Bob \u27e8ceo\u27e9', false, 'angle_bracket'], ['Bob \u02c2ceo\u02c3', false, 'angle_bracket'],
    ['Bob \uff20 home', false, null], // a contact name may hold '@' (it is quoted); only a sender name may not
    // format characters: zero-width, tags, BOM, soft hyphen
    ['pay\u200bpal', false, 'format_character'], ['pay\u200dpal', false, 'format_character'], ['pay\u200cpal', false, 'format_character'],
    ['Acme\u2060', false, 'format_character'], ['\ufeffAcme', false, 'format_character'], ['Ac\u00adme', false, 'format_character'],
    ['Acme\u{E0041}\u{E0042}', false, 'format_character'], ['Acme \u{E0001}', true, 'format_character'], ['\u200b', false, 'format_character'],
    ['Acme\u180e', false, 'format_character'],
    // kept: emoji ZWJ and tag sequences, joiners inside scripts that use them, full-width letters
    ['Dev team \u{1F469}\u200d\u{1F4BB}', true, null], ['Family \u{1F468}\u200d\u{1F469}\u200d\u{1F467}', true, null],
    ['Fans \u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}', true, null],
    ['\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645', true, null], ['\u0915\u094d\u200d\u0937', true, null],
    ['\uff21\uff43\uff4d\uff45', true, null], ['Caf\u00e9 Zo\u00eb', true, null],
  ] as const)('displayNameProblem(%j, sender %s) is %s', (v, sender, problem) => expect(displayNameProblem(v, sender)).toBe(problem));

  it('addressLookalike names the character imitated, never an ASCII one', () => {
    expect(addressLookalike('a \uff1c b')).toBe('<>');
    expect(addressLookalike('a \uff20 b')).toBeNull();
    expect(addressLookalike('a \uff20 b', true)).toBe('@');
    expect(addressLookalike('a <b@c> \u00e9', true)).toBeNull();
  });

  it('hasFormatCharacter refuses every Cf character outside the kept joins; stripFormatCharacters removes just those', () => {
    const cf = /^\p{Cf}$/u;
    for (let cp = 0; cp < 0xe0080; cp++) {
      if (cp === 0x10000) cp = 0xe0000;
      const c = String.fromCodePoint(cp);
      if (!cf.test(c)) continue;
      expect(hasFormatCharacter(`Acme${c}News`), cp.toString(16)).toBe(true);
      expect(stripFormatCharacters(`Acme${c}News${c}`)).toBe('AcmeNews');
    }
    const emoji = 'Hi \u{1F469}\u200d\u{1F4BB} and \u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}';
    expect(hasFormatCharacter(emoji)).toBe(false);
    expect(stripFormatCharacters(`${emoji}\u200b`)).toBe(emoji);
    expect(stripFormatCharacters('plain')).toBe('plain');
  });
});
