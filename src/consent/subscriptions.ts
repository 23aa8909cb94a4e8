// Subscriptions (contact × list): named queries. Transitions are decided by the pure state machine
// (state.ts); these functions only read and write rows.
import type { Queryable } from '../platform/db.js';
import type { SubscriptionStatus } from './state.js';

export interface SubscriptionRow {
  contactId: string; listId: string; listName: string; status: SubscriptionStatus; createdAt: Date; updatedAt: Date;
}

const SUB_COLUMNS = `s.contact_id AS "contactId", s.list_id AS "listId", l.name AS "listName", s.status,
  s.created_at AS "createdAt", s.updated_at AS "updatedAt"`;

/** Subscriptions of the given contacts, ordered by contact then list creation. */
export async function subscriptionsOf(c: Queryable, contactIds: readonly string[], forUpdate = false): Promise<SubscriptionRow[]> {
  if (contactIds.length === 0) return [];
  const r = await c.query<SubscriptionRow>(`SELECT ${SUB_COLUMNS} FROM subscriptions s JOIN lists l ON l.id = s.list_id
    WHERE s.contact_id = ANY($1::uuid[]) ORDER BY s.contact_id, l.created_at, l.id${forUpdate ? ' FOR UPDATE OF s' : ''}`, [contactIds]);
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
