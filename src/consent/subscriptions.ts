// Subscriptions (contact × list): named queries. Transitions are decided by the pure state machine
// (state.ts); these functions only read and write rows.
import type { Queryable } from '../platform/db.js';
import type { SubscriptionStatus } from './state.js';

export interface SubscriptionRow {
  contactId: string; listId: string; listName: string; status: SubscriptionStatus; createdAt: Date; updatedAt: Date;
}

const SUB_COLUMNS = `s.contact_id AS "contactId", s.list_id AS "listId", l.name AS "listName", s.status,
  s.created_at AS "createdAt", s.updated_at AS "updatedAt"`;

/** Subscriptions of the given contacts to lists not deleted (a deleted list's rows stay, unseen), ordered by contact then list creation. */
export async function subscriptionsOf(c: Queryable, contactIds: readonly string[], forUpdate = false): Promise<SubscriptionRow[]> {
  if (contactIds.length === 0) return [];
  const r = await c.query<SubscriptionRow>(`SELECT ${SUB_COLUMNS} FROM subscriptions s JOIN lists l ON l.id = s.list_id
    WHERE s.contact_id = ANY($1::uuid[]) AND l.deleted_at IS NULL ORDER BY s.contact_id, l.created_at, l.id${forUpdate ? ' FOR UPDATE OF s' : ''}`, [contactIds]);
  return r.rows;
}

/** How many subscriptions of each status a list has. */
export interface ListCounts { listId: string; subscribed: number; unconfirmed: number; unsubscribed: number }

/**
 * The subscription counts of every list not deleted (archived ones included), oldest list first: one
 * index-only count per list and status on subscriptions_list_status.
 */
export async function subscriptionCountsByList(c: Queryable): Promise<ListCounts[]> {
  const count = (status: string) => `(SELECT count(*) FROM subscriptions s WHERE s.list_id = l.id AND s.status = '${status}')::int AS ${status}`;
  const r = await c.query<ListCounts>(`SELECT l.id AS "listId", ${count('subscribed')}, ${count('unconfirmed')}, ${count('unsubscribed')}
    FROM lists l WHERE l.deleted_at IS NULL ORDER BY l.created_at, l.id`);
  return r.rows;
}

/** Sets the contact's subscriptions to the given lists (or all) to 'unsubscribed'; returns the lists that changed, sorted. */
export async function unsubscribeLists(c: Queryable, tenantId: string, contactId: string, listIds: readonly string[] | 'all'): Promise<string[]> {
  const all = listIds === 'all';
  const r = await c.query<{ list_id: string }>(`UPDATE subscriptions SET status = 'unsubscribed', updated_at = now()
    WHERE tenant_id = $1 AND contact_id = $2 AND status <> 'unsubscribed' AND ($3::boolean OR list_id = ANY($4::uuid[]))
    RETURNING list_id`, [tenantId, contactId, all, all ? [] : listIds]);
  return r.rows.map((row) => row.list_id).sort();
}

export async function setSubscription(c: Queryable, tenantId: string, contactId: string, listId: string, status: SubscriptionStatus): Promise<void> {
  await c.query(`INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) VALUES ($1, $2, $3, $4)
    ON CONFLICT (contact_id, list_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()
    WHERE subscriptions.status <> EXCLUDED.status`, [tenantId, contactId, listId, status]);
}

/** One subscription of a batch (CSV import). */
export interface SubscriptionKey { contactId: string; listId: string; status: SubscriptionStatus }

/** The subscriptions of these contacts to these lists, in one statement (locked FOR UPDATE when asked). */
export async function subscriptionsOfContactsToLists(c: Queryable, contactIds: readonly string[], listIds: readonly string[], forUpdate = false): Promise<SubscriptionKey[]> {
  if (contactIds.length === 0 || listIds.length === 0) return [];
  const r = await c.query<SubscriptionKey>(`SELECT contact_id AS "contactId", list_id AS "listId", status FROM subscriptions
    WHERE contact_id = ANY($1::uuid[]) AND list_id = ANY($2::uuid[]) ORDER BY contact_id, list_id${forUpdate ? ' FOR UPDATE' : ''}`, [contactIds, listIds]);
  return r.rows;
}

/**
 * Writes many subscriptions in one statement: a new row takes the given status; an existing row
 * moves only from 'unconfirmed' to 'subscribed'. Nothing here ever changes an 'unsubscribed' row
 * (an import never re-subscribes) or downgrades a 'subscribed' one. Returns the rows written.
 */
export async function importSubscriptions(c: Queryable, tenantId: string, rows: readonly SubscriptionKey[]): Promise<number> {
  if (rows.length === 0) return 0;
  const r = await c.query(`INSERT INTO subscriptions (tenant_id, contact_id, list_id, status)
    SELECT $1, u.contact_id, u.list_id, u.status FROM unnest($2::uuid[], $3::uuid[], $4::text[]) AS u(contact_id, list_id, status)
    ON CONFLICT (contact_id, list_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()
    WHERE subscriptions.status = 'unconfirmed' AND EXCLUDED.status = 'subscribed'`,
  [tenantId, rows.map((x) => x.contactId), rows.map((x) => x.listId), rows.map((x) => x.status)]);
  return r.rowCount ?? 0;
}

/**
 * A CSV import applying its source's opt-outs: sets each (contact, list) to 'unsubscribed' in one
 * statement, inserting the row when there is none (so no later import subscribes it). Returns the
 * rows written.
 */
export async function importOptOuts(c: Queryable, tenantId: string, rows: readonly { contactId: string; listId: string }[]): Promise<number> {
  if (rows.length === 0) return 0;
  const r = await c.query(`INSERT INTO subscriptions (tenant_id, contact_id, list_id, status)
    SELECT $1, u.contact_id, u.list_id, 'unsubscribed' FROM unnest($2::uuid[], $3::uuid[]) AS u(contact_id, list_id)
    ON CONFLICT (contact_id, list_id) DO UPDATE SET status = 'unsubscribed', updated_at = now()
    WHERE subscriptions.status <> 'unsubscribed'`, [tenantId, rows.map((x) => x.contactId), rows.map((x) => x.listId)]);
  return r.rowCount ?? 0;
}
