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
//   so a line's encoding (nodemailer's qp.encode + qp.wrap at 76, trailing whitespace encoded; an
//   ASCII line is escaped on the string, no Buffer round trip) and its DKIM relaxed canonical form
//   (RFC 6376 3.4.4: runs of SP/HTAB become one SP; QP output has no trailing whitespace) depend on
//   the line alone. A text is compared with the last text of the same number of lines, block by
//   block (8 lines) and, in a block that differs, line by line: only the lines that differ (a name,
//   a tokenised link) go through the line memo (LineCodec), where personalised ones are encoded.
// - DKIM: the body hash (bh=) is one SHA-256 over the canonical body assembled from the memoised
//   canonical lines (~0.03 ms), and the signature is nodemailer's own dkim/sign (relaxed/relaxed,
//   the h= list given, rsa-sha256 through node:crypto) over the header block: no second pass over
//   the body. Private keys are parsed once (a small cache of KeyObjects). The RSA-2048 operation
//   (~0.9 ms) is most of what is left.
//
// The result goes to nodemailer as `raw` (with the envelope): it sends the bytes as they are.
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import MimeNode from 'nodemailer/lib/mime-node';
import sign from 'nodemailer/lib/dkim/sign';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';

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

/**
 * nodemailer's qp.encode of a line of ASCII (no CR or LF), on the string: every character but TAB,
 * SP to '~' without '=' becomes =XX, and so does whitespace at the line's end; null when the line
 * holds a non-ASCII character (qp.encode then works on its UTF-8 bytes).
 */
function qpEncodeAscii(line: string): string | null {
  let out = '';
  let from = 0;
  const last = line.length - 1;
  for (let i = 0; i <= last; i++) {
    const c = line.charCodeAt(i);
    if (c > 0x7e) { if (c > 0x7f) return null; }
    else if (c === 0x3d || (c < 0x20 && c !== 0x09)) { /* escaped below */ }
    else if (i < last || (c !== 0x20 && c !== 0x09)) continue;
    out += `${line.slice(from, i)}=${HEX[c >> 4]}${HEX[c & 15]}`;
    from = i + 1;
  }
  return from === 0 ? line : out + line.slice(from);
}

function encodeLine(line: string): EncodedLine {
  const qp = qpWrap(qpEncodeAscii(line) ?? qpEncode(line), 76);
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

/**
 * A root MimeNode whose header names are normalised once per process (at most 256 names kept): the
 * same names, the same result, without the regexes on every call. Plain MimeNode if nodemailer no
 * longer has the method.
 */
const HeaderNode: typeof MimeNode = typeof baseNormalizeKey !== 'function' ? MimeNode : class extends MimeNode {
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
  const root = new HeaderNode(multipart ? 'multipart/alternative' : `text/${single}`, { disableFileAccess: true, disableUrlAccess: true });
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
  return Buffer.from(`${head}\r\n\r\n${body.qp}`, 'latin1');
}
