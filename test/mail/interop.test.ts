// Interoperability of the raw MIME builder (mail/mime.ts): every variant Postgate sends is built
// both ways, by composeMessage (pre-encoded lines, Postgate's own DKIM signature over precomputed
// hashes) and by nodemailer from the same options (composeForNodemailer, the reference); mailparser
// must read the same subject, addresses, HTML and text out of both, mailauth must verify the
// signature, and the raw message must be CRLF only with no line over 998 octets.
import { generateKeyPairSync } from 'node:crypto';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { describe, expect, it } from 'vitest';
import { composeForNodemailer, composeMessage, type ComposeInput } from '../../src/mail/compose.js';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import { buildRaw, LineCodec } from '../../src/mail/mime.js';

const ID = '6d1f0a52-8c0e-4a8b-b7a5-2f2b0c9d7e41';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const TXT = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
const DKIM = { domainName: 'acme.example', keySelector: 'pg2026', privateKey: PEM };
const resolver = async (name: string): Promise<string[][]> => (name === 'pg2026._domainkey.acme.example' ? [[TXT]] : []);

const HTML = '<!doctype html>\n<html>\n<body>\n  <p style="margin:0;   padding:0">Hello {{name}},</p>\n\t<p>Static line one.</p>\n  <a href="https://pg.example/u/TOKEN">Unsubscribe</a>\n</body>\n</html>\n';

function input(over: Partial<ComposeInput> = {}): ComposeInput {
  return {
    messageId: ID, kind: 'marketing',
    from: { name: 'Acme News', address: 'news@acme.example' }, replyTo: 'hello@acme.example',
    to: { name: 'Ann Example', address: 'ann@example.org' },
    rendered: { subject: 'Spring issue', html: HTML.replace('{{name}}', 'Ann'), text: 'Hello Ann,\n\nStatic line one.\n\nUnsubscribe: https://pg.example/u/TOKEN\n' },
    messageIdDomain: 'acme.example', envelopeFrom: 'bounces+AbC123@bounce.pg.example',
    listUnsubscribe: { url: 'https://pg.example/u/TOKEN' }, feedbackId: 'c1:t1:marketing:postgate', listId: 'newsletter.t1.pg.example',
    dkim: DKIM,
    ...over,
  };
}

const rendered = (html: string, text: string, subject = 'Spring issue') => ({ rendered: { subject, html, text } });
const LONG_WORD = 'https://pg.example/very/long/' + 'a1b2c3d4'.repeat(200); // one 1,6 kB token
const LONG_LINE = Array.from({ length: 600 }, (_, i) => `word${i}`).join(' ');

const VARIANTS: Array<[string, Partial<ComposeInput>]> = [
  ['html and text, marketing with List-Unsubscribe and DKIM', {}],
  ['text only', rendered('', 'Just text.\nSecond line   with  spaces \t\n')],
  ['html only', rendered('<p>Only HTML</p>', '')],
  ['non-ASCII subject, names and body', {
    from: { name: 'Café Zoë', address: 'news@acme.example' }, to: { name: 'Jürgen Ñandú 山田', address: 'j@example.org' },
    ...rendered('<p>Grüße, 山田さん — ça va?</p>\n<p>Привет мир</p>', 'Grüße, 山田さん — ça va?\nПривет мир', 'Neuigkeiten für Jürgen: 山田 ☀'),
  }],
  ['very long lines and words', rendered(`<p>${LONG_LINE}</p>\n<a href="${LONG_WORD}">x</a>\n${'é'.repeat(3000)}`, `${LONG_LINE}\n${LONG_WORD}\n`)],
  ['merge fields with unicode and emoji, trailing spaces and tabs', rendered('<p>Hi 👩‍💻 Zoë 🇩🇪  </p>\n<p>\ttabbed\t</p>\n  \n', 'Hi 👩‍💻 Zoë 🇩🇪  \n\ttabbed\t\n \n\n\n')],
  ['transactional (no List-Unsubscribe, Auto-Submitted)', { kind: 'invoice', listUnsubscribe: null, feedbackId: null, listId: null }],
  ['without DKIM', { dkim: null }],
  ['dots and From_ at line starts, CR and CRLF endings', rendered('.\r\n..leading dots\r\nFrom here\rbare CR\n=3D literal', '.\nFrom me\r\n= sign')],
  ['extra headers', { extraHeaders: { 'X-Campaign': 'spring ☀', 'X-Plain': 'v' } }],
];

async function viaNodemailer(mail: SendMailOptions): Promise<Buffer> {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return (await transport.sendMail(mail)).message as Buffer;
}

const addresses = (a: AddressObject | AddressObject[] | undefined) => (Array.isArray(a) ? a : a ? [a] : []).flatMap((x) => x.value.map((v) => [v.name, v.address]));
const essence = (p: ParsedMail) => ({
  subject: p.subject, from: addresses(p.from), to: addresses(p.to), replyTo: addresses(p.replyTo),
  html: p.html === false ? '' : p.html?.replace(/\r\n|\r/g, '\n'), text: (p.text ?? '').replace(/\r\n|\r/g, '\n'),
  messageId: p.messageId,
  headers: ['list-unsubscribe', 'list-unsubscribe-post', 'feedback-id', 'list-id', 'auto-submitted', 'x-postgate-message', 'x-campaign', 'x-plain']
    .map((k) => [k, JSON.stringify(p.headers.get(k) ?? null)]),
});

function assertWireFormat(raw: Buffer): void {
  const s = raw.toString('latin1');
  expect(s).not.toMatch(/\r(?!\n)|(?<!\r)\n/); // CRLF only
  expect(s.endsWith('\r\n')).toBe(true);
  for (const line of s.split('\r\n')) expect(Buffer.byteLength(line, 'latin1')).toBeLessThanOrEqual(998);
  expect(s).toMatch(/^[\x00-\x7f]*$/); // 7-bit: every non-ASCII byte is encoded
}

describe('raw MIME builder interoperability', () => {
  it.each(VARIANTS)('%s: parses like nodemailer\'s own build, DKIM verifies, CRLF and short lines', async (_name, over) => {
    const i = input(over);
    const ours = composeMessage(i);
    expect(ours.dkim).toBeUndefined();
    const raw = await viaNodemailer(ours); // nodemailer sends the raw bytes as they are
    expect(raw.equals(ours.raw as Buffer)).toBe(true);
    assertWireFormat(raw);
    const reference = await viaNodemailer(composeForNodemailer(i));
    const [a, b] = await Promise.all([simpleParser(raw), simpleParser(reference)]);
    expect(essence(a)).toEqual(essence(b));
    if (i.rendered.text) expect(a.text?.replace(/\r\n/g, '\n')).toBe(i.rendered.text.replace(/\r\n|\r/g, '\n'));
    if (i.rendered.html) expect(String(a.html).replace(/\n$/, '')).toBe(i.rendered.html.replace(/\r\n|\r/g, '\n').replace(/\n$/, '')); // a single part gets a final line break
    const dkim = await dkimVerify(raw, { resolver });
    if (i.dkim) {
      expect(dkim.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['acme.example', 'pass']]);
      const signed = /;\s*h=([^;]+)/.exec(raw.toString('latin1').replace(/\r\n[ \t]+/g, ' '))?.[1].replace(/\s+/g, '');
      const refSigned = /;\s*h=([^;]+)/.exec(reference.toString('latin1').replace(/\r\n[ \t]+/g, ' '))?.[1].replace(/\s+/g, '');
      expect(signed).toBe(refSigned); // the same h= list as nodemailer signs
    } else {
      expect(dkim.results.every((r) => r.status.result === 'none')).toBe(true);
      expect(raw.toString('latin1')).not.toMatch(/^DKIM-Signature:/im);
    }
  });

  it('a tampered body or signed header fails DKIM (the signature covers what is sent)', async () => {
    const raw = (composeMessage(input()).raw as Buffer).toString('latin1');
    for (const tampered of [raw.replace('Static line one.', 'Static line 1.'), raw.replace('Subject: Spring issue', 'Subject: Spring isue')]) {
      expect(tampered).not.toBe(raw);
      const result = (await dkimVerify(Buffer.from(tampered, 'latin1'), { resolver })).results[0].status.result;
      expect(['fail', 'neutral']).toContain(result); // mailauth: a body hash mismatch is neutral, a bad signature fail
    }
  });

  it('reuses the encoding of lines seen before: only the personalised lines differ between recipients', () => {
    const codec = new LineCodec();
    const mail = (name: string) => ({ ...composeForNodemailer(input(rendered(HTML.replace('{{name}}', name), `Hello ${name}`))), dkim: undefined });
    const a = buildRaw(mail('Ann'), null, codec).toString('latin1');
    const b = buildRaw(mail('Bob'), null, codec).toString('latin1');
    const body = (s: string) => s.slice(s.indexOf('\r\n\r\n')).split(/--_NmP-[0-9a-f]+-Part_1/).join('--B');
    const differing = body(a).split('\r\n').filter((l, n) => l !== body(b).split('\r\n')[n]);
    expect(differing).toEqual(['Hello Ann', '  <p style=3D"margin:0;   padding:0">Hello Ann,</p>']);
    expect(codec.line('  <p style="margin:0;   padding:0">Hello Bob,</p>')).toEqual({
      qp: '  <p style=3D"margin:0;   padding:0">Hello Bob,</p>', canon: ' <p style=3D"margin:0; padding:0">Hello Bob,</p>',
    });
  });

  it('a codec warm with other texts of the same or another shape encodes a text as a fresh codec does', () => {
    const warm = new LineCodec();
    const page = (name: string, extra = '') => Array.from({ length: 40 }, (_, n) => (n % 9 === 4 ? `<p>Hi ${name}, line ${n}</p>` : `<td style="a:b;  c:d">static ${n}\t</td>`)).join('\n') + extra;
    const texts = [
      page('Ann'), page('Bob'), page('Zoë ☀'), page('Ann', '\n'), page('Cy\nshifted'), page('Dee', `\n${'x='.repeat(3000)}`),
      page('Eve').replace(/\n/g, '\r\n'), page('Flo').replace(/\n/, '\r'), `${page('Gus')}\r\n\r\n`, '', 'one line', page('Hal'), page('Ann'),
    ];
    for (const text of texts) expect(warm.part(text)).toEqual(new LineCodec().part(text));
  });

  it('encodes a line as nodemailer\'s qp.encode + qp.wrap at 76 do (ASCII fast path and UTF-8)', () => {
    const alphabet = ['a', 'Z', '3', 'D', ' ', '\t', '=', '.', '~', '<', '>', '\x00', '\x1f', '\x7f', 'é', '山', '😀'];
    let seed = 42;
    const next = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (let n = 0; n < 5000; n++) {
      const ascii = n % 3 === 0 ? 14 : alphabet.length;
      const line = Array.from({ length: next(n % 10 === 0 ? 300 : 40) }, () => alphabet[next(ascii)]).join('');
      expect(new LineCodec().line(line).qp).toBe(qpWrap(qpEncode(line), 76));
    }
  });

  it('reports a key that cannot sign as an error of composing', () => {
    expect(() => composeMessage(input({ dkim: { ...DKIM, privateKey: 'not a key' } }))).toThrow();
  });
});
