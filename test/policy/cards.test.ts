// Payment-card detection: Luhn, separated runs, deep walking with paths, depth guard, properties.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containsCardNumber, findCardData, luhnValid, TOO_DEEP } from '../../src/policy/cards.js';

/** Appends the Luhn check digit to a digit string. */
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  throw new Error('unreachable');
}

describe('luhnValid', () => {
  it.each(['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117', '4012888888881881', '79927398713', '0'])(
    'valid: %s', (d) => expect(luhnValid(d)).toBe(true));
  it.each(['4111111111111112', '79927398710', '1234567812345678', '', '4111 1111 1111 1111', 'abc', '-1'])(
    'invalid: %j', (d) => expect(luhnValid(d)).toBe(false));
});

describe('containsCardNumber', () => {
  it.each([
    '4111111111111111',
    'card 4111 1111 1111 1111 exp 12/27',
    'card 4111-1111-1111-1111.',
    'mixed 4111 1111-1111 1111',
    'amex 3782 822463 10005',
    'visa13 4222222222222 ok',
    '19 digits: 4111111111111111113'.replace('4111111111111111113', withCheckDigit('411111111111111111')),
    'glued:4111111111111111;',
    'x4111111111111111y',
    '4111 1111 1111 1111 1234 (card then more digits)',
    '12 4111 1111 1111 1111',
  ])('flags %j', (t) => expect(containsCardNumber(t)).toBe(true));

  it.each([
    '4111111111111112',                    // fails Luhn
    '411111111111',                        // 12 digits: too short even if Luhn-valid
    withCheckDigit('41111111111'),         // 12 digits, Luhn-valid
    '4111  1111  1111  1111',              // double spaces break the run
    '4111 / 1111 / 1111 / 1111',
    '4111.1111.1111.1111',
    '2024-01-15',                          // short runs are never flagged
    '+49 30 1234567',
    withCheckDigit('1234567890123456789012345'), // an unbroken 26-digit id is not searched inside
    'order 12345678901234567890123',
    'no digits at all',
    '',
  ])('does not flag %j', (t) => expect(containsCardNumber(t)).toBe(false));

  it('is fast on hostile input (no catastrophic backtracking)', () => {
    const t0 = Date.now();
    expect(containsCardNumber('1 '.repeat(100_000) + 'x')).toBeTypeOf('boolean');
    expect(containsCardNumber('1-'.repeat(100_000))).toBeTypeOf('boolean');
    expect(containsCardNumber('9'.repeat(1_000_000))).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('findCardData', () => {
  it('returns the path of the first offending field', () => {
    const body = { customer: { name: 'Ann' }, lines: [{ description: 'ok', qty: 1 }, { description: 'paid with 4111 1111 1111 1111' }] };
    expect(findCardData(body)).toBe('lines[1].description');
    expect(findCardData(body, 'body')).toBe('body.lines[1].description');
  });

  it('finds card numbers stored as JSON numbers', () => {
    expect(findCardData(JSON.parse('{"pan": 4111111111111111}'))).toBe('pan');
    expect(findCardData({ a: [1, 2, [3, 5555555555554444]] })).toBe('a[2][1]');
  });

  it('checks object keys', () => {
    expect(findCardData({ meta: { '4111111111111111': true } })).toBe('meta.[key]');
  });

  it('reports top-level hits', () => {
    expect(findCardData('4111111111111111')).toBe('$');
    expect(findCardData('4111111111111111', 'query')).toBe('query');
    expect(findCardData(['x', '4111111111111111'], 'q')).toBe('q[1]');
  });

  it.each([null, undefined, true, 42, 'text', { a: { b: [1, 'x', null] } }, [], {}, { amount: 1234.56, date: '2024-01-15' }])(
    'returns null for clean %j', (v) => expect(findCardData(v)).toBeNull());

  it('refuses input nested deeper than 64 levels', () => {
    let deep: unknown = 'clean';
    for (let i = 0; i < 100; i++) deep = { x: deep };
    expect(findCardData(deep)).toBe(TOO_DEEP);
    expect(TOO_DEEP).toBe('$too_deep');
    let ok: unknown = 'clean';
    for (let i = 0; i < 64; i++) ok = [ok];
    expect(findCardData(ok)).toBeNull();
    expect(findCardData([ok])).toBe(TOO_DEEP);
  });

  it('terminates on cyclic objects', () => {
    const a: Record<string, unknown> = { name: 'x' };
    a.self = a;
    expect(findCardData(a)).toBe(TOO_DEEP);
  });

  const cardArb = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 })
    .map((ds) => withCheckDigit(`4${ds.join('')}`));
  const noDigits = fc.string({ maxLength: 40 }).map((s) => s.replace(/[0-9]/g, ''));
  const sep = fc.constantFrom('', ' ', '-');

  it('finds any Luhn-valid 16-digit number embedded in random text (property)', () => {
    fc.assert(fc.property(noDigits, cardArb, noDigits, sep, fc.constantFrom('body', undefined), (pre, card, post, s, root) => {
      const shown = s ? card.match(/.{4}/g)!.join(s) : card;
      const text = `${pre} ${shown} ${post}`;
      expect(containsCardNumber(text)).toBe(true);
      expect(findCardData({ items: [{ note: text }] }, root)).toBe(root ? `${root}.items[0].note` : 'items[0].note');
    }), { numRuns: 1000 });
  });

  it('never flags digit runs shorter than 13 (property)', () => {
    const short = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 12 }).map((d) => d.join(''));
    fc.assert(fc.property(fc.array(fc.tuple(short, fc.constantFrom(' x ', ' / ', '..')), { maxLength: 10 }), (parts) => {
      const text = parts.map(([d, s]) => d + s).join('');
      expect(containsCardNumber(text)).toBe(false);
    }), { numRuns: 500 });
  });

  it('never throws on arbitrary values (property)', () => {
    fc.assert(fc.property(fc.anything(), (v) => {
      const r = findCardData(v);
      expect(r === null || typeof r === 'string').toBe(true);
    }), { numRuns: 500 });
  });
});

describe('ids are not cards', () => {
  it('never flags a UUID, however its digits fall', async () => {
    const { randomUUID } = await import('node:crypto');
    const flagged = Array.from({ length: 20_000 }, () => randomUUID()).filter((u) => containsCardNumber(u) || findCardData({ id: u }) !== null);
    expect(flagged).toEqual([]);
    expect(containsCardNumber('id 8081265364ae36fd then 4111 1111 1111 1111')).toBe(true);
  });
});
