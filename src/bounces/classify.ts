// Bounce / complaint / auto-reply classifier. PURE: no DB, no network, no fs.
//
// classifyMessage(raw) decides, first match wins:
//   1. feedback   — ARF (RFC 5965: multipart/report; report-type=feedback-report, a message/feedback-report
//                   part or inline Feedback-Type fields), Hotmail JMRP, Amazon SES/SNS JSON "Complaint".
//                   Only Feedback-Type abuse, fraud and virus (or none) is a `complaint`; not-spam,
//                   auth-failure, other, … are kind `feedback`: recorded, acted on never.
//   2. SES JSON    — Amazon SES/SNS "Bounce" notifications, per bounced recipient.
//   3. RFC 3464    — message/delivery-status fields (or the same fields inline when the MIME
//                   structure is broken): one RecipientReport per recipient, judged from every
//                   diagnostic field of its group (Diagnostic-Code, X-Supplementary-Info, X-Postfix-*,
//                   Remote-MTA replies), then from the human-readable text. Only `Action: failed` is a
//                   bounce: delayed → reason `delayed`; delivered, relayed, expanded → `delivered`.
//   4. autoreply  — RFC 3834 / vendor headers, out-of-office subjects or bodies, but only for
//                   messages without bounce structure (DSN fields, X-Failed-Recipients, a bounce
//                   subject, a MAILER-DAEMON sender): many MTAs mark their DSNs auto-replied.
//   5. text bounce — Exim, qmail, Postfix, Sendmail, Exchange/Office 365, Gmail, ...: recipient
//                   and SMTP error are read from the bounce text above the returned message.
//   6. unknown (not_a_bounce).
// Each recipient gets a reason from the taxonomy in reasons.ts, and its kind follows from the reason.
// The overall kind is the worst recipient's (hard > blocked > soft > unknown); `recipients` lists all.
// All input is capped (see mime.ts and reasons.ts) so the work is linear in a bounded size.

import {
  collect, decodeHeader, header, MAX_INPUT, parseHeaders, parsePart, splitHead, type Collected, type Headers,
} from './mime.js';

import {
  extractStatus, hasCode, judge, MAX_DIAGNOSTIC, type BounceKind, type BounceReason, type Judgement,
} from './reasons.js';

export type { BounceKind, BounceReason } from './reasons.js';
export interface RecipientReport {
  recipient: string | null; action: string | null; status: string | null; diagnostic: string | null; kind: BounceKind; reason: BounceReason;
}
export interface Classification {
  kind: BounceKind;
  status: string | null;
  recipient: string | null;
  /** The worst recipient's reason, in the taxonomy of reasons.ts (Sisimai's vocabulary). */
  reason: BounceReason;
  diagnostic: string | null;
  originalMessageId: string | null;
  envelopeTo: string[];
  feedbackType: string | null;
  recipients: RecipientReport[];
}

type Verdict = Judgement;
type Report = RecipientReport;

/**
 * The status-code + diagnostic-text judgement of one failure (RFC 3463 code, SMTP reply text), as
 * used for a 5xx at send time. Pure and sync; never `hard` on weak evidence. See reasons.ts.
 */
export function classifyStatus(status: string | null, diagnostic: string | null): Judgement {
  return judge(status, diagnostic);
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

const ADDRESS_RE = /[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){1,10}/i;

const LOCAL_CHAR = /[a-z0-9!#$%&'*+/=?^_`{|}~.-]/i;
const DOMAIN_CHAR = /[a-z0-9.-]/i;

/**
 * The addresses in a text, lower-cased and de-duplicated, in order. Linear: each '@' (at most 200,
 * in the first 20,000 characters) is widened to at most 64 local and 255 domain characters, and only
 * that window meets ADDRESS_RE.
 */
function addresses(value: string | null | undefined): string[] {
  const text = (value ?? '').slice(0, 20000);
  const out = new Set<string>();
  for (let at = text.indexOf('@'), n = 0; at >= 0 && n < 200; at = text.indexOf('@', at + 1), n++) {
    let start = at;
    while (start > 0 && at - start < 64 && LOCAL_CHAR.test(text[start - 1])) start--;
    let end = at + 1;
    while (end < text.length && end - at <= 255 && DOMAIN_CHAR.test(text[end])) end++;
    const m = text.slice(start, end).match(ADDRESS_RE);
    if (m) out.add(m[0].toLowerCase().replace(/\.+$/, ''));
  }
  return [...out];
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
  const inlineArf = /^feedback-type:\s*\S+/im.test(report) && /^(user-agent|version|original-rcpt-to|arrival-date|source-ip):/im.test(report);
  if (a.c.reportType === 'feedback-report' || a.c.feedback.length || inlineArf) {
    const fields = parseFields(a.c.feedback.join('\n') || report);
    const rcpt = addresses(header(fields, 'original-rcpt-to'))[0] ?? addresses(a.originals.map((h) => header(h, 'to')).join(' '))[0];
    return { recipient: rcpt ?? null, feedbackType: (header(fields, 'feedback-type') ?? 'abuse').toLowerCase() };
  }
  const jmrp = a.originals.map((h) => header(h, 'x-hmxmroriginalrecipient')).find(Boolean);
  const abuseReport = /complaint about message from|^\s*(fw|fwd):.{0,200}\babuse report|spam (complaint|report)\b/i.test(a.subject)
    || /this is an? (e-?mail )?abuse report|(e-?mail|spam) (abuse )?complaint (about|for|regarding)/i.test(a.explanation.slice(0, 3000));
  if (jmrp || abuseReport) {
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
  noemail: { kind: 'hard', reason: 'userunknown' },
  suppressed: { kind: 'soft', reason: 'suppressed' },
  onaccountsuppressionlist: { kind: 'soft', reason: 'suppressed' },
  mailboxfull: { kind: 'soft', reason: 'mailboxfull' },
  messagetoolarge: { kind: 'blocked', reason: 'mesgtoobig' },
  contentrejected: { kind: 'blocked', reason: 'contenterror' },
  attachmentrejected: { kind: 'blocked', reason: 'virusdetected' },
};

/** A judgement that says nothing specific (the evidence gave no reason of its own). */
function vague(v: Verdict): boolean {
  return v.reason === 'onhold' || v.reason === 'undefined' || v.kind === 'unknown';
}

function sesReports(ev: Json): Report[] {
  const bounce = get(ev, 'bounce');
  const type = (str(get(bounce, 'bounceType')) ?? '').toLowerCase();
  const fallback: Verdict = SES_SUBTYPES[(str(get(bounce, 'bounceSubType')) ?? '').toLowerCase()]
    ?? (type === 'transient' || type === 'permanent' ? { kind: 'soft', reason: 'onhold' } : { kind: 'unknown', reason: 'undefined' });
  return list(get(bounce, 'bouncedRecipients')).map((r) => {
    const status = extractStatus(str(get(r, 'status')));
    const diagnostic = clip(str(get(r, 'diagnosticCode'))?.replace(/^[\w-]+;\s*/, '') ?? null);
    let v = judge(status, diagnostic);
    if (vague(v)) v = fallback;
    if (type === 'transient' && v.kind !== 'soft') v = { kind: 'soft', reason: v.reason };
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

/** Every field of a recipient group that carries the remote reply or an explanation. */
const DIAGNOSTIC_FIELD_RE = /^(diagnostic-code|x-supplementary-info|x-postfix-\S+|x-remote-mta-\S+|x-.*(diagnostic|reply|response|error|reason).*|remote-mta-reply|smtp-reply)$/;

function diagnosticOf(fields: Map<string, string>): string | null {
  const values: string[] = [];
  for (const [name, value] of fields) {
    if (DIAGNOSTIC_FIELD_RE.test(name) && value) values.push(value.replace(/^[\w-]+\s*;\s*/, ''));
  }
  return values.length ? values.join(' ') : null;
}

const RECIPIENT_FIELDS = ['final-recipient', 'original-recipient', 'x-actual-recipient'];
/** Recipients judged per report (the inbound listener accepts 50 RCPT per message; reports list fewer). */
const MAX_REPORTS = 50;

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
    .slice(0, MAX_REPORTS)
    .map((fields) => ({ fields, typedDiagnostic: /^[\w-]+\s*;/.test(fields.get('diagnostic-code') ?? fields.get('x-supplementary-info') ?? '') }));
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

function dsnReport(g: DsnGroup, fallbackText: (rcpt: string | null) => string, cache: Map<string, Verdict>): Report {
  const recipient = dsnRecipient(g.fields);
  const action = g.fields.get('action')?.toLowerCase().split(/[\s(]/)[0] || null;
  const status = extractStatus(g.fields.get('status') ?? null);
  const diagnostic = clip(diagnosticOf(g.fields));
  const base = { recipient, action, status, diagnostic };
  if (action && action !== 'failed') return { ...base, ...judge(status, diagnostic, { action }) };
  // A non-specific X.0.0 status with an untyped, code-less diagnostic is weak evidence: its words
  // may name a reason but never make the address `hard` (a filter's wording, not the mailbox's).
  const weak = diagnostic !== null && !g.typedDiagnostic && !!status?.endsWith('.0.0') && !hasCode(diagnostic);
  let v = weaken(judgeOnce(cache, status, diagnostic), weak);
  if (vague(v) || !diagnostic) {
    const text = fallbackText(recipient);
    const t = weaken(judgeOnce(cache, status, [diagnostic, text].filter(Boolean).join('\n')), weak && !hasCode(text));
    if (!vague(t)) return { ...base, diagnostic: diagnostic ?? clip(text), ...t };
    if (v.kind === 'unknown' && status) v = { kind: 'soft', reason: 'onhold' };
  }
  return { ...base, ...v };
}

/** judge() memoised per report: many recipient groups of one report share status and texts. */
function judgeOnce(cache: Map<string, Verdict>, status: string | null, text: string | null): Verdict {
  const key = `${status}\u0000${text}`;
  let v = cache.get(key);
  if (!v) cache.set(key, (v = judge(status, text)));
  return v;
}

function weaken(v: Verdict, weak: boolean): Verdict {
  return weak && v.kind === 'hard' ? { kind: 'blocked', reason: 'filtered' } : v;
}

// ───────────────────────────────────────── text bounces ─────────────────────────────────────────

const BOUNCE_TEXT_RE = /created automatically by mail delivery software|could not be delivered to (one or more|all) of its\s+recipients|message that you sent (could not|has not yet) be(en)? delivered|this is the qmail-send program|wasn't able to deliver your message|this is the mail system at host|message could not\s+be delivered|permanent fatal errors|transcript of session follows|delivery has failed to these recipients|couldn'?t be delivered|delivery to the following recipients? (failed|has been delayed)|technical details of (permanent|temporary) failure|undeliver(able|ed) mail|delivery status notification|non-?delivery|returned mail|mail delivery (failed|failure|problem)|failure notice|delivery (failure|failed|problem|notification)|could not deliver|unable to deliver|message not delivered|was not delivered|has not been delivered|not able to be delivered|did not reach the following recipient|error has occurred while attempting to deliver|could not be delivered|was not delivered to|were not delivered|following (address|recipient)\(?e?s?\)? (had|failed|was rejected|could not)|permanent error|delivery to the following|your message (was|could not be|cannot be|has not been) (delivered|sent)|rejected by (a |the )?(remote )?(mail )?server|undeliverable to the following|message was rejected|the following recipients? (was|were) rejected|recipient address rejected|not listed in (the )?domino directory|unable to deliver your message|delivery to .{1,80} failed/i;
const BOUNCE_SUBJECT_RE = /undeliver|undelivered|delivery (status|failure|failed|notification|problem|report)|returned mail|mail delivery|failure notice|non-?delivery|could not (be )?deliver|delayed mail|warning: could not send|returned to sender|address not found|message not delivered|nondeliverable|non-deliverable|delivery failure|notice of undelivered|mail system error|failed delivery|failure delivery|rejected:|not delivered|unzustellbar|nicht zustellbar|non remis|no entregado|non recapitabile|niet bezorgd|配信|不達|退信/i;
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

const recipientsOf = new WeakMap<Analysis, string[]>();

/** The failed recipients a text bounce names (computed once per message). */
function textRecipients(a: Analysis): string[] {
  let r = recipientsOf.get(a);
  if (!r) recipientsOf.set(a, (r = findTextRecipients(a)));
  return r;
}

function findTextRecipients(a: Analysis): string[] {
  const failed = (a.headers.get('x-failed-recipients') ?? []).flatMap((v) => addresses(v));
  if (failed.length) return failed;
  // qmail / Postfix / Sendmail put each failed recipient at the start of a line as "<addr>:".
  const strong = [...a.explanation.matchAll(/^<([^<>\s@]{1,64}@[^<>\s@]{1,255})>:/gm)].flatMap((m) => addresses(m[1]));
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
  const action = delayed ? 'delayed' : 'failed';
  return (rcpts.length ? rcpts : [null]).map((recipient) => {
    const diag = textDiagnostic(a.explanation, recipient, rcpts);
    const status = extractStatus(diag);
    let v = judge(status, diag, { action });
    if (vague(v)) {
      const whole = judge(status, a.explanation, { action });
      if (!vague(whole)) v = whole;
    }
    if (v.kind === 'unknown' && !delayed) v = { kind: 'soft', reason: 'undefined' };
    return { recipient, action, status, diagnostic: clip(diag || null), ...v };
  });
}

// ────────────────────────────────────────── auto-replies ─────────────────────────────────────────

const OOO_SUBJECT_RE = /out of (the )?office|thank you for (your )?(e-?mail|message|contacting|writing)|we have received your (e-?mail|message)|automatic reply|auto(matic|matische|matisch)?[ -]?(reply|response|antwort|antwoord|respuesta|risposta|réponse|resposta|svar|vastaus)|autoreply|auto-?respon|abwesenheit|réponse automatique|respuesta autom[aá]tica|risposta automatica|resposta autom[aá]tica|afwezig|automatisch antwoord|automatische antwort|automatyczna odpowied|automaattinen vastaus|otomatik yan[ıi]t|автоответ|автоматический ответ|自动回复|自動回覆|自動応答|自動返信|不在|부재|fuera de la oficina|hors du bureau|absent du bureau|fuori ufficio|poza biurem|on vacation|on holiday|on leave|away until|currently away|i am away|i'?m away/i;
const OOO_SUBJECT_START_RE = /^\s*((re|aw|sv|antw|fwd?|wg)\s*:\s*)*(auto:|ooo\b|vacation|holiday|away\b|absence|absent|urlaub|vacances|vacaciones|ferie|congé)/i;
const OOO_BODY_RE = /out of (the )?office|on (annual )?(vacation|holiday|leave)|away from (the |my )?(office|desk|e-?mail)|limited access to (e-?mail|my e-?mail)|(currently|i am|i'?m) away|(respond|reply|get back to you) .{0,40}(upon|on|after|when) (my )?return|nicht im büro|abwesend|absent du bureau|fuera de la oficina|fuori ufficio/i;

/** Whether the message is an RFC 3834 auto-reply: 'vacation' on an out-of-office cue, 'flagged' on headers alone. */
function autoReplyReason(a: Analysis): 'vacation' | 'flagged' | null {
  const h = a.headers;
  const submitted = (header(h, 'auto-submitted') ?? '').toLowerCase();
  const precedence = (header(h, 'precedence') ?? header(h, 'x-precedence') ?? '').toLowerCase();
  const cue = OOO_SUBJECT_RE.test(a.subject) || OOO_SUBJECT_START_RE.test(a.subject) || OOO_BODY_RE.test(a.text.slice(0, 3000));
  const flagged = submitted.startsWith('auto-replied') || precedence === 'auto_reply'
    || ['x-autoreply', 'x-autorespond', 'x-autoresponder', 'x-auto-reply', 'x-mail-autoreply', 'x-autogenerated'].some((n) => h.has(n))
    || /autoresponder/i.test(header(h, 'x-post-messageclass') ?? '');
  if (cue) return 'vacation';
  return flagged || (submitted.startsWith('auto-generated') && /^\s*re\s*:/i.test(a.subject)) ? 'flagged' : null;
}

// ─────────────────────────────────────────── assembly ───────────────────────────────────────────

const SEVERITY: Record<BounceKind, number> = { hard: 6, blocked: 5, soft: 4, complaint: 3, feedback: 2, autoreply: 1, unknown: 0 };

/** RFC 5965 / 6650 feedback types that are a complaint about the mail (the rest is feedback only). */
const COMPLAINT_TYPES = new Set(['abuse', 'fraud', 'virus', 'complaint']);

/** An ARF report or provider complaint: `complaint` for abuse, fraud and virus; `feedback` for the rest. */
function feedbackResult(a: Analysis, feedbackType: string, rcpts: Array<string | null>): Classification {
  const kind: BounceKind = COMPLAINT_TYPES.has(feedbackType) ? 'complaint' : 'feedback';
  const recipients = rcpts.map((recipient): RecipientReport => ({ recipient, action: null, status: null, diagnostic: null, kind, reason: 'feedback' }));
  return result(a, { kind, reason: 'feedback', feedbackType, recipient: rcpts[0] ?? null, recipients });
}

function clip(text: string | null): string | null {
  const t = text?.slice(0, 4000).replace(/\s+/g, ' ').trim();
  return t ? t.slice(0, 1000) : null;
}

function result(a: Analysis | null, fields: Partial<Classification> & { kind: BounceKind; reason: BounceReason }): Classification {
  return {
    status: null, recipient: null, diagnostic: null, feedbackType: null, recipients: [],
    originalMessageId: a ? originalMessageId(a) : null,
    envelopeTo: a ? envelopeTo(a.headers) : [],
    ...fields,
  };
}

function fromReports(a: Analysis, reports: Report[], fallbackRecipient: string | null): Classification {
  const worst = reports.reduce((w, r) => (SEVERITY[r.kind] > SEVERITY[w.kind] ? r : w), reports[0]);
  const recipients: RecipientReport[] = reports.map((r) => ({ ...r, recipient: r.recipient ?? fallbackRecipient }));
  return result(a, {
    kind: worst.kind, reason: worst.reason, status: worst.status, diagnostic: worst.diagnostic,
    recipient: worst.recipient ?? fallbackRecipient, recipients,
  });
}

function classifyAnalysis(a: Analysis): Classification {
  const complaint = complaintFrom(a);
  if (complaint) return feedbackResult(a, complaint.feedbackType, [complaint.recipient]);
  const ses = sesEvent(a.text);
  if (ses) return classifySes(a, ses);
  if (!hasBounceStructure(a)) {
    const auto = autoReplyReason(a);
    if (auto === 'vacation' || (auto && !hasBounceText(a))) {
      return result(a, { kind: 'autoreply', reason: 'vacation', recipient: addresses(a.from)[0] ?? null });
    }
    if (!hasBounceText(a)) return result(a, { kind: 'unknown', reason: 'not_a_bounce' });
  }
  const groups = dsnGroups([...a.c.dsn, a.inlineDsn].join('\n\n'));
  const fallbackRecipient = textRecipients(a)[0] ?? null;
  if (groups.length) {
    const all = groups.map((g) => dsnRecipient(g.fields)).filter((x): x is string => !!x);
    const texts = new Map<string | null, string>();
    const fallbackText = (r: string | null): string => {
      if (!texts.has(r)) texts.set(r, textDiagnostic(a.explanation, r, all).slice(0, MAX_DIAGNOSTIC));
      return texts.get(r) as string;
    };
    const cache = new Map<string, Verdict>();
    return fromReports(a, groups.map((g) => dsnReport(g, fallbackText, cache)), fallbackRecipient);
  }
  return fromReports(a, textReports(a), fallbackRecipient);
}

function classifySes(a: Analysis, ev: Json): Classification {
  const type = (str(get(ev, 'notificationType')) ?? str(get(ev, 'eventType')) ?? '').toLowerCase();
  const messageId = sesMessageId(ev);
  const withId = (c: Classification): Classification => ({ ...c, originalMessageId: messageId ?? c.originalMessageId });
  if (type === 'complaint') {
    const feedbackType = (str(get(ev, 'complaint', 'complaintFeedbackType')) ?? 'abuse').toLowerCase();
    const rcpts = list(get(ev, 'complaint', 'complainedRecipients')).map((r) => addresses(str(get(r, 'emailAddress')))[0] ?? null);
    return withId(feedbackResult(a, feedbackType === 'not-spam' ? feedbackType : 'abuse', rcpts.length ? rcpts : [null]));
  }
  const reports = type === 'bounce' ? sesReports(ev) : [];
  if (!reports.length) return withId(result(a, { kind: 'unknown', reason: type === 'delivery' ? 'delivered' : 'not_a_bounce' }));
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
