// GET /api/contacts/:id/export: one JSON document with everything Postgate holds about a person in
// this tenant: profile and attributes, subscriptions (with list names), every consent record (with the
// wording it refers to), the unsubscribe events among them, suppression status, whether the address is
// one of the tenant's test addresses (and its state), every message sent
// to them (ledger metadata, render data, timeline, body while kept) and every bounce or complaint
// about them (raw report while kept, with other people's addresses redacted), and their clicks and opens
// of tracked campaign mail (engagements).
// Messages and bounces are found by contact id and also by address, so mail sent to the address
// before or outside the contact record (test sends, notices) is included too.
import type { Queryable } from '../platform/db.js';
import { suppressionsFor } from '../consent/suppressions.js';
import { findTestAddress } from '../campaigns/test-addresses.js';

export const EXPORT_FORMAT = 'postgate.contact-export/1';

interface ContactProfile {
  id: string; email: string; name: string | null; attributes: Record<string, unknown>; status: string;
  createdAt: Date; updatedAt: Date; verifiedAt: Date | null;
  /** The BCP 47 locale their pages and mail speak (issue 20), or null. */
  locale: string | null;
}

async function profile(c: Queryable, id: string): Promise<ContactProfile | null> {
  const r = await c.query<ContactProfile>(`SELECT id, email, name, attributes, status, created_at AS "createdAt", updated_at AS "updatedAt",
      verified_at AS "verifiedAt", locale FROM contacts WHERE id = $1 AND status <> 'erased' AND email IS NOT NULL`, [id]);
  return r.rows[0] ?? null;
}

async function subscriptions(c: Queryable, contactId: string): Promise<unknown[]> {
  return (await c.query(`SELECT s.list_id AS "listId", l.name AS "listName", s.status, s.created_at AS "createdAt", s.updated_at AS "updatedAt"
    FROM subscriptions s JOIN lists l ON l.id = s.list_id WHERE s.contact_id = $1 ORDER BY l.created_at, l.id`, [contactId])).rows;
}

interface ConsentRecord { id: string; action: string; source: string; listId: string | null; listName: string | null; ip: string | null;
  userAgent: string | null; textHash: string | null; text: string | null; detail: Record<string, unknown>; at: Date }

async function consentRecords(c: Queryable, contactId: string): Promise<ConsentRecord[]> {
  return (await c.query<ConsentRecord>(`SELECT e.id::text AS id, e.action, e.source, e.list_id AS "listId", l.name AS "listName",
      host(e.ip) AS ip, e.user_agent AS "userAgent", e.text_hash AS "textHash", t.text, e.detail, e.at
    FROM consent_events e LEFT JOIN lists l ON l.id = e.list_id
      LEFT JOIN consent_texts t ON t.tenant_id = e.tenant_id AND t.hash = e.text_hash
    WHERE e.contact_id = $1 ORDER BY e.at, e.id`, [contactId])).rows;
}

interface ExportMessage { id: string; [k: string]: unknown }

async function messages(c: Queryable, tenantId: string, contactId: string, emailKey: string): Promise<ExportMessage[]> {
  const rows = (await c.query<ExportMessage>(`SELECT m.id, m.purpose, m.kind, m.campaign_id AS "campaignId", m.recipient, m.template,
      m.template_version AS "templateVersion", m.subject, m.data, m.status, m.reason, m.attempts, m.message_id_header AS "messageIdHeader",
      m.smtp_response AS "smtpResponse", m.created_at AS "createdAt", m.sent_at AS "sentAt",
      coalesce((SELECT json_agg(json_build_object('type', e.type, 'detail', e.detail, 'at', e.at) ORDER BY e.id)
        FROM message_events e WHERE e.message_id = m.id), '[]') AS events,
      (SELECT json_build_object('html', b.html, 'text', b.text, 'expiresAt', b.expires_at) FROM message_bodies b WHERE b.message_id = m.id) AS body
    FROM messages m WHERE m.tenant_id = $3 AND (m.contact_id = $1 OR lower(m.recipient) = $2) ORDER BY m.created_at, m.id`,
  [contactId, emailKey, tenantId])).rows;
  return rows;
}

const ADDRESS = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;

/** Redacts every address in a text except the person's own. */
export function redactOthers(text: string, own: string): string {
  const mine = own.toLowerCase();
  return text.replace(ADDRESS, (a) => (a.toLowerCase() === mine ? a : '[redacted address]'));
}

interface ExportBounce { id: string; kind: string; raw: Buffer | string | null; diagnostic: string | null; [k: string]: unknown }

async function bounces(c: Queryable, contactId: string, emailKey: string, messageIds: string[]): Promise<ExportBounce[]> {
  const rows = (await c.query<ExportBounce>(`SELECT b.id, b.message_id AS "messageId", b.campaign_id AS "campaignId", b.kind, b.source,
      b.matched_by AS "matchedBy", b.status, b.reason, b.diagnostic, b.recipient, b.feedback_type AS "feedbackType", b.action,
      b.raw, b.raw_withheld AS "rawWithheld", b.raw_expires_at AS "rawExpiresAt", b.received_at AS "receivedAt"
    FROM bounces b WHERE b.contact_id = $1 OR lower(b.recipient) = $2 OR b.message_id = ANY($3::uuid[])
    ORDER BY b.received_at, b.id`, [contactId, emailKey, messageIds])).rows;
  return rows.map((b) => ({
    ...b,
    diagnostic: b.diagnostic === null ? null : redactOthers(b.diagnostic, emailKey),
    raw: Buffer.isBuffer(b.raw) ? redactOthers(b.raw.toString('utf8'), emailKey) : null,
  }));
}

/** Their clicks and opens of campaign mail (src/engagement; no IP or user agent is kept), oldest first. */
async function engagements(c: Queryable, contactId: string, messageIds: string[]): Promise<unknown[]> {
  return (await c.query(`SELECT message_id AS "messageId", campaign_id AS "campaignId", kind, url, at, scanner, scanner_reason AS "scannerReason"
    FROM engagements WHERE contact_id = $1 OR message_id = ANY($2::uuid[]) ORDER BY at, id`, [contactId, messageIds])).rows;
}

/** The export document, or null when the contact does not exist (or was erased) in this tenant. */
export async function exportContact(c: Queryable, tenantId: string, contactId: string): Promise<Record<string, unknown> | null> {
  const contact = await profile(c, contactId);
  if (!contact) return null;
  const emailKey = contact.email.toLowerCase();
  const tenant = (await c.query<{ name: string }>('SELECT name FROM tenants WHERE id = $1', [tenantId])).rows[0];
  const consent = await consentRecords(c, contactId);
  const sent = await messages(c, tenantId, contactId, emailKey);
  const reports = await bounces(c, contactId, emailKey, sent.map((m) => m.id));
  return {
    format: EXPORT_FORMAT,
    exportedAt: new Date().toISOString(),
    controller: { tenantId, name: tenant?.name ?? null },
    contact,
    subscriptions: await subscriptions(c, contactId),
    consentRecords: consent,
    unsubscribes: consent.filter((e) => e.action === 'opt_out'),
    suppression: await suppressionsFor(c, tenantId, contact.email),
    testAddress: await findTestAddress(c, tenantId, contact.email).then((a) => (a ? { state: a.state, verifiedAt: a.verifiedAt, createdAt: a.createdAt } : null)),
    messages: sent,
    bounces: reports.filter((b) => b.kind !== 'complaint'),
    complaints: reports.filter((b) => b.kind === 'complaint'),
    engagements: await engagements(c, contactId, sent.map((m) => m.id)),
  };
}
