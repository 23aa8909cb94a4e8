/**
 * An ISO 8601 instant as a date and time in `timeZone` (IANA name; default the browser's), e.g.
 * "2 Dec 2026, 14:05". Empty string for null or undefined; the input itself when it does not parse.
 */
export function formatDate(iso: string | null | undefined, timeZone?: string, opts: { seconds?: boolean; zone?: boolean } = {}): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, {
    timeZone, year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
    second: opts.seconds ? '2-digit' : undefined, timeZoneName: opts.zone ? 'short' : undefined, hourCycle: 'h23',
  }).format(d);
}

/** A count with the locale's grouping (12,345). */
export const formatNumber = (n: number | null | undefined): string => (n === null || n === undefined ? '' : new Intl.NumberFormat().format(n));

/** A ratio 0..1 as a percentage with `digits` decimals (0.0031 → "0.31%"). */
export const formatPercent = (r: number | null | undefined, digits = 2): string =>
  r === null || r === undefined ? '' : new Intl.NumberFormat(undefined, { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits }).format(r);
