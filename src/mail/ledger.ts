// The message ledger: one row per email, unique on (tenant, purpose), with its timeline.
// Named queries only; callers pass a client from withTenant.
import type { Queryable } from '../platform/db.js';
import type { MessageKind } from '../policy/gate.js';

export type MessageStatus = 'queued' | 'sending' | 'sent' | 'deferred' | 'failed' | 'bounced' | 'complained' | 'suppressed' | 'cancelled';
export const FINAL_STATUSES: readonly MessageStatus[] = ['sent', 'failed', 'bounced', 'complained', 'suppressed', 'cancelled'];

export interface LedgerMessage {
  id: string; tenantId: string; purpose: string; kind: MessageKind; contactId: string | null; campaignId: string | null;
  recipient: string | null; template: string; templateVersion: number; subject: string | null; data: Record<string, unknown>;
  requestHash: string | null; status: MessageStatus; reason: string | null; attempts: number; messageIdHeader: string | null;
  smtpResponse: string | null; createdAt: Date; sentAt: Date | null;
}

export const MESSAGE_COLUMNS = `id, tenant_id AS "tenantId", purpose, kind, contact_id AS "contactId", campaign_id AS "campaignId",
  recipient, template, template_version AS "templateVersion", subject, data, request_hash AS "requestHash", status, reason,
  attempts, message_id_header AS "messageIdHeader", smtp_response AS "smtpResponse", created_at AS "createdAt", sent_at AS "sentAt"`;

export interface NewMessage {
  tenantId: string; purpose: string; kind: MessageKind; contactId: string | null; campaignId?: string | null;
  recipient: string; template: string; templateVersion?: number; data: Record<string, unknown>; requestHash?: string | null;
}

/**
 * Records a message once. Returns the row and whether this call created it; an existing row for the
 * same purpose is returned untouched (idempotency). A new row is queued for dispatch in the same
 * transaction and the dispatchers are woken when it commits.
 */
export async function enqueueMessage(c: Queryable, m: NewMessage): Promise<{ message: LedgerMessage; created: boolean }> {
  const ins = await c.query<LedgerMessage>(`INSERT INTO messages (tenant_id, purpose, kind, contact_id, campaign_id, recipient, template, template_version, data, request_hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant_id, purpose) DO NOTHING RETURNING ${MESSAGE_COLUMNS}`,
  [m.tenantId, m.purpose, m.kind, m.contactId, m.campaignId ?? null, m.recipient, m.template, m.templateVersion ?? 1, JSON.stringify(m.data), m.requestHash ?? null]);
  if (ins.rows[0]) {
    const msg = ins.rows[0];
    await addEvent(c, m.tenantId, msg.id, 'queued', {});
    await c.query('INSERT INTO send_queue (message_id, tenant_id) VALUES ($1, $2)', [msg.id, m.tenantId]);
    await c.query("SELECT pg_notify('postgate_send', '')");
    return { message: msg, created: true };
  }
  const existing = await c.query<LedgerMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND purpose = $2`, [m.tenantId, m.purpose]);
  return { message: existing.rows[0], created: false };
}

export async function addEvent(c: Queryable, tenantId: string, messageId: string, type: string, detail: Record<string, unknown>): Promise<void> {
  await c.query('INSERT INTO message_events (tenant_id, message_id, type, detail) VALUES ($1, $2, $3, $4)', [tenantId, messageId, type, JSON.stringify(detail)]);
}

export async function getMessage(c: Queryable, id: string, forUpdate = false): Promise<LedgerMessage | null> {
  const r = await c.query<LedgerMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ?? null;
}

export interface MessageEvent { type: string; detail: Record<string, unknown>; at: Date }

export async function messageEvents(c: Queryable, messageId: string): Promise<MessageEvent[]> {
  const r = await c.query<MessageEvent>('SELECT type, detail, at FROM message_events WHERE message_id = $1 ORDER BY id', [messageId]);
  return r.rows;
}

export async function setStatus(c: Queryable, m: Pick<LedgerMessage, 'id' | 'tenantId'>, status: MessageStatus, detail: Record<string, unknown> & { reason?: string | null }): Promise<void> {
  await c.query('UPDATE messages SET status = $2, reason = $3, updated_at = now() WHERE id = $1', [m.id, status, detail.reason ?? null]);
  await addEvent(c, m.tenantId, m.id, status, detail);
}

export async function storeBody(c: Queryable, m: Pick<LedgerMessage, 'id' | 'tenantId'>, html: string, text: string, retentionDays: number): Promise<void> {
  if (retentionDays <= 0) return;
  await c.query(`INSERT INTO message_bodies (message_id, tenant_id, html, text, expires_at) VALUES ($1, $2, $3, $4, now() + $5 * interval '1 day')
    ON CONFLICT (message_id) DO UPDATE SET html = EXCLUDED.html, text = EXCLUDED.text, expires_at = EXCLUDED.expires_at`, [m.id, m.tenantId, html, text, retentionDays]);
}
