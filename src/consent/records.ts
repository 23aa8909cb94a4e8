// Consent records: the append-only proof of permission. Each event says when, what (action), how
// (source: api, page, one_click, complaint…), from where (IP, user agent) and which wording was shown,
// stored once per version in consent_texts and referenced by its sha-256.
import { createHash } from 'node:crypto';
import type { Queryable } from '../platform/db.js';
import { redactCardData } from '../policy/cards.js';
import { keptHeaderValue } from '../platform/header-value.js';

export type ConsentAction = 'register' | 'opt_in' | 'confirm' | 'opt_out' | 'suppress' | 'unsuppress';

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
