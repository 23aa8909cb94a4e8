// What an unsubscribe link acts on. The token names the tenant and the ledger message of the mail
// (campaign mail, test sends: contact and campaign are read from that row), or tenant, contact and
// (optionally) the campaign. RFC 8058 asks to unsubscribe the recipient from the list the message was sent for, so a
// link from a campaign leaves that campaign's lists; a link without a campaign (or whose campaign or
// lists no longer exist) leaves every list. The pages also offer "unsubscribe from all".
import type { Queryable } from '../platform/db.js';
import { isUuid } from '../policy/ids.js';
import { getPageTenant, type PageTenant } from '../tenants/store.js';
import { lockAddress } from '../consent/activation.js';
import type { SubscriptionStatus } from '../consent/state.js';
import type { MessageLink, UnsubscribeLink, UnsubscribeSubject } from './links.js';

export interface LinkContact { id: string; email: string; name: string | null; status: string; locale: string | null }
export interface ListChoice { id: string; name: string; description: string | null; status: SubscriptionStatus | null }
export interface LinkContext { tenant: PageTenant; contact: LinkContact; subject: UnsubscribeSubject }

/**
 * Tenant and live contact of a verified link, inside that tenant's transaction; null when gone.
 * forUpdate (the POSTs) takes the address lock first, then the row lock: the order registration and
 * opt-in use, so a preference save and a concurrent registration cannot deadlock.
 */
export async function loadLink(c: Queryable, named: UnsubscribeLink, forUpdate = false): Promise<LinkContext | null> {
  const subject = 'messageId' in named ? await subjectOfMessage(c, named) : named;
  if (!subject || !isUuid(subject.contactId)) return null;
  const tenant = await getPageTenant(c, subject.tenantId);
  if (!tenant) return null;
  const q = `SELECT id, email, name, status, locale FROM contacts WHERE id = $1 AND tenant_id = $2 AND status <> 'erased' AND email IS NOT NULL`;
  let contact = (await c.query<LinkContact>(q, [subject.contactId, tenant.id])).rows[0];
  if (contact && forUpdate) {
    await lockAddress(c, tenant.id, contact.email);
    contact = (await c.query<LinkContact>(`${q} FOR UPDATE`, [subject.contactId, tenant.id])).rows[0];
  }
  return contact ? { tenant, contact, subject } : null;
}

/**
 * The contact and campaign a message link names (campaign mail and test sends: links.ts): the
 * message's contact, or for a test send (no contact on the row) the live contact at its recipient
 * address; the campaign from the row. Null when the message is not such mail of this tenant.
 */
async function subjectOfMessage(c: Queryable, link: MessageLink): Promise<UnsubscribeSubject | null> {
  if (!isUuid(link.messageId)) return null;
  const r = await c.query<{ contactId: string | null; campaignId: string | null }>(`SELECT coalesce(m.contact_id, (SELECT k.id FROM contacts k
      WHERE m.kind = 'test' AND k.tenant_id = m.tenant_id AND k.email_key = lower(btrim(m.recipient)) AND k.status <> 'erased' LIMIT 1)) AS "contactId",
    coalesce(m.campaign_id::text, m.data->>'campaignId') AS "campaignId"
    FROM messages m WHERE m.id = $1 AND m.tenant_id = $2 AND m.kind IN ('marketing', 'test')`, [link.messageId, link.tenantId]);
  const row = r.rows[0];
  if (!row?.contactId) return null;
  return { tenantId: link.tenantId, contactId: row.contactId, campaignId: row.campaignId && isUuid(row.campaignId) ? row.campaignId : null };
}

/**
 * The lists a recipient may see and choose on the pages, with this contact's subscription status, in
 * list order: public, not archived, not deleted. Private lists are never shown (nor joined) there;
 * "unsubscribe from all" still leaves them.
 */
export async function listChoices(c: Queryable, contactId: string): Promise<ListChoice[]> {
  const r = await c.query<ListChoice>(`SELECT l.id, l.name, l.description, s.status FROM lists l
    LEFT JOIN subscriptions s ON s.list_id = l.id AND s.contact_id = $1
    WHERE l.visibility = 'public' AND l.archived_at IS NULL AND l.deleted_at IS NULL
    ORDER BY l.is_default DESC, l.created_at, l.id`, [contactId]);
  return r.rows;
}

/** The campaign's lists (any visibility, archived too, not deleted) with this contact's status: what its link leaves. */
async function campaignChoices(c: Queryable, contactId: string, listIds: readonly string[]): Promise<ListChoice[]> {
  const r = await c.query<ListChoice>(`SELECT l.id, l.name, l.description, s.status FROM lists l
    LEFT JOIN subscriptions s ON s.list_id = l.id AND s.contact_id = $1
    WHERE l.id = ANY($2::uuid[]) AND l.deleted_at IS NULL ORDER BY l.is_default DESC, l.created_at, l.id`, [contactId, listIds]);
  return r.rows;
}

/** The lists a campaign was sent to that still exist (not deleted); [] when the campaign is unknown. */
export async function campaignListIds(c: Queryable, campaignId: string | null): Promise<string[]> {
  if (!campaignId || !isUuid(campaignId)) return [];
  const r = await c.query<{ id: string }>(`SELECT l.id FROM campaigns m JOIN lists l ON l.id = ANY(m.list_ids)
    WHERE m.id = $1 AND l.deleted_at IS NULL ORDER BY l.created_at, l.id`, [campaignId]);
  return r.rows.map((row) => row.id);
}

export interface Target { listIds: string[] | 'all'; lists: ListChoice[] }

/**
 * What "unsubscribe" on this link leaves: the campaign's lists (private ones too), else all lists
 * (lists: the public ones, for the page).
 */
export async function linkTarget(c: Queryable, link: LinkContext): Promise<Target> {
  const ids = await campaignListIds(c, link.subject.campaignId);
  if (ids.length === 0) return { listIds: 'all', lists: await listChoices(c, link.contact.id) };
  return { listIds: ids, lists: await campaignChoices(c, link.contact.id, ids) };
}

/**
 * The lists "resubscribe" opts in to again (public, not archived): the campaign's lists, else those
 * this contact left, else the tenant's default list.
 */
export async function resubscribeTarget(c: Queryable, link: LinkContext): Promise<ListChoice[]> {
  const t = await linkTarget(c, link);
  const open = new Set((await listChoices(c, link.contact.id)).map((l) => l.id));
  if (t.listIds !== 'all') return t.lists.filter((l) => open.has(l.id)); // private or archived lists: never rejoined from a page
  const left = t.lists.filter((l) => l.status === 'unsubscribed');
  return left.length ? left : t.lists.slice(0, 1);
}
