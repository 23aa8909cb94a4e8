// The card-number scanner the fuzz suite sweeps data files and logs with (hostile-inputs.ts): it
// must find every spelling the suite sends, as raw UTF-8, as JSON (logs) and inside binary, and
// nothing else (other numbers, a card's digits spread too far apart). A sweep that finds nothing
// proves something only if this holds.
import { describe, expect, it } from 'vitest';
import { CARD_NUMBERS, CARD_VARIANTS, findCardNumbers, luhnCheckDigit } from './hostile-inputs.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('the card-number scanner of the fuzz sweep', () => {
  it('the suite\'s own card numbers are Luhn-valid 16-digit numbers', () => {
    for (const c of CARD_NUMBERS) {
      expect(c).toMatch(/^\d{16}$/);
      expect(luhnCheckDigit(c.slice(0, 15))).toBe(c[15]);
    }
  });

  it('finds every spelling sent, raw, JSON-escaped and between binary bytes', () => {
    for (const v of CARD_VARIANTS) {
      for (const text of [v.text, JSON.stringify({ ua: v.text }), JSON.stringify(v.text).slice(1, -1)]) {
        const buf = Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0x30]), bytes(text), Buffer.from([0, 0x0b, 7])]);
        expect(findCardNumbers(buf, CARD_NUMBERS).map((h) => h.card), `${v.label}: ${JSON.stringify(text)}`).toEqual([v.card]);
      }
    }
  });

  it('finds nothing in other numbers, and not a card spread wider than a few separators', () => {
    const [card] = CARD_NUMBERS;
    const others = ['4111111111111112', '411111111111111', '00000000-0000-4000-8000-000000000001', '1234567890123456', 'x'.repeat(1000)];
    for (const o of others) expect(findCardNumbers(bytes(o), CARD_NUMBERS)).toEqual([]);
    expect(findCardNumbers(bytes(card.split('').join('        ')), CARD_NUMBERS)).toEqual([]);
    expect(findCardNumbers(bytes(`${card.slice(0, 8)}a${card.slice(8)}`), CARD_NUMBERS)).toEqual([]);
  });

  it('finds a card inside a longer digit run (a stored number that contains it)', () => {
    expect(findCardNumbers(bytes(`9${CARD_NUMBERS[2]}`), CARD_NUMBERS).map((h) => h.card)).toEqual([CARD_NUMBERS[2]]);
  });
});
