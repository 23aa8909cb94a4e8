// Message composition (pure): turns a rendered message plus identity, VERP envelope, RFC 8058
// one-click unsubscribe, Feedback-ID and DKIM settings into nodemailer SendMailOptions.
// Every header-bound value is checked (policy/addresses) before anything is built: the last line
// behind the API's checks (platform/schemas displayName, senderName, subjectText).
// - Display names (From, To): no control characters, no RFC 2047 encoded-words (a reader decodes
//   them, so "=?utf-8?q?=0D=0A?=" would be a line break: the decoded value is what counts), no bidi
//   controls (UAX #9), no other invisible format characters (Unicode Cf: zero-width and tag
//   characters), no non-ASCII look-alike of '<' or '>' (From: or '@') by NFKC (UAX #15: '＜', '﹤',
//   '＠') or UTS #39 confusables, else HeaderInjectionError. ASCII quotes, commas, '@', '<' and '>'
//   are quoted by nodemailer (RFC 5322 quoted-string): the address a reader's client parses is the
//   intended one; a look-alike is not syntax to any parser, only to the reader's eye.
// - Subject: no control characters, no encoded-words (refused: never legitimate, whoever wrote it);
//   bidi controls and other format characters are stripped, not refused: the tenant's own text was
//   checked at the API, so one here came from subscriber data in a merge field.
import type { SendMailOptions } from 'nodemailer';
import {
  addressLookalike, HeaderInjectionError, hasBidiControl, hasEncodedWord, hasFormatCharacter, hasHeaderInjection, stripBidiControls, stripFormatCharacters,
} from '../policy/addresses.js';
import type { MessageKind } from '../policy/kinds.js';
import { buildMessage } from './mime.js';

export { HeaderInjectionError };

export interface ComposeInput {
  messageId: string;            // ledger uuid
  kind: MessageKind;
  from: { name: string; address: string };
  replyTo: string;
  to: { name?: string | null; address: string };
  rendered: { subject: string; html: string; text: string };
  messageIdDomain: string;      // right side of Message-ID, usually the From domain
  envelopeFrom: string;         // VERP address, computed by caller: bounces+<token>@<bounceDomain>
  listUnsubscribe?: { url: string; mailto?: string } | null; // marketing: https one-click URL
  feedbackId?: string | null;   // e.g. "<campaignId>:<tenantId>:marketing:postgate"
  listId?: string | null;
  dkim?: { domainName: string; keySelector: string; privateKey: string } | null;
  extraHeaders?: Record<string, string>;
}

/** Headers signed by DKIM (those present in the message end up in h=). */
export const DKIM_SIGNED_HEADERS = [
  'from', 'sender', 'reply-to', 'subject', 'date', 'message-id', 'to', 'cc', 'mime-version',
  'content-type', 'content-transfer-encoding', 'list-id', 'list-unsubscribe', 'list-unsubscribe-post',
  'feedback-id', 'auto-submitted',
].join(':');

const AUTO_SUBMITTED_KINDS: ReadonlySet<MessageKind> = new Set(['activation', 'invoice', 'account', 'technical', 'legal', 'support', 'verification']);
const MANAGED_HEADERS = new Set([
  'from', 'sender', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'date', 'message-id', 'mime-version', 'content-type',
  'content-transfer-encoding', 'return-path', 'dkim-signature', 'list-id', 'list-unsubscribe', 'list-unsubscribe-post',
  'feedback-id', 'auto-submitted', 'x-postgate-message',
]);
const HEADER_NAME = /^[!-9;-~]+$/;       // RFC 5322 ftext: printable ASCII except ":"
const BRACKETED_UNSAFE = /[\s<>\0]/;     // addresses, ids and URLs (they sit inside <…>): no whitespace, no brackets

export function messageIdHeader(messageId: string, domain: string): string {
  return `<${messageId}@${domain}>`;
}

function textFields(i: ComposeInput): Array<[string, string | null | undefined]> {
  return [
    ['from.name', i.from.name], ['replyTo', i.replyTo], ['to.name', i.to.name], ['subject', i.rendered.subject],
    ['feedbackId', i.feedbackId], ['listId', i.listId],
    ['dkim.domainName', i.dkim?.domainName], ['dkim.keySelector', i.dkim?.keySelector],
  ];
}

function bracketedFields(i: ComposeInput): Array<[string, string | null | undefined]> {
  return [
    ['from.address', i.from.address], ['to.address', i.to.address], ['envelopeFrom', i.envelopeFrom],
    ['messageId', i.messageId], ['messageIdDomain', i.messageIdDomain],
    ['listUnsubscribe.url', i.listUnsubscribe?.url], ['listUnsubscribe.mailto', i.listUnsubscribe?.mailto],
  ];
}

function assertExtraHeaders(extra: Record<string, string>): void {
  for (const [name, value] of Object.entries(extra)) {
    const field = `extraHeaders.${name}`;
    if (!HEADER_NAME.test(name) || MANAGED_HEADERS.has(name.toLowerCase())) throw new HeaderInjectionError(field);
    assertText(field, value, false);
  }
}

/** Control characters and encoded-words anywhere; bidi controls and format characters unless the field strips them (the subject). */
function assertText(field: string, value: string, bidiStripped: boolean): void {
  if (hasHeaderInjection(value)) throw new HeaderInjectionError(field);
  if (hasEncodedWord(value)) throw new HeaderInjectionError(field, 'an RFC 2047 encoded-word');
  if (!bidiStripped && hasBidiControl(value)) throw new HeaderInjectionError(field, 'a bidi control character');
  if (!bidiStripped && hasFormatCharacter(value)) throw new HeaderInjectionError(field, 'an invisible format character');
  const lookalike = field === 'from.name' || field === 'to.name' ? addressLookalike(value, field === 'from.name') : null;
  if (lookalike) throw new HeaderInjectionError(field, `a look-alike of ${lookalike === '@' ? "'@'" : "'<' or '>'"}`);
}

/**
 * Throws HeaderInjectionError{field} when a header-bound value contains CR/LF/NUL (or any control
 * character but TAB, see policy/addresses) or an RFC 2047 encoded-word; when a value other than the
 * subject contains a bidi control (UAX #9) or another format character (Unicode Cf; the subject's are
 * stripped by composeMessage); when a display name holds a look-alike of '<', '>' (or, in From, '@')
 * under NFKC (UAX #15); when an
 * address, Message-ID part or List-Unsubscribe target (values that sit inside <…>) contains
 * whitespace or brackets; or when an extra header has an invalid name or would override a header
 * Postgate manages.
 */
export function assertComposable(input: ComposeInput): void {
  for (const [field, value] of textFields(input)) {
    if (value != null) assertText(field, value, field === 'subject');
  }
  for (const [field, value] of bracketedFields(input)) {
    if (value != null && (hasHeaderInjection(value) || BRACKETED_UNSAFE.test(value))) throw new HeaderInjectionError(field);
  }
  assertExtraHeaders(input.extraHeaders ?? {});
}

function listUnsubscribeHeaders(lu: ComposeInput['listUnsubscribe']): Record<string, string> {
  if (!lu) return {};
  const mailto = lu.mailto ? `, <${lu.mailto.startsWith('mailto:') ? lu.mailto : `mailto:${lu.mailto}`}>` : '';
  return { 'List-Unsubscribe': `<${lu.url}>${mailto}`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}

function managedHeaders(i: ComposeInput): Record<string, string> {
  const h: Record<string, string> = { ...listUnsubscribeHeaders(i.listUnsubscribe) };
  if (i.feedbackId) h['Feedback-ID'] = i.feedbackId;
  if (i.listId) h['List-Id'] = i.listId.includes('<') ? i.listId : `<${i.listId}>`;
  if (AUTO_SUBMITTED_KINDS.has(i.kind)) h['Auto-Submitted'] = 'auto-generated';
  h['X-Postgate-Message'] = i.messageId;
  return h;
}

function dkimOptions(dkim: NonNullable<ComposeInput['dkim']>): NonNullable<SendMailOptions['dkim']> {
  return { domainName: dkim.domainName, keySelector: dkim.keySelector, privateKey: dkim.privateKey, headerFieldNames: DKIM_SIGNED_HEADERS };
}

/**
 * Builds nodemailer SendMailOptions carrying the finished message as `raw` bytes (and `smtpData`, see ComposedMail) (mail/mime.ts:
 * pre-encoded lines, DKIM signed here, relaxed/relaxed over DKIM_SIGNED_HEADERS), plus the fields it
 * was built from (from, to, subject, html, text, messageId, headers, envelope) for callers that read
 * them; nodemailer sends `raw` as is and only uses the envelope. No `dkim` option: already signed.
 * Validates first (see assertComposable); the subject goes out without bidi controls or other format
 * characters. Throws HeaderInjectionError, or an Error when the DKIM key cannot sign.
 */
export function composeMessage(input: ComposeInput): ComposedMail {
  const mail = composeForNodemailer(input);
  delete mail.dkim;
  const built = buildMessage(mail, input.dkim ? { ...input.dkim, headerFieldNames: DKIM_SIGNED_HEADERS } : null);
  return { ...mail, raw: built.raw, ...(built.smtpData ? { smtpData: { raw: built.raw, data: built.smtpData } } : {}) };
}

/**
 * A composed message: nodemailer options with the finished `raw` bytes and, beside them, the same
 * bytes as the SMTP DATA phase sends them (dot-stuffed, terminated: mime.ts buildMessage), tied to
 * that `raw` Buffer. A sender uses `smtpData.data` only while `raw` is still `smtpData.raw` (the
 * options were not given other bytes) and no `dkim` option asks for signing (platform/smtp.ts).
 */
export interface ComposedMail extends SendMailOptions {
  smtpData?: { raw: Buffer; data: Buffer };
}

/**
 * The same message as nodemailer options for nodemailer to build and sign itself (no `raw`; `dkim`
 * set when the input has a key): the reference the raw builder is compared against (tests, bench).
 */
export function composeForNodemailer(input: ComposeInput): SendMailOptions {
  assertComposable(input);
  const mail: SendMailOptions = {
    from: { name: input.from.name, address: input.from.address },
    replyTo: input.replyTo,
    to: { name: input.to.name ?? '', address: input.to.address },
    subject: stripFormatCharacters(stripBidiControls(input.rendered.subject)),
    html: input.rendered.html,
    text: input.rendered.text,
    messageId: messageIdHeader(input.messageId, input.messageIdDomain),
    envelope: { from: input.envelopeFrom, to: input.to.address },
    headers: { ...input.extraHeaders, ...managedHeaders(input) },
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  if (input.dkim) mail.dkim = dkimOptions(input.dkim);
  return mail;
}
