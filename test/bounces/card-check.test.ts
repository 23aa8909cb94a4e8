// What keeps a raw report from being stored (card-check.ts, pure): card numbers and confirm or
// unsubscribe tokens, found in every decoded part whatever its transfer encoding, recursively into
// attached messages; and the plain-text redaction that runs first (process.ts withoutCapabilityLinks).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signToken } from '../../src/policy/tokens.js';
import { holdsCapabilityLink, holdsCardNumber, rawWithheldReason } from '../../src/bounces/card-check.js';
import { withoutCapabilityLinks } from '../../src/bounces/process.js';

const TOKEN = `eyJ0IjoiYSIsInYiOjF9${'A'.repeat(40)}.${'s1g-_'.repeat(9)}`;
const LINK = `https://postgate.example/a/${TOKEN}`;
const COMPACT = signToken({ current: 'k1', keys: { k1: 'secret' } }, 'unsubscribe', randomUUID(), { l: randomUUID() }, { ttlSeconds: null });
const CRLF = (s: string): string => s.replace(/\r?\n/g, '\r\n');
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64').replace(/.{1,76}/g, '$&\n');

function single(body: string, cte: string, type = 'text/plain; charset=utf-8'): Buffer {
  return Buffer.from(CRLF(`From: a@example.net\nTo: bounces+x@pg.example\nSubject: Auto: hello\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: ${type}\nContent-Transfer-Encoding: ${cte}\n\n${body}`), 'latin1');
}

function withAttached(inner: Buffer, cte: 'base64' | '7bit'): Buffer {
  const b = 'b-1';
  return Buffer.from(CRLF(`From: MAILER-DAEMON@mx.example.net\nTo: bounces+x@pg.example\nSubject: Undelivered\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="${b}"\n\n--${b}\nContent-Type: text/plain\n\nNot delivered.\n\n--${b}\nContent-Type: message/rfc822\nContent-Transfer-Encoding: ${cte}\n\n${cte === 'base64' ? b64(inner) : inner.toString('latin1')}\n--${b}--\n`), 'latin1');
}

describe('holdsCapabilityLink', () => {
  it.each([
    ['a confirm link', LINK],
    ['an unsubscribe link', `see https://pg.example/u/${TOKEN}/preferences`],
    ['a test address verification link', `https://pg.example/t/${TOKEN}`],
    ['a relative path', `/a/${TOKEN}`],
    ['percent-encoded slashes (a link-rewriting gateway)', `https://safe.example/?url=https%3A%2F%2Fpg.example%2Fa%2F${TOKEN}`],
    ['a compact (issue 20) unsubscribe link', `https://pg.example/u/${COMPACT}/preferences`],
    ['a compact activation link, percent-encoded', `https%3A%2F%2Fpg.example%2Fa%2F${COMPACT}`],
  ])('finds %s', (_what, text) => expect(holdsCapabilityLink(text)).toBe(true));

  it.each([
    ['a dotted page name', 'https://news.example/a/spring-issue-2024.html'],
    ['a short token', '/a/abc.def'],
    ['the placeholder', '/a/[link removed]'],
    ['another path', `/x/${TOKEN}`],
    ['a word of 37 characters', `/u/${'a'.repeat(37)}`],
  ])('ignores %s', (_what, text) => expect(holdsCapabilityLink(text)).toBe(false));
});

describe('rawWithheldReason', () => {
  const quote = `I am away.\n\n> Confirm: ${LINK}\n`;

  it.each([
    ['a base64 text part', single(b64(quote), 'base64')],
    ['a base64 HTML part', single(b64(`<p><a href="${LINK}">Confirm</a></p>`), 'base64', 'text/html; charset=utf-8')],
    ['escaped quoted-printable', single(Buffer.from(quote).toString('hex').toUpperCase().replace(/../g, '=$&').replace(/.{1,72}/g, '$&=\n'), 'quoted-printable')],
    ['an attached message in base64', withAttached(single(quote, '7bit'), 'base64')],
    ['a base64 part inside an attached message', withAttached(single(b64(quote), 'base64'), '7bit')],
    ['two levels of attached messages', withAttached(withAttached(single(b64(quote), 'base64'), 'base64'), 'base64')],
    ['a base64 attachment of any type', single(b64(quote), 'base64', 'application/octet-stream; name="quote.txt"')],
  ])('withholds a report quoting a token in %s', async (_what, raw) => {
    expect(raw.toString('latin1')).not.toContain(TOKEN);
    expect(await rawWithheldReason(raw)).toBe('capability_link');
    expect(await rawWithheldReason(withoutCapabilityLinks(raw))).toBe('capability_link'); // plain redaction cannot see it
  });

  it('keeps a report whose plainly written tokens were replaced (plain and soft-broken quoted-printable)', async () => {
    const plain = single(quote, '7bit');
    expect(await rawWithheldReason(plain)).toBe('capability_link');
    const kept = withoutCapabilityLinks(plain);
    expect(kept.toString('latin1')).toContain('/a/[link removed]');
    expect(await rawWithheldReason(kept)).toBeNull();
    const verification = withoutCapabilityLinks(single(`> Confirm test copies: https://postgate.example/t/${TOKEN}\n`, '7bit'));
    expect(verification.toString('latin1')).toContain('/t/[link removed]');
    expect(await rawWithheldReason(verification)).toBeNull();
    const qp = single(`> Confirm: https://postgate.example/a/${TOKEN.slice(0, 30)}=\n${TOKEN.slice(30)}\n`, 'quoted-printable');
    expect(await rawWithheldReason(withoutCapabilityLinks(qp))).toBeNull();
  });

  it('says card_data for a card number in a base64 part or an attached message (ISO/IEC 7812)', async () => {
    const card = 'please charge 4111 1111 1111 1111';
    expect(await rawWithheldReason(single(b64(card), 'base64'))).toBe('card_data');
    expect(await rawWithheldReason(withAttached(single(b64(card), 'base64'), 'base64'))).toBe('card_data');
    expect(await holdsCardNumber(single(card, '7bit'))).toBe(true);
    expect(await holdsCardNumber(single(b64('order 0000 0000 0000 0000'), 'base64'))).toBe(false);
  });

  it('keeps a clean report, and judges an unreadable one on its bytes', async () => {
    expect(await rawWithheldReason(single('I am away until Monday.', '7bit'))).toBeNull();
    expect(await rawWithheldReason(Buffer.from('\u0001 not a message'))).toBeNull();
  });
});
