// Named queries of the bounces domain: the bounces table, the cross-tenant message look-ups (SECURITY
// DEFINER functions of 001), the figures behind soft-bounce counting and the campaign auto-pause.
// Callers pass a client from withTenant (or withSystem for the definer look-ups).
import type { Queryable } from '../platform/db.js';
import type { ContactStatus } from '../consent/state.js';
import { MESSAGE_COLUMNS, type LedgerMessage } from '../mail/ledger.js';

export type { BounceKind } from './reasons.js';
import type { BounceKind } from './reasons.js';
export type BounceSource = 'smtp' | 'api' | 'send';
export type MatchedBy = 'verp' | 'message_id' | 'recipient' | 'ledger' | 'none';

export interface NewBounce {
  tenantId: string; messageId: string | null; contactId: string | null; campaignId: string | null;
  kind: BounceKind; source: BounceSource; matchedBy: MatchedBy; status: string | null; reason: string | null;
  diagnostic: string | null; recipient: string | null; feedbackType: string | null;
  raw: Buffer | null; rawWithheld: string | null; rawHash: string; rawRetentionDays: number;
}

export interface BounceRow {
  id: string; messageId: string | null; contactId: string | null; campaignId: string | null; kind: BounceKind;
  source: BounceSource; matchedBy: MatchedBy; status: string | null; reason: string | null; diagnostic: string | null;
  recipient: string | null; feedbackType: string | null; action: string | null; rawKept: boolean; rawWithheld: string | null;
  rawExpiresAt: Date | null; receivedAt: Date;
}

const BOUNCE_COLUMNS = `id, message_id AS "messageId", contact_id AS "contactId", campaign_id AS "campaignId", kind, source,
  matched_by AS "matchedBy", status, reason, diagnostic, recipient, feedback_type AS "feedbackType", action,
  raw IS NOT NULL AS "rawKept", raw_withheld AS "rawWithheld", raw_expires_at AS "rawExpiresAt", received_at AS "receivedAt"`;

/** The tenant of a message, across tenants (definer function); null when there is no such message. */
export async function tenantOfMessage(c: Queryable, messageId: string): Promise<string | null> {
  const r = await c.query<{ t: string | null }>('SELECT message_tenant($1::uuid) AS t', [messageId]);
  return r.rows[0]?.t ?? null;
}

/** The tenant of a contact, across tenants (definer function of 050): mailto unsubscribes. */
export async function tenantOfContact(c: Queryable, contactId: string): Promise<string | null> {
  const r = await c.query<{ t: string | null }>('SELECT contact_tenant($1::uuid) AS t', [contactId]);
  return r.rows[0]?.t ?? null;
}

/** A message by the Message-ID header Postgate set, across tenants (definer function). */
export async function messageByHeaderAnyTenant(c: Queryable, header: string): Promise<{ tenantId: string; messageId: string } | null> {
  const r = await c.query<{ tenantId: string; messageId: string }>(
    'SELECT tenant_id AS "tenantId", message_id AS "messageId" FROM message_tenant_by_header($1)', [header]);
  return r.rows[0] ?? null;
}

/** A message of the current tenant by its Message-ID header. */
export async function messageByHeader(c: Queryable, header: string): Promise<LedgerMessage | null> {
  const r = await c.query<LedgerMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE message_id_header = $1 LIMIT 1`, [header]);
  return r.rows[0] ?? null;
}

/** A contact as bounce handling sees it (locked: its status may change). */
export interface BounceContact { id: string; email: string | null; status: ContactStatus }

export async function contactById(c: Queryable, id: string): Promise<BounceContact | null> {
  const r = await c.query<BounceContact>('SELECT id, email, status FROM contacts WHERE id = $1 FOR UPDATE', [id]);
  return r.rows[0] ?? null;
}

export async function contactByEmail(c: Queryable, email: string): Promise<BounceContact | null> {
  const r = await c.query<BounceContact>('SELECT id, email, status FROM contacts WHERE email_key = lower(btrim($1)) FOR UPDATE', [email]);
  return r.rows[0] ?? null;
}

/** Inserts the bounce; null when the same report was already recorded for the same message. */
export async function insertBounce(c: Queryable, b: NewBounce): Promise<string | null> {
  const keepRaw = b.raw !== null && b.rawRetentionDays > 0;
  const r = await c.query<{ id: string }>(`INSERT INTO bounces (tenant_id, message_id, contact_id, campaign_id, kind, source, matched_by,
      status, reason, diagnostic, recipient, feedback_type, raw, raw_withheld, raw_hash, raw_expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, CASE WHEN $13::bytea IS NULL THEN NULL ELSE now() + $16 * interval '1 day' END)
    ON CONFLICT (tenant_id, raw_hash, (coalesce(message_id, '00000000-0000-0000-0000-000000000000'::uuid))) DO NOTHING RETURNING id`,
  [b.tenantId, b.messageId, b.contactId, b.campaignId, b.kind, b.source, b.matchedBy, b.status, b.reason, b.diagnostic,
    b.recipient, b.feedbackType, keepRaw ? b.raw : null, b.rawWithheld, b.rawHash, b.rawRetentionDays]);
  return r.rows[0]?.id ?? null;
}

export async function setBounceAction(c: Queryable, id: string, action: string): Promise<void> {
  await c.query('UPDATE bounces SET action = $2 WHERE id = $1', [id, action]);
}

/** Distinct messages (or unmatched reports) that soft-bounced for this contact within the window. */
export async function softBounceCount(c: Queryable, contactId: string, windowDays: number): Promise<number> {
  const r = await c.query<{ n: number }>(`SELECT count(DISTINCT coalesce(message_id, id))::int AS n FROM bounces
    WHERE contact_id = $1 AND kind = 'soft' AND received_at > now() - $2 * interval '1 day'`, [contactId, windowDays]);
  return r.rows[0].n;
}

export interface CampaignFigures { sent: number; hard: number; complaints: number }

/** Messages of a campaign that went out, and how many of them hard-bounced or drew a complaint. */
export async function campaignFigures(c: Queryable, campaignId: string): Promise<CampaignFigures> {
  const sent = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE campaign_id = $1 AND sent_at IS NOT NULL', [campaignId]);
  const b = await c.query<{ hard: number; complaints: number }>(`SELECT
      count(DISTINCT message_id) FILTER (WHERE kind = 'hard')::int AS hard,
      count(DISTINCT message_id) FILTER (WHERE kind = 'complaint')::int AS complaints
    FROM bounces WHERE campaign_id = $1 AND message_id IS NOT NULL`, [campaignId]);
  return { sent: sent.rows[0].n, hard: b.rows[0].hard, complaints: b.rows[0].complaints };
}

/** A page of bounces, newest first, after the keyset position `after` (received_at to the microsecond, id); one row more than `limit` says there is a next page. */
export async function listBounces(c: Queryable, f: {
  messageId?: string; contactId?: string; kind?: BounceKind; limit: number; after?: { at: string; id: string };
  /** The reason token (reasons.ts), exact. */
  reason?: string;
  /** The reported recipient address, exact and case-insensitive. */
  recipient?: string;
  campaignId?: string;
}): Promise<(BounceRow & { cursorAt: string })[]> {
  const r = await c.query<BounceRow & { cursorAt: string }>(`SELECT ${BOUNCE_COLUMNS},
      to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt" FROM bounces
    WHERE ($1::uuid IS NULL OR message_id = $1) AND ($2::uuid IS NULL OR contact_id = $2) AND ($3::text IS NULL OR kind = $3)
      AND ($5::timestamptz IS NULL OR (received_at, id) < ($5::timestamptz, $6::uuid))
      AND ($7::text IS NULL OR reason = $7) AND ($8::text IS NULL OR lower(recipient) = lower(btrim($8))) AND ($9::uuid IS NULL OR campaign_id = $9)
    ORDER BY received_at DESC, id DESC LIMIT $4`, [f.messageId ?? null, f.contactId ?? null, f.kind ?? null, f.limit + 1, f.after?.at ?? null, f.after?.id ?? null,
    f.reason ?? null, f.recipient ?? null, f.campaignId ?? null]);
  return r.rows;
}

/**
 * One page of a contact's bounces and complaints, newest first (received_at, then id), strictly after
 * the timeline position `before` ({at: ISO timestamp with microseconds, key: 'b:<id>' or another
 * source's key, compared in the C collation}); at most `limit` rows, read through bounces_contact_kind.
 */
export async function contactBouncesPage(c: Queryable, contactId: string, limit: number, before?: { at: string; key: string }):
Promise<(BounceRow & { cursorAt: string; key: string })[]> {
  const r = await c.query<BounceRow & { cursorAt: string; key: string }>(`SELECT ${BOUNCE_COLUMNS},
      to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt", 'b:' || id::text AS key FROM bounces
    WHERE contact_id = $1
      AND ($2::timestamptz IS NULL OR (received_at, ('b:' || id::text) COLLATE "C") < ($2::timestamptz, $3::text COLLATE "C"))
    ORDER BY received_at DESC, id DESC LIMIT $4`, [contactId, before?.at ?? null, before?.key ?? null, limit]);
  return r.rows;
}

/** A bounce's raw report while it is kept, and why it is not when it was withheld (card_data, capability_link…); null: no such bounce. */
export async function bounceRaw(c: Queryable, id: string): Promise<{ raw: Buffer | null; withheld: string | null } | null> {
  const r = await c.query<{ raw: Buffer | null; withheld: string | null }>('SELECT raw, raw_withheld AS withheld FROM bounces WHERE id = $1', [id]);
  return r.rows[0] ?? null;
}

/** Erasure: drop what identifies the person (address, raw report); keep kind and dates. */
export async function eraseContactBounces(c: Queryable, contactId: string): Promise<void> {
  await c.query(`UPDATE bounces SET recipient = NULL, diagnostic = NULL, raw = NULL, raw_expires_at = NULL WHERE contact_id = $1`, [contactId]);
}

/**
 * Retention: empties the raw report of at most `limit` bounces past raw_expires_at
 * (BOUNCE_RAW_RETENTION_DAYS), keeping the metadata, through purge_expired_bounces() (migration 079).
 * Returns how many.
 */
export async function purgeExpiredRawBounces(c: Queryable, limit: number): Promise<number> {
  const r = await c.query<{ n: string }>('SELECT purge_expired_bounces($1)::text AS n', [limit]);
  return Number(r.rows[0].n);
}
