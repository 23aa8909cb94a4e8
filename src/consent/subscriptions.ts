// Subscriptions (contact × list): named queries. Transitions are decided by the pure state machine
// (state.ts); these functions only read and write rows.
import type { Queryable } from '../platform/db.js';

export type SubscriptionStatus = 'unconfirmed' | 'subscribed' | 'unsubscribed';

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

export async function setSubscription(c: Queryable, tenantId: string, contactId: string, listId: string, status: SubscriptionStatus): Promise<void> {
  await c.query(`INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) VALUES ($1, $2, $3, $4)
    ON CONFLICT (contact_id, list_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()
    WHERE subscriptions.status <> EXCLUDED.status`, [tenantId, contactId, listId, status]);
}
