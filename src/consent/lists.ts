// Lists (newsletters) of a tenant: named queries. Exactly one list is the default (a partial unique
// index enforces at most one; these functions keep at least one).
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';

/** A list as stored: visibility 'public' (preference page, self-subscription) or 'private' (tenant only). */
export interface ListRow {
  id: string; name: string; description: string | null; isDefault: boolean; createdAt: Date;
  visibility: ListVisibility; archivedAt: Date | null;
}
export type ListVisibility = 'public' | 'private';

const LIST_COLUMNS = `id, name, description, is_default AS "isDefault", created_at AS "createdAt", visibility, archived_at AS "archivedAt"`;

/** A list open to self-subscription (public form, preference page): public, not archived, not deleted; else null. */
export async function publicList(c: Queryable, id: string): Promise<ListRow | null> {
  return (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists
    WHERE id = $1 AND visibility = 'public' AND archived_at IS NULL AND deleted_at IS NULL`, [id])).rows[0] ?? null;
}

/** The tenant's lists that are not deleted (archived ones included), oldest first. */
export async function allLists(c: Queryable): Promise<ListRow[]> {
  return (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists WHERE deleted_at IS NULL ORDER BY created_at, id`)).rows;
}

/** One list that is not deleted; null when absent, deleted or another tenant's. */
export async function getList(c: Queryable, id: string): Promise<ListRow | null> {
  return (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists WHERE id = $1 AND deleted_at IS NULL`, [id])).rows[0] ?? null;
}

export async function defaultList(c: Queryable): Promise<ListRow | null> {
  return (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists WHERE is_default AND deleted_at IS NULL LIMIT 1`)).rows[0] ?? null;
}

/** The lists among ids that exist in this tenant and are not deleted (archived ones included), in the order given. */
export async function listsByIds(c: Queryable, ids: readonly string[]): Promise<ListRow[]> {
  if (ids.length === 0) return [];
  const rows = (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, [ids])).rows;
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** The default list every new tenant starts with (called by tenants/store.ts createTenant). */
export async function createDefaultList(c: Queryable, tenantId: string): Promise<void> {
  await c.query(`INSERT INTO lists (tenant_id, name, is_default) VALUES ($1, 'Newsletter', true)`, [tenantId]);
}

/** What a list may be created with; visibility defaults to 'public', archived to false. */
export interface NewList { name: string; description: string | null; isDefault: boolean; visibility?: ListVisibility; archived?: boolean }

/** The unique index on live names answers 23505: the name is taken (case-insensitive, trimmed). */
async function namedWrite<T>(field: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23505' && e.constraint === 'lists_name_unique') throw new DomainError('list_name_taken', 'another list already has this name', field);
    throw err;
  }
}

/**
 * Creates a list (optionally the new default). Errors: list_name_taken (409, name) when a list that is
 * not deleted has the same name (case-insensitive, trimmed); default_list (409) for an archived default.
 */
export async function createList(c: Queryable, tenantId: string, v: NewList): Promise<ListRow> {
  if (v.isDefault && v.archived) throw new DomainError('default_list', 'the default list cannot be archived', 'archived');
  if (v.isDefault) await c.query('UPDATE lists SET is_default = false WHERE is_default');
  const r = await namedWrite('name', () => c.query<ListRow>(`INSERT INTO lists (tenant_id, name, description, is_default, visibility, archived_at)
    VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END) RETURNING ${LIST_COLUMNS}`,
  [tenantId, v.name, v.description, v.isDefault, v.visibility ?? 'public', v.archived === true]));
  return r.rows[0];
}

/** A change to a list: only the keys given change; archived true/false archives or restores it. */
export interface ListPatch { name?: string; description?: string | null; isDefault?: true; visibility?: ListVisibility; archived?: boolean }

/**
 * A list that a campaign not yet finished (draft, scheduled, running, paused) targets is not archived
 * or deleted: its audience would still be read from the list. list_in_use (409) naming the campaign.
 */
async function assertNotTargeted(c: Queryable, id: string, field: string): Promise<void> {
  const r = await c.query<{ id: string; name: string }>(`SELECT id, name FROM campaigns
    WHERE $1::uuid = ANY(list_ids) AND status IN ('draft', 'scheduled', 'running', 'paused') ORDER BY created_at LIMIT 1`, [id]);
  const campaign = r.rows[0];
  if (campaign) {
    throw new DomainError('list_in_use', `campaign "${campaign.name}" (not finished) targets this list: change, cancel or delete it first`, field, { campaignId: campaign.id });
  }
}

function assertPatchable(list: ListRow, v: ListPatch): void {
  if (v.archived && (list.isDefault || v.isDefault)) throw new DomainError('default_list', 'the default list cannot be archived; make another list the default first', 'archived');
  if (v.isDefault && list.archivedAt && v.archived !== false) throw new DomainError('list_archived', 'an archived list cannot be the default; restore it (archived: false) first', 'isDefault');
}

/**
 * Renames, describes, archives/restores, changes the visibility of, or makes the default a list that is
 * not deleted; null when there is none. Errors: list_name_taken (409, name), default_list (409,
 * archived), list_archived (422, isDefault), list_in_use (409, archived: a campaign not finished targets it).
 */
export async function updateList(c: Queryable, id: string, v: ListPatch): Promise<ListRow | null> {
  const list = (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, [id])).rows[0];
  if (!list) return null;
  assertPatchable(list, v);
  if (v.archived && !list.archivedAt) await assertNotTargeted(c, id, 'archived');
  if (v.isDefault) await c.query('UPDATE lists SET is_default = false WHERE is_default AND id <> $1', [id]);
  const r = await namedWrite('name', () => c.query<ListRow>(`UPDATE lists SET name = coalesce($2, name),
      description = CASE WHEN $3 THEN $4 ELSE description END, is_default = is_default OR $5, visibility = coalesce($6, visibility),
      archived_at = CASE WHEN $7::boolean IS NULL THEN archived_at WHEN $7 THEN coalesce(archived_at, now()) END
    WHERE id = $1 RETURNING ${LIST_COLUMNS}`,
  [id, v.name ?? null, v.description !== undefined, v.description ?? null, v.isDefault === true, v.visibility ?? null, v.archived ?? null]));
  return r.rows[0] ?? null;
}

/**
 * Soft-deletes a list: it disappears from every read, its subscriptions and consent records stay (a
 * list re-created with the same name is a new, empty list). false when there is no such list; the
 * default list cannot be deleted (default_list, 409), nor one a campaign not finished targets (list_in_use, 409).
 */
export async function deleteList(c: Queryable, id: string): Promise<boolean> {
  const list = (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, [id])).rows[0];
  if (!list) return false;
  if (list.isDefault) throw new DomainError('default_list', 'the default list cannot be deleted; make another list the default first', 'id');
  await assertNotTargeted(c, id, 'id');
  await c.query('UPDATE lists SET deleted_at = now() WHERE id = $1', [id]);
  return true;
}
