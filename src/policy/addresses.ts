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

// Format characters (General_Category Cf): invisible, they hide text or make two names that look the
// same differ — ZWSP, WJ, BOM, soft hyphen, tag characters (U+E0000–E007F), bidi controls… Two uses
// are kept, because real names and subjects need them and they join visible characters only:
// - ZWJ (U+200D) inside an emoji ZWJ sequence (UTS #51: pictograph ZWJ pictograph, "👩‍💻"), and an
//   emoji tag sequence (UTS #51: U+1F3F4 tags… U+E007F, the flags of England, Scotland, Wales);
// - ZWNJ and ZWJ (U+200C, U+200D) between two letters or marks of a script that uses them (Arabic,
//   Persian, Indic…; not Latin, Greek or Cyrillic, where they only hide things: "pay\u200Dpal").
const FORMAT_CHAR = /\p{Cf}/u;
const FORMAT_CHARS = /\p{Cf}/gu;
const EMOJI_TAG_SEQUENCE = /\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}/gu;
const PICTOGRAPH_BEFORE = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F]$/u;
const PICTOGRAPH_AFTER = /^\p{Extended_Pictographic}/u;
const JOINING_LETTER_BEFORE = /[\p{L}\p{M}]$/u;
const JOINING_LETTER_AFTER = /^[\p{L}\p{M}]/u;
const NO_JOINERS = /[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}]/u;

/** The character (code point) that ends `before` / starts `after`, or ''. */
const lastChar = (before: string): string => {
  const cp = before.codePointAt(before.length >= 2 && /[\uDC00-\uDFFF]/.test(before[before.length - 1]) ? before.length - 2 : before.length - 1);
  return cp === undefined ? '' : String.fromCodePoint(cp);
};
const firstChar = (after: string): string => {
  const cp = after.codePointAt(0);
  return cp === undefined ? '' : String.fromCodePoint(cp);
};

function joinerKept(value: string, at: number, joiner: string): boolean {
  const before = lastChar(value.slice(Math.max(0, at - 2), at));
  const after = firstChar(value.slice(at + joiner.length, at + joiner.length + 2));
  if (joiner === '\u200D' && PICTOGRAPH_BEFORE.test(before) && PICTOGRAPH_AFTER.test(after)) return true;
  return JOINING_LETTER_BEFORE.test(before) && JOINING_LETTER_AFTER.test(after) && !NO_JOINERS.test(before) && !NO_JOINERS.test(after);
}

/** The format characters (Unicode General_Category Cf) of a value that are not kept joiners, as [index, text]. */
function strayFormatCharacters(value: string): Array<[number, string]> {
  const v = value.includes('\u{1F3F4}') ? value.replace(EMOJI_TAG_SEQUENCE, (m) => '\u{1F3F4}' + '\u0000'.repeat(m.length - 2)) : value;
  const out: Array<[number, string]> = [];
  for (const m of v.matchAll(FORMAT_CHARS)) { // matchAll copies the regex, lastIndex 0: never shared state
    if ((m[0] === '\u200C' || m[0] === '\u200D') && joinerKept(v, m.index, m[0])) continue;
    out.push([m.index, m[0]]);
  }
  return out;
}

/**
 * True when the value holds an invisible format character (Unicode General_Category Cf: ZWSP,
 * ZWNJ, ZWJ, WJ, BOM, soft hyphen, tag characters U+E0000–E007F, bidi controls…), other than a
 * joiner inside an emoji sequence (UTS #51) or between letters of a script that uses joiners.
 */
export function hasFormatCharacter(value: string): boolean {
  if (!FORMAT_CHAR.test(value)) return false;
  return strayFormatCharacters(value).length > 0;
}

/** The value without the format characters (Unicode Cf) hasFormatCharacter refuses, UTS #51 emoji sequences kept; the same string when it has none. */
export function stripFormatCharacters(value: string): string {
  if (!FORMAT_CHAR.test(value)) return value;
  const stray = strayFormatCharacters(value);
  if (stray.length === 0) return value;
  let out = '';
  let at = 0;
  for (const [i, ch] of stray) { out += value.slice(at, i); at = i + ch.length; }
  return out + value.slice(at);
}

// Characters a reader takes for '<' or '>' that NFKC (UAX #15) leaves alone: single guillemets
// (U+2039, U+203A), angle brackets (U+2329, U+232A, U+27E8, U+27E9, U+3008, U+3009), modifier
// arrowheads (U+02C2, U+02C3) and Canadian syllabics (U+1438, U+1433), from UTS #39's confusables.
const ANGLE_CONFUSABLE = /[\u2039\u203A\u2329\u232A\u27E8\u27E9\u3008\u3009\u02C2\u02C3\u1438\u1433]/;
const NON_ASCII = /[^\u0000-\u007F]/;

/**
 * The address-syntax character a value imitates with non-ASCII look-alikes, or null: '<' or '>'
 * when one of its characters becomes one under NFKC (UAX #15 compatibility normalisation: '＜' U+FF1C,
 * '﹤' U+FE64) or is a listed confusable ('‹', '〈', '⟨'…); with `sender`, '@' too ('＠' U+FF20,
 * '﹫' U+FE6B). ASCII '<', '>' and '@' themselves are not look-alikes (see displayNameProblem).
 */
export function addressLookalike(value: string, sender = false): '<>' | '@' | null {
  if (!NON_ASCII.test(value)) return null;
  if (ANGLE_CONFUSABLE.test(value)) return '<>';
  const ascii = value.replace(/[<>@]/g, '');
  const folded = ascii.normalize('NFKC');
  if (folded.includes('<') || folded.includes('>')) return '<>';
  if (sender && folded.includes('@')) return '@';
  return null;
}

export type DisplayNameProblem = 'control' | 'encoded_word' | 'bidi_control' | 'format_character' | 'angle_bracket' | 'at_sign';

/**
 * Why a name cannot be a display name in From or To (RFC 5322 §3.4 `display-name`), or null.
 * Refused: control characters and line breaks, encoded-words (RFC 2047: they decode to anything,
 * line breaks included), bidi controls (UAX #9: they reorder what the reader sees), other invisible
 * format characters (Unicode Cf: zero-width characters, tag characters; see hasFormatCharacter), and
 * '<' or '>' (a name that looks like an address), read in NFKC form (UAX #15: '＜' and '﹤' are '<')
 * with a few more look-alikes (see addressLookalike). With `sender` (the From name readers trust)
 * '@' is refused too ('＠', '﹫' as well). Quotes, commas and semicolons are allowed: nodemailer
 * quotes the name (RFC 5322 quoted-string).
 */
export function displayNameProblem(value: string, sender = false): DisplayNameProblem | null {
  if (hasHeaderInjection(value)) return 'control';
  if (hasEncodedWord(value)) return 'encoded_word';
  if (hasBidiControl(value)) return 'bidi_control';
  if (hasFormatCharacter(value)) return 'format_character';
  if (value.includes('<') || value.includes('>')) return 'angle_bracket';
  if (sender && value.includes('@')) return 'at_sign';
  const lookalike = addressLookalike(value, sender);
  if (lookalike === '<>') return 'angle_bracket';
  if (lookalike === '@') return 'at_sign';
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

/** Providers that ignore dots in the local part; googlemail.com is gmail.com. */
const DOTLESS_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * The mailbox an address reaches, for counting what one inbox receives (the activation cap): the
 * address lower-cased, a `+tag` cut from the local part (for every domain; a local part that starts
 * with '+' keeps it), and for gmail.com / googlemail.com the dots of the local part removed and the
 * domain written gmail.com. `Victim+1@Example.org` → `victim@example.org`, `a.b+x@googlemail.com` →
 * `ab@gmail.com`. Expects a normalised address (parseAddress); never throws. The SQL function
 * mailbox_key() of migration 072 computes the same key (its index serves the cap's count).
 */
export function mailboxKey(address: string): string {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf('@');
  if (at < 0) return a;
  let local = a.slice(0, at);
  const domain = a.slice(at + 1);
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  return DOTLESS_DOMAINS.has(domain) ? `${local.replace(/\./g, '')}@gmail.com` : `${local}@${domain}`;
}
