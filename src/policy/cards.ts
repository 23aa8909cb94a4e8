// Payment-card detector (PURE). Postgate never accepts or stores card numbers (PCI DSS scope), so
// every request body and query is deep-walked before anything else runs.
// A candidate is a run of digit groups joined by single spaces or dashes ("4111 1111-1111 1111").
// Any window of whole consecutive groups holding 13–19 digits that passes Luhn is a card number.
// An unbroken digit string is only ever taken whole: a 25-digit id is not searched for a card
// inside it (that would flag almost every long number), and runs under 13 digits are never flagged.
// Collateral that remains by design: a 13–19 digit reference, phone or date run passing Luhn by chance.
import { UUID_IN_TEXT } from './ids.js';

export const MIN_CARD_DIGITS = 13;
export const MAX_CARD_DIGITS = 19;
export const MAX_SCAN_DEPTH = 64;
/** The path findCardData returns when the input nests deeper than MAX_SCAN_DEPTH (not scanned: refuse it). */
export const TOO_DEEP = '$too_deep';

/** Luhn sum check of digits[from, to). */
function luhnRange(digits: readonly number[], from: number, to: number): boolean {
  let sum = 0;
  for (let i = to - 1, double = false; i >= from; i--, double = !double) {
    const d = double ? digits[i] * 2 : digits[i];
    sum += d > 9 ? d - 9 : d;
  }
  return sum % 10 === 0;
}

/** Luhn (mod 10) check of a digit string; false for an empty or non-digit string. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  return luhnRange(Array.from(digits, (c) => c.charCodeAt(0) - 48), 0, digits.length);
}

/** A run's digits, and the index in them where each group starts (plus the end, as a sentinel). */
function groupsOf(run: string): { digits: number[]; starts: number[] } {
  const digits: number[] = [];
  const starts: number[] = [0];
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    if (c >= 48 && c <= 57) digits.push(c - 48);
    else starts.push(digits.length);
  }
  starts.push(digits.length);
  return { digits, starts };
}

/** True when some window of whole consecutive groups has 13–19 digits and passes Luhn. */
function runHasCard(run: string): boolean {
  const { digits, starts } = groupsOf(run);
  for (let g = 0; g < starts.length - 1; g++) {
    for (let e = g + 1; e < starts.length && starts[e] - starts[g] <= MAX_CARD_DIGITS; e++) {
      if (starts[e] - starts[g] >= MIN_CARD_DIGITS && luhnRange(digits, starts[g], starts[e])) return true;
    }
  }
  return false;
}

// Digit groups joined by one space or dash. Separators are not digits, so matching is linear.
const RUN = /\d+(?:[ -]\d+)*/g;

/** True when the text holds a Luhn-valid run of 13–19 digits (single spaces or dashes allowed between). */
// UUIDs (our own ids) hold digit groups that can pass Luhn by chance (about 1 in 330): blank them.

export function containsCardNumber(text: string): boolean {
  const scanned = text.length >= 36 && text.includes('-') ? text.replace(UUID_IN_TEXT, ' ') : text;
  for (const m of scanned.matchAll(RUN)) {
    if (m[0].length >= MIN_CARD_DIGITS && runHasCard(m[0])) return true;
  }
  return false;
}

const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);

function scanObject(value: object, path: string, depth: number): string | null {
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
