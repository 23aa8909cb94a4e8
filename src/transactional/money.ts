// Money for invoices: integer minor units, exact totals (BigInt), and display with Intl.
// The number of minor units is ISO 4217's, not CLDR's: ICU shows HUF, IDR, IQD, COP… with 0 decimals
// although ISO 4217 (and so every payment system sending us minor units) counts 2 or 3. Reading a
// HUF 123450 as "123,450 Ft" would be a 100× error, so the exponent comes from the table below and
// Intl is told exactly how many decimals to show. Amounts are formatted from exact decimal strings.

/** ISO 4217 currencies whose minor unit is not 2 (among those Intl knows). */
const ISO_EXPONENTS: Readonly<Record<string, number>> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0,
  VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};
/** Units of account with no minor unit in ISO 4217: not usable for an invoice in minor units. */
const NO_MINOR_UNIT = new Set(['XDR', 'XSU', 'XUA', 'XAG', 'XAU', 'XPD', 'XPT', 'XTS', 'XXX', 'XBA', 'XBB', 'XBC', 'XBD']);

let known: Set<string> | null = null;

/** True for an ISO 4217 code Intl can format and that has a minor unit. */
export function isKnownCurrency(code: string): boolean {
  known ??= new Set(Intl.supportedValuesOf('currency'));
  return /^[A-Z]{3}$/.test(code) && known.has(code) && !NO_MINOR_UNIT.has(code);
}

export function minorUnitDigits(currency: string): number {
  return ISO_EXPONENTS[currency] ?? 2;
}

/** Canonical BCP 47 tag, or null when the tag is not well-formed. */
export function canonicalLocale(tag: string): string | null {
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    return canonical ?? null;
  } catch {
    return null;
  }
}

/** Exact decimal string of an integer number of minor units: 123450, 2 → "1234.50". */
export function minorToDecimal(minor: bigint | number, digits: number): string {
  const v = BigInt(minor);
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(digits + 1, '0');
  const int = digits === 0 ? s : s.slice(0, s.length - digits);
  const frac = digits === 0 ? '' : `.${s.slice(s.length - digits)}`;
  return `${neg ? '-' : ''}${int}${frac}`;
}

// Intl formatters are costly to build: one per (kind, locale, currency), kept for the process.
const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();

function cached<T extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, make: () => T): T {
  let f = formatters.get(key) as T | undefined;
  if (!f) {
    f = make();
    if (formatters.size > 2000) formatters.clear();
    formatters.set(key, f);
  }
  return f;
}

function currencyFormat(locale: string, currency: string): Intl.NumberFormat {
  const digits = minorUnitDigits(currency);
  return cached(`money|${locale}|${currency}`, () => new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }));
}

/** "€1,234.50" (en, EUR, 123450), "1.234,50 €" (de-DE), "¥1,235" (en, JPY, 1235). */
export function formatMoney(minor: bigint | number, currency: string, locale: string): string {
  // Intl.NumberFormat v3 formats decimal strings exactly (no binary floating point on the way).
  return currencyFormat(locale, currency).format(minorToDecimal(minor, minorUnitDigits(currency)) as unknown as number);
}

export function formatQuantity(q: number, locale: string): string {
  return cached(`qty|${locale}`, () => new Intl.NumberFormat(locale, { maximumFractionDigits: 3 })).format(q);
}

/** A tax rate given in percent (20 → "20%", 5.5 → "5.5%"). */
export function formatRate(percent: number, locale: string): string {
  return cached(`rate|${locale}`, () => new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 4 })).format(percent / 100);
}

export interface AmountLine { quantity: number; unitAmount: number }

/** Exact sum of quantity × unitAmount plus the tax amounts, as a BigInt (never overflows). */
export function expectedTotal(lines: readonly AmountLine[], taxes: readonly { amount: number }[]): { subtotal: bigint; total: bigint } {
  const subtotal = lines.reduce((acc, l) => acc + BigInt(l.quantity) * BigInt(l.unitAmount), 0n);
  const total = taxes.reduce((acc, t) => acc + BigInt(t.amount), subtotal);
  return { subtotal, total };
}

export function isSafe(v: bigint): boolean {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER);
}

/** Formats an ISO date or datetime as a long date in the locale, as the issuer wrote it (no zone shift). */
export function formatIssuedDate(issuedAt: string, locale: string): string {
  const day = new Date(`${issuedAt.slice(0, 10)}T00:00:00Z`);
  return cached(`date|${locale}`, () => new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' })).format(day);
}
