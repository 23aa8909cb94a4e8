// Contacts: named queries on the contacts table (one row per address per tenant). Addresses arrive
// already normalised by the `email` schema (trimmed, domain lower-cased, IDNA); email_key is that
// address lower-cased, so lookups by email are case-insensitive.
import type { Queryable } from '../platform/db.js';
import type { ContactStatus } from './state.js';
import { isUuid } from '../policy/ids.js';
import { DomainError } from '../domain-error.js';

export interface ContactRow {
  id: string; email: string | null; name: string | null; attributes: Record<string, unknown>;
  status: ContactStatus; createdAt: Date; verifiedAt: Date | null;
  /** The person's BCP 47 locale (issue 20): their pages and mail speak it first; null: the browser's or the tenant's. */
  locale?: string | null;
}

export const CONTACT_COLUMNS = `id, email, name, attributes, status, created_at AS "createdAt", verified_at AS "verifiedAt", locale`;

/** The uniqueness key of an (already normalised) address. */
export function emailKey(address: string): string {
  return address.trim().toLowerCase();
}

/** findContact for many references in one round trip (transactional group commit): results in the order of `refs`. */
export async function findContacts(c: Queryable, refs: readonly { id?: string; email?: string }[]): Promise<(ContactRow | null)[]> {
  const ids = refs.flatMap((r) => (r.id !== undefined && isUuid(r.id) ? [r.id] : []));
  const keys = refs.flatMap((r) => (r.id === undefined && r.email !== undefined ? [emailKey(r.email)] : []));
  if (!ids.length && !keys.length) return refs.map(() => null);
  const r = await c.query<ContactRow & { key: string | null }>(`SELECT ${CONTACT_COLUMNS}, email_key AS key FROM contacts
    WHERE id = ANY($1::uuid[]) OR email_key = ANY($2::text[])`, [ids, keys]);
  const byId = new Map(r.rows.map(({ key: _k, ...row }) => [row.id, row]));
  const byKey = new Map(r.rows.flatMap(({ key, ...row }) => (key === null ? [] : [[key, row] as const])));
  return refs.map((ref) => (ref.id !== undefined ? byId.get(ref.id.toLowerCase()) ?? null
    : ref.email !== undefined ? byKey.get(emailKey(ref.email)) ?? null : null));
}

/** A contact by id, or by email (case-insensitive via email_key); null when absent or not a uuid. */
export async function findContact(c: Queryable, ref: { id?: string; email?: string }, forUpdate = false): Promise<ContactRow | null> {
  const lock = forUpdate ? ' FOR UPDATE' : '';
  if (ref.id !== undefined) {
    if (!isUuid(ref.id)) return null;
    const r = await c.query<ContactRow>(`SELECT ${CONTACT_COLUMNS} FROM contacts WHERE id = $1${lock}`, [ref.id]);
    return r.rows[0] ?? null;
  }
  if (ref.email !== undefined) {
    const r = await c.query<ContactRow>(`SELECT ${CONTACT_COLUMNS} FROM contacts WHERE email_key = $1${lock}`, [emailKey(ref.email)]);
    return r.rows[0] ?? null;
  }
  return null;
}

/**
 * Inserts a pending contact, or returns the existing one for that address (never duplicates,
 * never resets it: an existing contact keeps its locale too). `created` tells which.
 */
export async function upsertContact(c: Queryable, tenantId: string, v: { email: string; name: string | null; attributes: Record<string, unknown>; locale?: string | null }):
Promise<{ contact: ContactRow; created: boolean }> {
  const ins = await c.query<ContactRow>(`INSERT INTO contacts (tenant_id, email, email_key, name, attributes, locale)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, email_key) WHERE email_key IS NOT NULL DO NOTHING
    RETURNING ${CONTACT_COLUMNS}`, [tenantId, v.email, emailKey(v.email), v.name, JSON.stringify(v.attributes), v.locale ?? null]);
  if (ins.rows[0]) return { contact: ins.rows[0], created: true };
  const existing = await findContact(c, { email: v.email }, true);
  if (!existing) throw new Error('contact vanished during upsert');
  return { contact: existing, created: false };
}

/** Sets the status (and verified_at when the address is verified). */
export async function setContactStatus(c: Queryable, id: string, status: ContactStatus, verified: boolean): Promise<void> {
  await c.query(`UPDATE contacts SET status = $2, verified_at = CASE WHEN $3 THEN coalesce(verified_at, now()) ELSE verified_at END,
    updated_at = now() WHERE id = $1`, [id, status, verified]);
}

/** Sets the name (when given) and merges attributes into the stored ones. */
export async function updateContactProfile(c: Queryable, id: string, name: string | null, attributes: Record<string, unknown>): Promise<void> {
  await c.query(`UPDATE contacts SET name = coalesce($2, name), attributes = attributes || $3::jsonb, updated_at = now() WHERE id = $1`,
    [id, name, JSON.stringify(attributes)]);
}

export interface ContactFilter {
  status?: ContactStatus; listId?: string; subscriptionStatus?: string; email?: string; limit: number; afterId?: string;
  /** Part of the address or the name, matched case-insensitively and literally (LIKE wildcards escaped). */
  q?: string;
}

/** PURE: a LIKE pattern matching `text` anywhere, literally (backslash, % and _ escaped with a backslash), lower-cased. */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/** One page of contacts, oldest first, keyset-paged on (created_at, id) after the contact afterId. */
export async function listContacts(c: Queryable, f: ContactFilter): Promise<ContactRow[]> {
  if (f.q) return searchContacts(c, f, f.q);
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
  if (f.status) where.push(`status = ${p(f.status)}`);
  if (f.email) where.push(`email_key = ${p(emailKey(f.email))}`);
  if (f.listId) {
    const status = f.subscriptionStatus ? ` AND s.status = ${p(f.subscriptionStatus)}` : '';
    where.push(`EXISTS (SELECT 1 FROM subscriptions s JOIN lists l ON l.id = s.list_id AND l.deleted_at IS NULL
      WHERE s.contact_id = contacts.id AND s.list_id = ${p(f.listId)}${status})`);
  } else if (f.subscriptionStatus) {
    where.push(`EXISTS (SELECT 1 FROM subscriptions s JOIN lists l ON l.id = s.list_id AND l.deleted_at IS NULL
      WHERE s.contact_id = contacts.id AND s.status = ${p(f.subscriptionStatus)})`);
  }
  if (f.afterId) where.push(`(created_at, id) > (SELECT created_at, id FROM contacts WHERE id = ${p(f.afterId)})`);
  const sql = `SELECT ${CONTACT_COLUMNS} FROM contacts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY created_at, id LIMIT ${p(f.limit)}`;
  return (await c.query<ContactRow>(sql, params)).rows;
}

/**
 * The page of a search (q with the other filters) through migration 071's contact_search_page: under
 * RLS a plain LIKE cannot use the trigram indexes, that owner-run, tenant-bound lookup can.
 */
async function searchContacts(c: Queryable, f: ContactFilter, q: string): Promise<ContactRow[]> {
  const r = await c.query<ContactRow>(`SELECT ${CONTACT_COLUMNS} FROM contacts
    WHERE id IN (SELECT contact_search_page($1, $2, $3, $4, $5, $6, $7)) ORDER BY created_at, id`,
  [containsPattern(q), f.status ?? null, f.email ? emailKey(f.email) : null, f.listId ?? null, f.subscriptionStatus ?? null, f.afterId ?? null, f.limit]);
  return r.rows;
}

/* ------------------------------------------------------------------ batches (CSV import, src/audience) */

/** What a batch look-up by address returns: enough to dedupe an import row and judge it. */
export interface ContactKeyRow { id: string; emailKey: string; status: ContactStatus }

/** The contacts with these email keys (emailKey() of each address), locked FOR UPDATE when asked; one statement. */
export async function contactsByEmailKeys(c: Queryable, keys: readonly string[], forUpdate = false): Promise<ContactKeyRow[]> {
  if (keys.length === 0) return [];
  const r = await c.query<ContactKeyRow>(`SELECT id, email_key AS "emailKey", status FROM contacts WHERE email_key = ANY($1::text[])
    ORDER BY email_key${forUpdate ? ' FOR UPDATE' : ''}`, [keys]);
  return r.rows;
}

/** One contact of a batch insert: a normalised address, its profile, and 'pending' or 'active' (imported, attested consent). */
export interface NewContactRow { email: string; name: string | null; attributes: Record<string, unknown>; status: 'pending' | 'active' }

/**
 * Inserts many contacts in one statement (unnest). An address that already exists (a concurrent
 * writer) is left alone: ON CONFLICT DO NOTHING. Returns the inserted rows' ids by email key.
 * An 'active' imported contact keeps verified_at NULL: its consent is attested, its address not verified by us.
 */
export async function insertContacts(c: Queryable, tenantId: string, rows: readonly NewContactRow[]): Promise<Map<string, string>> {
  if (rows.length === 0) return new Map();
  const r = await c.query<{ id: string; email_key: string }>(`INSERT INTO contacts (tenant_id, email, email_key, name, attributes, status)
    SELECT $1, u.email, u.email_key, u.name, u.attributes, u.status
    FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[]) AS u(email, email_key, name, attributes, status)
    ON CONFLICT (tenant_id, email_key) WHERE email_key IS NOT NULL DO NOTHING RETURNING id, email_key`,
  [tenantId, rows.map((x) => x.email), rows.map((x) => emailKey(x.email)), rows.map((x) => x.name),
    rows.map((x) => JSON.stringify(x.attributes)), rows.map((x) => x.status)]);
  return new Map(r.rows.map((x) => [x.email_key, x.id]));
}

/** A change to an existing contact in a batch: a new name (null: keep), attributes to merge (null: none), and activate (pending → active). */
export interface ContactBatchUpdate { id: string; name: string | null; attributes: Record<string, unknown> | null; activate: boolean }

/**
 * Applies many profile updates and activations in one statement. Only a 'pending' contact is
 * activated (to 'active', verified_at untouched); a suppressed or erased one keeps its status.
 */
export async function updateContactsBatch(c: Queryable, rows: readonly ContactBatchUpdate[]): Promise<void> {
  if (rows.length === 0) return;
  await c.query(`UPDATE contacts ct SET name = coalesce(u.name, ct.name), attributes = ct.attributes || coalesce(u.attributes, '{}'::jsonb),
      status = CASE WHEN u.activate AND ct.status = 'pending' THEN 'active' ELSE ct.status END, updated_at = now()
    FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::boolean[]) AS u(id, name, attributes, activate) WHERE ct.id = u.id`,
  [rows.map((x) => x.id), rows.map((x) => x.name), rows.map((x) => (x.attributes ? JSON.stringify(x.attributes) : null)), rows.map((x) => x.activate)]);
}

/** The most a contact's attributes may hold once merged (JSON text, characters), as the `attributes` schema allows per request. */
export const MAX_ATTRIBUTES_CHARS = 16_384;

/**
 * PATCH a contact's profile: name (null clears it; undefined keeps it) and attributes merged in, a
 * null value removing its key. null when absent or not a uuid; an erased contact is refused
 * (contact_not_eligible, 409), as is a merge beyond MAX_ATTRIBUTES_CHARS (invalid, 422, attributes:
 * the caller's transaction must roll back).
 */
export async function patchContactProfile(c: Queryable, id: string, v: { name?: string | null; attributes?: Record<string, unknown>; locale?: string | null }): Promise<ContactRow | null> {
  const found = await findContact(c, { id }, true);
  if (!found) return null;
  if (found.status === 'erased') throw new DomainError('contact_not_eligible', 'an erased contact cannot be changed', 'id');
  const entries = Object.entries(v.attributes ?? {});
  const set = Object.fromEntries(entries.filter(([, val]) => val !== null));
  const remove = entries.filter(([, val]) => val === null).map(([k]) => k);
  const r = await c.query<ContactRow>(`UPDATE contacts SET name = CASE WHEN $2 THEN $3 ELSE name END,
      attributes = (attributes - $4::text[]) || $5::jsonb, locale = CASE WHEN $6 THEN $7 ELSE locale END, updated_at = now()
    WHERE id = $1 RETURNING ${CONTACT_COLUMNS}`, [id, v.name !== undefined, v.name ?? null, remove, JSON.stringify(set), v.locale !== undefined, v.locale ?? null]);
  const row = r.rows[0] ?? null;
  if (row && JSON.stringify(row.attributes).length > MAX_ATTRIBUTES_CHARS) {
    throw new DomainError('invalid', `attributes are limited to 16 KiB in all (after the merge)`, 'attributes');
  }
  return row;
}
