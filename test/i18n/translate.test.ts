// The pure localisation core: which locale a person gets, and what a translator says.
import { describe, expect, it } from 'vitest';
import { chooseLocale, translator, textDirection, validateMessage, type Catalogues } from '../../src/i18n/translate.js';

const catalogues: Catalogues = {
  en: { 'x.hello': 'Hello {name}', 'x.only.en': 'Only in English', 'x.count': '{n, plural, one {# list} other {# lists}}' },
  de: { 'x.hello': 'Hallo {name}', 'x.count': '{n, plural, one {# Liste} other {# Listen}}' },
  fr: { 'x.hello': 'Bonjour {name}', 'x.count': '{n, plural, one {# liste} other {# listes}}' },
  es: { 'x.hello': 'Hola {name}', 'x.count': '{n, plural, one {# lista} other {# listas}}' },
};

describe('chooseLocale', () => {
  it('takes the contact’s stored locale first, then Accept-Language, then the tenant’s default', () => {
    expect(chooseLocale({ contactLocale: 'fr', acceptLanguage: 'de-DE,de;q=0.9', tenantDefault: 'es' })).toBe('fr');
    expect(chooseLocale({ contactLocale: null, acceptLanguage: 'de-DE,de;q=0.9', tenantDefault: 'es' })).toBe('de-DE');
    expect(chooseLocale({ acceptLanguage: null, tenantDefault: 'es' })).toBe('es');
    expect(chooseLocale({})).toBe('en');
  });

  it('skips what has no catalogue: a contact locale, browser languages and a tenant default it cannot speak', () => {
    expect(chooseLocale({ contactLocale: 'ja', acceptLanguage: 'ja,fr;q=0.5', tenantDefault: 'de' })).toBe('fr');
    expect(chooseLocale({ acceptLanguage: 'ja, zh-CN;q=0.8', tenantDefault: 'es' })).toBe('es');
    expect(chooseLocale({ acceptLanguage: 'ja', tenantDefault: 'pt' })).toBe('en');
  });

  it('orders Accept-Language by q-value, not position, and ignores q=0 and *', () => {
    expect(chooseLocale({ acceptLanguage: 'fr;q=0.3, es;q=0.8, de;q=0.5' })).toBe('es');
    expect(chooseLocale({ acceptLanguage: 'de;q=0, fr;q=0.1' })).toBe('fr');
    expect(chooseLocale({ acceptLanguage: '*', tenantDefault: 'de' })).toBe('de');
  });

  it('keeps the region, canonicalised, and falls back to the language’s catalogue', () => {
    expect(chooseLocale({ acceptLanguage: 'DE-ch' })).toBe('de-CH');
    expect(chooseLocale({ contactLocale: 'es-MX' })).toBe('es-MX');
    const t = translator(catalogues, 'de-AT');
    expect(t.language).toBe('de');
    expect(t.locale).toBe('de-AT');
    expect(t.t('x.hello', { name: 'Ada' })).toBe('Hallo Ada');
  });

  it('drops locale extensions: a browser or API asking for another calendar or digits gets the plain locale', () => {
    expect(chooseLocale({ acceptLanguage: 'de-DE-u-ca-islamic-nu-arab' })).toBe('de-DE');
    expect(chooseLocale({ contactLocale: 'fr-x-private' })).toBe('fr');
    expect(translator(catalogues, 'de-DE-u-nu-arab').date(new Date('2026-11-30T12:00:00Z'))).toBe('30. November 2026');
  });

  it('survives malformed and oversized headers', () => {
    expect(chooseLocale({ acceptLanguage: ';;;q=,,,de_DE', tenantDefault: 'fr' })).toBe('fr');
    expect(chooseLocale({ acceptLanguage: `${'x'.repeat(2000)},de`, tenantDefault: 'es' })).toBe('es');
    expect(chooseLocale({ contactLocale: 'not a tag', tenantDefault: 'de' })).toBe('de');
  });
});

describe('translator', () => {
  it('formats ICU messages with plurals in the language', () => {
    expect(translator(catalogues, 'fr').t('x.count', { n: 1 })).toBe('1 liste');
    expect(translator(catalogues, 'de').t('x.count', { n: 3 })).toBe('3 Listen');
  });

  it('falls back to English for an id missing from the language, and throws for an id nobody has', () => {
    expect(translator(catalogues, 'de').t('x.only.en')).toBe('Only in English');
    expect(() => translator(catalogues, 'de').t('x.nowhere')).toThrow(/x\.nowhere/);
  });

  it('speaks English for a locale without a catalogue', () => {
    const t = translator(catalogues, 'ja-JP');
    expect([t.language, t.locale, t.t('x.hello', { name: 'Ada' })]).toEqual(['en', 'en', 'Hello Ada']);
  });

  it('prefers the tenant’s override for the language, and only for that language', () => {
    const overrides = { de: { 'x.hello': 'Servus {name}' } };
    expect(translator(catalogues, 'de-DE', overrides).t('x.hello', { name: 'Ada' })).toBe('Servus Ada');
    expect(translator(catalogues, 'fr', overrides).t('x.hello', { name: 'Ada' })).toBe('Bonjour Ada');
  });

  it('falls back to the shipped text when an override cannot be formatted', () => {
    const overrides = { de: { 'x.hello': 'Servus {name, plural, one {# x}' }, fr: { 'x.hello': 'Salut {nom, number}' } };
    expect(translator(catalogues, 'de', overrides).t('x.hello', { name: 'Ada' })).toBe('Hallo Ada');
    expect(translator(catalogues, 'fr', overrides).t('x.hello', { name: 'Ada' })).toBe('Bonjour Ada');
  });

  it('formats dates and numbers by Intl in the same locale', () => {
    const d = new Date('2026-11-30T12:00:00Z');
    expect(translator(catalogues, 'de-DE').date(d)).toBe('30. November 2026');
    expect(translator(catalogues, 'fr').date(d)).toBe('30 novembre 2026');
    expect(translator(catalogues, 'de-DE').number(1234.5)).toBe('1.234,5');
  });

  it('sets the direction: left to right for the shipped languages, right to left for Arabic and Hebrew', () => {
    expect(translator(catalogues, 'de').dir).toBe('ltr');
    expect(textDirection('ar-EG')).toBe('rtl');
    expect(textDirection('he')).toBe('rtl');
    expect(textDirection('en-GB')).toBe('ltr');
  });
});

describe('validateMessage', () => {
  it('accepts ICU text and names what is wrong with broken text', () => {
    expect(validateMessage('Hello {name}')).toBeNull();
    expect(validateMessage('Hello {name')).toMatch(/.+/);
    expect(validateMessage('x'.repeat(4001))).toMatch(/4000/);
  });
});
