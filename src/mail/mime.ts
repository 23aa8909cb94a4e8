// The raw MIME builder of every outgoing message (PURE: no I/O; nodemailer's own building blocks).
// nodemailer builds and DKIM-signs each message from scratch, streaming every byte through its
// quoted-printable encoder and its relaxed body canonicaliser in JavaScript (~5 ms of CPU for a
// 29 KiB newsletter, ~1 ms of which is the RSA signature). Almost all of that work is the same for
// every recipient of a campaign. This module does it once and reuses it:
//
// - Headers: the root node's header block is built by nodemailer's MimeNode exactly as
//   MailComposer builds it (addresses, RFC 2047 words, folding, Date, Message-ID, MIME-Version,
//   boundary), but the root node alone: no child nodes, no bodies, no envelope parsing.
// - Bodies: each part (text/plain, text/html) is quoted-printable, utf-8. QP soft line breaks depend
//   on the column, so a chunk's encoding must not depend on what precedes it: the chunks are the
//   part's source LINES. Every source line ends in a hard line break (CRLF), which resets the column,
//   so a line's encoding (nodemailer's qp.encode, done on the string with no Buffer round trip, +
//   qp.wrap at 76, trailing whitespace encoded) and its DKIM relaxed canonical form
//   (RFC 6376 3.4.4: runs of SP/HTAB become one SP; QP output has no trailing whitespace) depend on
//   the line alone. A text is compared with the last text of the same number of lines, block by
//   block (8 lines) and, in a block that differs, line by line: only the lines that differ (a name,
//   a tokenised link) go through the line memo (LineCodec), where personalised ones are encoded.
// - DKIM: the body hash (bh=) is one SHA-256 over the canonical body assembled from the memoised
//   canonical lines (~0.03 ms), and the signature is nodemailer's own dkim/sign (relaxed/relaxed,
//   the h= list given, rsa-sha256 through node:crypto) over the header block: no second pass over
//   the body. Private keys are parsed once (a small cache of KeyObjects). The RSA-2048 operation
//   (~0.9 ms) is most of what is left.
// - The multipart boundary's random part comes from a pooled random buffer, and the values of steady
//   header fields (From, Reply-To, List-Id, Feedback-ID …) are encoded once by nodemailer's own
//   encodeHeaderValue and memoised.
//
// The result goes to nodemailer as `raw` (with the envelope): it sends the bytes as they are. Beside
// it, buildMessage gives the same bytes dot-stuffed and terminated for the SMTP DATA phase, which
// platform/smtp.ts hands to nodemailer's pool without its per-byte DataStream pass.
import { createHash, createPrivateKey, randomFillSync, type KeyObject } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import MimeNode from 'nodemailer/lib/mime-node';
import sign from 'nodemailer/lib/dkim/sign';
import { wrap as qpWrap } from 'nodemailer/lib/qp';

/** A source line as it goes out: quoted-printable (soft breaks inside, no final CRLF) and its relaxed canonical form. */
interface EncodedLine { qp: string; canon: string }

/** The longest line memoised (characters); longer lines are encoded each time (rare, and seldom static). */
const MEMO_LINE_CHARS = 4096;
/**
 * Characters of keys a generation of a memo holds before it is retired. Small on purpose: static
 * text survives a retirement (found in the old generation, promoted), while the personalised lines
 * of past messages, never asked for again, leave with the old generation (less to GC).
 */
const MEMO_GENERATION_CHARS = 256 * 1024;
const LINE_BREAK = /\r\n|\n|\r/;
const WSP_RUN = /[ \t]+/g;

const HEX = '0123456789ABCDEF';

/** `=XX` for one byte. */
const escaped = (b: number): string => `=${HEX[b >> 4]}${HEX[b & 15]}`;

/** The UTF-8 bytes of the character at `i` (a surrogate pair whole; a lone surrogate as U+FFFD, as Buffer.from does), each as =XX; and how many UTF-16 units it took. */
function escapedUtf8(line: string, i: number): [string, number] {
  let cp = line.charCodeAt(i);
  let units = 1;
  if (cp >= 0xd800 && cp <= 0xdfff) {
    const lo = line.charCodeAt(i + 1);
    if (cp <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); units = 2; } else cp = 0xfffd;
  }
  if (cp < 0x800) return [escaped(0xc0 | (cp >> 6)) + escaped(0x80 | (cp & 63)), units];
  if (cp < 0x10000) return [escaped(0xe0 | (cp >> 12)) + escaped(0x80 | ((cp >> 6) & 63)) + escaped(0x80 | (cp & 63)), units];
  return [escaped(0xf0 | (cp >> 18)) + escaped(0x80 | ((cp >> 12) & 63)) + escaped(0x80 | ((cp >> 6) & 63)) + escaped(0x80 | (cp & 63)), units];
}

/** What qp.encode escapes in a line: every UTF-16 unit but TAB and SP to '~' without '=' (a surrogate pair matched whole). */
const QP_ESCAPE = /[\ud800-\udbff][\udc00-\udfff]|[^\t\x20-\x3c\x3e-\x7e]/g;
const ESCAPED_ASCII = Array.from({ length: 128 }, (_, c) => escaped(c));

/** `=XX` for each UTF-8 byte of one match of QP_ESCAPE (a lone surrogate as U+FFFD, as Buffer.from does). */
function escapeMatch(m: string): string {
  const c = m.charCodeAt(0);
  return c < 0x80 ? ESCAPED_ASCII[c] : escapedUtf8(m, 0)[0];
}

/**
 * nodemailer's qp.encode of a line (no CR or LF), on the string: TAB and SP to '~' but '=' stay,
 * whitespace at the line's end and every other byte of its UTF-8 form become =XX. One native
 * regex pass, no Buffer round trip; the same output as qp.encode(line) (test/mail/mime.test.ts).
 */
function qpEncodeLine(line: string): string {
  const out = line.replace(QP_ESCAPE, escapeMatch);
  const last = out.charCodeAt(out.length - 1);
  return last === 0x20 || last === 0x09 ? out.slice(0, -1) + ESCAPED_ASCII[last] : out;
}

function encodeLine(line: string): EncodedLine {
  const qp = qpWrap(qpEncodeLine(line), 76);
  return { qp, canon: qp.replace(WSP_RUN, ' ') };
}

/**
 * The string as its own copy: a line or block sliced out of a message would otherwise keep the whole
 * message alive as long as it is a key (V8 slices share their parent's characters).
 */
function ownCopy(s: string): string {
  return s.length < 13 ? s : `${s} `.slice(0, -1);
}

/** A bounded two-generation memo: an entry found in the old generation is promoted; when the young one is full, the old one is dropped. */
class Memo {
  private young = new Map<string, EncodedLine>();
  private old = new Map<string, EncodedLine>();
  private chars = 0;
  constructor(private readonly capacity: number) {}

  get(key: string, make: (key: string) => EncodedLine): EncodedLine {
    let e = this.young.get(key);
    if (e) return e;
    e = this.old.get(key);
    if (!e) {
      e = make(key);
      key = ownCopy(key);
    }
    this.young.set(key, e);
    this.chars += key.length + 16;
    if (this.chars > this.capacity) { this.old = this.young; this.young = new Map(); this.chars = 0; }
    return e;
  }
}

/** Source lines per block: a text is compared with the last one of its shape block by block (a few dozen string comparisons per message, not hundreds). */
const BLOCK_LINES = 8;

/** The last text of a shape, by block: each block, its source lines and their encodings (lines set when the block was encoded line by line). */
interface Slots { keys: string[]; enc: EncodedLine[]; lines: Array<string[] | undefined>; lineEnc: Array<EncodedLine[] | undefined> }

/**
 * Memo of encoded lines (two generations, see Memo) and, per text shape (its number of lines), the
 * last text's blocks of BLOCK_LINES lines with their encodings. The next message of the same
 * template mostly has the same block at the same place: one string comparison reuses it. A block
 * that differs (a personalised line inside) is compared line by line with the last one at its
 * place, and only the lines that differ go through the line memo (static lines that moved are found
 * there; personalised ones are encoded). Per process, a cache only (nothing shared between workers).
 */
export class LineCodec {
  private readonly lines = new Memo(MEMO_GENERATION_CHARS);
  /** Per number of source lines, the last text's blocks (at most 64 shapes kept; the last text of each is held). */
  private readonly positional = new Map<number, Slots>();

  /** The QP encoding and canonical form of one source line (no CR or LF inside). */
  line(line: string): EncodedLine {
    return line.length > MEMO_LINE_CHARS ? encodeLine(line) : this.lines.get(line, encodeLine);
  }

  private slotsFor(shape: number): Slots {
    let slots = this.positional.get(shape);
    if (!slots) {
      if (this.positional.size >= 64) this.positional.clear();
      slots = { keys: [], enc: [], lines: [], lineEnc: [] };
      this.positional.set(shape, slots);
    }
    return slots;
  }

  /** Encodes block `index` line by line, reusing the encodings of the lines equal to the last block's at the same place; records it in `slots`. */
  private encodeBlock(block: string, slots: Slots, index: number): EncodedLine {
    const parts = block.split(LINE_BREAK);
    const prev = slots.lines[index];
    const prevEnc = slots.lineEnc[index];
    const encs = new Array<EncodedLine>(parts.length);
    const qp = new Array<string>(parts.length);
    const canon = new Array<string>(parts.length);
    for (let i = 0; i < parts.length; i++) {
      const e = prev !== undefined && prevEnc !== undefined && prev[i] === parts[i] ? prevEnc[i] : this.line(parts[i]);
      encs[i] = e;
      qp[i] = e.qp;
      canon[i] = e.canon;
    }
    const e = { qp: qp.join('\r\n'), canon: canon.join('\r\n') };
    slots.keys[index] = block;
    slots.enc[index] = e;
    slots.lines[index] = parts;
    slots.lineEnc[index] = encs;
    return e;
  }

  /** The text cut into blocks of BLOCK_LINES source lines (a CRLF at a block's edge is one line break, not part of the block), and its number of lines. */
  private static blocksOf(text: string): { blocks: string[]; lines: number } {
    const blocks: string[] = [];
    let lines = 0;
    let pos = 0;
    for (;;) {
      let end = pos - 1;
      for (let n = 0; n < BLOCK_LINES && end < text.length; n++, lines++) {
        end = text.indexOf('\n', end + 1);
        if (end < 0) end = text.length;
      }
      const last = end >= text.length;
      const stop = !last && end > pos && text.charCodeAt(end - 1) === 13 ? end - 1 : Math.min(end, text.length);
      blocks.push(text.slice(pos, stop));
      if (last) return { blocks, lines };
      pos = end + 1;
    }
  }

  /** A text as a QP body and its canonical form, both with CRLF line ends (a final line break stays one). */
  part(text: string): EncodedLine {
    const { blocks, lines } = LineCodec.blocksOf(text);
    const slots = this.slotsFor(lines);
    const qp = new Array<string>(blocks.length);
    const canon = new Array<string>(blocks.length);
    for (let index = 0; index < blocks.length; index++) {
      const block = blocks[index];
      const e = slots.keys[index] === block ? slots.enc[index] : this.encodeBlock(block, slots, index);
      qp[index] = e.qp;
      canon[index] = e.canon;
    }
    return { qp: qp.join('\r\n'), canon: canon.join('\r\n') };
  }
}

/** The process's memo (shared by the campaign drain and single messages). */
export const lineCodec = new LineCodec();

const keys = new Map<string, KeyObject>();
/** A PEM private key parsed once (at most 64 kept). */
function privateKey(pem: string): KeyObject {
  let k = keys.get(pem);
  if (!k) {
    if (keys.size >= 64) keys.clear();
    k = createPrivateKey(pem);
    keys.set(pem, k);
  }
  return k;
}

export interface RawDkim { domainName: string; keySelector: string; privateKey: string; headerFieldNames: string }

/** A header block split into fields, as nodemailer's DKIM signer takes them: lowercase name and the whole (folded) line. */
function headerFields(block: string): Array<{ key: string; line: string }> {
  return block.split(/\r\n(?![ \t])/).map((line) => ({ key: line.slice(0, line.indexOf(':')).trim().toLowerCase(), line }));
}

/** The relaxed canonical body (RFC 6376 3.4.4) of a body whose lines are already canonical: trailing empty lines dropped, one final CRLF. */
function finalCanon(canon: string): string {
  let end = canon.length;
  while (end >= 2 && canon.charCodeAt(end - 1) === 10 && canon.charCodeAt(end - 2) === 13) end -= 2; // a scan from the end, not a regex tried at every offset
  return end === 0 ? '\r\n' : `${canon.slice(0, end)}\r\n`;
}

const TEXT_HEADERS = (type: 'plain' | 'html') => `Content-Type: text/${type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable`;
/** Header lines in the body (part headers, boundaries) have single spaces and no trailing whitespace: canonical as written. */
function bodyOf(parts: Array<{ type: 'plain' | 'html'; body: EncodedLine }>, boundary: string | null): EncodedLine {
  if (boundary === null) { // a single part: the message ends with a line break, as nodemailer ends it
    const end = parts[0].body.qp.endsWith('\r\n') ? '' : '\r\n';
    return { qp: parts[0].body.qp + end, canon: parts[0].body.canon + end };
  }
  const qp: string[] = [];
  const canon: string[] = [];
  parts.forEach((p, i) => {
    const head = `${i > 0 ? '\r\n' : ''}--${boundary}\r\n${TEXT_HEADERS(p.type)}\r\n\r\n`;
    qp.push(head, p.body.qp);
    canon.push(head, p.body.canon);
  });
  const tail = `\r\n--${boundary}--\r\n`;
  qp.push(tail);
  canon.push(tail);
  return { qp: qp.join(''), canon: canon.join('') };
}

/** nodemailer's (undocumented) header-name normaliser: a few regexes per call, and MimeNode calls it on every set, get and build of a header. */
type NormalizeKey = (this: MimeNode, key: string) => string;
const baseNormalizeKey = (MimeNode.prototype as unknown as { _normalizeHeaderKey?: NormalizeKey })._normalizeHeaderKey;
const normalizedKeys = new Map<string, string>();

type EncodeValue = (this: MimeNode, key: string, value: unknown) => string;
const baseEncodeValue = (MimeNode.prototype as unknown as { encodeHeaderValue?: EncodeValue }).encodeHeaderValue;
/** Header fields whose value is usually the same in every message of a sender (From, Reply-To, list and feedback ids): their encoded values are memoised. */
const STEADY_FIELDS = new Set(['from', 'sender', 'reply-to', 'list-id', 'feedback-id', 'mime-version', 'auto-submitted', 'list-unsubscribe-post']);
const encodedValues = new Map<string, string>();

/** The memo key of a header value: a string, or an address as compose gives it ({ name, address }); null for anything else (not memoised). */
function valueKey(key: string, value: unknown): string | null {
  if (!STEADY_FIELDS.has(key.toLowerCase())) return null;
  if (typeof value === 'string') return `${key}\u0000${value}`;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const { name, address, ...rest } = value as Record<string, unknown>;
    if (typeof name === 'string' && typeof address === 'string' && Object.keys(rest).length === 0) return `${key}\u0000${name}\u0000${address}`;
  }
  return null;
}

/** 8 random bytes as hex, the shared part of a message's multipart boundary, drawn from a pooled buffer (one random fill per 512 messages). */
const boundaryPool = Buffer.alloc(4096);
let boundaryAt = boundaryPool.length;
function baseBoundary(): string {
  if (boundaryAt >= boundaryPool.length) { randomFillSync(boundaryPool); boundaryAt = 0; }
  boundaryAt += 8;
  return boundaryPool.toString('hex', boundaryAt - 8, boundaryAt);
}

/**
 * A root MimeNode whose header names are normalised once per process (at most 256 names kept): the
 * same names, the same result, without the regexes on every call; and whose steady header values
 * (STEADY_FIELDS) are encoded once (at most 512 kept): encodeHeaderValue of the root node depends on
 * the field and value alone. Plain MimeNode if nodemailer no longer has these methods.
 */
const HeaderNode: typeof MimeNode = typeof baseNormalizeKey !== 'function' || typeof baseEncodeValue !== 'function' ? MimeNode : class extends MimeNode {
  _normalizeHeaderKey(key: string): string {
    if (typeof key !== 'string') return baseNormalizeKey.call(this, key);
    let k = normalizedKeys.get(key);
    if (k === undefined) {
      if (normalizedKeys.size >= 256) normalizedKeys.clear();
      k = baseNormalizeKey.call(this, key);
      normalizedKeys.set(key, k);
    }
    return k;
  }

  override encodeHeaderValue(key: string, value: unknown): string {
    const memoKey = typeof key === 'string' ? valueKey(key, value) : null;
    if (memoKey === null) return baseEncodeValue.call(this, key, value);
    let v = encodedValues.get(memoKey);
    if (v === undefined) {
      if (encodedValues.size >= 512) encodedValues.clear();
      v = baseEncodeValue.call(this, key, value);
      encodedValues.set(memoKey, v);
    }
    return v;
  }
};

/** The root header fields MailComposer.compile() sets (after the custom headers), in its order, with the mail option each comes from. */
const ROOT_FIELDS: ReadonlyArray<[string, keyof SendMailOptions]> = [
  ['from', 'from'], ['sender', 'sender'], ['to', 'to'], ['cc', 'cc'], ['bcc', 'bcc'], ['reply-to', 'replyTo'], ['in-reply-to', 'inReplyTo'],
  ['references', 'references'], ['subject', 'subject'], ['message-id', 'messageId'], ['date', 'date'],
];

/**
 * The root header block nodemailer would write for `mail` (no trailing CRLF), and the multipart
 * boundary (null for a single part). The root node is built as MailComposer.compile() builds it
 * (content type, custom headers, then the fields of ROOT_FIELDS; nodemailer's MimeNode encodes,
 * folds and adds Date, Message-ID, MIME-Version) but alone: no child nodes, no bodies.
 */
function rootHeaders(mail: SendMailOptions, multipart: boolean, single: 'plain' | 'html'): { block: string; boundary: string | null } {
  const root = new HeaderNode(multipart ? 'multipart/alternative' : `text/${single}`, { disableFileAccess: true, disableUrlAccess: true, baseBoundary: baseBoundary() });
  if (mail.headers) root.addHeader(mail.headers as Parameters<MimeNode['addHeader']>[0]);
  for (const [field, option] of ROOT_FIELDS) {
    const value = mail[option];
    if (value) root.setHeader(field, value as Parameters<MimeNode['setHeader']>[1]);
  }
  if (!mail.messageId && mail.envelope) root.setEnvelope(mail.envelope as Parameters<MimeNode['setEnvelope']>[0]); // the generated Message-ID's domain
  if (!multipart) {
    root.setHeader('Content-Type', `text/${single}; charset=utf-8`);
    root.setHeader('Content-Transfer-Encoding', 'quoted-printable');
  }
  const block = root.buildHeaders();
  return { block, boundary: multipart ? String(root.boundary) : null };
}

/**
 * Builds the whole message as bytes: `mail` as composeMessage made it (from, to, replyTo, subject,
 * messageId, headers, html and/or text), QP-encoded through `codec`, DKIM-signed when `dkim` is
 * given (relaxed/relaxed, rsa-sha256; h= the fields of `dkim.headerFieldNames` present). CRLF line
 * ends; every line ≤ 76 octets but header lines nodemailer cannot fold (a single token longer than
 * that). Throws when signing fails (an unusable key).
 */
export function buildRaw(mail: SendMailOptions, dkim: RawDkim | null, codec: LineCodec = lineCodec): Buffer {
  return buildMessage(mail, dkim, codec).raw;
}

/** A message as buildRaw makes it, and as the SMTP DATA phase sends it. */
export interface BuiltMessage {
  raw: Buffer;
  /**
   * `raw` ready for DATA (RFC 5321 4.5.2): every "." that starts a line doubled, the final "." line
   * appended. Null when the header block is not CRLF-only (it is by construction; checked, so a
   * bare CR or LF never goes out unrepaired: the sender then takes nodemailer's repairing path).
   */
  smtpData: Buffer | null;
}

/** True when every CR of `s` is followed by LF and every LF preceded by CR. */
/** True when every CR of `s` is followed by LF and every LF preceded by CR. PURE. */
export function crlfOnly(s: string): boolean {
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) if (i === 0 || s.charCodeAt(i - 1) !== 0x0d) return false;
  for (let i = s.indexOf('\r'); i >= 0; i = s.indexOf('\r', i + 1)) if (s.charCodeAt(i + 1) !== 0x0a) return false;
  return true;
}

/**
 * buildRaw, and the same bytes dot-stuffed for SMTP. The body is CRLF-only by construction (source
 * lines are split at every CR, LF and CRLF; quoted-printable escapes control characters), so only
 * the header block is checked; the message ends with CRLF, so the final line is ".".
 */
export function buildMessage(mail: SendMailOptions, dkim: RawDkim | null, codec: LineCodec = lineCodec): BuiltMessage {
  const html = typeof mail.html === 'string' ? mail.html : '';
  const text = typeof mail.text === 'string' ? mail.text : '';
  const parts: Array<{ type: 'plain' | 'html'; body: EncodedLine }> = [];
  if (text !== '' || html === '') parts.push({ type: 'plain', body: codec.part(text) });
  if (html !== '') parts.push({ type: 'html', body: codec.part(html) });
  const { block, boundary } = rootHeaders(mail, parts.length > 1, parts[0].type);
  const body = bodyOf(parts, boundary);
  let head = block;
  if (dkim) {
    const bh = createHash('sha256').update(finalCanon(body.canon), 'latin1').digest('base64');
    const signature = sign(headerFields(block), 'sha256', bh, {
      domainName: dkim.domainName, keySelector: dkim.keySelector, privateKey: privateKey(dkim.privateKey), headerFieldNames: dkim.headerFieldNames,
    });
    if (signature === false) throw new Error('DKIM signing failed: the private key cannot sign');
    head = `${signature}\r\n${block}`;
  }
  const whole = `${head}\r\n\r\n${body.qp}`;
  const raw = Buffer.from(whole, 'latin1');
  if (!crlfOnly(head)) return { raw, smtpData: null };
  return { raw, smtpData: dotStuffed(whole) };
}

/**
 * A CRLF-only message (one character per byte, ending in CRLF) as the SMTP DATA phase sends it
 * (RFC 5321 4.5.2): a "." that starts a line doubled, the terminating "." line appended. PURE.
 */
export function dotStuffed(message: string): Buffer {
  return Buffer.from(`${message.charCodeAt(0) === 0x2e ? '.' : ''}${message.replaceAll('\r\n.', '\r\n..')}.\r\n`, 'latin1');
}
