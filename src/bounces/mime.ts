// MIME parsing for the bounce classifier. PURE: no DB, no network, no fs.
// A tolerant reader for reports from any MTA: headers, multipart trees, transfer encodings,
// charsets and RFC 2047 words. Body strings are "binary" (latin1: one char per byte) until decoded.
//
// Bounded on hostile input (issue 12): every loop and pattern here is linear in its input, and the
// input itself is capped — MAX_INPUT bytes read at all, MAX_PARTS parts per message, MAX_DEPTH
// levels of nesting, MAX_HEADERS fields per part (repeated lines beyond that are ignored), MAX_HEADER
// characters per unfolded field, MAX_LINE characters per decoded text line (the rest of a longer
// line is dropped), MAX_PART_TEXT decoded characters per part and MAX_TOTAL_TEXT per message. Reports
// are small (headers, a short explanation, a DSN part, perhaps the returned original): nothing a
// real MTA writes comes near these limits, and the classifier's own patterns only ever see capped text.

export type Headers = Map<string, string[]>;
export interface Part { headers: Headers; type: string; params: Record<string, string>; body: string; children: Part[] }
export interface Collected { texts: string[]; htmls: string[]; dsn: string[]; feedback: string[]; originals: Headers[]; reportType: string | null }

export const MAX_DEPTH = 8;
/** Bytes of a message parsed at all (the SMTP listener keeps INBOUND_MAX_BYTES, 256 KiB by default). */
export const MAX_INPUT = 1024 * 1024;
export const MAX_PARTS = 100;
export const MAX_HEADERS = 500;
export const MAX_HEADER = 4096;
export const MAX_LINE = 16 * 1024; // longer than RFC 5322 §2.1.1 allows: provider JSON notifications (SES) come as one long line
export const MAX_PART_TEXT = 64 * 1024;
export const MAX_TOTAL_TEXT = 128 * 1024;
const MAX_BOUNDARY = 200;

/** Shared across one message's parse: how many more parts may be created. */
interface ParseBudget { parts: number }

/** Body strings are "binary" (latin1: one char per byte) until a part is decoded. */
export function parsePart(raw: string, depth: number, budget: ParseBudget = { parts: MAX_PARTS }): Part {
  const input = depth === 0 && raw.length > MAX_INPUT ? raw.slice(0, MAX_INPUT) : raw;
  const { head, body } = splitHead(input);
  const headers = parseHeaders(head);
  const { type, params } = parseContentType(header(headers, 'content-type'));
  const part: Part = { headers, type, params, body, children: [] };
  if (depth >= MAX_DEPTH || budget.parts <= 0) return part;
  if (type.startsWith('multipart/') && params.boundary) {
    for (const b of splitMultipart(body, params.boundary.slice(0, MAX_BOUNDARY), budget.parts)) {
      if (budget.parts <= 0) break;
      budget.parts--;
      part.children.push(parsePart(b, depth + 1, budget));
    }
  } else if (type === 'message/rfc822' || type === 'message/global') {
    budget.parts--;
    part.children = [parsePart(partBytes(part, MAX_INPUT).toString('latin1'), depth + 1, budget)];
  }
  return part;
}

export function splitHead(raw: string): { head: string; body: string } {
  let text = raw;
  if (text.startsWith('From ')) {
    const nl = text.indexOf('\n');
    if (nl >= 0) text = text.slice(nl + 1);
  }
  if (!startsWithField(text)) return { head: '', body: text.startsWith('\n') ? text.slice(1) : text };
  const idx = text.indexOf('\n\n');
  return idx < 0 ? { head: text, body: '' } : { head: text.slice(0, idx), body: text.slice(idx + 2) };
}

/** /^[\x21-\x39\x3b-\x7e]+:/ without a regex: a field name (printable, no colon) then a colon. */
function startsWithField(text: string): boolean {
  const end = Math.min(text.length, MAX_HEADER);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) return i > 0;
    if (c < 0x21 || c > 0x7e) return false;
  }
  return false;
}

const FIELD_RE = /^([^:\s]+)[ \t]*:[ \t]*/;

/** At most MAX_HEADERS fields (later ones are ignored), each cut to MAX_HEADER characters once unfolded. */
export function parseHeaders(head: string): Headers {
  const headers: Headers = new Map();
  let count = 0;
  let name: string | null = null;
  let value = '';
  const flush = (): void => {
    if (name === null) return;
    const list = headers.get(name);
    if (list) list.push(value.trim()); else headers.set(name, [value.trim()]);
    count++;
    name = null;
  };
  let pos = 0;
  while (pos <= head.length && count < MAX_HEADERS) {
    let nl = head.indexOf('\n', pos);
    if (nl < 0) nl = head.length;
    const line = head.slice(pos, Math.min(nl, pos + MAX_HEADER));
    pos = nl + 1;
    if (line.startsWith(' ') || line.startsWith('\t')) { // folded continuation
      if (name !== null && value.length < MAX_HEADER) value = (value + ' ' + line.trim()).slice(0, MAX_HEADER);
      continue;
    }
    flush();
    if (count >= MAX_HEADERS) break;
    const m = FIELD_RE.exec(line);
    if (!m) continue;
    name = m[1].toLowerCase();
    value = line.slice(m[0].length);
  }
  flush();
  return headers;
}

export function header(h: Headers, name: string): string | null {
  return h.get(name)?.[0] ?? null;
}

const PARAM_NAME_RE = /^\s*([\w-]+)\*?\s*=\s*/;

/** type/subtype and its parameters, by a single left-to-right scan (quoted values may hold ';'). */
export function parseContentType(value: string | null): { type: string; params: Record<string, string> } {
  const v = (value ?? 'text/plain').slice(0, MAX_HEADER);
  const semi = v.indexOf(';');
  const typePart = semi < 0 ? v : v.slice(0, semi);
  const params: Record<string, string> = {};
  let pos = semi < 0 ? v.length : semi + 1;
  while (pos < v.length) {
    const next = v.indexOf(';', pos);
    const segment = v.slice(pos, next < 0 ? v.length : next);
    const m = PARAM_NAME_RE.exec(segment);
    if (!m) { pos = next < 0 ? v.length : next + 1; continue; }
    const start = pos + m[0].length;
    let val: string;
    if (v[start] === '"') {
      const close = v.indexOf('"', start + 1);
      val = v.slice(start + 1, close < 0 ? v.length : close);
      const after = close < 0 ? -1 : v.indexOf(';', close);
      pos = close < 0 || after < 0 ? v.length : after + 1;
    } else {
      const end = next < 0 ? v.length : next;
      val = v.slice(start, end).trim().split(/\s/)[0];
      pos = end + 1;
    }
    params[m[1].toLowerCase()] = val;
  }
  return { type: typePart.trim().toLowerCase() || 'text/plain', params };
}

/** Body parts between `--boundary` lines (at most maxParts), by indexOf: linear in the body. */
function splitMultipart(body: string, boundary: string, maxParts: number): string[] {
  const delim = `--${boundary}`;
  const parts: string[] = [];
  let start = -1; // start of the current part's content, -1 before the first delimiter
  let pos = 0;
  while (pos <= body.length) {
    let nl = body.indexOf('\n', pos);
    if (nl < 0) nl = body.length;
    if (body.startsWith(delim, pos)) {
      const rest = body.slice(pos + delim.length, nl).trimEnd();
      if (rest === '' || rest === '--') {
        if (start >= 0) parts.push(body.slice(start, Math.max(start, pos - 1)));
        if (rest === '--' || parts.length >= maxParts) return parts;
        start = nl + 1;
      }
    }
    pos = nl + 1;
  }
  if (start >= 0 && start < body.length && parts.length < maxParts) parts.push(body.slice(start));
  return parts;
}

const B64_JUNK_RE = /[^A-Za-z0-9+/=]/g;

/** The decoded bytes of a part; at most about `limit` bytes of its body are decoded. */
function partBytes(p: Part, limit: number): Buffer {
  const cte = (header(p.headers, 'content-transfer-encoding') ?? '').toLowerCase().trim();
  if (cte === 'base64') return Buffer.from(p.body.slice(0, Math.ceil(limit * 1.5) + 4).replace(B64_JUNK_RE, ''), 'base64');
  if (cte === 'quoted-printable') return Buffer.from(decodeQp(p.body.slice(0, limit * 3)), 'latin1');
  return Buffer.from(p.body.slice(0, limit), 'latin1');
}

/** Decoded text of a leaf part: at most MAX_PART_TEXT characters, lines cut to MAX_LINE. */
export function partText(p: Part, limit = MAX_PART_TEXT): string {
  const max = Math.min(limit, MAX_PART_TEXT);
  const text = decodeCharset(partBytes(p, max).subarray(0, max), p.params.charset).replace(/\r\n?/g, '\n');
  return capLines(text.length > max ? text.slice(0, max) : text);
}

/** Cuts every line to MAX_LINE characters (linear). */
export function capLines(text: string, maxLine = MAX_LINE): string {
  let out = '';
  let pos = 0;
  let cut = false;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    if (nl - pos > maxLine) { cut = true; out += text.slice(pos, pos + maxLine); } else out += text.slice(pos, nl);
    if (nl < text.length) out += '\n';
    pos = nl + 1;
  }
  return cut ? out : text;
}

export function decodeQp(s: string): string {
  return s.replace(/=[ \t]*\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export function decodeCharset(buf: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder((charset ?? 'utf-8').trim().toLowerCase().slice(0, 64)).decode(buf);
  } catch {
    return buf.toString('latin1');
  }
}

/** Header value: raw 8-bit UTF-8 if valid, then RFC 2047 encoded words. */
export function decodeHeader(value: string | null): string {
  if (!value) return '';
  let text = value.slice(0, MAX_HEADER);
  if (/[\x80-\xff]/.test(text) && !/[^\x00-\xff]/.test(text)) {
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(text, 'latin1')); } catch { /* keep latin1 */ }
  }
  return text.replace(/=\?([^?\s]{1,64})\?([bBqQ])\?([^?]*)\?=(\s+(?==\?))?/g, (_m, cs: string, enc: string, data: string) => {
    const bytes = enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64')
      : Buffer.from(decodeQp(data.replace(/_/g, ' ')), 'latin1');
    return decodeCharset(bytes, cs.split('*')[0]);
  });
}

/** Decoded characters still allowed per Collected (MAX_TOTAL_TEXT per message). */
const textLeft = new WeakMap<Collected, number>();

function budgetedText(p: Part, c: Collected): string {
  const left = textLeft.get(c) ?? MAX_TOTAL_TEXT;
  if (left <= 0) return '';
  const t = partText(p, left);
  textLeft.set(c, left - t.length);
  return t;
}

export function collect(p: Part, c: Collected, depth = 0): void {
  if (depth > MAX_DEPTH) return;
  if (p.type === 'multipart/report' && p.params['report-type']) c.reportType ??= p.params['report-type'].toLowerCase().slice(0, 64);
  if (p.type.startsWith('multipart/') && p.children.length) {
    for (const child of p.children) collect(child, c, depth + 1);
  } else if (p.type === 'message/rfc822' || p.type === 'message/global') {
    if (p.children[0]) c.originals.push(p.children[0].headers);
  } else if (p.type === 'text/rfc822-headers' || p.type === 'message/global-headers') {
    const t = budgetedText(p, c);
    const start = t.search(/[^\s]/);
    const body = start < 0 ? '' : t.slice(t.lastIndexOf('\n', start) + 1);
    const end = body.indexOf('\n\n');
    c.originals.push(parseHeaders(end < 0 ? body : body.slice(0, end)));
  } else if (p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status') {
    c.dsn.push(budgetedText(p, c));
  } else if (p.type === 'message/feedback-report') {
    c.feedback.push(budgetedText(p, c));
  } else if (p.type === 'text/html') {
    c.htmls.push(htmlToText(budgetedText(p, c)));
  } else if (p.type.startsWith('text/') || p.type.startsWith('multipart/')) {
    c.texts.push(budgetedText(p, c));
  }
}

const RAW_TEXT_OPEN_RE = /<(style|script)\b/gi;

/** Removes <style> and <script> elements in one forward pass (an unclosed one runs to the end). */
function dropRawTextElements(html: string): string {
  const lower = html.toLowerCase();
  let out = '';
  let pos = 0;
  RAW_TEXT_OPEN_RE.lastIndex = 0;
  for (;;) {
    RAW_TEXT_OPEN_RE.lastIndex = pos;
    const m = RAW_TEXT_OPEN_RE.exec(html);
    if (!m) break;
    out += html.slice(pos, m.index);
    const close = lower.indexOf(`</${m[1].toLowerCase()}`, m.index + m[0].length);
    if (close < 0) return out;
    const gt = lower.indexOf('>', close);
    if (gt < 0) return out;
    pos = gt + 1;
  }
  return out + html.slice(pos);
}

export function htmlToText(html: string): string {
  const entities: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: ' ' };
  const text = dropRawTextElements(html.slice(0, MAX_PART_TEXT))
    .replace(/<(br|\/p|\/div|\/tr|\/li|\/h\d)\b[^<>]{0,2000}>/gi, '\n')
    .replace(/<[^<>]{0,2000}>/g, '')
    .replace(/&(#\d{1,7}|[a-z]{1,10});/gi, (m, e: string) => {
      if (e[0] !== '#') return entities[e.toLowerCase()] ?? m;
      const n = Number(e.slice(1));
      return n <= 0x10ffff ? String.fromCodePoint(n) : m;
    });
  return capLines(text);
}
