// Request schemas of the transactional API (zod): invoices, notices and the message-record filters.
// Decisions: amounts are integers in ISO 4217 minor units; quantities are positive integers; a line's
// unitAmount may be negative (a discount line) but the invoice total may not (credit notes are not
// invoices); a tax's `rate` (percent) is informational — only its `amount` counts in the total.
import { z } from 'zod';
import { hasHeaderInjection, parseAddress } from '../policy/addresses.js';
import { MESSAGE_KINDS } from '../policy/kinds.js';
import { bodyText, headerText, isBlank, pagination, replyTo, subjectText, uuid } from '../platform/schemas.js';
import { usesPlaceholder } from '../mail/render.js';
import { canonicalLocale, isKnownCurrency } from './money.js';
import { noticeTemplateNames, templateSource } from './templates.js';
import { isUuid } from '../policy/ids.js';

export type ContactRef = { id: string } | { email: string };

/** A contact given as its id or its address: "…", {id} or {email}. Normalised to {id} | {email}. */
export const contactRef = z.union([
  z.string().max(320),
  z.object({ id: z.string().max(36).optional(), email: z.string().max(320).optional() }).strict(),
], { message: 'give the contact as an id or an email address: "…", {"id": …} or {"email": …}' }).transform((v, ctx): ContactRef => {
  const ref = typeof v === 'string' ? (isUuid(v) ? { id: v } : { email: v }) : v;
  if ((ref.id === undefined) === (ref.email === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give the contact as an id or an email address' });
    return z.NEVER;
  }
  if (ref.id !== undefined) {
    if (!isUuid(ref.id)) { ctx.addIssue({ code: 'custom', message: 'contact id must be a UUID' }); return z.NEVER; }
    return { id: ref.id.toLowerCase() };
  }
  const r = parseAddress(ref.email);
  if (!r.ok) { ctx.addIssue({ code: 'custom', message: `invalid email address (${r.error})` }); return z.NEVER; }
  return { email: r.value.key }; // contacts are found case-insensitively: hash the same way
});

/** Printable ASCII without spaces: safe in a purpose, a log line and any header. */
const idempotencyKey = z.string().regex(/^[\x21-\x7e]{1,200}$/, 'must be 1–200 printable ASCII characters without spaces');

const locale = z.string().max(35).transform((v, ctx) => {
  const c = canonicalLocale(v);
  if (!c) { ctx.addIssue({ code: 'custom', message: 'must be a BCP 47 language tag such as en, de-DE or fr-CH' }); return z.NEVER; }
  return c;
});

const issuedAt = z.union([z.iso.date(), z.iso.datetime({ offset: true })], { message: 'must be an ISO 8601 date (2024-05-31) or date-time with a zone (2024-05-31T14:00:00Z)' })
  .refine((v) => !Number.isNaN(Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v))
    && new Date(`${v.slice(0, 10)}T00:00:00Z`).toISOString().slice(0, 10) === v.slice(0, 10), 'is not a real calendar date');

const minorUnits = z.int({ message: 'must be an integer amount in minor units (cents)' });

const invoiceLine = z.object({
  description: bodyText(500).trim().min(1),
  quantity: z.int().min(1).max(1_000_000_000),
  unitAmount: minorUnits,
}).strict();

const invoiceTax = z.object({
  name: bodyText(100).trim().min(1),
  rate: z.number().min(0).max(100).optional(),
  amount: minorUnits,
}).strict();

export const invoiceSchema = z.object({
  transactionId: headerText(200).min(1).refine((v) => !isBlank(v), 'must not be blank'),
  contact: contactRef,
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an upper-case ISO 4217 code such as EUR')
    .refine(isKnownCurrency, 'is not an ISO 4217 currency with a minor unit'),
  /** Absent: the contact's locale, else the tenant's default (chosen when the invoice is rendered). */
  locale: locale.optional(),
  issuedAt,
  lines: z.array(invoiceLine).min(1).max(500),
  taxes: z.array(invoiceTax).max(20).optional().transform((v) => v ?? []),
  total: minorUnits.min(0, 'an invoice total cannot be negative'),
}).strict();
export type InvoiceInput = z.infer<typeof invoiceSchema>;

// ---- notices -------------------------------------------------------------------------------------

export const NOTICE_KINDS = ['account', 'technical', 'legal', 'support'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];
/** Names Postgate fills in itself: a request may not set them. */
export const RESERVED_DATA = new Set(['tenantName', 'fromName', 'postalAddress', 'contactName', 'email', 'paragraphs', 'name', 'contact']);
export const MAX_DATA_BYTES = 32 * 1024;

const scalar = z.union([bodyText(10_000), z.number().finite(), z.boolean(), z.null()]);
const dataValue = z.union([scalar, z.array(z.union([bodyText(2_000), z.number().finite()])).max(200)]);
const dataKey = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'data keys are letters, digits and _ (up to 64), starting with a letter');

function isHttpUrl(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try { const u = new URL(v); return (u.protocol === 'https:' || u.protocol === 'http:') && v.length <= 2000; } catch { return false; }
}

const httpUrl = z.string().max(2000).refine(isHttpUrl, 'must be an http(s) URL');

/**
 * The data fields the built-in notices (templates/notices/*.mjml) print, typed: a wrong type is refused
 * here (422), never at send time. `subject` replaces the default subject; `preview` is the inbox
 * preview line; `body` is plain text (blank lines make paragraphs); `actionUrl` + `actionLabel` make a
 * button; `ticketId` (support) goes into the subject. Stored templates may use other keys too.
 */
export const NOTICE_FIELDS = {
  subject: subjectText(998).refine((v) => !isBlank(v), 'must not be blank').nullable().optional(),
  preview: headerText(500).nullable().optional(),
  body: bodyText(10_000).nullable().optional(),
  actionUrl: httpUrl.nullable().optional(),
  actionLabel: headerText(200).nullable().optional(),
  ticketId: z.union([headerText(100).min(1), z.int().min(0)]).nullable().optional(),
};

export const noticeData = z.object(NOTICE_FIELDS).catchall(dataValue).superRefine((data, ctx) => {
  if (Buffer.byteLength(JSON.stringify(data), 'utf8') > MAX_DATA_BYTES) ctx.addIssue({ code: 'custom', message: 'data is limited to 32 KiB' });
  for (const [k, v] of Object.entries(data)) {
    if (!dataKey.safeParse(k).success) ctx.addIssue({ code: 'custom', path: [k], message: 'data keys are letters, digits and _ (up to 64), starting with a letter' });
    else if (RESERVED_DATA.has(k)) ctx.addIssue({ code: 'custom', path: [k], message: `${k} is filled in by Postgate` });
    else if (k.endsWith('Url') && v !== null && v !== undefined && !isHttpUrl(v)) ctx.addIssue({ code: 'custom', path: [k], message: 'must be an http(s) URL' });
  }
});

export const noticeSchema = z.strictObject({
  kind: z.enum(NOTICE_KINDS),
  contact: contactRef,
  /** A built-in notice (templates/notices/<name>.mjml; default: the kind's) or a stored template's id. */
  template: z.string().max(64).optional(),
  data: noticeData.optional().transform((v) => v ?? {}),
  idempotencyKey: idempotencyKey.optional(),
  replyTo: replyTo.optional(),
  /** The language of a built-in notice; absent: the contact's locale, else the tenant's default. */
  locale: locale.optional(),
}).transform((v, ctx) => {
  const template = (v.template ?? v.kind);
  if (isUuid(template)) return { ...v, template: template.toLowerCase(), stored: true };
  if (!noticeTemplateNames().has(template)) {
    ctx.addIssue({ code: 'custom', path: ['template'], message: `unknown template: give a stored template's id or a built-in notice (${[...noticeTemplateNames()].sort().join(', ')})` });
    return z.NEVER;
  }
  // A built-in notice prints only the documented fields: any other key is a mistake, refused by name.
  const unknown = Object.keys(v.data).find((k) => !Object.hasOwn(NOTICE_FIELDS, k));
  if (unknown) {
    ctx.addIssue({ code: 'custom', path: ['data', unknown], message: `unknown key: a built-in notice uses only ${Object.keys(NOTICE_FIELDS).join(', ')}` });
    return z.NEVER;
  }
  const body = v.data.body;
  if (typeof body !== 'string' || isBlank(body)) {
    ctx.addIssue({ code: 'custom', path: ['data', 'body'], message: 'a notice needs a body: data.body, plain text (blank lines make paragraphs)' });
    return z.NEVER;
  }
  const bad = subjectBoundInjection(templateSource(`notice:${template}`).subject, v.data);
  if (bad) { ctx.addIssue({ code: 'custom', path: ['data', bad], message: SUBJECT_INJECTION }); return z.NEVER; }
  return { ...v, template, stored: false };
});
export type NoticeInput = z.infer<typeof noticeSchema>;

export const SUBJECT_INJECTION = 'reaches the Subject header: must not contain line breaks or control characters';

/** The first data key whose value is printed by the subject template and holds a line break or control character. */
export function subjectBoundInjection(subject: string, data: Record<string, unknown>): string | null {
  for (const [k, v] of Object.entries(data)) {
    // An array is printed joined by commas: each string in it reaches the header too.
    const strings = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
    if (!strings.some((x) => hasHeaderInjection(x))) continue;
    if (k === 'subject' || usesPlaceholder({ mjml: subject, subject: '' }, k)) return k;
  }
  return null;
}

// ---- the record of communications ------------------------------------------------------------------

export const MESSAGE_STATUSES = ['queued', 'sending', 'sent', 'deferred', 'failed', 'bounced', 'complained', 'suppressed', 'cancelled'] as const;

export const messagesQuery = z.strictObject({
  kind: z.enum(MESSAGE_KINDS).optional(),
  status: z.enum(MESSAGE_STATUSES).optional(),
  contactId: uuid.optional(),
  campaignId: uuid.optional(),
  recipient: z.string().max(320).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  purpose: z.string().min(1).max(300).optional().describe('the ledger purpose, e.g. invoice:<transactionId> or notice:<key>; items then carry their timeline'),
  idempotencyKey: idempotencyKey.optional().describe('a notice\'s key or an Idempotency-Key header given to POST /api/invoices or /api/messages; items then carry their timeline'),
  ...pagination,
});
export type MessagesQuery = z.infer<typeof messagesQuery>;

/** Canonical JSON: object keys sorted at every level, so equal payloads hash equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
