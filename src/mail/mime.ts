// The raw MIME builder of every outgoing message (PURE: no I/O; nodemailer's own building blocks).
// nodemailer builds and DKIM-signs each message from scratch, streaming every byte through its
// quoted-printable encoder and its relaxed body canonicaliser in JavaScript (~5 ms of CPU for a
// 25 KiB newsletter, 1.8 ms of which is the RSA signature). Almost all of that work is the same for
// every recipient of a campaign. This module does it once and reuses it:
//
// - Headers: nodemailer's MailComposer builds the root node's header block exactly as it does today
//   (addresses, RFC 2047 words, folding, Date, Message-ID, MIME-Version, boundary); only the header
//   block, never the bodies, so its cost does not grow with the message.
// - Bodies: each part (text/plain, text/html) is quoted-printable, utf-8. QP soft line breaks depend
//   on the column, so a chunk's encoding must not depend on what precedes it: the chunks are the
//   part's source LINES. Every source line ends in a hard line break (CRLF), which resets the column,
//   so a line's encoding (nodemailer's qp.encode + qp.wrap at 76, trailing whitespace encoded) and
//   its DKIM relaxed canonical form (RFC 6376 3.4.4: runs of SP/HTAB become one SP; QP output has no
//   trailing whitespace) depend on the line alone. They are memoised per line (LineCodec): the lines
//   of a compiled template that carry no merge field are encoded once per process, and per recipient
//   only the lines holding a personalised fragment (a name, a tokenised link) are encoded again.
// - DKIM: the body hash (bh=) is one SHA-256 over the canonical body assembled from the memoised
//   canonical lines (~0.05 ms), and the signature is nodemailer's own dkim/sign (relaxed/relaxed,
//   the h= list given, rsa-sha256 through node:crypto) over the header block: no second pass over
//   the body. Private keys are parsed once (a small cache of KeyObjects).
//
// The result goes to nodemailer as `raw` (with the envelope): it sends the bytes as they are.
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import sign from 'nodemailer/lib/dkim/sign';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';

/** A source line as it goes out: quoted-printable (soft breaks inside, no final CRLF) and its relaxed canonical form. */
interface EncodedLine { qp: string; canon: string }

/** The longest line memoised (characters); longer lines are encoded each time (rare, and seldom static). */
const MEMO_LINE_CHARS = 4096;
/**
 * Characters of keys a generation of a memo holds before it is retired. Small on purpose: static
 * text survives a retirement (found in the old generation, promoted), while the personalised lines
 * and blocks of past messages, never asked for again, leave with the old generation (less to GC).
 */
const MEMO_GENERATION_CHARS = 256 * 1024;
const LINE_BREAK = /\r\n|\n|\r/;
const WSP_RUN = /[ \t]+/g;

function encodeLine(line: string): EncodedLine {
  const qp = qpWrap(qpEncode(line), 76);
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

/** Source lines per block: a block of lines is looked up as one key (a few dozen lookups per message, not hundreds). */
const BLOCK_LINES = 24;

/**
 * Memo of encoded lines and of blocks of BLOCK_LINES lines (each in two generations, see Memo).
 * Blocks every message shares (a template's static text) stay; personalised ones age out, and a
 * block that missed is encoded line by line through the line memo, so only its changed lines are
 * encoded again. Per process, a cache only (nothing shared between workers).
 */
export class LineCodec {
  private readonly lines = new Memo(MEMO_GENERATION_CHARS);
  private readonly blocks = new Memo(MEMO_GENERATION_CHARS * 2);
  private readonly encodeBlock = (block: string): EncodedLine => {
    const parts = block.split(LINE_BREAK);
    const qp = new Array<string>(parts.length);
    const canon = new Array<string>(parts.length);
    for (let i = 0; i < parts.length; i++) {
      const e = this.line(parts[i]);
      qp[i] = e.qp;
      canon[i] = e.canon;
    }
    return { qp: qp.join('\r\n'), canon: canon.join('\r\n') };
  };

  /** The QP encoding and canonical form of one source line (no CR or LF inside). */
  line(line: string): EncodedLine {
    return line.length > MEMO_LINE_CHARS ? encodeLine(line) : this.lines.get(line, encodeLine);
  }

  /**
   * The blocks the last text that began with the same first block had, by position: the next
   * message of the same template mostly has the same block at the same place, and comparing two
   * strings is cheaper than hashing one for the memo (at most 64 first blocks kept).
   */
  private readonly positional = new Map<string, { keys: string[]; enc: EncodedLine[] }>();

  private slotsFor(first: string): { keys: string[]; enc: EncodedLine[] } {
    let slots = this.positional.get(first);
    if (!slots) {
      if (this.positional.size >= 64) this.positional.clear();
      slots = { keys: [], enc: [] };
      this.positional.set(first, slots);
    }
    return slots;
  }

  /** A text as a QP body and its canonical form, both with CRLF line ends (a final line break stays one). */
  part(text: string): EncodedLine {
    const qp: string[] = [];
    const canon: string[] = [];
    let pos = 0;
    let slots: { keys: string[]; enc: EncodedLine[] } | null = null;
    for (let index = 0; ; index++) {
      let end = pos - 1;
      for (let n = 0; n < BLOCK_LINES && end < text.length; n++) {
        end = text.indexOf('\n', end + 1);
        if (end < 0) end = text.length;
      }
      const last = end >= text.length;
      // A CRLF at the block's edge is one line break: the CR is not part of the block.
      const stop = !last && end > pos && text.charCodeAt(end - 1) === 13 ? end - 1 : Math.min(end, text.length);
      const block = text.slice(pos, stop);
      let e: EncodedLine;
      if (block.length > MEMO_LINE_CHARS * 8) e = this.encodeBlock(block);
      else if (slots !== null && slots.keys[index] === block) e = slots.enc[index];
      else {
        e = this.blocks.get(block, this.encodeBlock);
        slots ??= this.slotsFor(block);
        slots.keys[index] = ownCopy(block);
        slots.enc[index] = e;
      }
      qp.push(e.qp);
      canon.push(e.canon);
      if (last) break;
      pos = end + 1;
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
  const trimmed = canon.replace(/(?:\r\n)+$/, '');
  return trimmed === '' ? '\r\n' : `${trimmed}\r\n`;
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

/**
 * The root header block nodemailer would write for `mail` (no trailing CRLF), and the multipart
 * boundary (null for a single part). Only the headers are built: bodies are stand-ins.
 */
function rootHeaders(mail: SendMailOptions, multipart: boolean, single: 'plain' | 'html'): { block: string; boundary: string | null } {
  const shape: SendMailOptions = { ...mail, raw: undefined, dkim: undefined, attachments: undefined, alternatives: undefined };
  shape.html = multipart || single === 'html' ? ' ' : undefined;
  shape.text = multipart || single === 'plain' ? ' ' : undefined;
  const root = new MailComposer(shape).compile();
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
