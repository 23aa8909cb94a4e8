// DELETE /api/contacts/:id: erases a person's personal data everywhere, in one transaction, keeping
// only what compliance needs without identifying them:
//   contacts        email, email_key, name, locale → NULL, attributes → {}, status 'erased', erased_at
//   subscriptions   kept as 'unsubscribed' (list figures stay right; the row names no one)
//   consent_events  re-written without IP, user agent, wording hash or the address in detail (the
//                   table refuses UPDATE, so the rows are deleted and re-inserted with their times),
//                   plus one 'erase' record with the counts
//   consent_texts   wordings that contain the address (or, unshared, the name) are deleted
//   messages        every message to the person (by contact or by address: test sends, notices)
//                   keeps kind, template, status, dates (the counts); recipient, subject, render data
//                   → NULL/{}; SMTP response, reason and a purpose naming the address are scrubbed;
//                   queued/deferred ones are cancelled and leave the send queue
//   message_bodies  deleted;  message_events: the address is scrubbed from their detail
//   engagements     the person's clicks and opens are deleted (with their feed events); campaign
//                   figures per link whose link names the address get it replaced by [erased]
//   outbox files    (no SMTP_URL) the .eml of each of those messages, after commit: messageIds goes to
//                   Mailer.forget (platform/outbox.ts), which finds them by the id in their names
//   bounces         recipient, diagnostic, raw → NULL for their reports, and for any other report
//                   whose raw text or diagnostic names the address
//   test_addresses  the address stops being a test address of the tenant (its row is deleted)
//   suppressions    + a salted hash of the address, scope 'marketing', reason 'erased'; the plain
//                   address and note (migration 060) leave every suppression row of that hash.
// Why 'marketing' and not 'all': no later import or campaign reaches the address again (the gate
// refuses marketing to it), yet a fresh registration still works: the activation email is necessary
// mail, which a 'marketing' suppression does not block, and when the person confirms that fresh
// opt-in, migration 040's trigger lifts the 'erased' suppression (and only that reason: a complaint
// or hard-bounce suppression stays).
import type { PoolClient } from '../platform/db.js';
import { forgetIdempotentResponses } from '../platform/idempotency.js';
import { addSuppression, forgetSuppressedAddress } from '../consent/suppressions.js';
import { lockAddress } from '../consent/activation.js';
import { eraseContactBounces } from '../bounces/store.js';
import { forgetTestAddress } from '../campaigns/test-addresses.js';
import { forgetEventDeliveries } from '../webhooks/store.js';

export interface ErasureCounts {
  messages: number; cancelledMessages: number; bodies: number; messageEvents: number; bounces: number;
  consentEvents: number; consentTexts: number; subscriptions: number;
}
export interface ErasureResult {
  id: string; status: 'erased'; erasedAt: Date; counts: ErasureCounts;
  /** The person's ledger messages: once the transaction commits, the caller deletes their copies outside the database (the outbox's files). Not part of the API answer. */
  messageIds: string[];
}

const SCRUBBED = '[erased]';

/** A PostgreSQL ARE matching the address literally (case-insensitivity comes from the 'gi'/~* flags). */
export function literalPattern(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

interface Person { id: string; email: string; name: string | null }

async function lockPerson(c: PoolClient, tenantId: string, contactId: string): Promise<Person | null> {
  const q = `SELECT id, email, name FROM contacts WHERE id = $1 AND status <> 'erased' AND email IS NOT NULL`;
  const first = (await c.query<Person>(q, [contactId])).rows[0];
  if (!first) return null;
  await lockAddress(c, tenantId, first.email); // the same lock registration takes: no race with a re-registration
  return (await c.query<Person>(`${q} FOR UPDATE`, [contactId])).rows[0] ?? null;
}

async function scrubMessages(c: PoolClient, tenantId: string, p: Person, re: string): Promise<Pick<ErasureCounts, 'messages' | 'cancelledMessages' | 'bodies' | 'messageEvents'> & { ids: string[] }> {
  const ids = (await c.query<{ id: string }>(`SELECT id FROM messages WHERE tenant_id = $1 AND (contact_id = $2 OR lower(recipient) = lower($3))`,
    [tenantId, p.id, p.email])).rows.map((r) => r.id);
  if (ids.length === 0) return { messages: 0, cancelledMessages: 0, bodies: 0, messageEvents: 0, ids };
  const cancelled = await c.query<{ id: string }>(`UPDATE messages SET status = 'cancelled', reason = 'erased', updated_at = now()
    WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'deferred') RETURNING id`, [ids]);
  await c.query(`INSERT INTO message_events (tenant_id, message_id, type, detail) SELECT $1, id, 'cancelled', '{"reason":"erased"}' FROM unnest($2::uuid[]) AS id`,
    [tenantId, cancelled.rows.map((r) => r.id)]);
  await c.query('DELETE FROM send_queue WHERE message_id = ANY($1::uuid[])', [ids]);
  const bodies = await c.query('DELETE FROM message_bodies WHERE message_id = ANY($1::uuid[])', [ids]);
  await c.query(`UPDATE messages SET recipient = NULL, subject = NULL, data = '{}'::jsonb, updated_at = now(),
      smtp_response = regexp_replace(smtp_response, $2, '${SCRUBBED}', 'gi'), reason = regexp_replace(reason, $2, '${SCRUBBED}', 'gi'),
      purpose = CASE WHEN purpose ~* $2 THEN 'erased:' || id ELSE purpose END
    WHERE id = ANY($1::uuid[])`, [ids, re]);
  const events = await c.query(`UPDATE message_events SET detail = regexp_replace(detail::text, $2, '${SCRUBBED}', 'gi')::jsonb
    WHERE message_id = ANY($1::uuid[]) AND detail::text ~* $2`, [ids, re]);
  return { messages: ids.length, cancelledMessages: cancelled.rowCount ?? 0, bodies: bodies.rowCount ?? 0, messageEvents: events.rowCount ?? 0, ids };
}

async function scrubBounces(c: PoolClient, tenantId: string, p: Person): Promise<number> {
  await eraseContactBounces(c, p.id);
  const own = await c.query(`UPDATE bounces b SET recipient = NULL, diagnostic = NULL, raw = NULL, raw_expires_at = NULL,
      raw_withheld = coalesce(b.raw_withheld, CASE WHEN b.raw IS NOT NULL THEN 'erased' END)
    WHERE b.tenant_id = $1 AND (b.contact_id = $2 OR lower(b.recipient) = lower($3)
      OR b.message_id IN (SELECT id FROM messages WHERE contact_id = $2))`, [tenantId, p.id, p.email]);
  // Someone else's report (a multi-recipient DSN) that names the person: its raw and diagnostic go,
  // its recipient and classification stay.
  await c.query(`UPDATE bounces b SET diagnostic = NULL, raw = NULL, raw_expires_at = NULL,
      raw_withheld = coalesce(b.raw_withheld, CASE WHEN b.raw IS NOT NULL THEN 'erased' END)
    WHERE b.tenant_id = $1 AND (position(lower($2) IN lower(b.diagnostic)) > 0
      OR (b.raw IS NOT NULL AND position(lower($2) IN lower(encode(b.raw, 'escape'))) > 0))`, [tenantId, p.email]);
  return own.rowCount ?? 0;
}

interface StoredEvent { list_id: string | null; action: string; source: string; detail: string; at: Date }

async function rewriteConsent(c: PoolClient, tenantId: string, p: Person, re: string): Promise<Pick<ErasureCounts, 'consentEvents' | 'consentTexts'>> {
  const texts = await c.query(`DELETE FROM consent_texts t WHERE t.tenant_id = $1 AND (position(lower($3) IN lower(t.text)) > 0
      OR ($4::text IS NOT NULL AND length($4::text) >= 3 AND position(lower($4::text) IN lower(t.text)) > 0
        AND t.hash IN (SELECT text_hash FROM consent_events WHERE contact_id = $2)
        AND NOT EXISTS (SELECT 1 FROM consent_events o WHERE o.text_hash = t.hash AND o.contact_id <> $2)))`, [tenantId, p.id, p.email, p.name]);
  const old = await c.query<StoredEvent>(`DELETE FROM consent_events WHERE contact_id = $1
    RETURNING list_id, action, source, regexp_replace(detail::text, $2, '${SCRUBBED}', 'gi') AS detail, at`, [p.id, re]);
  const rows = [...old.rows].sort((a, b) => a.at.getTime() - b.at.getTime());
  await c.query(`INSERT INTO consent_events (tenant_id, contact_id, list_id, action, source, detail, at)
    SELECT $1, $2, e.list_id, e.action, e.source, e.detail::jsonb, e.at
    FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS e(list_id, action, source, detail, at)`,
  [tenantId, p.id, rows.map((e) => e.list_id), rows.map((e) => e.action), rows.map((e) => e.source), rows.map((e) => e.detail), rows.map((e) => e.at)]);
  return { consentEvents: rows.length, consentTexts: texts.rowCount ?? 0 };
}

/**
 * Campaign figures per link (migration 077) of the person's campaigns whose link names their address
 * (as written or percent-encoded, e.g. in a path /u/ann@x.example) are merged into one row with the
 * address replaced by [erased]: the totals stay exact.
 */
async function scrubLinkFigures(c: PoolClient, messageIds: string[], email: string, re: string): Promise<void> {
  if (messageIds.length === 0) return;
  const encoded = encodeURIComponent(email);
  const pattern = encoded === email ? re : `${re}|${literalPattern(encoded)}`;
  await c.query(`SELECT campaign_stats_links_erase(ARRAY(SELECT DISTINCT campaign_id FROM messages
    WHERE id = ANY($1::uuid[]) AND campaign_id IS NOT NULL), $2)`, [messageIds, pattern]);
}

/**
 * Erases the contact's personal data; null when there is no such (unerased) contact in this tenant.
 * `source` names who asked, in the 'erase' consent record: 'api' (the tenant) or 'self_service' (the person, by a mailed link).
 */
export async function eraseContact(c: PoolClient, tenantId: string, contactId: string, source: 'api' | 'self_service' = 'api'): Promise<ErasureResult | null> {
  const p = await lockPerson(c, tenantId, contactId);
  if (!p) return null;
  const re = literalPattern(p.email);
  const { ids: messageIds, ...msgs } = await scrubMessages(c, tenantId, p, re);
  const bounces = await scrubBounces(c, tenantId, p);
  const consent = await rewriteConsent(c, tenantId, p, re);
  const subs = await c.query(`UPDATE subscriptions SET status = 'unsubscribed', updated_at = now() WHERE contact_id = $1 AND status <> 'unsubscribed'`, [p.id]);
  await forgetTestAddress(c, tenantId, p.email);
  await addSuppression(c, tenantId, p.email, 'marketing', 'erased');
  await forgetSuppressedAddress(c, tenantId, p.email); // the plain address kept for suppression management goes too
  await forgetIdempotentResponses(c, [p.id, p.email]); // API responses kept for Idempotency-Key replays that name the person
  const done = await c.query<{ erased_at: Date }>(`UPDATE contacts SET email = NULL, email_key = NULL, name = NULL, attributes = '{}'::jsonb, locale = NULL,
      status = 'erased', erased_at = now(), updated_at = now() WHERE id = $1 RETURNING erased_at`, [p.id]);
  const counts: ErasureCounts = { ...msgs, bounces, ...consent, subscriptions: subs.rowCount ?? 0 };
  // The feed keeps none of the person's events (they carry the address); the 'erase' record below
  // adds contact.erased, with the contact id only, so the app hears of it.
  const gone = await c.query<{ id: string }>(`DELETE FROM events WHERE contact_id = $1 OR message_id = ANY($2::uuid[]) RETURNING id::text`, [p.id, messageIds]);
  // Their webhook deliveries go with them: the attempts log keeps the receiver's answer, which may echo the address.
  await forgetEventDeliveries(c, gone.rows.map((r) => r.id));
  // Their clicks and opens (src/engagement, migration 076) go too; the links in mail already sent still redirect, unrecorded.
  await c.query('DELETE FROM engagements WHERE contact_id = $1 OR message_id = ANY($2::uuid[])', [p.id, messageIds]);
  await scrubLinkFigures(c, messageIds, p.email, re);
  await c.query(`INSERT INTO consent_events (tenant_id, contact_id, action, source, detail) VALUES ($1, $2, 'erase', $3, $4)`,
    [tenantId, p.id, source, JSON.stringify({ counts })]);
  return { id: p.id, status: 'erased', erasedAt: done.rows[0].erased_at, counts, messageIds };
}
