// The owner of `events` (migration 074), the tenant's event feed. Triggers write the rows of ledger,
// consent, campaign and import changes; this file appends the others and reads the feed.
import type { Queryable } from '../platform/db.js';
import type { EventType } from './types.js';

export interface NewEvent {
  type: EventType;
  messageId?: string | null;
  contactId?: string | null;
  campaignId?: string | null;
  /** The event's payload: ids, the recipient address, figures; never other personal data. */
  data: Record<string, unknown>;
}

/**
 * Appends one event to the tenant's feed, in the caller's transaction (it exists exactly when the
 * caller's change commits), and wakes feed consumers (NOTIFY postgate_events at commit).
 */
export async function appendEvent(c: Queryable, tenantId: string, e: NewEvent): Promise<void> {
  await c.query(`WITH e AS (INSERT INTO events (tenant_id, type, message_id, contact_id, campaign_id, data)
      VALUES ($1, $2, $3, $4, $5, $6) RETURNING tenant_id)
    SELECT pg_notify('postgate_events', tenant_id::text) FROM e`,
  [tenantId, e.type, e.messageId ?? null, e.contactId ?? null, e.campaignId ?? null, JSON.stringify(e.data)]);
}
