// Contacts: named queries on the contacts table (one row per address per tenant). Addresses arrive
// already normalised by the `email` schema (trimmed, domain lower-cased, IDNA); email_key is that
// address lower-cased, so lookups by email are case-insensitive.
import type { Queryable } from '../platform/db.js';
import type { ContactStatus } from './state.js';
import { isUuid } from '../policy/ids.js';

export interface ContactRow {
  id: string; email: string | null; name: string | null; attributes: Record<string, unknown>;
  status: ContactStatus; createdAt: Date; verifiedAt: Date | null;
}

export const CONTACT_COLUMNS = `id, email, name, attributes, status, created_at AS "createdAt", verified_at AS "verifiedAt"`;

/** The uniqueness key of an (already normalised) address. */
export function emailKey(address: string): string {
  return address.trim().toLowerCase();
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
 * never resets it). `created` tells which.
 */
export async function upsertContact(c: Queryable, tenantId: string, v: { email: string; name: string | null; attributes: Record<string, unknown> }):
Promise<{ contact: ContactRow; created: boolean }> {
  const ins = await c.query<ContactRow>(`INSERT INTO contacts (tenant_id, email, email_key, name, attributes)
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, email_key) WHERE email_key IS NOT NULL DO NOTHING
    RETURNING ${CONTACT_COLUMNS}`, [tenantId, v.email, emailKey(v.email), v.name, JSON.stringify(v.attributes)]);
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
}

/** One page of contacts, oldest first, keyset-paged on (created_at, id) after the contact afterId. */
export async function listContacts(c: Queryable, f: ContactFilter): Promise<ContactRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
  if (f.status) where.push(`status = ${p(f.status)}`);
  if (f.email) where.push(`email_key = ${p(emailKey(f.email))}`);
  if (f.listId) {
    const status = f.subscriptionStatus ? ` AND s.status = ${p(f.subscriptionStatus)}` : '';
    where.push(`EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = contacts.id AND s.list_id = ${p(f.listId)}${status})`);
  } else if (f.subscriptionStatus) {
    where.push(`EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = contacts.id AND s.status = ${p(f.subscriptionStatus)})`);
  }
  if (f.afterId) where.push(`(created_at, id) > (SELECT created_at, id FROM contacts WHERE id = ${p(f.afterId)})`);
  const sql = `SELECT ${CONTACT_COLUMNS} FROM contacts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY created_at, id LIMIT ${p(f.limit)}`;
  return (await c.query<ContactRow>(sql, params)).rows;
}
