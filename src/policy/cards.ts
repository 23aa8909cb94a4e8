// Payment-card detector (PURE). Postgate never accepts or stores card numbers (PCI DSS scope): what a
// person sends is refused (every request body, query and path is deep-walked before anything else
// runs), what a third party or a header sends is redacted before it is stored or logged (User-Agent
// in consent records, bounce diagnostics, SMTP replies, every log line).
//
// One normaliser reads the text, code point by code point, in one linear pass:
// - every Unicode decimal digit (General_Category Nd: ASCII, full-width, Arabic-Indic, Devanagari,
//   mathematical…) counts as its numeric value;
// - invisible characters are skipped as if absent: format characters (Cf: ZWSP, ZWNJ, ZWJ, WJ, BOM,
//   soft hyphen, bidi controls), other default-ignorable code points (CGJ, variation selectors) and
//   combining marks (Mn, Me);
// - a run of separators counts as ONE separator: spaces (Zs: incl. NBSP, narrow NBSP, figure and
//   ideographic space), TAB, dashes (Pd, U+2212 minus), dots ('.', U+00B7, U+2024, U+FF0E, U+FE52)
//   and slashes ('/', U+FF0F). Line breaks, commas, colons, underscores and letters end a candidate:
//   a card number is written on one line, and '_' joins machine identifiers, not digit groups.
// A candidate is then a run of digit groups. Any window of whole consecutive groups holding 13–19
// digits that starts with a payment-card major industry identifier (ISO/IEC 7812-1: first digit 2–6;
// see CARD_MII) and passes Luhn is a card number, provided its separators are of one kind (spaces and
// dashes are one kind: "4111 1111-1111 1111"; dots another; slashes a third) or, when they mix,
// every group has at least 4 digits ("4111 1111-1111.1111"). So "100.00 200.00 300.00" (amounts),
// "10.0.0.1 192.168.1.1" (addresses) or "15.01.2024 16.01.2024" (dates) never form a window.
// False-positive discipline kept from the first detector: UUIDs (our own ids) are blanked first; an
// unbroken digit string is only ever taken whole (a 25-digit id is not searched for a card inside
// it); runs under 13 digits are never flagged; a window starting with 0, 1, 7, 8 or 9 is never a card
// (no payment network issues under those MIIs: airlines 1, petroleum 7, telecom 8, national 9), so
// "0000000000000000", "k-1733030400000" (millisecond timestamps until 2033) and references starting
// with 1 pass. Collateral that remains by design: a 13–19 digit run starting with 2–6 that passes
// Luhn by chance (1 in 10): dates such as "2024-01-15 2025-02-20", phone numbers and references
// starting with 2–6, and millisecond timestamps again from 2033-05-18 (2·10^12 ms) on.
// Not caught by design: digits spelled out, split by letters, commas or line breaks, or groups
// shorter than 4 digits joined by separators of more than one kind.
import { UUID_IN_TEXT } from './ids.js';

export const MIN_CARD_DIGITS = 13;
export const MAX_CARD_DIGITS = 19;
export const MAX_SCAN_DEPTH = 64;

/**
 * The major industry identifiers (ISO/IEC 7812-1, the first digit of an issuer identification
 * number) under which payment cards are issued: 2 (Mastercard 2221–2720), 3 (Amex 34/37, JCB 35,
 * Diners 36/38), 4 (Visa), 5 (Mastercard 51–55, Maestro), 6 (Discover, UnionPay, Maestro, RuPay).
 * A digit window whose first digit is not one of these is never a card number.
 */
export const CARD_MII: readonly number[] = [2, 3, 4, 5, 6];
const MII_MIN = 2;
const MII_MAX = 6;

/**
 * True when an ASCII digit string is a payment-card number by shape: 13–19 digits, a payment-card
 * major industry identifier first (ISO/IEC 7812-1, see CARD_MII) and a valid Luhn check digit
 * (ISO/IEC 7812-1 Annex B).
 */
export function isCardNumber(digits: string): boolean {
  if (digits.length < MIN_CARD_DIGITS || digits.length > MAX_CARD_DIGITS) return false;
  const first = digits.charCodeAt(0) - 48;
  return first >= MII_MIN && first <= MII_MAX && luhnValid(digits);
}
/** The path findCardData returns when the input nests deeper than MAX_SCAN_DEPTH (not scanned: refuse it). */
export const TOO_DEEP = '$too_deep';
/** What redactCardNumbers puts in place of a card number. */
export const CARD_REDACTION = '[card number removed]';

/** Luhn sum check of digits[from, to). */
function luhnRange(digits: readonly number[], from: number, to: number): boolean {
  let sum = 0;
  for (let i = to - 1, double = false; i >= from; i--, double = !double) {
    const d = double ? digits[i] * 2 : digits[i];
    sum += d > 9 ? d - 9 : d;
  }
  return sum % 10 === 0;
}

/** Luhn (mod 10) check (ISO/IEC 7812-1 Annex B) of an ASCII digit string; false for an empty or non-digit string. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  return luhnRange(Array.from(digits, (c) => c.charCodeAt(0) - 48), 0, digits.length);
}

// ---- Character classes -------------------------------------------------------------------------
// A class is a digit value 0–9, or one of these. Separator kinds are bits: a window may only hold
// separators of one kind (spaces and dashes are one kind).
const OTHER = -1;
const IGNORABLE = -2;
const SEP_SPACE = -3;
const SEP_DOT = -4;
const SEP_SLASH = -5;
const KIND_SPACE = 1;
const KIND_DOT = 2;
const KIND_SLASH = 4;

const ND = /^\p{Nd}$/u;
const SPACE_LIKE = /^[\p{Zs}\p{Pd}\u2212]$/u;
const INVISIBLE = /^[\p{Cf}\p{Default_Ignorable_Code_Point}\p{Mn}\p{Me}]$/u;
const DOTS = new Set([0x00b7, 0x2024, 0xfe52, 0xff0e]);
const SLASHES = new Set([0x2044, 0x2215, 0xff0f]);

/**
 * The numeric value of a decimal digit (Nd). Unicode encodes every decimal digit set as ten
 * contiguous code points, 0 to 9 (a stability policy), so a maximal run of Nd code points is a
 * sequence of whole sets and the value is the offset from the run's start, mod 10.
 */
function ndValue(cp: number): number {
  let start = cp;
  while (start > 0 && ND.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

function classifyNonAscii(cp: number): number {
  const s = String.fromCodePoint(cp);
  if (ND.test(s)) return ndValue(cp);
  if (SPACE_LIKE.test(s)) return SEP_SPACE;
  if (DOTS.has(cp)) return SEP_DOT;
  if (SLASHES.has(cp)) return SEP_SLASH;
  if (INVISIBLE.test(s)) return IGNORABLE;
  return OTHER;
}

// Planes 0 and 1 (where every decimal digit set lives) are classified lazily, once per code point:
// stored as class + 16 so that 0 means "not yet classified". Higher planes are classified each time.
const LAZY = new Int8Array(0x20000);

function classOf(cp: number): number {
  if (cp < 0x80) {
    if (cp >= 48 && cp <= 57) return cp - 48;
    if (cp === 32 || cp === 9 || cp === 45) return SEP_SPACE;
    if (cp === 46) return SEP_DOT;
    if (cp === 47) return SEP_SLASH;
    return OTHER;
  }
  if (cp >= 0x20000) return classifyNonAscii(cp);
  const cached = LAZY[cp];
  if (cached !== 0) return cached - 16;
  const c = classifyNonAscii(cp);
  LAZY[cp] = c + 16;
  return c;
}

const SEPARATOR_SHOWN = ['', ' ', '.', '.', '/', '/', '\\', '\\']; // by kind bits: space 1, dot 2, slash 4

/**
 * The normalised form of a text as the detector reads it: every Unicode decimal digit as its ASCII
 * digit, invisible characters removed, each run of separators as one character by its kind (' '
 * spaces and dashes, '.' dots, '/' slashes, '\\' dots and slashes mixed; dots or slashes win over the
 * spaces around them), everything else kept. UUIDs are not blanked here. For tests and diagnostics:
 * the detector reads the text in the same way without building this string.
 */
export function normaliseForCards(text: string): string {
  let out = '';
  let bits = 0;
  for (const ch of text) {
    const c = classOf(ch.codePointAt(0) as number);
    if (c === IGNORABLE) continue;
    if (c === SEP_SPACE || c === SEP_DOT || c === SEP_SLASH) { bits |= c === SEP_DOT ? KIND_DOT : c === SEP_SLASH ? KIND_SLASH : KIND_SPACE; continue; }
    out += SEPARATOR_SHOWN[(bits & (KIND_DOT | KIND_SLASH)) !== 0 ? bits & (KIND_DOT | KIND_SLASH) : bits] + (c >= 0 ? String(c) : ch);
    bits = 0;
  }
  return out + SEPARATOR_SHOWN[(bits & (KIND_DOT | KIND_SLASH)) !== 0 ? bits & (KIND_DOT | KIND_SLASH) : bits];
}

// ---- The scanner ---------------------------------------------------------------------------------

/** A card number's place in the original text: [start, end) in UTF-16 code units. */
export interface CardSpan { start: number; end: number }

/** UUID ranges [start, end) in text order (blanked: they are our own ids, never card numbers). */
function uuidRanges(text: string): number[] {
  if (text.length < 36 || !text.includes('-')) return [];
  const out: number[] = [];
  for (const m of text.matchAll(UUID_IN_TEXT)) out.push(m.index, m.index + m[0].length);
  return out;
}

// A window reaches back at most MAX_CARD_DIGITS groups (each has a digit), so the scanner keeps the
// last RING groups of the current run in fixed ring buffers: no allocation per group or per run.
const RING = 32;
/** A window whose separators are of more than one kind counts only when every group has this many digits. */
const MIN_MIXED_GROUP = 4;
const INTERESTING = /[0-9\u0080-\uffff]/;
const MASK = RING - 1;
const DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]; // Luhn: 2d, minus 9 when above 9

/**
 * One linear pass, left to right, O(1) per character and at most 7 window checks per digit group.
 * A window [a, b) of the run's digit positions passes Luhn when the digits at positions of the same
 * parity as b are doubled and the sum is 0 mod 10; two prefix sums (one doubling even positions,
 * one odd) give any window's sum by one subtraction. Windows ending at a group are checked when it
 * closes, widest first; the earliest possible start moves only forward (19 digits back at most, and
 * no earlier than the last change of separator kind, unless every group since is 4+ digits long).
 * Collects the card spans (overlapping windows merged), or stops at the first window found when
 * `firstOnly`.
 */
class CardScanner {
  readonly spans: CardSpan[] = [];
  // The last RING groups of the current run: where each starts in the text, how many digits of the
  // run precede it, the prefix sums (mod 10) at its first digit, the kind of separator before it.
  private readonly gStart = new Int32Array(RING);
  private readonly gPos = new Int32Array(RING);
  private readonly gPe = new Int8Array(RING);
  private readonly gPo = new Int8Array(RING);
  private readonly gKind = new Int8Array(RING);
  private readonly gFirst = new Int8Array(RING); // the group's first digit (a window's MII, ISO/IEC 7812-1)
  private lo = 0;           // no window may start before this group (19 digits back)
  private kindStart = 0;    // windows from here on have separators of one kind
  private longStart = 0;    // windows from here on have groups of 4+ digits only (kinds may mix)
  private spanStart = -1;   // the pending span
  private spanEnd = -1;
  private spanLast = -1;    // the last group of the pending span

  constructor(private readonly firstOnly: boolean) {}

  /** Reads the text; returns early once a window is found when firstOnly. */
  run(text: string): void {
    const len = text.length;
    const uuids = uuidRanges(text);
    let u = 0;
    let nextUuid = uuids.length > 0 ? uuids[0] : -1;
    const skip = new RegExp(INTERESTING.source, 'g');
    // The current run: n groups (the open one is n - 1), pos digits, Luhn prefix sums mod 10 (pe
    // doubling even positions, po odd), separators seen since the last digit, the end of that digit.
    let n = 0;
    let pos = 0;
    let pe = 0;
    let po = 0;
    let sepBits = 0;
    let lastEnd = 0;
    for (let i = 0; i < len;) {
      let cp = text.charCodeAt(i);
      if (cp === 32 && n > 0 && i !== nextUuid) { sepBits |= KIND_SPACE; i++; continue; } // the commonest separator, inline
      if (i === nextUuid) {
        if (n > 0 && this.close(n - 1, pos, pe, po, lastEnd)) return;
        n = 0;
        i = uuids[u + 1];
        u += 2;
        nextUuid = u < uuids.length ? uuids[u] : -1;
        continue;
      }
      if (n === 0 && cp < 0x80 && (cp < 48 || cp > 57)) {
        // Outside a run, ASCII other than digits does nothing: jump to the next digit, non-ASCII or UUID.
        skip.lastIndex = i;
        const m = skip.exec(text);
        const to = m === null ? len : m.index;
        i = nextUuid > i && nextUuid < to ? nextUuid : to;
        continue;
      }
      let width = 1;
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < len) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) { cp = (cp - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000; width = 2; }
      }
      const c = cp >= 48 && cp <= 57 ? cp - 48 : classOf(cp);
      if (c >= 0) {
        if (n === 0 || sepBits !== 0) {
          if (n > 0) {
            if (this.close(n - 1, pos, pe, po, lastEnd)) return;
          } else {
            pos = 0; pe = 0; po = 0;
            this.startRun();
          }
          this.addGroup(n, i, pos, pe, po, sepBits, c);
          n++;
          sepBits = 0;
        }
        if ((pos & 1) === 0) { pe += DOUBLED[c]; po += c; } else { pe += c; po += DOUBLED[c]; }
        if (pe >= 10) pe -= 10;
        if (po >= 10) po -= 10;
        pos++;
        lastEnd = i + width;
      } else if (c === OTHER) {
        if (n > 0 && this.close(n - 1, pos, pe, po, lastEnd)) return;
        n = 0;
        sepBits = 0;
      } else if (c !== IGNORABLE && n > 0) {
        sepBits |= c === SEP_DOT ? KIND_DOT : c === SEP_SLASH ? KIND_SLASH : KIND_SPACE;
      }
      i += width;
    }
    if (n > 0) this.close(n - 1, pos, pe, po, lastEnd);
    this.flush();
  }

  private startRun(): void {
    this.lo = 0;
    this.kindStart = 0;
    this.longStart = 0;
    this.flush();
    this.spanLast = -1;
  }

  /** Group n of the run starts at `at` with digit `first` after separators `bits` (none for the first group). */
  private addGroup(n: number, at: number, pos: number, pe: number, po: number, bits: number, first: number): void {
    const kind = n === 0 ? 0 : (bits & (KIND_DOT | KIND_SLASH)) !== 0 ? bits & (KIND_DOT | KIND_SLASH) : KIND_SPACE;
    if (n >= 2 && kind !== this.gKind[(n - 1) & MASK]) this.kindStart = n - 1;
    const slot = n & MASK;
    this.gKind[slot] = kind;
    this.gFirst[slot] = first;
    this.gStart[slot] = at;
    this.gPos[slot] = pos;
    this.gPe[slot] = pe;
    this.gPo[slot] = po;
  }

  private flush(): void {
    if (this.spanStart >= 0) this.spans.push({ start: this.spanStart, end: this.spanEnd });
    this.spanStart = -1;
  }

  /** Checks the windows ending at group e, widest first; true when firstOnly and one passed. */
  private close(e: number, pos: number, pe: number, po: number, end: number): boolean {
    while (this.lo < e && pos - this.gPos[this.lo & MASK] > MAX_CARD_DIGITS) this.lo++;
    if (pos - this.gPos[e & MASK] < MIN_MIXED_GROUP) this.longStart = e + 1;
    const shape = this.kindStart < this.longStart ? this.kindStart : this.longStart;
    const gPos = this.gPos;
    // The window's Luhn sum is the difference of two prefix sums: 0 mod 10 when they are equal.
    const sums = (pos & 1) === 0 ? this.gPe : this.gPo;
    const sum = (pos & 1) === 0 ? pe : po;
    for (let g = this.lo > shape ? this.lo : shape; g <= e; g++) {
      const width = pos - gPos[g & MASK];
      if (width < MIN_CARD_DIGITS) break;
      if (width > MAX_CARD_DIGITS || sums[g & MASK] !== sum) continue;
      const mii = this.gFirst[g & MASK];
      if (mii < MII_MIN || mii > MII_MAX) continue;
      if (this.firstOnly) { this.spans.push({ start: this.gStart[g & MASK], end }); return true; }
      if (this.spanStart >= 0 && g <= this.spanLast) this.spanEnd = end;
      else {
        this.flush();
        this.spanStart = this.gStart[g & MASK];
        this.spanEnd = end;
      }
      this.spanLast = e;
      break;
    }
    return false;
  }
}

function scanCards(text: string, firstOnly: boolean): CardSpan[] {
  if (text.length < MIN_CARD_DIGITS) return [];
  const s = new CardScanner(firstOnly);
  s.run(text);
  return s.spans;
}

/**
 * Every card number in the text, as [start, end) spans of UTF-16 code units in text order (from
 * the first digit to the last; overlapping windows merged). Empty when there is none.
 */
export function findCardSpans(text: string): CardSpan[] {
  return scanCards(text, false);
}

/** True when the text holds a card number (see the header: Unicode digits, separators, invisibles). */
export function containsCardNumber(text: string): boolean {
  return scanCards(text, true).length > 0;
}

/**
 * The text with each card number replaced by CARD_REDACTION ('[card number removed]'); the same
 * string when there is none. The result never holds a card number: what remains of a digit run
 * formed no Luhn-valid window before and forms none after, the placeholder breaking the run.
 */
export function redactCardNumbers(text: string): string {
  const spans = findCardSpans(text);
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const s of spans) { out += text.slice(at, s.start) + CARD_REDACTION; at = s.end; }
  return out + text.slice(at);
}

/**
 * The text cut to `max` code units with card numbers redacted before and after the cut, so that no
 * half of one survives it (a kept third-party text: SMTP replies, bounce reports, header values).
 */
export function redactedPrefix(text: string, max: number): string {
  return redactCardNumbers(redactCardNumbers(text).slice(0, max));
}

// ---- Structured values ---------------------------------------------------------------------------

const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);

function scanObject(value: object, path: string, depth: number): string | null {
  // Bytes (a raw body: message/rfc822, text/csv) are numbers 0–255, never a card number one by one;
  // walking them cost ~650 ms of event loop per MiB. Their readers scan the text (bounces/card-check.ts).
  if (value instanceof Uint8Array) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = scan(value[i], `${path}[${i}]`, depth + 1);
      if (hit !== null) return hit;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    if (containsCardNumber(k)) return join(path, '[key]'); // never echo the number itself
    const hit = scan(v, join(path, k), depth + 1);
    if (hit !== null) return hit;
  }
  return null;
}

function scan(value: unknown, path: string, depth: number): string | null {
  if (depth > MAX_SCAN_DEPTH) return TOO_DEEP;
  switch (typeof value) {
    case 'string': return containsCardNumber(value) ? path || '$' : null;
    case 'number': case 'bigint': return containsCardNumber(String(value)) ? path || '$' : null;
    case 'object': return value === null ? null : scanObject(value, path, depth);
    default: return null;
  }
}

/**
 * Deep-walks objects, arrays, strings and numbers (object keys too) and returns the path of the
 * first field holding a card number — `lines[0].description`, prefixed by `path` when given
 * (`body.lines[0].description`), `$` (or `path`) for a top-level hit — else null. Input nested
 * deeper than MAX_SCAN_DEPTH is not scanned: the result is TOO_DEEP ('$too_deep'), so refuse it.
 */
export function findCardData(value: unknown, path?: string): string | null {
  return scan(value, path ?? '', 0);
}

/** What redactCardData puts in place of a value nested deeper than MAX_SCAN_DEPTH (or a cycle). */
export const TOO_DEEP_REDACTION = '[too deep]';

function redactError(e: Error, depth: number): Error {
  const message = redactCardNumbers(e.message);
  const stack = e.stack === undefined ? undefined : redactCardNumbers(e.stack);
  if (message === e.message && stack === e.stack) return e;
  const copy = new Error(message);
  copy.name = e.name;
  copy.stack = stack;
  for (const [k, v] of Object.entries(e)) if (k !== 'message' && k !== 'stack') (copy as unknown as Record<string, unknown>)[k] = redactAt(v, depth + 1);
  return copy;
}

function redactArray(a: readonly unknown[], depth: number): unknown[] {
  let out: unknown[] | null = null;
  for (let i = 0; i < a.length; i++) {
    const v = redactAt(a[i], depth + 1);
    if (v !== a[i]) { out ??= a.slice(); out[i] = v; }
  }
  return out ?? (a as unknown[]);
}

function redactRecord(o: Record<string, unknown>, depth: number): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(o)) {
    const key = redactCardNumbers(k);
    const value = redactAt(v, depth + 1);
    if (key !== k || value !== v) {
      out ??= { ...o };
      if (key !== k) delete out[k];
      out[key] = value;
    }
  }
  return out ?? o;
}

function redactAt(value: unknown, depth: number): unknown {
  if (depth > MAX_SCAN_DEPTH) return TOO_DEEP_REDACTION;
  switch (typeof value) {
    case 'string': return redactCardNumbers(value);
    case 'number': case 'bigint': return containsCardNumber(String(value)) ? CARD_REDACTION : value;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return redactArray(value, depth);
      if (value instanceof Error) return redactError(value, depth);
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return value; // Buffers, Dates, class instances: left as they are
      return redactRecord(value as Record<string, unknown>, depth);
    }
    default: return value;
  }
}

/**
 * A copy of a value with every card number redacted (see redactCardNumbers): strings, object keys,
 * numbers (a card-like number becomes the string CARD_REDACTION), Errors (message and stack), plain
 * objects and arrays walked deeply; values nested deeper than MAX_SCAN_DEPTH become TOO_DEEP_REDACTION. Clean
 * parts are shared, not copied, and a clean value is returned as it is. Other objects (Buffer,
 * Date, class instances) are returned as they are.
 */
export function redactCardData<T>(value: T): T {
  return redactAt(value, 0) as T;
}

/**
 * True when a URL path holds a card number, read as sent or percent-decoded (RFC 3986: `%E2%80%8B`
 * is a ZWSP, `%EF%BC%94` a full-width 4). A malformed escape leaves that reading out.
 */
export function pathHoldsCardNumber(path: string): boolean {
  if (containsCardNumber(path)) return true;
  if (!path.includes('%')) return false;
  try {
    return containsCardNumber(decodeURIComponent(path));
  } catch {
    return false;
  }
}
