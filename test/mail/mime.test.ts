// mime.ts pieces the interoperability test (interop.test.ts) does not reach one by one: the
// quoted-printable encoding done on the string (every UTF-16 oddity: pairs, lone surrogates, DEL)
// against nodemailer's qp.encode, and the SMTP DATA form buildMessage makes beside the raw bytes.
import { generateKeyPairSync } from 'node:crypto';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import { describe, expect, it } from 'vitest';
import { composeMessage, type ComposeInput } from '../../src/mail/compose.js';
import { buildMessage, LineCodec } from '../../src/mail/mime.js';
import { smtpData } from '../../src/platform/smtp.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

describe('LineCodec.line', () => {
  it("encodes any line as nodemailer's qp.encode + qp.wrap at 76 do, lone surrogates and DEL included", () => {
    const alphabet = ['a', ' ', '\t', '=', '.', '\x7f', '\x01', 'é', 'ß', '€', '山', '😀', '\ud800', '\udbff', '\udc00', '\udfff', '\u00a0', '\u07ff', '\u0800', '\uffff'];
    let seed = 7;
    const next = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (let n = 0; n < 4000; n++) {
      const line = Array.from({ length: next(n % 8 === 0 ? 200 : 30) }, () => alphabet[next(alphabet.length)]).join('');
      expect(new LineCodec().line(line).qp, JSON.stringify(line)).toBe(qpWrap(qpEncode(line), 76));
    }
    expect(new LineCodec().line('end \ud83d').qp).toBe('end =EF=BF=BD');
    expect(new LineCodec().line('trailing ').qp).toBe('trailing=20');
  });
});

function input(text: string, over: Partial<ComposeInput> = {}): ComposeInput {
  return {
    messageId: '3f0c6f8e-5b8a-4a52-9d55-0e6f6a0c2b11', kind: 'marketing',
    from: { name: 'Acme News', address: 'news@acme.example' }, replyTo: 'hello@acme.example',
    to: { name: 'Ann', address: 'ann@example.org' },
    rendered: { subject: 'Hi', html: `<p>${text.replace(/\n/g, '<br>\n')}</p>`, text },
    messageIdDomain: 'acme.example', envelopeFrom: 'bounces+x@bounce.example', listUnsubscribe: { url: 'https://x/u/tok' },
    ...over,
  };
}

describe('buildMessage', () => {
  it('makes the SMTP DATA form of raw: every leading dot doubled, one final "." line', () => {
    for (const text of ['.', '.\n..\n.x', 'no dot', '\r\n.\r\n', `${'a'.repeat(75)}.b`, '.'.repeat(200)]) {
      for (const dkim of [null, { domainName: 'acme.example', keySelector: 's1', privateKey }]) {
        const mail = composeMessage(input(text, { dkim: dkim && { domainName: dkim.domainName, keySelector: dkim.keySelector, privateKey } }));
        const built = mail.smtpData!;
        expect(built.raw).toBe(mail.raw);
        expect(built.data.toString('latin1')).toBe(smtpData(mail.raw as Buffer)!.toString('latin1'));
        const wire = built.data.toString('latin1');
        expect(wire.endsWith('\r\n.\r\n')).toBe(true);
        expect(wire.slice(0, -5)).not.toMatch(/\r\n\.(?!\.)/); // no line is a lone "." or starts with one undoubled
      }
    }
  });

  it('doubles a leading dot of the very first line too', () => {
    const built = buildMessage({ headers: { '.X': 'y' }, from: 'a@acme.example', to: 'b@example.org', text: 'x', messageId: '<m@acme.example>' }, null);
    expect(built.raw.toString('latin1').startsWith('.x: y\r\n')).toBe(true);
    expect(built.smtpData!.toString('latin1').startsWith('..x: y\r\n')).toBe(true);
  });
});
