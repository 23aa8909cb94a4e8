// compose.ts: RFC 8058 headers, VERP envelope, Message-ID, header-injection refusal, and an
// end-to-end build through nodemailer's stream transport with a real DKIM signature.
import { generateKeyPairSync } from 'node:crypto';
import nodemailer from 'nodemailer';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { describe, expect, it } from 'vitest';
import { assertComposable, composeMessage, HeaderInjectionError, messageIdHeader, type ComposeInput } from '../../src/mail/compose.js';
import { HeaderInjectionError as PolicyHeaderInjectionError } from '../../src/policy/addresses.js';

const ID = '3f0c6f8e-5b8a-4a52-9d55-0e6f6a0c2b11';

function input(over: Partial<ComposeInput> = {}): ComposeInput {
  return {
    messageId: ID,
    kind: 'marketing',
    from: { name: 'Acme News', address: 'news@acme.example' },
    replyTo: 'hello@acme.example',
    to: { name: 'Ann Example', address: 'ann@example.org' },
    rendered: { subject: 'Spring issue', html: '<p>Hello <a href="https://x/u/tok">unsubscribe</a></p>', text: 'Hello' },
    messageIdDomain: 'acme.example',
    envelopeFrom: 'bounces+AbC123@bounce.pg.example',
    listUnsubscribe: { url: 'https://x/u/tok' },
    feedbackId: 'c1:t1:marketing:postgate',
    listId: 'newsletter.t1.pg.example',
    ...over,
  };
}

const headersOf = (i: ComposeInput): Record<string, unknown> => composeMessage(i).headers as Record<string, unknown>;

/** Header fields of a raw message: lowercase name → unfolded values, in order. */
function parseHeaders(raw: string): Map<string, string[]> {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const out = new Map<string, string[]>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    const key = line.slice(0, colon).toLowerCase();
    out.set(key, [...(out.get(key) ?? []), line.slice(colon + 1).trim()]);
  }
  return out;
}

async function build(i: ComposeInput): Promise<string> {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const info = await transport.sendMail(composeMessage(i));
  return (info.message as Buffer).toString('utf8');
}

describe('composeMessage', () => {
  it('formats the Message-ID as <uuid@domain>', () => {
    expect(messageIdHeader(ID, 'acme.example')).toBe(`<${ID}@acme.example>`);
    expect(composeMessage(input()).messageId).toBe(`<${ID}@acme.example>`);
  });

  it('builds the RFC 8058 one-click headers exactly', () => {
    const h = headersOf(input());
    expect(h['List-Unsubscribe']).toBe('<https://x/u/tok>');
    expect(h['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(headersOf(input({ listUnsubscribe: { url: 'https://x/u/tok', mailto: 'unsub+tok@pg.example' } }))['List-Unsubscribe'])
      .toBe('<https://x/u/tok>, <mailto:unsub+tok@pg.example>');
    const none = headersOf(input({ kind: 'invoice', listUnsubscribe: null, feedbackId: null, listId: null }));
    expect(Object.keys(none).sort()).toEqual(['Auto-Submitted', 'X-Postgate-Message']);
  });

  it('sets the VERP envelope, identities and safety switches', () => {
    const m = composeMessage(input());
    expect(m.envelope).toEqual({ from: 'bounces+AbC123@bounce.pg.example', to: 'ann@example.org' });
    expect(m.from).toEqual({ name: 'Acme News', address: 'news@acme.example' });
    expect(m.to).toEqual({ name: 'Ann Example', address: 'ann@example.org' });
    expect(m.replyTo).toBe('hello@acme.example');
    expect([m.disableFileAccess, m.disableUrlAccess]).toEqual([true, true]);
    expect(m.dkim).toBeUndefined();
    const h = headersOf(input());
    expect(h).toMatchObject({ 'Feedback-ID': 'c1:t1:marketing:postgate', 'List-Id': '<newsletter.t1.pg.example>', 'X-Postgate-Message': ID });
  });

  it('marks transactional kinds Auto-Submitted, never marketing or test', () => {
    for (const kind of ['activation', 'invoice', 'account', 'technical', 'legal', 'support', 'verification'] as const) {
      expect(headersOf(input({ kind }))['Auto-Submitted']).toBe('auto-generated');
    }
    expect(headersOf(input({ kind: 'marketing' }))['Auto-Submitted']).toBeUndefined();
    expect(headersOf(input({ kind: 'test' }))['Auto-Submitted']).toBeUndefined();
  });

  it('passes extra headers but never lets them override managed ones', () => {
    expect(headersOf(input({ extraHeaders: { 'X-Campaign': 'spring' } }))['X-Campaign']).toBe('spring');
    expect(() => composeMessage(input({ extraHeaders: { 'list-unsubscribe': '<https://evil>' } })))
      .toThrow(expect.objectContaining({ name: 'HeaderInjectionError', field: 'extraHeaders.list-unsubscribe' }));
    expect(() => composeMessage(input({ extraHeaders: { 'X-Bad Name': 'v' } })))
      .toThrow(expect.objectContaining({ field: 'extraHeaders.X-Bad Name' }));
  });
});

describe('assertComposable', () => {
  const cases: Array<[string, Partial<ComposeInput>]> = [
    ['subject', { rendered: { subject: 'Hi\r\nBcc: victim@example.com', html: '', text: '' } }],
    ['from.name', { from: { name: 'Acme\nBcc: x@y', address: 'news@acme.example' } }],
    ['to.name', { to: { name: 'Ann\r', address: 'ann@example.org' } }],
    ['to.address', { to: { address: 'ann@example.org\nRCPT TO:<x@y>' } }],
    ['replyTo', { replyTo: 'a@b\0' }],
    ['feedbackId', { feedbackId: 'a\nb' }],
    ['listId', { listId: 'a\rb' }],
    ['extraHeaders.X-Ok', { extraHeaders: { 'X-Ok': 'v\r\nX-Evil: 1' } }],
    ['listUnsubscribe.url', { listUnsubscribe: { url: 'https://x/u>, <https://evil/' } }],
    ['messageId', { messageId: `${ID}>\r\nX: y` }],
    ['envelopeFrom', { envelopeFrom: 'bounces+x@b.example> NOTIFY=NEVER' }],
  ];
  it.each(cases)('rejects CR/LF/NUL or bracket breaking in %s', (field, over) => {
    expect(() => assertComposable(input(over))).toThrow(expect.objectContaining({ name: 'HeaderInjectionError', field }));
    expect(() => assertComposable(input(over))).toThrow(HeaderInjectionError);
    expect(() => composeMessage(input(over))).toThrow(expect.objectContaining({ field }));
  });

  it('throws the policy layer\'s HeaderInjectionError', () => {
    expect(HeaderInjectionError).toBe(PolicyHeaderInjectionError);
  });

  it('accepts an ordinary message, including non-ASCII names', () => {
    expect(() => assertComposable(input({ to: { name: 'Zoë Ünal "Z"', address: 'z@example.org' } }))).not.toThrow();
  });

  it.each([
    ['from.name', 'a full-width @ (NFKC)', { from: { name: 'news\uff20 bank.com', address: 'news@acme.example' } }],
    ['from.name', 'a small-form <', { from: { name: 'Acme \ufe64x\ufe65', address: 'news@acme.example' } }],
    ['to.name', 'full-width < >', { to: { name: 'Bob \uff1cceo@bank.com\uff1e', address: 'ann@example.org' } }],
    ['to.name', 'a zero-width space', { to: { name: 'A\u200bnn', address: 'ann@example.org' } }],
    ['from.name', 'a tag character', { from: { name: 'Acme\u{E0041}', address: 'news@acme.example' } }],
  ] as const)('refuses in %s %s (the last line behind the API)', (field, _what, over) => {
    expect(() => assertComposable(input(over))).toThrow(expect.objectContaining({ name: 'HeaderInjectionError', field }));
  });

  it('lets a contact name hold a full-width @ (it may hold @), and emoji ZWJ sequences in names', () => {
    expect(() => assertComposable(input({ to: { name: 'Ann \uff20 home \u{1F469}\u200d\u{1F4BB}', address: 'ann@example.org' } }))).not.toThrow();
  });
});

describe('nodemailer end to end (stream transport, DKIM)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dkim = { domainName: 'acme.example', keySelector: 'pg2025', privateKey: pem };
  const txt = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

  it('emits the headers as composed', async () => {
    const h = parseHeaders(await build(input()));
    expect(h.get('list-unsubscribe')).toEqual(['<https://x/u/tok>']);
    expect(h.get('list-unsubscribe-post')).toEqual(['List-Unsubscribe=One-Click']);
    expect(h.get('message-id')).toEqual([`<${ID}@acme.example>`]);
    expect(h.get('feedback-id')).toEqual(['c1:t1:marketing:postgate']);
    expect(h.get('from')).toEqual(['Acme News <news@acme.example>']);
  });

  it('signs List-Unsubscribe and List-Unsubscribe-Post with DKIM, and the signature verifies', async () => {
    const raw = await build(input({ dkim }));
    const sig = parseHeaders(raw).get('dkim-signature')?.[0] ?? '';
    const tags = new Map(sig.split(';').map((t) => t.trim().split(/=(.*)/s, 2).map((s) => s.replace(/\s+/g, '')) as [string, string]));
    const signed = (tags.get('h') ?? '').toLowerCase().split(':');
    expect(signed).toEqual(expect.arrayContaining(['from', 'to', 'subject', 'date', 'message-id', 'reply-to', 'list-unsubscribe', 'list-unsubscribe-post', 'feedback-id']));
    expect([tags.get('d'), tags.get('s'), tags.get('a')]).toEqual(['acme.example', 'pg2025', 'rsa-sha256']);

    const queried: string[] = [];
    const resolver = async (name: string): Promise<string[][]> => { queried.push(name); return [[txt]]; };
    const result = await dkimVerify(Buffer.from(raw), { resolver });
    expect(queried).toEqual(['pg2025._domainkey.acme.example']);
    expect(result.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['acme.example', 'pass']]);
    const tampered = raw.replace('List-Unsubscribe: <https://x/u/tok>', 'List-Unsubscribe: <https://evil/u/tok>');
    expect(tampered).not.toBe(raw);
    expect((await dkimVerify(Buffer.from(tampered), { resolver })).results[0].status.result).toBe('fail');
  });
});

describe('display names and subjects: encoded-words, bidi controls, specials (issue 14)', () => {
  const ENCODED = ['=?utf-8?q?Acme=0D=0ABcc:_x@evil.example?=', '=?UTF-8?B?QWNtZQ0KQmNjOiB4?=', 'Hi =?iso-8859-1?Q?a?= there'];
  const BIDI = ['\u202e', '\u202a', '\u202b', '\u202c', '\u202d', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c'];

  it.each(ENCODED)('refuses an encoded-word in a name or subject: %s', (word) => {
    for (const over of [{ from: { name: word, address: 'news@acme.example' } }, { to: { name: word, address: 'ann@example.org' } },
      { rendered: { ...input().rendered, subject: word } }]) {
      expect(() => composeMessage(input(over))).toThrow(HeaderInjectionError);
    }
    try { composeMessage(input({ to: { name: word, address: 'ann@example.org' } })); } catch (e) {
      expect(e).toMatchObject({ field: 'to.name', message: expect.stringContaining('encoded-word') });
    }
  });

  it.each(BIDI.map((c) => [`U+${c.codePointAt(0)?.toString(16).toUpperCase()}`, c]))('refuses bidi control %s in From and To names', (_n, c) => {
    expect(() => composeMessage(input({ from: { name: `Acme${c}knab`, address: 'news@acme.example' } }))).toThrow(/from\.name contains a bidi control/);
    expect(() => composeMessage(input({ to: { name: `${c}Ann`, address: 'ann@example.org' } }))).toThrow(/to\.name contains a bidi control/);
  });

  it('strips bidi controls from a rendered subject (they came from subscriber data) and still sends it', () => {
    const mail = composeMessage(input({ rendered: { ...input().rendered, subject: 'Hello \u202eevil\u202c, \u2067Ann\u2069 \u200f!' } }));
    expect(mail.subject).toBe('Hello evil, Ann !');
  });

  it('strips other format characters from a rendered subject, keeping emoji ZWJ sequences', () => {
    const mail = composeMessage(input({ rendered: { ...input().rendered, subject: 'Hel\u200blo\u{E0041} \u2060Ann \u{1F469}\u200d\u{1F4BB}' } }));
    expect(mail.subject).toBe('Hello Ann \u{1F469}\u200d\u{1F4BB}');
  });

  it('quotes @ < > " , ; in display names: a parser reads exactly the intended addresses', async () => {
    const { simpleParser } = await import('mailparser');
    const names = ['Evil <boss@bank.example>', 'support@bank.example', 'Smith, John', 'x"; <y@z.example>, "q', 'semi;colon', 'Bob\\" <a@b.example>', 'Ünïcode, "x" <e@f.example>'];
    for (const name of names) {
      const raw = await build(input({ from: { name, address: 'news@acme.example' }, to: { name, address: 'ann@example.org' } }));
      const p = await simpleParser(raw);
      expect(p.from?.value).toEqual([{ address: 'news@acme.example', name }]);
      const to = Array.isArray(p.to) ? p.to : [p.to];
      expect(to.flatMap((a) => a?.value ?? [])).toEqual([{ address: 'ann@example.org', name }]);
      expect(parseHeaders(raw).get('to')).toHaveLength(1);
      expect(parseHeaders(raw).has('bcc')).toBe(false);
    }
  });

  it('lets ordinary names and subjects through unchanged, non-Latin scripts included', async () => {
    const { simpleParser } = await import('mailparser');
    const raw = await build(input({ from: { name: 'שלום Acme', address: 'news@acme.example' }, to: { name: 'Zoë O\'Brien-Łukasz', address: 'ann@example.org' },
      rendered: { ...input().rendered, subject: 'Price: 5 = 2 + 3? Yes =)' } }));
    const p = await simpleParser(raw);
    expect(p.from?.value[0].name).toBe('שלום Acme');
    expect(p.subject).toBe('Price: 5 = 2 + 3? Yes =)');
  });
});
