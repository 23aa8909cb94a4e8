// Typed cell values of a CSV import (PURE): dates, numbers, booleans, IP addresses and list names.
// Every parser takes a trimmed, non-empty cell and returns the value or null (not valid); none
// throws, and none runs a regular expression that can backtrack badly (cells are capped at 10 KiB).
//
// Dates (all read as UTC unless they carry an offset):
// - ISO 8601: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z`, `±HH:MM`, `±HHMM` or no zone;
// - `YYYY-MM-DD HH:MM:SS[.fff]` (Mailchimp exports, UTC), with an optional ` ±HHMM[ ZONE]` (listmonk
//   exports: Go's time.String(), e.g. `2024-01-15 10:20:30.123456 +0000 UTC`);
// - `DD.MM.YYYY` (always day first);
// - `DD/MM/YYYY` or `MM/DD/YYYY` only when unambiguous: a first number above 12 is the day, a second
//   above 12 is the day (US order); `03/04/2024` is refused as ambiguous, `04/04/2024` is fine.
// Numbers: `-12`, `3.5`, `1e3`; with the `;` delimiter a decimal comma (`3,5`) too. No thousands
// separators. Booleans: true/false, yes/no, y/n, 1/0 (any case).

export type AttributeType = 'string' | 'number' | 'boolean' | 'date';

/** A parsed date: `iso` is a full ISO 8601 UTC timestamp; `date` the `YYYY-MM-DD` form when the cell held no time. */
export interface ParsedDate { iso: string; date: string | null }

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(?:\s*(Z|[+-]\d{2}:?\d{2})(?:\s+[A-Za-z]{1,5})?)?$/;
const DOTTED = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/;
const SLASHED = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;

/** Milliseconds of a valid calendar date-time (UTC), or null (Feb 30, hour 25, year before 1000…). */
function utcMillis(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number | null {
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return new Date(ms).getUTCDate() === d ? ms : null;
}

/** Offset of `Z`, `+02:00` or `-0530` in minutes, or null when malformed. */
function offsetMinutes(zone: string | undefined): number | null {
  if (!zone || zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const h = Number(digits.slice(0, 2));
  const m = Number(digits.slice(2));
  return h > 14 || m > 59 ? null : sign * (h * 60 + m);
}

function isoDate(m: RegExpExecArray): ParsedDate | null {
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const base = utcMillis(+y, +mo, +d, h ? +h : 0, mi ? +mi : 0, s ? +s : 0);
  const offset = offsetMinutes(zone);
  if (base === null || offset === null) return null;
  const ms = base + (frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0) - offset * 60_000;
  const iso = new Date(ms).toISOString();
  return { iso, date: h === undefined && zone === undefined ? iso.slice(0, 10) : null };
}

function dayFirst(d: number, mo: number, y: number): ParsedDate | null {
  const ms = utcMillis(y, mo, d);
  if (ms === null) return null;
  const iso = new Date(ms).toISOString();
  return { iso, date: iso.slice(0, 10) };
}

/** A date or date-time in one of the accepted forms (see the file header), or null. */
export function parseDateCell(value: string): ParsedDate | null {
  if (value.length > 64) return null;
  const iso = ISO.exec(value);
  if (iso) return isoDate(iso);
  const dotted = DOTTED.exec(value);
  if (dotted) return dayFirst(+dotted[1], +dotted[2], +dotted[3]);
  const slashed = SLASHED.exec(value);
  if (!slashed) return null;
  const [a, b, y] = [+slashed[1], +slashed[2], +slashed[3]];
  if (a > 12 && b <= 12) return dayFirst(a, b, y);
  if (b > 12 && a <= 12) return dayFirst(b, a, y);
  return a === b ? dayFirst(a, b, y) : null;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?$/;
const DECIMAL_COMMA = /^[+-]?\d+,\d+$/;

/** A finite number ('.' decimal; with `decimalComma`, `3,5` too), or null. */
export function parseNumberCell(value: string, decimalComma: boolean): number | null {
  if (value.length > 64) return null;
  const text = decimalComma && DECIMAL_COMMA.test(value) ? value.replace(',', '.') : value;
  if (!NUMBER.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

const TRUE = new Set(['true', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'no', 'n', '0']);

/** true/false/yes/no/y/n/1/0 (any case), or null. */
export function parseBooleanCell(value: string): boolean | null {
  const v = value.toLowerCase();
  if (TRUE.has(v)) return true;
  return FALSE.has(v) ? false : null;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** True for a dotted-quad IPv4 or an IPv6 address (checked by the WHATWG URL parser, no I/O). */
export function isIpAddress(value: string): boolean {
  if (IPV4.test(value)) return true;
  if (!value.includes(':') || value.length > 45 || /[^0-9A-Fa-f:.]/.test(value)) return false;
  try {
    new URL(`http://[${value}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * List names of a lists cell: separated by '|' when it holds one, else by ','; or, when the cell
 * starts with a quote, quoted names as Mailchimp writes TAGS (see splitMailchimpTags). Trimmed,
 * blanks and repeats dropped.
 */
export function splitListNames(value: string): string[] {
  if (value.startsWith('"')) return splitMailchimpTags(value);
  return unique(value.split(value.includes('|') ? '|' : ','));
}

/**
 * Mailchimp's TAGS cell: `"Tag A","Tag B"` (each tag quoted, '""' inside a tag), or plain
 * comma-separated names. Returns the tag names, trimmed, blanks and repeats dropped.
 */
export function splitMailchimpTags(value: string): string[] {
  if (!value.startsWith('"')) return unique(value.split(','));
  const tags: string[] = [];
  let tag: string | null = null; // inside a quoted tag
  for (let i = 0; i < value.length; i++) { // one pass: linear whatever the quotes
    const ch = value[i];
    if (tag === null) { if (ch === '"') tag = ''; continue; }
    if (ch !== '"') tag += ch;
    else if (value[i + 1] === '"') { tag += '"'; i++; } else { tags.push(tag); tag = null; }
  }
  return unique(tags);
}

function unique(parts: string[]): string[] {
  const seen = new Set<string>();
  for (const p of parts) {
    const t = p.trim();
    if (t) seen.add(t);
  }
  return [...seen];
}
