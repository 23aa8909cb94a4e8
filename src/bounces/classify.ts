// Bounce / complaint / auto-reply classifier. PURE: no DB, no network, no fs.
//
// classifyMessage(raw) decides, first match wins:
//   1. complaint  — ARF (multipart/report; report-type=feedback-report, a message/feedback-report
//                   part or inline Feedback-Type fields), Hotmail JMRP ("complaint about message
//                   from", X-HmXmrOriginalRecipient), Amazon SES/SNS JSON "Complaint".
//   2. SES JSON    — Amazon SES/SNS "Bounce" notifications, per bounced recipient.
//   3. RFC 3464    — message/delivery-status fields (or the same fields inline when the MIME
//                   structure is broken): one RecipientReport per recipient. Action: delayed →
//                   soft; otherwise classifyStatus(Status, Diagnostic-Code), falling back to the
//                   human-readable bounce text when the diagnostic is missing or says nothing.
//   4. autoreply  — RFC 3834 / vendor headers, out-of-office subjects or bodies, but only for
//                   messages without bounce structure (DSN fields, X-Failed-Recipients, a bounce
//                   subject, a MAILER-DAEMON sender): many MTAs mark their DSNs auto-replied.
//                   Bounce-like body text alone loses to an out-of-office cue.
//   5. text bounce — Exim, qmail, Postfix, Sendmail, Exchange/Office 365, Gmail, ...: recipient
//                   and SMTP error are read from the bounce text above the returned message.
//   6. unknown.
// The overall kind is the worst recipient (hard > blocked > soft > unknown).
//
// classifyStatus(status, diagnostic) — diagnostic text beats the status code, first match wins:
//   4.x.x → soft · sending limit, mailbox full/quota/5.2.2, 5.2.3 → soft · sender rejected,
//   5.1.7/5.1.8 → blocked · special cases (KDDI "550 : User unknown" = receiver's filter →
//   blocked; Exchange "Recipient address rejected: Access denied" → hard; null MX → hard) ·
//   virus/size/spam/blocklist/auth/reputation → blocked · 5.7.x/5.6.x/5.3.4 → blocked ·
//   expired/network/loop/greylist/rate/delay/disabled mailbox → soft · policy words (denied,
//   refused, prohibited, relay, filter, content, ...) → blocked, even next to a "user unknown"
//   text · user/host unknown, moved → hard · "rejected for/due to", "not accepted" → blocked ·
//   5.1.0/1/2/3/6/10, 5.4.4 → hard · any other 5xx → soft ('other') · nothing → unknown.
// When the evidence is weak, the answer is never 'hard' (a wrong hard suppresses a good address).

export type BounceKind = 'hard' | 'soft' | 'blocked' | 'complaint' | 'autoreply' | 'unknown';
export interface RecipientReport { recipient: string | null; action: string | null; status: string | null; diagnostic: string | null; kind: BounceKind }
export interface Classification {
  kind: BounceKind;
  status: string | null;
  recipient: string | null;
  reason: string;
  diagnostic: string | null;
  originalMessageId: string | null;
  envelopeTo: string[];
  feedbackType: string | null;
  recipients: RecipientReport[];
}

interface Verdict { kind: BounceKind; reason: string }
interface Report extends RecipientReport { reason: string }

// ───────────────────────────── classifyStatus: code + text rules ─────────────────────────────

type Rule = readonly [RegExp, string];

const FULL_RE = /mailbox (is )?full|full mailbox|mail ?(box|folder) (is )?(full|over)|inbox is full|account is full|over ?quota|quota (exceeded|full)|exceeded (the |his |her |its |their )?(storage|quota|mailbox)|(disk|storage|mailbox) (quota|limit|space)|insufficient (system )?storage|out of (disk )?space|not enough (disk )?space|user is over|exceeds? (the |his |her )?(mailbox|storage|quota)/;
const SENDING_LIMIT_RE = /sending (quota|limit)|daily (user )?sending/;
const SENDER_RE = /sender (address|domain|mail ?box)?\s*(is )?(rejected|refused|denied|invalid|unknown|not (found|allowed|verified|permitted|authori[sz]ed))|(domain|address) of sender( address)? .{0,80}(does ?n[o']t exist|not found|unknown|invalid)|sender verif\w* failed|unverified sender|unknown sender|invalid sender|sender address has null mx|mail from <addr> rejected|email address is not verified/;
const KDDI_FILTER_RE = /(^|[^\d])550 : user unknown/; // au/KDDI report the receiver's own filter this way
const DBEB_RE = /recipient address rejected: access denied/; // Exchange Online: recipient not in directory
const NULL_MX_RE = /(host|domain) does not accept (e-?)?mail|\bnull mx\b/;

const BLOCKED_SPECIFIC: readonly Rule[] = [
  [/\bvirus|malware|infected|trojan/, 'virus'],
  [/(message|mail|e-?mail)( size)? (is )?(too (big|large)|exceeds)|size (limit )?exceeded|exceeds? (the )?max(imum)? (allowed )?(message )?size|message length exceeds|too large/, 'too_big'],
  [/black ?list|block ?list|deny ?list|\brbl\b|dnsbl|spamhaus|spamcop|abuseat|\bcbl\b|sorbs|barracuda|(?<!not )listed (at|in|on|by)|blocked using|\bbanned\b/, 'blocklist'],
  [/\bspam|\bube\b|\buce\b|bulk (e-?)?mail|\bjunk|unsolicited|phish|suspicious|content (filter|rejected|policy|scan)/, 'spam'],
  [/\bdmarc\b|\bspf\b|\bdkim\b|domainkeys|sender ?id\b|authenticat|fails? to pass|reverse (dns|lookup)|\bptr\b|\brdns\b|forged|spoof/, 'auth'],
  [/reputation|sender ?score|complaints/, 'reputation'],
];
const SOFT_TEXT: readonly Rule[] = [
  [/expired|timed? ?out|timeout|too long in (the )?queue|in the queue too long|have been failing|retry time not reached/, 'expired'],
  [/connection (was )?(refused|reset|closed|lost|dropped|failed|timed out)|(could ?not|can'?t|unable to) connect|requests to connect|socket error|(network|host) (is )?unreachable|no route to host|dns (query|lookup) failed|name ?server (failure|error)/, 'network'],
  [/too many hops|mail loop|loops? back|routing loop|loop detected/, 'loop'],
  [/gr[ae]y ?list/, 'greylist'],
  [/rate limit|too many (connections|messages|recipients|sessions|concurrent)|throttl|exceeded (the )?(rate|limit)|slow down/, 'rate_limit'],
  [/delay|will be retried|retrying|try (again )?later|temporar|deferr|warning message only|not yet (been )?delivered/, 'temporary'],
  [/mailbox (is )?(disabled|suspended|inactive|locked|frozen)|account (is |has been )?(disabled|suspended|inactive|deactivated|locked|frozen)|is disabled|inactive (user|account|mailbox)/, 'mailbox_disabled'],
];
const HARD_TEXT: readonly Rule[] = [
  [/host (or domain name )?not found|host unknown|unknown host|domain (name )?(not found|unknown|does ?n[o']t exist)|no such domain|unrout(e)?able (mail )?domain|couldn'?t find (a |any )?(mail exchanger|host)|no mx\b|nxdomain|invalid domain/, 'host_unknown'],
  [/no longer (on|at|with|available|active|valid|in service|exists?)|has moved|moved permanently|not our customer/, 'mailbox_moved'],
  [/user ?unknown|unknown (user|recipient|mailbox|account|address|local[- ]?part|alias)|recipient (address )?unknown|no such (user|recipient|mailbox|account|address|local user|person)|no mailbox|(user|recipient|mailbox|account|address|addressee) (was )?not found|could ?n[o']?t be found|(does ?n[o']?t|did not|not) exist|unrout(e)?able address|invalid (recipient|mailbox|user|address|e-?mail)|(recipient|mailbox|user|address) (is )?invalid|not a valid (mailbox|recipient|user|address)|illegal (user|alias|address)|unknown or illegal|mailbox (is )?(unavailable|not available)|address rejected|bad (destination |recipient )?(mailbox|address)|recipnotfound|recipientnotfound|unknown in (local|virtual|relay)|(user|recipient|mailbox|address|addressee) (is )?(unknown|not known)|not known at this site|unknown virtual user|bad ?rcpt ?to|badrecipientto|no account by that name|no valid recipients?\b|recipient not ok|(not found|not present) in (the )?directory|(address|mailbox) not present|envelope recipient has been deleted|missing home directory|utilisateur inconnu|no existe|no longer accepts mail|account (has been |was |is )?(deleted|closed|terminated|removed|cancell?ed)|doesn'?t have an? .{1,40}account|not listed in .{0,30}(directory|address book)/, 'user_unknown'],
];
const BLOCKED_GENERIC = /polic(y|ies)|relay(ing)? (access )?(denied|not (permitted|allowed))|unable to relay|not (allowed|permitted|authori[sz]ed)|access denied|prohibited|\bdenied\b|refused|forbidden|\bblocked\b|header error|bad header|multiple addresses in from|rfc ?(2822|5322|822)|not compliant|restricted|\bfilter|\bcontent\b|security|permission|not accepting (any )?(e-?)?mail/;
const BLOCKED_WEAK = /not accepted|rejected (due to|for|because|as)|message (was )?rejected/; // lose to a hard text

const MAX_DIAGNOSTIC = 8000; // characters of text the rules look at (keeps regex work bounded)

const ENHANCED_RE = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)/;
const REPLY_RE = /(?<![\w.\-:=/#])([245]\d\d)(?=[ \-])/;

/** Pure, sync: the status-code + diagnostic-text rules. Never hard on weak evidence. */
export function classifyStatus(status: string | null, diagnostic: string | null): { kind: BounceKind; reason: string } {
  const text = normalizeDiagnostic((diagnostic ?? '').slice(0, MAX_DIAGNOSTIC));
  const code = extractStatus(status) ?? extractStatus(text);
  const cls = code?.[0] ?? replyClass(text);
  if (cls === '2') return { kind: 'unknown', reason: 'delivered' };
  if (cls === '4') return { kind: 'soft', reason: softReason(text, code) };
  return permanentVerdict(code, text) ?? (cls === '5' ? { kind: 'soft', reason: 'other' } : { kind: 'unknown', reason: 'no_evidence' });
}

function permanentVerdict(code: string | null, text: string): Verdict | null {
  if (SENDING_LIMIT_RE.test(text)) return { kind: 'soft', reason: 'rate_limit' };
  if (FULL_RE.test(text) || code === '5.2.2') return { kind: 'soft', reason: 'mailbox_full' };
  if (code === '5.2.3') return { kind: 'soft', reason: 'exceed_limit' };
  if (SENDER_RE.test(text) || code === '5.1.7' || code === '5.1.8') return { kind: 'blocked', reason: 'sender_rejected' };
  if (KDDI_FILTER_RE.test(text)) return { kind: 'blocked', reason: 'filtered' };
  if (DBEB_RE.test(text)) return { kind: 'hard', reason: 'user_unknown' };
  if (NULL_MX_RE.test(text)) return { kind: 'hard', reason: 'not_accept' };
  const specific = firstRule(BLOCKED_SPECIFIC, text);
  if (specific) return { kind: 'blocked', reason: specific };
  const byStatus = blockedStatusReason(code);
  if (byStatus) return { kind: 'blocked', reason: byStatus };
  const soft = firstRule(SOFT_TEXT, text);
  if (soft) return { kind: 'soft', reason: soft };
  if (BLOCKED_GENERIC.test(text)) return { kind: 'blocked', reason: 'policy' }; // beats a hard text too
  const hard = firstRule(HARD_TEXT, text);
  if (hard) return { kind: 'hard', reason: hard };
  if (BLOCKED_WEAK.test(text)) return { kind: 'blocked', reason: 'policy' };
  return hardStatusVerdict(code);
}

function blockedStatusReason(code: string | null): string | null {
  if (!code || code[0] !== '5') return null;
  if (code.startsWith('5.7.')) return 'policy';
  if (code.startsWith('5.6.')) return 'content';
  return code === '5.3.4' ? 'too_big' : null;
}

function hardStatusVerdict(code: string | null): Verdict | null {
  const hard: Record<string, string> = {
    '5.1.0': 'user_unknown', '5.1.1': 'user_unknown', '5.1.3': 'user_unknown',
    '5.1.10': 'user_unknown', '5.1.2': 'host_unknown', '5.4.4': 'host_unknown', '5.1.6': 'mailbox_moved',
  };
  if (code && hard[code]) return { kind: 'hard', reason: hard[code] };
  if (code === '5.2.1') return { kind: 'soft', reason: 'mailbox_disabled' };
  return null;
}

function softReason(text: string, code: string | null): string {
  if (FULL_RE.test(text) || code?.endsWith('.2.2')) return 'mailbox_full';
  return firstRule(SOFT_TEXT, text) ?? 'temporary';
}

function firstRule(rules: readonly Rule[], text: string): string | null {
  for (const [re, reason] of rules) if (re.test(text)) return reason;
  return null;
}

/** The first RFC 3463 code in the text, preferring a failure (4.x.x / 5.x.x) over a success. */
function extractStatus(text: string | null): string | null {
  const all = [...(text ?? '').matchAll(new RegExp(ENHANCED_RE.source, 'g'))];
  const m = all.find((x) => x[1] !== '2') ?? all[0];
  return m ? `${m[1]}.${Number(m[2])}.${Number(m[3])}` : null;
}

function replyClass(text: string): string | null {
  const all = [...text.matchAll(new RegExp(REPLY_RE.source, 'g'))].map((x) => x[1][0]);
  return all.find((c) => c !== '2') ?? all[0] ?? null;
}

/** Lower-case, URLs reduced to their host, addresses replaced by <addr>, whitespace collapsed. */
function normalizeDiagnostic(text: string): string {
  return text.toLowerCase()
    .replace(/https?:\/\/([^/\s]+)\S*/g, ' $1 ')
    .replace(/<?[^\s<>()[\]"',;:]{1,64}@[^\s<>()[\]"',;:]{1,255}>?/g, ' <addr> ')
    .replace(/\s+/g, ' ')
    .trim();
}

// ───────────────────────────────────────── MIME parsing ─────────────────────────────────────────

type Headers = Map<string, string[]>;
interface Part { headers: Headers; type: string; params: Record<string, string>; body: string; children: Part[] }
interface Collected { texts: string[]; htmls: string[]; dsn: string[]; feedback: string[]; originals: Headers[]; reportType: string | null }

const MAX_DEPTH = 8;
const MAX_INPUT = 20 * 1024 * 1024;
const MAX_PART_TEXT = 256 * 1024;

/** Body strings are "binary" (latin1: one char per byte) until a part is decoded. */
function parsePart(raw: string, depth: number): Part {
  const { head, body } = splitHead(raw);
  const headers = parseHeaders(head);
  const { type, params } = parseContentType(header(headers, 'content-type'));
  const part: Part = { headers, type, params, body, children: [] };
  if (depth >= MAX_DEPTH) return part;
  if (type.startsWith('multipart/') && params.boundary) {
    part.children = splitMultipart(body, params.boundary).map((b) => parsePart(b, depth + 1));
  } else if (type === 'message/rfc822' || type === 'message/global') {
    part.children = [parsePart(partBytes(part).toString('latin1'), depth + 1)];
  }
  return part;
}

function splitHead(raw: string): { head: string; body: string } {
  const text = raw.replace(/^From [^\n]*\n/, '');
  if (!/^[\x21-\x39\x3b-\x7e]+:/.test(text)) return { head: '', body: text.replace(/^\n/, '') };
  const idx = text.indexOf('\n\n');
  return idx < 0 ? { head: text, body: '' } : { head: text.slice(0, idx), body: text.slice(idx + 2) };
}

function parseHeaders(head: string): Headers {
  const headers: Headers = new Map();
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const m = line.match(/^([^:\s]+)[ \t]*:[ \t]*(.*)$/);
    if (!m) continue;
    const name = m[1].toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), m[2].trim()]);
  }
  return headers;
}

function header(h: Headers, name: string): string | null {
  return h.get(name)?.[0] ?? null;
}

function parseContentType(value: string | null): { type: string; params: Record<string, string> } {
  const [typePart = '', ...rest] = (value ?? 'text/plain').split(';');
  const params: Record<string, string> = {};
  for (const m of rest.join(';').matchAll(/([\w-]+)\*?\s*=\s*("([^"]*)"|[^;\s]+)/g)) {
    params[m[1].toLowerCase()] = m[3] ?? m[2];
  }
  return { type: typePart.trim().toLowerCase() || 'text/plain', params };
}

function splitMultipart(body: string, boundary: string): string[] {
  const delim = `--${boundary}`;
  const parts: string[] = [];
  let current: string[] | null = null;
  for (const line of body.split('\n')) {
    const trimmed = line.trimEnd();
    if (trimmed === delim || trimmed === `${delim}--`) {
      if (current) parts.push(current.join('\n'));
      current = trimmed === delim ? [] : null;
      if (!current) break;
    } else if (current) current.push(line);
  }
  if (current?.length) parts.push(current.join('\n'));
  return parts;
}

function partBytes(p: Part): Buffer {
  const cte = (header(p.headers, 'content-transfer-encoding') ?? '').toLowerCase().trim();
  if (cte === 'base64') return Buffer.from(p.body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (cte === 'quoted-printable') return Buffer.from(decodeQp(p.body), 'latin1');
  return Buffer.from(p.body, 'latin1');
}

function partText(p: Part): string {
  return decodeCharset(partBytes(p).subarray(0, MAX_PART_TEXT), p.params.charset).replace(/\r\n?/g, '\n');
}

function decodeQp(s: string): string {
  return s.replace(/=[ \t]*\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function decodeCharset(buf: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder((charset ?? 'utf-8').trim().toLowerCase()).decode(buf);
  } catch {
    return buf.toString('latin1');
  }
}

/** Header value: raw 8-bit UTF-8 if valid, then RFC 2047 encoded words. */
function decodeHeader(value: string | null): string {
  if (!value) return '';
  let text = value;
  if (/[\x80-\xff]/.test(value) && !/[^\x00-\xff]/.test(value)) {
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(value, 'latin1')); } catch { /* keep latin1 */ }
  }
  return text.replace(/=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=(\s+(?==\?))?/g, (_m, cs: string, enc: string, data: string) => {
    const bytes = enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64')
      : Buffer.from(decodeQp(data.replace(/_/g, ' ')), 'latin1');
    return decodeCharset(bytes, cs.split('*')[0]);
  });
}

function collect(p: Part, c: Collected): void {
  if (p.type === 'multipart/report' && p.params['report-type']) c.reportType ??= p.params['report-type'].toLowerCase();
  if (p.type.startsWith('multipart/') && p.children.length) {
    for (const child of p.children) collect(child, c);
  } else if (p.type === 'message/rfc822' || p.type === 'message/global') {
    if (p.children[0]) c.originals.push(p.children[0].headers);
  } else if (p.type === 'text/rfc822-headers' || p.type === 'message/global-headers') {
    c.originals.push(parseHeaders(partText(p).replace(/^\s*\n/, '').split('\n\n')[0]));
  } else if (/^message\/(global-)?delivery-status$/.test(p.type)) {
    c.dsn.push(partText(p));
  } else if (p.type === 'message/feedback-report') {
    c.feedback.push(partText(p));
  } else if (p.type === 'text/html') {
    c.htmls.push(htmlToText(partText(p)));
  } else if (p.type.startsWith('text/') || p.type.startsWith('multipart/')) {
    c.texts.push(partText(p));
  }
}

function htmlToText(html: string): string {
  const entities: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: ' ' };
  return html.slice(0, 100_000)
    .replace(/<(style|script)\b[\s\S]{0,20000}?<\/\1>/gi, '')
    .replace(/<(br|\/p|\/div|\/tr|\/li|\/h\d)\b[^<>]{0,2000}>/gi, '\n')
    .replace(/<[^<>]{0,2000}>/g, '')
    .replace(/&(#\d+|[a-z]+);/gi, (m, e: string) => (e[0] === '#' ? String.fromCharCode(Number(e.slice(1))) : entities[e.toLowerCase()] ?? m));
}

// ─────────────────────────────────────── message analysis ───────────────────────────────────────

interface Analysis {
  headers: Headers;
  subject: string;
  from: string;
  c: Collected;
  text: string;          // human-readable report text (outside returned messages)
  explanation: string;   // text above the returned message and the inline DSN fields
  originalSection: string; // text after an "original message follows" marker
  originals: Headers[];  // headers of the returned message(s): MIME parts, else the copied text
  inlineDsn: string;     // DSN fields found in the text when the MIME structure is broken
}

const ORIGINAL_MARKER_RE = /^[ \t]*(below is a copy of the original message.*|original message follows.*|-{2,}.*(original message|copy of the message|below this line|unsent message|message headers? follow|returned message|undelivered message|rejected message|message follows|message text follows|header of the original message).*|original message headers:.*|-+ ?original message ?-+.*|content-type:\s*(message\/rfc822|text\/rfc822-headers).*)$/i; // tested line by line
const DSN_LINE_RE = /^(reporting-mta|final-recipient|original-recipient|arrival-date|received-from-mta|original-envelope-id)[ \t]*:/im;

/** Offset of the first "original message follows" line (short lines only: bounded regex work). */
function markerIndex(text: string): number {
  let offset = 0;
  for (const line of text.split('\n')) {
    if (line.length <= 200 && ORIGINAL_MARKER_RE.test(line)) return offset;
    offset += line.length + 1;
  }
  return -1;
}

function analyze(raw: Buffer | string): Analysis {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const top = parsePart(bytes.subarray(0, MAX_INPUT).toString('latin1').replace(/\r\n?/g, '\n'), 0);
  const c: Collected = { texts: [], htmls: [], dsn: [], feedback: [], originals: [], reportType: null };
  collect(top, c);
  const texts = c.texts.filter((t) => t.trim());
  const text = (texts.length ? texts : c.htmls).join('\n\n');
  const cut = markerIndex(text);
  const beforeOriginal = cut < 0 ? text : text.slice(0, cut);
  const dsnAt = beforeOriginal.search(DSN_LINE_RE);
  const originalSection = cut < 0 ? '' : text.slice(cut);
  return {
    headers: top.headers,
    subject: decodeHeader(header(top.headers, 'subject')),
    from: decodeHeader(header(top.headers, 'from')),
    c,
    text,
    explanation: dsnAt < 0 ? beforeOriginal : beforeOriginal.slice(0, dsnAt),
    originalSection,
    originals: [...c.originals, ...sectionHeaders(originalSection)],
    inlineDsn: dsnAt < 0 || c.dsn.length ? '' : beforeOriginal.slice(dsnAt),
  };
}

/** Headers of a message copied as text below an "original message" marker. */
function sectionHeaders(section: string): Headers[] {
  const body = section.slice(section.indexOf('\n') + 1); // skip the marker line itself
  const start = body.search(/^[A-Za-z][\w-]*:[ \t]/m);
  const headers = start < 0 ? null : parseHeaders(splitHead(body.slice(start)).head);
  return headers?.size ? [headers] : [];
}

const ADDRESS_RE = /[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){1,10}/gi;

function addresses(value: string | null | undefined): string[] {
  return [...new Set((value ?? '').slice(0, 20000).match(ADDRESS_RE)?.map((a) => a.toLowerCase().replace(/\.+$/, '')) ?? [])];
}

function envelopeTo(h: Headers): string[] {
  const names = ['to', 'delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to'];
  return [...new Set(names.flatMap((n) => (h.get(n) ?? []).flatMap((v) => addresses(v))))];
}

function originalMessageId(a: Analysis): string | null {
  for (const h of a.originals) {
    const value = header(h, 'message-id');
    if (value) return value.match(/<[^<>\s]+>/)?.[0] ?? value.split(/\s/)[0];
  }
  const inText = `${a.originalSection}\n${a.inlineDsn}`.match(/^message-id:\s*(<[^<>\s]+>)/im)?.[1];
  return inText ?? header(a.headers, 'in-reply-to')?.match(/<[^<>\s]+>/)?.[0] ?? null;
}

// ─────────────────────────────────────────── complaints ──────────────────────────────────────────

function parseFields(text: string): Map<string, string[]> {
  return parseHeaders(text.replace(/\n\s*\n/g, '\n'));
}

function complaintFrom(a: Analysis): { recipient: string | null; feedbackType: string } | null {
  const report = a.explanation + a.inlineDsn;
  const inlineArf = /^feedback-type:\s*\S+/im.test(report) && /^(user-agent|version):/im.test(report);
  if (a.c.reportType === 'feedback-report' || a.c.feedback.length || inlineArf) {
    const fields = parseFields(a.c.feedback.join('\n') || report);
    const rcpt = addresses(header(fields, 'original-rcpt-to'))[0] ?? addresses(a.originals.map((h) => header(h, 'to')).join(' '))[0];
    return { recipient: rcpt ?? null, feedbackType: (header(fields, 'feedback-type') ?? 'abuse').toLowerCase() };
  }
  const jmrp = a.originals.map((h) => header(h, 'x-hmxmroriginalrecipient')).find(Boolean);
  if (jmrp || /complaint about message from/i.test(a.subject)) {
    return { recipient: addresses(jmrp ?? a.originals.map((h) => header(h, 'to')).join(' '))[0] ?? null, feedbackType: 'abuse' };
  }
  return null;
}

// ─────────────────────────────────── Amazon SES / SNS JSON ──────────────────────────────────────

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function get(obj: Json | undefined, ...path: string[]): Json | undefined {
  let cur = obj;
  for (const key of path) cur = cur && typeof cur === 'object' && !Array.isArray(cur) ? cur[key] : undefined;
  return cur;
}
function str(v: Json | undefined): string | null {
  return typeof v === 'string' && v.trim() ? v.trim() : null;
}
function list(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}

function sesEvent(text: string): Json | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return null;
  const chunk = trimmed.slice(0, trimmed.lastIndexOf('}') + 1);
  for (const candidate of [chunk, chunk.replace(/\n /g, '')]) {
    try {
      let obj = JSON.parse(candidate) as Json;
      const inner = str(get(obj, 'Message'));
      if (inner?.startsWith('{')) obj = JSON.parse(inner) as Json;
      if (str(get(obj, 'notificationType')) ?? str(get(obj, 'eventType'))) return obj;
    } catch { /* try the next candidate */ }
  }
  return null;
}

const SES_SUBTYPES: Record<string, Verdict> = {
  noemail: { kind: 'hard', reason: 'user_unknown' },
  suppressed: { kind: 'blocked', reason: 'suppressed' },
  onaccountsuppressionlist: { kind: 'blocked', reason: 'suppressed' },
  mailboxfull: { kind: 'soft', reason: 'mailbox_full' },
  messagetoolarge: { kind: 'blocked', reason: 'too_big' },
  contentrejected: { kind: 'blocked', reason: 'content' },
  attachmentrejected: { kind: 'blocked', reason: 'content' },
};

function sesReports(ev: Json): Report[] {
  const bounce = get(ev, 'bounce');
  const type = (str(get(bounce, 'bounceType')) ?? '').toLowerCase();
  const fallback: Verdict = SES_SUBTYPES[(str(get(bounce, 'bounceSubType')) ?? '').toLowerCase()]
    ?? (type === 'transient' ? { kind: 'soft', reason: 'temporary' } : type === 'permanent' ? { kind: 'soft', reason: 'other' } : { kind: 'unknown', reason: 'undetermined' });
  return list(get(bounce, 'bouncedRecipients')).map((r) => {
    const status = extractStatus(str(get(r, 'status')));
    const diagnostic = clip(str(get(r, 'diagnosticCode'))?.replace(/^[\w-]+;\s*/, '') ?? null);
    let v = classifyStatus(status, diagnostic);
    if (v.reason === 'other' || v.kind === 'unknown') v = fallback;
    if (type === 'transient' && v.kind === 'hard') v = { kind: 'soft', reason: v.reason };
    return { recipient: addresses(str(get(r, 'emailAddress')))[0] ?? null, action: str(get(r, 'action')), status, diagnostic, ...v };
  });
}

function sesMessageId(ev: Json): string | null {
  const common = str(get(ev, 'mail', 'commonHeaders', 'messageId'));
  const fromHeaders = list(get(ev, 'mail', 'headers')).find((h) => str(get(h, 'name'))?.toLowerCase() === 'message-id');
  return (common ?? str(get(fromHeaders, 'value')))?.match(/<[^<>\s]+>/)?.[0] ?? null;
}

// ─────────────────────────────────────────── RFC 3464 ───────────────────────────────────────────

interface DsnGroup { fields: Map<string, string>; typedDiagnostic: boolean }

const RECIPIENT_FIELDS = ['final-recipient', 'original-recipient', 'x-actual-recipient'];

/** Per-recipient field groups: blank-line separated, and a repeated field starts a new group. */
function dsnGroups(source: string): DsnGroup[] {
  const groups: Array<Map<string, string>> = [];
  for (const para of source.split(/\n[ \t]*\n/)) {
    let cur: Map<string, string> | null = null;
    for (const [name, value] of orderedFields(para)) {
      if (!cur || cur.has(name)) groups.push((cur = new Map()));
      cur.set(name, value);
    }
  }
  return groups
    .filter((f) => RECIPIENT_FIELDS.some((n) => f.has(n)) || (f.has('status') && f.has('action')))
    .map((fields) => ({ fields, typedDiagnostic: /^[\w-]+\s*;/.test(fields.get('diagnostic-code') ?? '') }));
}

function orderedFields(para: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of para.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const m = line.match(/^([A-Za-z][\w-]*)[ \t]*:[ \t]*(.*)$/);
    if (m) out.push([m[1].toLowerCase(), m[2].trim()]);
  }
  return out;
}

function dsnRecipient(fields: Map<string, string>): string | null {
  for (const name of RECIPIENT_FIELDS.slice(0, 2)) {
    const value = fields.get(name)?.replace(/^[\w-]+\s*;/, '').trim();
    if (value) return addresses(value)[0] ?? value.replace(/[<>]/g, '').trim().toLowerCase();
  }
  return null;
}

function dsnReport(g: DsnGroup, fallbackText: (rcpt: string | null) => string): Report {
  const recipient = dsnRecipient(g.fields);
  const action = g.fields.get('action')?.toLowerCase().split(/[\s(]/)[0] || null;
  const status = extractStatus(g.fields.get('status') ?? null);
  const diagnostic = clip(g.fields.get('diagnostic-code')?.replace(/^[\w-]+\s*;\s*/, '') ?? null);
  const base = { recipient, action, status, diagnostic };
  if (action === 'delivered' || action === 'relayed' || action === 'expanded') return { ...base, kind: 'unknown', reason: 'delivered' };
  if (action === 'delayed') return { ...base, kind: 'soft', reason: 'delayed' };
  // A non-specific X.0.0 status with an untyped, code-less diagnostic is too weak to act on.
  const weak = !g.typedDiagnostic && status?.endsWith('.0.0') && !ENHANCED_RE.test(diagnostic ?? '') && !REPLY_RE.test(diagnostic ?? '');
  let v = classifyStatus(status, weak ? null : diagnostic);
  if (v.reason === 'other' || v.kind === 'unknown') {
    const text = fallbackText(recipient);
    const t = classifyStatus(status, [weak ? null : diagnostic, text].filter(Boolean).join('\n'));
    if (t.reason !== 'other' && t.kind !== 'unknown') return { ...base, diagnostic: diagnostic ?? clip(text), ...t };
  }
  return { ...base, ...v };
}

// ───────────────────────────────────────── text bounces ─────────────────────────────────────────

const BOUNCE_TEXT_RE = /created automatically by mail delivery software|could not be delivered to (one or more|all) of its\s+recipients|message that you sent (could not|has not yet) be(en)? delivered|this is the qmail-send program|wasn't able to deliver your message|this is the mail system at host|message could not\s+be delivered|permanent fatal errors|transcript of session follows|delivery has failed to these recipients|couldn'?t be delivered|delivery to the following recipients? (failed|has been delayed)|technical details of (permanent|temporary) failure|undeliver(able|ed) mail|delivery status notification|non-?delivery|returned mail|mail delivery (failed|failure|problem)|failure notice|delivery (failure|failed|problem|notification)|could not deliver|unable to deliver|message not delivered|was not delivered|has not been delivered|not able to be delivered|did not reach the following recipient|error has occurred while attempting to deliver|could not be delivered/i;
const BOUNCE_SUBJECT_RE = /undeliver|undelivered|delivery (status|failure|failed|notification|problem|report)|returned mail|mail delivery|failure notice|non-?delivery|could not (be )?deliver|delayed mail|warning: could not send|returned to sender|unzustellbar|nicht zustellbar|non remis|no entregado|non recapitabile|niet bezorgd|配信|不達|退信/i;
const DELAY_RE = /delivery status notification \(delay\)|has been delayed|warning: could not send|delayed mail|delivery (is )?delayed|will be retried|warning message only|has not yet been delivered|not yet been delivered|still trying/i;

/** Structural evidence of a bounce: DSN fields, Exim's header, a bounce subject or sender. */
function hasBounceStructure(a: Analysis): boolean {
  return a.c.dsn.length > 0 || a.inlineDsn !== '' || a.c.reportType === 'delivery-status'
    || a.headers.has('x-failed-recipients') || BOUNCE_SUBJECT_RE.test(a.subject)
    || /mailer-daemon|mail delivery (subsystem|system)|postmaster@/i.test(a.from);
}

function hasBounceText(a: Analysis): boolean {
  return BOUNCE_TEXT_RE.test(a.explanation.slice(0, 5000).replace(/\s+/g, ' '));
}

function excludedAddresses(a: Analysis): Set<string> {
  const names = ['to', 'from', 'return-path', 'sender', 'delivered-to', 'x-original-to', 'envelope-to', 'reply-to'];
  const mine = names.flatMap((n) => (a.headers.get(n) ?? []).flatMap((v) => addresses(v)));
  const theirs = a.originals.flatMap((h) => ['from', 'return-path', 'sender'].flatMap((n) => addresses(header(h, n))));
  return new Set([...mine, ...theirs]);
}

function textRecipients(a: Analysis): string[] {
  const failed = (a.headers.get('x-failed-recipients') ?? []).flatMap((v) => addresses(v));
  if (failed.length) return failed;
  // qmail / Postfix / Sendmail put each failed recipient at the start of a line as "<addr>:".
  const strong = [...a.explanation.matchAll(/^<([^<>\s]+@[^<>\s]+)>:/gm)].flatMap((m) => addresses(m[1]));
  if (strong.length) return [...new Set(strong)].slice(0, 50);
  const excluded = excludedAddresses(a);
  const usable = (x: string): boolean => !excluded.has(x) && !/^(mailer-daemon|postmaster)@/.test(x);
  const lineStart = [...a.explanation.matchAll(/^[ \t]*<?([^\s<>@]+@[^\s<>:]+?)>?(<mailto:[^>]*>)?[ \t]*(:|$|\.\.\.|\s\()/gm)].flatMap((m) => addresses(m[1]));
  const picked = [...new Set(lineStart.filter(usable))];
  if (picked.length) return picked.slice(0, 50);
  const loose = addresses(a.explanation).filter(usable);
  if (loose.length) return loose.slice(0, 1);
  return addresses(a.originals.map((h) => header(h, 'to')).join(' ')).slice(0, 1);
}

/** The part of the bounce text that belongs to one recipient. */
function recipientBlock(text: string, rcpt: string | null, all: string[]): string {
  const lower = text.toLowerCase();
  const at = rcpt ? lower.indexOf(rcpt) : -1;
  if (at < 0) return text;
  const start = lower.lastIndexOf('\n', at) + 1;
  const ends = all.filter((x) => x !== rcpt).map((x) => lower.indexOf(x, at + 1)).filter((i) => i > at)
    .map((i) => lower.lastIndexOf('\n', i) + 1);
  return text.slice(start, ends.length ? Math.min(...ends) : undefined);
}

function hasCode(text: string): boolean {
  return ENHANCED_RE.test(text) || REPLY_RE.test(text);
}

/** Paragraphs that carry an SMTP reply or enhanced status code; the whole block otherwise. */
function extractDiagnostic(block: string): string {
  const withCode = block.split(/\n[ \t]*\n/).filter(hasCode);
  return (withCode.length ? withCode.join('\n') : block).replace(/\s+/g, ' ').trim();
}

/** The recipient's own error text; for a lone recipient, the coded lines of the whole notice when its block has none. */
function textDiagnostic(explanation: string, rcpt: string | null, all: string[]): string {
  const own = extractDiagnostic(recipientBlock(explanation, rcpt, all));
  if (all.length > 1 || hasCode(own)) return own;
  const whole = extractDiagnostic(explanation);
  return hasCode(whole) ? whole : own;
}

function textReports(a: Analysis): Report[] {
  const rcpts = textRecipients(a);
  const delayed = DELAY_RE.test(a.subject) || DELAY_RE.test(a.explanation.slice(0, MAX_DIAGNOSTIC));
  return (rcpts.length ? rcpts : [null]).map((recipient) => {
    const diag = textDiagnostic(a.explanation, recipient, rcpts);
    const status = extractStatus(diag);
    let v: Verdict = delayed ? { kind: 'soft', reason: 'delayed' } : classifyStatus(status, diag);
    if (!delayed && (v.kind === 'unknown' || v.reason === 'other')) {
      const whole = classifyStatus(status, a.explanation);
      if (whole.kind !== 'unknown' && whole.reason !== 'other') v = whole;
    }
    return { recipient, action: delayed ? 'delayed' : 'failed', status, diagnostic: clip(diag || null), ...v };
  });
}

// ────────────────────────────────────────── auto-replies ─────────────────────────────────────────

const OOO_SUBJECT_RE = /out of (the )?office|automatic reply|auto(matic|matische|matisch)?[ -]?(reply|response|antwort|antwoord|respuesta|risposta|réponse|resposta|svar|vastaus)|autoreply|auto-?respon|abwesenheit|réponse automatique|respuesta autom[aá]tica|risposta automatica|resposta autom[aá]tica|afwezig|automatisch antwoord|automatische antwort|automatyczna odpowied|automaattinen vastaus|otomatik yan[ıi]t|автоответ|автоматический ответ|自动回复|自動回覆|自動応答|自動返信|不在|부재|fuera de la oficina|hors du bureau|absent du bureau|fuori ufficio|poza biurem|on vacation|on holiday|on leave|away until|currently away|i am away|i'?m away/i;
const OOO_SUBJECT_START_RE = /^\s*((re|aw|sv|antw|fwd?|wg)\s*:\s*)*(auto:|ooo\b|vacation|holiday|away\b|absence|absent|urlaub|vacances|vacaciones|ferie|congé)/i;
const OOO_BODY_RE = /out of (the )?office|on (annual )?(vacation|holiday|leave)|away from (the |my )?(office|desk|e-?mail)|limited access to (e-?mail|my e-?mail)|(currently|i am|i'?m) away|(respond|reply|get back to you) .{0,40}(upon|on|after|when) (my )?return|nicht im büro|abwesend|absent du bureau|fuera de la oficina|fuori ufficio/i;

function autoReplyReason(a: Analysis): string | null {
  const h = a.headers;
  const submitted = (header(h, 'auto-submitted') ?? '').toLowerCase();
  const precedence = (header(h, 'precedence') ?? header(h, 'x-precedence') ?? '').toLowerCase();
  const cue = OOO_SUBJECT_RE.test(a.subject) || OOO_SUBJECT_START_RE.test(a.subject) || OOO_BODY_RE.test(a.text.slice(0, 3000));
  const flagged = submitted.startsWith('auto-replied') || precedence === 'auto_reply'
    || ['x-autoreply', 'x-autorespond', 'x-autoresponder', 'x-auto-reply', 'x-mail-autoreply', 'x-autogenerated'].some((n) => h.has(n))
    || /autoresponder/i.test(header(h, 'x-post-messageclass') ?? '');
  if (cue) return 'vacation';
  return flagged || (submitted.startsWith('auto-generated') && /^\s*re\s*:/i.test(a.subject)) ? 'auto_reply' : null;
}

// ─────────────────────────────────────────── assembly ───────────────────────────────────────────

const SEVERITY: Record<BounceKind, number> = { hard: 5, blocked: 4, soft: 3, complaint: 2, autoreply: 1, unknown: 0 };

function clip(text: string | null): string | null {
  const t = text?.replace(/\s+/g, ' ').trim();
  return t ? t.slice(0, 1000) : null;
}

function result(a: Analysis | null, fields: Partial<Classification> & { kind: BounceKind; reason: string }): Classification {
  return {
    status: null, recipient: null, diagnostic: null, feedbackType: null, recipients: [],
    originalMessageId: a ? originalMessageId(a) : null,
    envelopeTo: a ? envelopeTo(a.headers) : [],
    ...fields,
  };
}

function fromReports(a: Analysis, reports: Report[], fallbackRecipient: string | null): Classification {
  const worst = reports.reduce((w, r) => (SEVERITY[r.kind] > SEVERITY[w.kind] ? r : w), reports[0]);
  const recipients: RecipientReport[] = reports.map(({ recipient, action, status, diagnostic, kind }) =>
    ({ recipient: recipient ?? fallbackRecipient, action, status, diagnostic, kind }));
  return result(a, {
    kind: worst.kind, reason: worst.reason, status: worst.status, diagnostic: worst.diagnostic,
    recipient: worst.recipient ?? fallbackRecipient, recipients,
  });
}

function classifyAnalysis(a: Analysis): Classification {
  const complaint = complaintFrom(a);
  if (complaint) {
    const report: RecipientReport = { recipient: complaint.recipient, action: null, status: null, diagnostic: null, kind: 'complaint' };
    return result(a, { kind: 'complaint', reason: `feedback:${complaint.feedbackType}`, recipient: complaint.recipient, feedbackType: complaint.feedbackType, recipients: [report] });
  }
  const ses = sesEvent(a.text);
  if (ses) return classifySes(a, ses);
  if (!hasBounceStructure(a)) {
    const auto = autoReplyReason(a);
    if (auto === 'vacation' || (auto && !hasBounceText(a))) {
      return result(a, { kind: 'autoreply', reason: auto, recipient: addresses(a.from)[0] ?? null });
    }
    if (!hasBounceText(a)) return result(a, { kind: 'unknown', reason: 'not_a_bounce' });
  }
  const groups = dsnGroups([...a.c.dsn, a.inlineDsn].join('\n\n'));
  const fallbackRecipient = textRecipients(a)[0] ?? null;
  if (groups.length) {
    const all = groups.map((g) => dsnRecipient(g.fields)).filter((x): x is string => !!x);
    const fallbackText = (r: string | null): string => textDiagnostic(a.explanation, r, all);
    return fromReports(a, groups.map((g) => dsnReport(g, fallbackText)), fallbackRecipient);
  }
  const reports = textReports(a);
  const out = fromReports(a, reports, fallbackRecipient);
  return out.kind === 'unknown' && out.reason === 'no_evidence' ? { ...out, reason: 'unrecognized_bounce' } : out;
}

function classifySes(a: Analysis, ev: Json): Classification {
  const type = (str(get(ev, 'notificationType')) ?? str(get(ev, 'eventType')) ?? '').toLowerCase();
  const messageId = sesMessageId(ev);
  const withId = (c: Classification): Classification => ({ ...c, originalMessageId: messageId ?? c.originalMessageId });
  if (type === 'complaint') {
    const feedbackType = (str(get(ev, 'complaint', 'complaintFeedbackType')) ?? 'abuse').toLowerCase();
    const rcpts = list(get(ev, 'complaint', 'complainedRecipients')).map((r) => addresses(str(get(r, 'emailAddress')))[0] ?? null);
    const recipients = rcpts.map((recipient): RecipientReport => ({ recipient, action: null, status: null, diagnostic: null, kind: 'complaint' }));
    return withId(result(a, { kind: 'complaint', reason: `feedback:${feedbackType}`, feedbackType, recipient: rcpts[0] ?? null, recipients }));
  }
  const reports = type === 'bounce' ? sesReports(ev) : [];
  if (!reports.length) return withId(result(a, { kind: 'unknown', reason: type ? `ses:${type}` : 'not_a_bounce' }));
  return withId(fromReports(a, reports, null));
}

/** Classify one raw RFC 5322 message. Never throws: bad input gives kind 'unknown'. */
export async function classifyMessage(raw: Buffer | string): Promise<Classification> {
  try {
    if (raw === null || raw === undefined || raw.length === 0) return result(null, { kind: 'unknown', reason: 'empty' });
    return classifyAnalysis(analyze(raw));
  } catch {
    return result(null, { kind: 'unknown', reason: 'unparseable' });
  }
}
