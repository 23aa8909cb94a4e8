// The record of what was communicated: ledger rows as the API shows them, their timeline, the body
// while it is kept (BODY_RETENTION_DAYS), and a filtered, keyset-paginated listing.
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { isUuid } from '../policy/ids.js';
import { getMessage, MESSAGE_COLUMNS, messageEvents, type LedgerMessage } from '../mail/ledger.js';
import type { MessagesQuery } from './requests.js';

export interface MessageRecord {
  id: string; purpose: string; kind: string; template: string; templateVersion: number; subject: string | null;
  recipient: string | null; contactId: string | null; campaignId: string | null; status: string; reason: string | null;
  attempts: number; messageId: string | null; smtpResponse: string | null; createdAt: string; sentAt: string | null;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

export function toRecord(m: LedgerMessage): MessageRecord {
  return {
    id: m.id, purpose: m.purpose, kind: m.kind, template: m.template, templateVersion: m.templateVersion, subject: m.subject,
    recipient: m.recipient, contactId: m.contactId, campaignId: m.campaignId, status: m.status, reason: m.reason,
    attempts: m.attempts, messageId: m.messageIdHeader, smtpResponse: m.smtpResponse,
    createdAt: iso(m.createdAt) as string, sentAt: iso(m.sentAt),
  };
}

export interface MessageDetail extends MessageRecord {
  events: { type: string; at: string; detail: Record<string, unknown> }[];
  body: { html: string | null; text: string | null; expiresAt: string } | null;
}

async function keptBody(c: Queryable, id: string): Promise<MessageDetail['body']> {
  const r = await c.query<{ html: string | null; text: string | null; expiresAt: Date }>(
    'SELECT html, text, expires_at AS "expiresAt" FROM message_bodies WHERE message_id = $1 AND expires_at > now()', [id]);
  const b = r.rows[0];
  return b ? { html: b.html, text: b.text, expiresAt: b.expiresAt.toISOString() } : null;
}

/** One message of the current tenant with its timeline and body; null when absent (or another tenant's). */
export async function messageDetail(c: Queryable, id: string): Promise<MessageDetail | null> {
  const m = await getMessage(c, id);
  if (!m) return null;
  const events = (await messageEvents(c, id)).map((e) => ({ type: e.type, at: e.at.toISOString(), detail: e.detail }));
  return { ...toRecord(m), events, body: await keptBody(c, id) };
}

// ---- listing -------------------------------------------------------------------------------------

interface Cursor { at: string; id: string }
/** created_at to the microsecond, in UTC (a JS Date would lose the microseconds). */
const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.at, c.id])).toString('base64url');
}

function decodeCursor(s: string): Cursor {
  try {
    const [at, id] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && isUuid(id) && CURSOR_AT.test(at)) return { at, id };
  } catch { /* fall through */ }
  throw new DomainError('invalid', 'query.cursor: not a cursor returned by this endpoint', 'query.cursor');
}

/** Newest first; `nextCursor` continues after the last item (null at the end). */
/**
 * `idempotentIds`: with q.idempotencyKey, the ids of the messages whose POST carried that
 * Idempotency-Key (from the idempotency store); the key also matches the notice purpose notice:<key>.
 */
export async function listMessages(c: Queryable, tenantId: string, q: MessagesQuery, idempotentIds: readonly string[] = []): Promise<{ items: MessageRecord[]; nextCursor: string | null }> {
  const where: string[] = ['tenant_id = $1'];
  const params: unknown[] = [tenantId];
  const add = (sql: (p: string) => string, v: unknown) => { params.push(v); where.push(sql(`$${params.length}`)); };
  if (q.kind) add((p) => `kind = ${p}`, q.kind);
  if (q.status) add((p) => `status = ${p}`, q.status);
  if (q.contactId) add((p) => `contact_id = ${p}`, q.contactId);
  if (q.campaignId) add((p) => `campaign_id = ${p}`, q.campaignId);
  if (q.recipient) add((p) => `lower(recipient) = lower(${p})`, q.recipient.trim());
  if (q.since) add((p) => `created_at >= ${p}::timestamptz`, q.since);
  if (q.until) add((p) => `created_at < ${p}::timestamptz`, q.until);
  if (q.purpose) add((p) => `purpose = ${p}`, q.purpose);
  if (q.idempotencyKey) {
    add((p) => `(purpose = 'notice:' || ${p}`, q.idempotencyKey);
    params.push(idempotentIds.filter(isUuid));
    where[where.length - 1] += ` OR id = ANY($${params.length}::uuid[]))`;
  }
  if (q.cursor) {
    const cur = decodeCursor(q.cursor);
    params.push(cur.at, cur.id);
    where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(q.limit + 1);
  const r = await c.query<LedgerMessage & { cursorAt: string }>(`SELECT ${MESSAGE_COLUMNS}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt" FROM messages
    WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`, params);
  const rows = r.rows.slice(0, q.limit);
  const last = rows[rows.length - 1];
  const nextCursor = r.rows.length > q.limit && last ? encodeCursor({ at: last.cursorAt, id: last.id }) : null;
  return { items: rows.map(toRecord), nextCursor };
}
