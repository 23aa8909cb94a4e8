// Localisation (PURE: no I/O). Catalogues are flat maps of message ids to ICU MessageFormat strings
// (https://unicode-org.github.io/icu/userguide/format_parse/messages/), one per language, in
// locales/<lang>.json; formatting is the `intl-messageformat` library's (FormatJS), dates and
// numbers are Intl's, in the same locale.
//
// Language choice, first match wins: the contact's stored locale, then the HTTP Accept-Language
// header (RFC 9110 12.5.4), then the tenant's default, then English. A choice keeps its region for
// Intl (de-CH formats numbers the Swiss way) while its messages come from the language's catalogue.
// A tenant may override any message, per language; an override is validated when it is stored
// (validateMessage), and a message missing from a catalogue falls back to English.
import { IntlMessageFormat } from 'intl-messageformat';
import Negotiator from 'negotiator';

export const LANGUAGES = ['en', 'de', 'fr', 'es'] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = 'en';
/** Scripts written right to left (none of the shipped catalogues yet; `dir` follows the language). */
const RTL = new Set(['ar', 'he', 'fa', 'ur', 'yi', 'ps', 'dv', 'ckb']);

/** message id → ICU MessageFormat text. */
export type Catalogue = Readonly<Record<string, string>>;
export type Catalogues = Readonly<Record<Language, Catalogue>>;
/** Per language, message id → the tenant's own ICU text. */
export type StringOverrides = Readonly<Partial<Record<Language, Readonly<Record<string, string>>>>>;
export type MessageArgs = Readonly<Record<string, string | number | Date | boolean | null | undefined>>;

export interface Translator {
  /** The BCP 47 tag used for Intl formatting (e.g. 'de-CH'); its language is `language`. */
  readonly locale: string;
  readonly language: Language;
  readonly dir: 'ltr' | 'rtl';
  /** The message `id` formatted with `args`. Throws on an id no catalogue has (a programming error). */
  t(id: string, args?: MessageArgs): string;
  /** A date in this locale: 'long' (1. Dezember 2026) or 'short'; in `timeZone` (IANA, default UTC). */
  date(d: Date, style?: 'long' | 'short', timeZone?: string): string;
  /** A number in this locale. */
  number(n: number, opts?: Intl.NumberFormatOptions): string;
}

const isLanguage = (s: string): s is Language => (LANGUAGES as readonly string[]).includes(s);

/** The canonical BCP 47 form of a tag without extensions, or null when it is not one (e.g. 'de_de' → null, 'DE-de' → 'de-DE', 'de-DE-u-nu-arab' → 'de-DE'). */
export function canonicalLocale(tag: string | null | undefined): string | null {
  if (!tag || tag.length > 35) return null;
  try {
    const canonical = Intl.getCanonicalLocales(tag)[0];
    // Language, script, region and variants only: extensions (-u-ca-islamic-nu-arab, -x-…) would
    // switch calendars and digits of a mail's dates and amounts.
    return canonical ? new Intl.Locale(canonical).baseName : null;
  } catch {
    return null;
  }
}

/** The catalogue language of a locale tag when Postgate has it ('de-AT' → 'de'), else null. */
export function languageOf(tag: string | null | undefined): Language | null {
  const canonical = canonicalLocale(tag);
  if (!canonical) return null;
  const lang = canonical.split('-')[0].toLowerCase();
  return isLanguage(lang) ? lang : null;
}

/** 'rtl' for languages written right to left (Arabic, Hebrew, …), else 'ltr'. */
export function textDirection(tag: string): 'ltr' | 'rtl' {
  return RTL.has(tag.split('-')[0].toLowerCase()) ? 'rtl' : 'ltr';
}

/** Accept-Language's tags in preference order (q > 0), by the `negotiator` library; at most 20. */
function acceptedTags(header: string | null | undefined): string[] {
  if (!header || header.length > 1000) return [];
  return new Negotiator({ headers: { 'accept-language': header } }).languages().filter((l) => l !== '*').slice(0, 20);
}

export interface LocaleSources {
  /** The contact's stored locale (contacts.locale), when the person is known. */
  contactLocale?: string | null;
  /** The request's Accept-Language header, for pages. */
  acceptLanguage?: string | null;
  /** The tenant's default locale (tenants.default_locale). */
  tenantDefault?: string | null;
}

/**
 * The locale to speak: the first of the contact's locale, the Accept-Language tags, and the tenant's
 * default whose language has a catalogue; English otherwise. Returns the canonical tag (region kept).
 */
export function chooseLocale(s: LocaleSources): string {
  return firstSpokenLocale([s.contactLocale, ...acceptedTags(s.acceptLanguage), s.tenantDefault]);
}

/** The first candidate whose language has a catalogue, canonical (region kept, extensions dropped); English when none. */
export function firstSpokenLocale(candidates: readonly (string | null | undefined)[]): string {
  for (const c of candidates) {
    if (languageOf(c)) return canonicalLocale(c) as string;
  }
  return DEFAULT_LANGUAGE;
}

/** Why an ICU text cannot be used, or null when it parses. */
export function validateMessage(text: string, locale: string = DEFAULT_LANGUAGE): string | null {
  if (text.length > 4000) return 'longer than 4000 characters';
  try {
    // Parsing is what a format would do first; a syntax error throws here, not at send time.
    new IntlMessageFormat(text, locale);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const FORMATS = new Map<string, IntlMessageFormat>();
const MAX_FORMATS = 5000;

function formatOf(text: string, locale: string): IntlMessageFormat {
  const key = `${locale}\u0000${text}`;
  let f = FORMATS.get(key);
  if (!f) {
    if (FORMATS.size >= MAX_FORMATS) FORMATS.clear();
    f = new IntlMessageFormat(text, locale);
    FORMATS.set(key, f);
  }
  return f;
}

const DATE_FORMATS = new Map<string, Intl.DateTimeFormat>();
const NUMBER_FORMATS = new Map<string, Intl.NumberFormat>();

function dateFormat(locale: string, style: 'long' | 'short', timeZone: string): Intl.DateTimeFormat {
  const key = `${locale}|${style}|${timeZone}`;
  let f = DATE_FORMATS.get(key);
  if (!f) { f = new Intl.DateTimeFormat(locale, { dateStyle: style, timeZone }); DATE_FORMATS.set(key, f); }
  return f;
}

function numberFormat(locale: string, opts: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${locale}|${JSON.stringify(opts)}`;
  let f = NUMBER_FORMATS.get(key);
  if (!f) { f = new Intl.NumberFormat(locale, opts); NUMBER_FORMATS.set(key, f); }
  return f;
}

/**
 * A translator for `locale` (any BCP 47 tag; one without a catalogue speaks English). Messages come
 * from the tenant's `overrides` for the language, then the language's catalogue, then English.
 * A message that fails to format (an override whose argument is missing) falls back to the
 * catalogue's text; the catalogue's own are tested to format.
 */
export function translator(catalogues: Catalogues, locale: string, overrides: StringOverrides = {}): Translator {
  const language = languageOf(locale) ?? DEFAULT_LANGUAGE;
  const tag = languageOf(locale) ? (canonicalLocale(locale) as string) : DEFAULT_LANGUAGE;
  const own = overrides[language] ?? {};
  const catalogue = catalogues[language];
  const english = catalogues[DEFAULT_LANGUAGE];
  const shipped = (id: string): string => {
    const text = Object.hasOwn(catalogue, id) ? catalogue[id] : Object.hasOwn(english, id) ? english[id] : null;
    if (text === null) throw new Error(`no message ${id} in any catalogue`);
    return text;
  };
  const format = (text: string, args?: MessageArgs): string => String(formatOf(text, tag).format(args as Record<string, string>));
  return {
    locale: tag, language, dir: textDirection(tag),
    t(id, args) {
      if (Object.hasOwn(own, id)) {
        try { return format(own[id], args); } catch { /* a broken override never breaks a page or a mail */ }
      }
      return format(shipped(id), args);
    },
    date: (d, style = 'long', timeZone = 'UTC') => dateFormat(tag, style, timeZone).format(d),
    number: (n, opts = {}) => numberFormat(tag, opts).format(n),
  };
}
