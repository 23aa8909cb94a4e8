// Templates and their immutable versions: named queries. A template is a name plus a pointer to its
// current version; saving a change adds a version, so campaigns keep the version they were made with.
import type { Queryable } from '../platform/db.js';

export interface TemplateContent { mjml: string; subject: string; text: string | null }
export interface TemplateRow extends TemplateContent {
  id: string; name: string; version: number; currentVersion: number; createdAt: Date; updatedAt: Date;
}
export interface TemplateSummary { id: string; name: string; version: number; createdAt: Date; updatedAt: Date }

const ROW = `t.id, t.name, v.version, t.current_version AS "currentVersion", v.mjml, v.subject, v.text,
  t.created_at AS "createdAt", t.updated_at AS "updatedAt"`;

export async function insertTemplate(c: Queryable, tenantId: string, name: string, content: TemplateContent): Promise<TemplateRow> {
  const t = await c.query<{ id: string }>('INSERT INTO templates (tenant_id, name) VALUES ($1, $2) RETURNING id', [tenantId, name]);
  const id = t.rows[0].id;
  await c.query(`INSERT INTO template_versions (tenant_id, template_id, version, mjml, subject, text) VALUES ($1, $2, 1, $3, $4, $5)`,
    [tenantId, id, content.mjml, content.subject, content.text]);
  return (await getTemplate(c, id)) as TemplateRow;
}

/** The current version, or the given one; null when either does not exist. */
export async function getTemplate(c: Queryable, id: string, version?: number): Promise<TemplateRow | null> {
  const r = await c.query<TemplateRow>(`SELECT ${ROW} FROM templates t
    JOIN template_versions v ON v.template_id = t.id AND v.version = coalesce($2::int, t.current_version)
    WHERE t.id = $1`, [id, version ?? null]);
  return r.rows[0] ?? null;
}

/** Adds a version (and renames when a name is given); the template row is locked meanwhile. */
export async function addTemplateVersion(c: Queryable, tenantId: string, id: string, name: string | undefined, content: TemplateContent): Promise<TemplateRow | null> {
  const locked = await c.query<{ current_version: number }>('SELECT current_version FROM templates WHERE id = $1 FOR UPDATE', [id]);
  if (!locked.rows[0]) return null;
  const next = locked.rows[0].current_version + 1;
  await c.query(`INSERT INTO template_versions (tenant_id, template_id, version, mjml, subject, text) VALUES ($1, $2, $3, $4, $5, $6)`,
    [tenantId, id, next, content.mjml, content.subject, content.text]);
  await c.query('UPDATE templates SET current_version = $2, name = coalesce($3, name), updated_at = now() WHERE id = $1', [id, next, name ?? null]);
  return getTemplate(c, id);
}

/** Oldest first, paged by id of the last row seen. */
export async function listTemplates(c: Queryable, limit: number, after: string | null): Promise<TemplateSummary[]> {
  const r = await c.query<TemplateSummary>(`SELECT id, name, current_version AS version, created_at AS "createdAt", updated_at AS "updatedAt"
    FROM templates t
    WHERE $2::uuid IS NULL OR (t.created_at, t.id) > (SELECT created_at, id FROM templates WHERE id = $2::uuid)
    ORDER BY created_at, id LIMIT $1`, [limit, after]);
  return r.rows;
}
