// Header values as the client meant them (platform/header-value.ts, pure): bytes Node read as latin1
// are read back as UTF-8 (RFC 3629) when they are valid UTF-8, then kept with controls blanked and
// card numbers redacted.
import { describe, expect, it } from 'vitest';
import { headerValueAsUtf8, keptHeaderValue } from '../../src/platform/header-value.js';
import { CARD_REDACTION } from '../../src/policy/cards.js';

const asNodeReadsIt = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

describe('headerValueAsUtf8', () => {
  it.each([
    ['full-width digits and ideographic spaces', '４１１１　１１１１　１１１１　１１１１'],
    ['accents', 'Zoë/1.0 (Ünïcode)'],
    ['an emoji', 'App/2 \u{1F680}'],
  ])('decodes %s sent as UTF-8 bytes', (_what, v) => expect(headerValueAsUtf8(asNodeReadsIt(v))).toBe(v));

  it.each([
    ['plain ASCII', 'Mozilla/5.0 (X11; Linux x86_64)'],
    ['genuine latin1 (one byte per letter, not valid UTF-8)', 'caf\u00e9 na\u00efve'],
    ['a string that never was bytes', 'Zoë \u4e2d\u6587'],
  ])('keeps %s as it is', (_what, v) => expect(headerValueAsUtf8(v)).toBe(v));
});

describe('keptHeaderValue', () => {
  it('redacts a card number written in full-width digits, sent as UTF-8 bytes', () => {
    expect(keptHeaderValue(asNodeReadsIt('UA ４１１１　１１１１　１１１１　１１１１ end'), 500)).toBe(`UA ${CARD_REDACTION} end`);
  });

  it('blanks controls, cuts to the limit without leaving half a card, and gives null for nothing', () => {
    expect(keptHeaderValue('a\u0000b\u0085c', 100)).toBe('a b c');
    const cut = keptHeaderValue(`${'x'.repeat(90)} 4111 1111 1111 1111`, 100) as string;
    expect(cut.length).toBeLessThanOrEqual(100 + CARD_REDACTION.length);
    expect(cut).not.toMatch(/4111/);
    expect(keptHeaderValue(null, 10)).toBeNull();
    expect(keptHeaderValue(undefined, 10)).toBeNull();
    expect(keptHeaderValue('  ', 10)).toBeNull();
  });
});
