// Email addresses and header safety (PURE). A strict, conservative parser for the addresses Postgate
// accepts, stores and sends to: a dot-atom ASCII local part, an IDNA domain converted to punycode,
// no control characters anywhere. Deliberately narrower than RFC 5322:
// - quoted local parts ("john doe"@x) and comments are rejected as 'malformed';
// - non-ASCII local parts are rejected as 'malformed' (SMTPUTF8 is not supported end to end);
// - IP-literal domains ([1.2.3.4]) and numeric TLDs are rejected as 'bad_domain'.
// parseAddress accepts reserved names (example.com, .test, …) so tests and local sinks work; only a
// reply-to must be on a real domain and must not be a no-reply mailbox (isReplyToAcceptable).
import { domainToASCII } from 'node:url';

export type AddressError = 'empty' | 'too_long' | 'header_injection' | 'malformed' | 'bad_domain' | 'reserved_domain';

export interface ParsedAddress {
  /** The local part, case kept. */
  local: string;
  /** Lower-case ASCII (IDNA / punycode). */
  domain: string;
  /** `local@domain`, trimmed, domain lower-cased and IDNA-converted, local part case kept. */
  address: string;
  /** The whole address lower-cased: for uniqueness and look-ups. */
  key: string;
}

export type ParseResult = { ok: true; value: ParsedAddress } | { ok: false; error: AddressError };
export type ReplyToResult = { ok: true; value: ParsedAddress } | { ok: false; error: AddressError | 'no_reply' };

export const MAX_ADDRESS_LENGTH = 254;
export const MAX_LOCAL_LENGTH = 64;
export const MAX_DOMAIN_LENGTH = 253;

/**
 * Thrown by assertHeaderSafe and mail/compose: a value meant for a mail header holds a line break or
 * control character (or, where `what` says so, an RFC 2047 encoded-word or a bidi control).
 */
export class HeaderInjectionError extends Error {
  readonly field: string;
  constructor(field: string, what = 'a line break or control character') {
    super(`header field ${field} contains ${what}`);
    this.name = 'HeaderInjectionError';
    this.field = field;
  }
}

// C0 controls except TAB, DEL, C1 controls (incl. NEL), and the Unicode line/paragraph separators.
const CONTROL = /[\u0000-\u0008\u000A-\u001F\u007F-\u009F\u2028\u2029]/;

/** True when the value holds CR, LF, NUL or any other control character (TAB is allowed). */
export function hasHeaderInjection(value: string): boolean {
  return CONTROL.test(value);
}

/** Throws HeaderInjectionError when the value is not safe to put in the header `field`. */
export function assertHeaderSafe(field: string, value: string): void {
  if (hasHeaderInjection(value)) throw new HeaderInjectionError(field);
}

// RFC 2047 §2 encoded-word: "=?" charset ["*" language] "?" encoding "?" encoded-text "?=". Looser
// than the grammar on purpose (any charset text, spaces allowed): lenient decoders (mailparser,
// many mail clients) decode such words even inside quoted strings, so "=?utf-8?q?a=0D=0Ab?=" in a
// name reaches the reader as a line break. Linear: each class excludes the '?' that ends it.
const ENCODED_WORD = /=\?[^?]*\?[bq]\?[^?]*\?=/i;

// Explicit bidirectional formatting characters (Unicode UAX #9 §2): embeddings and overrides
// (U+202A–U+202E), isolates (U+2066–U+2069), the implicit marks LRM, RLM (U+200E, U+200F) and the
// Arabic letter mark ALM (U+061C). They reorder what a reader sees: "moc.knab@" shows as "@bank.com".
const BIDI_CONTROL = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;
const BIDI_CONTROLS = new RegExp(BIDI_CONTROL.source, 'g');

/** True when the value holds something a mail reader would decode as an RFC 2047 encoded-word. */
export function hasEncodedWord(value: string): boolean {
  return ENCODED_WORD.test(value);
}

/** True when the value holds an explicit bidi formatting character (UAX #9: LRE…RLO, LRI…PDI, LRM, RLM, ALM). */
export function hasBidiControl(value: string): boolean {
  return BIDI_CONTROL.test(value);
}

/** The value without explicit bidi formatting characters (see hasBidiControl); the same string when it has none. */
export function stripBidiControls(value: string): string {
  return hasBidiControl(value) ? value.replace(BIDI_CONTROLS, '') : value;
}

export type DisplayNameProblem = 'control' | 'encoded_word' | 'bidi_control' | 'angle_bracket' | 'at_sign';

/**
 * Why a name cannot be a display name in From or To (RFC 5322 §3.4 `display-name`), or null.
 * Refused: control characters and line breaks, encoded-words (RFC 2047: they decode to anything,
 * line breaks included), bidi controls (UAX #9: they reorder what the reader sees), and '<' or '>'
 * (a name that looks like an address). With `sender` (the From name readers trust) '@' is refused
 * too. Quotes, commas and semicolons are allowed: nodemailer quotes the name (RFC 5322 quoted-string).
 */
export function displayNameProblem(value: string, sender = false): DisplayNameProblem | null {
  if (hasHeaderInjection(value)) return 'control';
  if (hasEncodedWord(value)) return 'encoded_word';
  if (hasBidiControl(value)) return 'bidi_control';
  if (value.includes('<') || value.includes('>')) return 'angle_bracket';
  if (sender && value.includes('@')) return 'at_sign';
  return null;
}

// RFC 5322 dot-atom of atext: no leading, trailing or doubled dots. Linear (separators are disjoint).
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const DOT_ATOM = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*$`);
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const TLD = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

function checkLocal(local: string): AddressError | null {
  if (local.length === 0) return 'malformed';
  if (local.length > MAX_LOCAL_LENGTH) return 'too_long';
  return DOT_ATOM.test(local) ? null : 'malformed';
}

/** IDNA-converts and validates a domain; returns the ASCII form or an error. */
function normaliseDomain(raw: string): { ok: true; domain: string } | { ok: false; error: AddressError } {
  if (raw.length === 0) return { ok: false, error: 'malformed' };
  if (raw.startsWith('[')) return { ok: false, error: 'bad_domain' };
  const domain = domainToASCII(raw);
  if (!domain || domain.length > MAX_DOMAIN_LENGTH) return { ok: false, error: 'bad_domain' };
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return { ok: false, error: 'bad_domain' };
  return TLD.test(labels[labels.length - 1]) ? { ok: true, domain } : { ok: false, error: 'bad_domain' };
}

function splitAt(s: string): [string, string] | null {
  const at = s.indexOf('@');
  if (at < 0 || s.indexOf('@', at + 1) >= 0) return null;
  return [s.slice(0, at), s.slice(at + 1)];
}

/** Strictly parses and normalises one address. Never throws. */
export function parseAddress(input: unknown): ParseResult {
  if (input === null || input === undefined) return { ok: false, error: 'empty' };
  if (typeof input !== 'string') return { ok: false, error: 'malformed' };
  if (hasHeaderInjection(input)) return { ok: false, error: 'header_injection' };
  const s = input.trim();
  if (s.length === 0) return { ok: false, error: 'empty' };
  if (s.length > MAX_ADDRESS_LENGTH) return { ok: false, error: 'too_long' };
  const parts = splitAt(s);
  if (!parts) return { ok: false, error: 'malformed' };
  const localError = checkLocal(parts[0]);
  if (localError) return { ok: false, error: localError };
  const d = normaliseDomain(parts[1]);
  if (!d.ok) return d;
  const address = `${parts[0]}@${d.domain}`;
  if (address.length > MAX_ADDRESS_LENGTH) return { ok: false, error: 'too_long' };
  return { ok: true, value: { local: parts[0], domain: d.domain, address, key: address.toLowerCase() } };
}

const RESERVED_TLDS = new Set(['example', 'test', 'invalid', 'localhost', 'local']);
const RESERVED_DOMAINS = ['example.com', 'example.net', 'example.org'];

/** RFC 2606 / RFC 6761 names (and mDNS .local): never a real mailbox. Expects an ASCII lower-case domain. */
export function isReservedDomain(domain: string): boolean {
  const tld = domain.slice(domain.lastIndexOf('.') + 1);
  if (RESERVED_TLDS.has(tld)) return true;
  return RESERVED_DOMAINS.some((r) => domain === r || domain.endsWith(`.${r}`));
}

// noreply, no-reply, no_reply, donotreply, do-not-reply (and the same with '.', '_' or '-' mixed),
// optionally followed by a +tag.
const NO_REPLY = /^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply)(?:\+.*)?$/i;

/** True for a no-reply style local part. */
export function isNoReplyLocal(local: string): boolean {
  return NO_REPLY.test(local);
}

/** A reply-to must parse, be on a real (non-reserved) domain and reach a person: not a no-reply box. */
export function isReplyToAcceptable(input: unknown): ReplyToResult {
  const r = parseAddress(input);
  if (!r.ok) return r;
  if (isReservedDomain(r.value.domain)) return { ok: false, error: 'reserved_domain' };
  if (isNoReplyLocal(r.value.local)) return { ok: false, error: 'no_reply' };
  return r;
}
