// Lists (newsletters) of a tenant: named queries. Exactly one list is the default (a partial unique
// index enforces at most one; these functions keep at least one).
import type { Queryable } from '../platform/db.js';

export interface ListRow { id: string; name: string; description: string | null; isDefault: boolean; createdAt: Date }

const LIST_COLUMNS = `id, name, description, is_default AS "isDefault", created_at AS "createdAt"`;

export async function allLists(c: Queryable): Promise<ListRow[]> {
  return (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists ORDER BY created_at, id`)).rows;
}

export async function getList(c: Queryable, id: string): Promise<ListRow | null> {
  return (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists WHERE id = $1`, [id])).rows[0] ?? null;
}

export async function defaultList(c: Queryable): Promise<ListRow | null> {
  return (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists WHERE is_default LIMIT 1`)).rows[0] ?? null;
}

/** The lists among ids that exist in this tenant, in the order given. */
export async function listsByIds(c: Queryable, ids: readonly string[]): Promise<ListRow[]> {
  if (ids.length === 0) return [];
  const rows = (await c.query<ListRow>(`SELECT ${LIST_COLUMNS} FROM lists WHERE id = ANY($1::uuid[])`, [ids])).rows;
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** The default list every new tenant starts with (called by tenants/store.ts createTenant). */
export async function createDefaultList(c: Queryable, tenantId: string): Promise<void> {
  await c.query(`INSERT INTO lists (tenant_id, name, is_default) VALUES ($1, 'Newsletter', true)`, [tenantId]);
}

export async function createList(c: Queryable, tenantId: string, v: { name: string; description: string | null; isDefault: boolean }): Promise<ListRow> {
  if (v.isDefault) await c.query('UPDATE lists SET is_default = false WHERE is_default');
  const r = await c.query<ListRow>(`INSERT INTO lists (tenant_id, name, description, is_default) VALUES ($1, $2, $3, $4) RETURNING ${LIST_COLUMNS}`,
    [tenantId, v.name, v.description, v.isDefault]);
  return r.rows[0];
}

export async function updateList(c: Queryable, id: string, v: { name?: string; description?: string | null; isDefault?: true }): Promise<ListRow | null> {
  if (v.isDefault) await c.query('UPDATE lists SET is_default = false WHERE is_default AND id <> $1', [id]);
  const r = await c.query<ListRow>(`UPDATE lists SET name = coalesce($2, name),
      description = CASE WHEN $3 THEN $4 ELSE description END, is_default = is_default OR $5
    WHERE id = $1 RETURNING ${LIST_COLUMNS}`, [id, v.name ?? null, v.description !== undefined, v.description ?? null, v.isDefault === true]);
  return r.rows[0] ?? null;
}
