// Consent records: the append-only proof of permission. Each event says when, what (action), how
// (source: api, page, one_click, complaint…), from where (IP, user agent) and which wording was shown,
// stored once per version in consent_texts and referenced by its sha-256.
import { createHash } from 'node:crypto';
import type { Queryable } from '../platform/db.js';
import { redactCardData } from '../policy/cards.js';
import { keptHeaderValue } from '../platform/header-value.js';

/**
 * 'import': a row of a CSV import (src/audience), its detail holding the attestation, row number and the source's consent date and IP.
 * 'export_request', 'erasure_request': the person asked on the preference page for their data or its erasure
 * (src/data-rights/self-service.ts); 'export_download': the mailed link's export was first downloaded.
 */
export type ConsentAction = 'register' | 'opt_in' | 'confirm' | 'opt_out' | 'suppress' | 'unsuppress' | 'import'
  | 'export_request' | 'erasure_request' | 'export_download';

export interface ConsentEventInput {
  contactId: string; listId: string | null; action: ConsentAction; source: string;
  ip: string | null; userAgent: string | null; textHash: string | null; detail?: Record<string, unknown>;
}

export interface ConsentEventRow {
  id: string; contactId: string; listId: string | null; action: string; source: string; ip: string | null;
  userAgent: string | null; textHash: string | null; text: string | null; detail: Record<string, unknown>; at: Date;
}

export function consentTextHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Stores a wording once per version; returns its hash. */
export async function storeConsentText(c: Queryable, tenantId: string, text: string): Promise<string> {
  const hash = consentTextHash(text);
  await c.query('INSERT INTO consent_texts (tenant_id, hash, text) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [tenantId, hash, text]);
  return hash;
}

/** The wording this tenant stored under a sha-256 (hex) hash, or null (RLS: the current tenant only). */
export async function consentText(c: Queryable, hash: string): Promise<string | null> {
  return (await c.query<{ text: string }>('SELECT text FROM consent_texts WHERE hash = $1', [hash])).rows[0]?.text ?? null;
}

/**
 * A user agent as kept: a header the client sent, so it is read as UTF-8 when its bytes are (Node
 * reads header bytes as latin1) and card numbers in it are redacted, not refused (policy/cards): the
 * last line behind the pages and the API, which do the same (platform/header-value).
 */
const keptUserAgent = (ua: string | null): string | null => keptHeaderValue(ua, MAX_KEPT_USER_AGENT);
const MAX_KEPT_USER_AGENT = 512;

/** Appends one consent event. The user agent and the detail are stored with card numbers redacted. */
export async function recordConsent(c: Queryable, tenantId: string, e: ConsentEventInput): Promise<void> {
  await c.query(`INSERT INTO consent_events (tenant_id, contact_id, list_id, action, source, ip, user_agent, text_hash, detail)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
  [tenantId, e.contactId, e.listId, e.action, e.source, e.ip, keptUserAgent(e.userAgent), e.textHash, JSON.stringify(redactCardData(e.detail ?? {}))]);
}

/** One 'opt_out' record per list (null: a request that changed no list), with the same facts (card numbers redacted, as recordConsent). */
export async function recordOptOuts(c: Queryable, tenantId: string, e: {
  contactId: string; listIds: readonly (string | null)[]; source: string; ip: string | null; userAgent: string | null; detail: Record<string, unknown>;
}): Promise<void> {
  await c.query(`INSERT INTO consent_events (tenant_id, contact_id, list_id, action, source, ip, user_agent, detail)
    SELECT $1, $2, l, 'opt_out', $3, $4::inet, $5, $6 FROM unnest($7::uuid[]) AS l`,
  [tenantId, e.contactId, e.source, e.ip, keptUserAgent(e.userAgent), JSON.stringify(redactCardData(e.detail)), e.listIds]);
}

/** A contact's consent history, oldest first, with the wording each event refers to. */
export async function consentHistory(c: Queryable, contactId: string): Promise<ConsentEventRow[]> {
  const r = await c.query<ConsentEventRow>(`SELECT e.id::text AS id, e.contact_id AS "contactId", e.list_id AS "listId", e.action, e.source,
      host(e.ip) AS ip, e.user_agent AS "userAgent", e.text_hash AS "textHash", t.text, e.detail, e.at
    FROM consent_events e LEFT JOIN consent_texts t ON t.tenant_id = e.tenant_id AND t.hash = e.text_hash
    WHERE e.contact_id = $1 ORDER BY e.id`, [contactId]);
  return r.rows;
}

/** A consent record as a contact's timeline shows it (timeline.ts): with its list's name; key is 'c:<id zero-padded to 20 digits>'. */
export interface TimelineConsentRow {
  id: string; action: string; source: string; listId: string | null; listName: string | null; textHash: string | null;
  detail: Record<string, unknown>; at: Date; cursorAt: string; key: string;
}

/**
 * One page of a contact's consent records, newest first (at, then id), strictly after the timeline
 * position `before` ({at: ISO timestamp with microseconds, key compared in the C collation}); at most
 * `limit` rows, read through consent_events_contact.
 */
export async function consentEventsPage(c: Queryable, contactId: string, limit: number, before?: { at: string; key: string }): Promise<TimelineConsentRow[]> {
  const r = await c.query<TimelineConsentRow>(`SELECT e.id::text AS id, e.action, e.source, e.list_id AS "listId", l.name AS "listName",
      e.text_hash AS "textHash", e.detail, e.at,
      to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "cursorAt", 'c:' || lpad(e.id::text, 20, '0') AS key
    FROM consent_events e LEFT JOIN lists l ON l.id = e.list_id
    WHERE e.contact_id = $1
      AND ($2::timestamptz IS NULL OR (e.at, ('c:' || lpad(e.id::text, 20, '0')) COLLATE "C") < ($2::timestamptz, $3::text COLLATE "C"))
    ORDER BY e.at DESC, e.id DESC LIMIT $4`, [contactId, before?.at ?? null, before?.key ?? null, limit]);
  return r.rows;
}

/** Stores many wordings (each once per version) in one statement; returns each text's hash. */
export async function storeConsentTexts(c: Queryable, tenantId: string, texts: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(texts)];
  const hashes = new Map(unique.map((t) => [t, consentTextHash(t)]));
  if (unique.length === 0) return hashes;
  await c.query(`INSERT INTO consent_texts (tenant_id, hash, text) SELECT $1, h, t FROM unnest($2::text[], $3::text[]) AS u(h, t)
    ON CONFLICT DO NOTHING`, [tenantId, unique.map((t) => hashes.get(t)), unique]);
  return hashes;
}

/**
 * Appends many consent events in one statement (unnest), with card numbers redacted from each
 * detail as recordConsent does, unless `cardChecked`: the caller already refused card numbers in
 * every free-text value of the details (the CSV import checks each row; redaction costs ~30 µs a
 * detail, half a minute on a million rows). `ip` must be a valid IP address or null (the column is inet).
 */
export async function recordConsents(c: Queryable, tenantId: string, events: readonly ConsentEventInput[], opts: { cardChecked?: boolean } = {}): Promise<void> {
  if (events.length === 0) return;
  const detail = (d: Record<string, unknown> | undefined) => JSON.stringify(opts.cardChecked ? d ?? {} : redactCardData(d ?? {}));
  await c.query(`INSERT INTO consent_events (tenant_id, contact_id, list_id, action, source, ip, user_agent, text_hash, detail)
    SELECT $1, u.contact_id, u.list_id, u.action, u.source, u.ip, u.user_agent, u.text_hash, u.detail
    FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::inet[], $7::text[], $8::text[], $9::jsonb[])
      AS u(contact_id, list_id, action, source, ip, user_agent, text_hash, detail)`,
  [tenantId, events.map((e) => e.contactId), events.map((e) => e.listId), events.map((e) => e.action), events.map((e) => e.source),
    events.map((e) => e.ip), events.map((e) => keptUserAgent(e.userAgent)), events.map((e) => e.textHash),
    events.map((e) => detail(e.detail))]);
}

/**
 * How many of these actions the contact has on record in the last `hours` (reading at most `limit`
 * rows through consent_events_contact), and in how many seconds the oldest of them leaves the window.
 */
export async function recentConsentCount(c: Queryable, contactId: string, actions: readonly ConsentAction[], hours: number,
  limit: number): Promise<{ n: number; retryAfter: number }> {
  const r = await c.query<{ n: number; retry: number | null }>(`SELECT count(*)::int AS n,
      ceil(extract(epoch FROM min(at) + $3 * interval '1 hour' - now()))::int AS retry
    FROM (SELECT at FROM consent_events WHERE contact_id = $1 AND action = ANY($2::text[]) AND at > now() - $3 * interval '1 hour'
      ORDER BY at DESC LIMIT $4) recent`, [contactId, actions, hours, limit]);
  return { n: r.rows[0].n, retryAfter: Math.max(1, r.rows[0].retry ?? 1) };
}
