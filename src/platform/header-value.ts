// HTTP header values as the client meant them. Node's HTTP parser hands a header's bytes over as
// latin1 (RFC 9110 §5.5: field values are octets, historically ISO-8859-1), so a UTF-8 client's
// "４１１１" arrives as mojibake ("ï¼\u0094…") that no text check recognises and that any reader
// who decodes it back as UTF-8 sees exactly. Every header value Postgate keeps (the User-Agent of
// consent records) is first read back as UTF-8 when its bytes are valid UTF-8, then checked.
import { redactedPrefix } from '../policy/cards.js';

const HIGH_LATIN1 = /[\u0080-\u00ff]/;
const BEYOND_LATIN1 = /[^\u0000-\u00ff]/;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The header value read as UTF-8 (RFC 3629) when it is a byte string (every code unit ≤ U+00FF, as
 * Node's parser gives it) holding a valid UTF-8 sequence; otherwise the value as it is (plain ASCII,
 * genuine latin1 such as "café" sent as one byte per letter, or a string that never was bytes).
 */
export function headerValueAsUtf8(value: string): string {
  if (!HIGH_LATIN1.test(value) || BEYOND_LATIN1.test(value)) return value;
  try {
    return UTF8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

/**
 * A header value as it may be kept: read as UTF-8 (headerValueAsUtf8), control characters as spaces,
 * card numbers redacted (policy/cards, ISO/IEC 7812) before and after the cut to `max` code units so
 * that no half of one survives it; null when nothing is left.
 */
export function keptHeaderValue(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined) return null;
  const text = headerValueAsUtf8(value).replace(/\p{Cc}/gu, ' ');
  const kept = redactedPrefix(text, max);
  return kept.trim() === '' ? null : kept;
}
