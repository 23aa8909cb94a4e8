// Pure money logic of invoices: ISO 4217 minor units, exact totals, Intl formatting.
import { describe, expect, it } from 'vitest';
import { canonicalLocale, expectedTotal, formatIssuedDate, formatMoney, isKnownCurrency, minorToDecimal, minorUnitDigits } from '../../src/transactional/money.js';
import { assertTotal } from '../../src/transactional/invoices.js';
import { canonicalJson } from '../../src/transactional/requests.js';
import { DomainError } from '../../src/domain-error.js';
import { domainStatus } from '../../src/platform/http.js';

describe('money', () => {
  it('formats minor units for the locale and currency', () => {
    expect(formatMoney(123_450, 'EUR', 'en')).toBe('€1,234.50');
    expect(formatMoney(123_450, 'EUR', 'de-DE')).toBe('1.234,50\u00a0€');
    expect(formatMoney(1_235, 'JPY', 'en')).toBe('¥1,235');
    expect(formatMoney(-500, 'USD', 'en-US')).toBe('-$5.00');
    expect(formatMoney(1_234_567, 'BHD', 'en')).toBe('BHD\u00a01,234.567');
  });

  it('uses ISO 4217 minor units where CLDR shows fewer decimals', () => {
    expect(minorUnitDigits('HUF')).toBe(2);
    expect(minorUnitDigits('IQD')).toBe(3);
    expect(minorUnitDigits('JPY')).toBe(0);
    expect(formatMoney(123_450, 'HUF', 'en')).toBe('HUF\u00a01,234.50');
  });

  it('is exact up to the largest safe integer', () => {
    expect(minorToDecimal(Number.MAX_SAFE_INTEGER, 2)).toBe('90071992547409.91');
    expect(minorToDecimal(5, 3)).toBe('0.005');
    expect(minorToDecimal(-5, 2)).toBe('-0.05');
    expect(formatMoney(Number.MAX_SAFE_INTEGER, 'EUR', 'en')).toBe('€90,071,992,547,409.91');
  });

  it('knows real currencies only', () => {
    expect(isKnownCurrency('EUR')).toBe(true);
    expect(isKnownCurrency('XYZ')).toBe(false);
    expect(isKnownCurrency('eur')).toBe(false);
    expect(isKnownCurrency('XDR')).toBe(false);
  });

  it('canonicalises locales and refuses malformed ones', () => {
    expect(canonicalLocale('de-de')).toBe('de-DE');
    expect(canonicalLocale('not a locale')).toBeNull();
  });

  it('formats the issue date as written, whatever the zone', () => {
    expect(formatIssuedDate('2024-03-01T00:30:00+02:00', 'en')).toBe('March 1, 2024');
    expect(formatIssuedDate('2024-05-31', 'de-DE')).toBe('31. Mai 2024');
  });

  it('sums lines and taxes exactly and names the difference', () => {
    const lines = [{ quantity: 3, unitAmount: 1999 }, { quantity: 1, unitAmount: -500 }];
    expect(expectedTotal(lines, [{ amount: 1100 }])).toEqual({ subtotal: 5497n, total: 6597n });
    expect(() => assertTotal({ lines, taxes: [{ amount: 1100 }], total: 6597 })).not.toThrow();
    try {
      assertTotal({ lines, taxes: [{ amount: 1100 }], total: 6600 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ code: 'total_mismatch', field: 'total', details: { expected: 6597, got: 6600, difference: 3 } });
      expect(domainStatus((err as DomainError).code)).toBe(422);
    }
  });

  it('refuses sums beyond exact integers', () => {
    const big = Number.MAX_SAFE_INTEGER;
    expect(() => assertTotal({ lines: [{ quantity: 2, unitAmount: big }], taxes: [], total: big })).toThrow(/exceed/);
  });

  it('hashes payloads canonically', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 'x' }] })).toBe(canonicalJson({ a: [{ c: 'x', d: 2 }], b: 1 }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});
