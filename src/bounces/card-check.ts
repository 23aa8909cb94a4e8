// What keeps a raw report from being stored (bounces.raw_withheld). PURE (no I/O), so that it can run
// in the classify pool's worker threads (classify-pool.ts): parsing a hostile 256 KiB report with
// mailparser takes long enough to stall the event loop. The report is read as received AND decoded:
// every part's transfer encoding undone (base64, quoted-printable), HTML too, recursively into
// attached messages (message/rfc822, RFC 3464 DSNs and RFC 3834 auto-replies quote the original).
// - 'card_data': Postgate never stores card numbers (policy/cards, ISO/IEC 7812).
// - 'capability_link': the report still quotes a confirm (/a/<token>) or unsubscribe (/u/<token>)
//   link of the original message in some part (process.ts has already replaced the plainly written
//   ones): whoever reads the raw report could act for the recipient, so it is not kept.
import type { ParsedMail } from 'mailparser';
import { containsCardNumber } from '../policy/cards.js';

export type RawWithheld = 'card_data' | 'capability_link';

// A signed link token (policy/tokens: the JSON format, base64url(payload) "." base64url(HMAC-SHA256),
// or the compact one, 38 or more base64url characters without a dot) in a confirm, unsubscribe or
// test-address verification path (/a/, /u/, /t/), the slashes written or percent-encoded (a link-rewriting gateway's
// "?url=https%3A%2F%2F…%2Fa%2F<token>"). Short dotted names ("/a/page.html") are not tokens.
// Linear: the classes on each side of the '.' exclude it, and '/' ends every run.
const CAPABILITY_TOKEN = /(?:\/|%2f)[aut](?:\/|%2f)(?:[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}|[A-Za-z0-9_-]{38,})/i;

/** True when a decoded text holds a confirm, unsubscribe or test-address capability path, `/a/<token>`, `/u/<token>` or `/t/<token>`, its slashes plain or percent-encoded (RFC 3986). */
export function holdsCapabilityLink(text: string): boolean {
  return CAPABILITY_TOKEN.test(text);
}

/** How deep attached messages are opened (a DSN quoting an auto-reply quoting the original is 2). */
const MAX_NESTING = 4;
const PARSE_OPTIONS = { skipHtmlToText: false, skipTextToHtml: true, skipImageLinks: true } as const;

interface Decoded { texts: string[]; other: string[] }

function headerTexts(parsed: ParsedMail): string[] {
  const out: string[] = [];
  for (const v of parsed.headers.values()) out.push(typeof v === 'string' ? v : JSON.stringify(v) ?? '');
  return out;
}

type SimpleParser = typeof import('mailparser').simpleParser;
let parserLoading: Promise<SimpleParser> | null = null;

/**
 * mailparser's simpleParser, loaded at the first call (half a second of CPU: processes that never
 * check a report, the CLI say, never pay for it). The classify worker calls it at boot, outside any
 * report's time budget. A failure to load rejects (it is not taken for an unreadable report).
 */
export function loadMailparser(): Promise<SimpleParser> {
  parserLoading ??= import('mailparser').then((m) => m.simpleParser);
  return parserLoading;
}

/** The decoded texts of a message and of every message attached to it (to MAX_NESTING levels). */
async function decode(raw: Buffer, depth: number, into: Decoded): Promise<void> {
  const simpleParser = await loadMailparser();
  const parsed = await simpleParser(raw, PARSE_OPTIONS);
  into.texts.push(parsed.subject ?? '', parsed.text ?? '', typeof parsed.html === 'string' ? parsed.html : '', ...headerTexts(parsed));
  for (const a of parsed.attachments) {
    if (/^message\/(rfc822|global)$/i.test(a.contentType) && depth < MAX_NESTING) {
      into.texts.push(a.content.toString('utf8'));
      try { await decode(a.content, depth + 1, into); } catch { /* an unparseable attachment: its bytes were read above */ }
    } else if (/^(text|message)\//i.test(a.contentType)) into.texts.push(a.content.toString('utf8'));
    else into.other.push(a.content.toString('latin1'));
  }
}

/**
 * Why a raw report (RFC 5322; MIME parts of RFC 2045, RFC 3464 DSNs, RFC 3834 auto-replies) must not
 * be stored, or null: 'card_data' when it holds a payment-card number
 * (policy/cards: ISO/IEC 7812 MII and Luhn) as received or in a decoded text part; 'capability_link'
 * when any decoded part (any type, any transfer encoding, attached RFC 822 messages included) holds a
 * confirm or unsubscribe token (holdsCapabilityLink). A report mailparser cannot read is judged on its
 * bytes alone.
 */
export async function rawWithheldReason(raw: Buffer): Promise<RawWithheld | null> {
  const bytes = raw.toString('latin1');
  if (containsCardNumber(bytes)) return 'card_data';
  const decoded: Decoded = { texts: [], other: [] };
  await loadMailparser();
  try {
    await decode(raw, 0, decoded);
  } catch {
    return holdsCapabilityLink(bytes) ? 'capability_link' : null;
  }
  if (decoded.texts.some((t) => containsCardNumber(t))) return 'card_data';
  if (holdsCapabilityLink(bytes) || [...decoded.texts, ...decoded.other].some((t) => holdsCapabilityLink(t))) return 'capability_link';
  return null;
}

/** True when the raw report holds a card number (see rawWithheldReason). */
export async function holdsCardNumber(raw: Buffer): Promise<boolean> {
  return (await rawWithheldReason(raw)) === 'card_data';
}
