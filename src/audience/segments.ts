// Segments: a tenant's saved filters (the one owner of the segments table's SQL) and the live count
// of the contacts a filter matches. Filters are validated and compiled by segment-filter.ts (pure);
// a stored filter is parsed again when read, so only a valid filter is ever compiled.
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { isUuid } from '../policy/ids.js';
import { listsByIds } from '../consent/lists.js';
import { compileSegment, listReferences, parseSegmentFilter, type SegmentFilter } from './segment-filter.js';

export interface Segment { id: string; name: string; filter: SegmentFilter; createdAt: Date; updatedAt: Date }

/** The most a count may run, in milliseconds, unless the caller says otherwise (statement_timeout). */
export const SEGMENT_COUNT_TIMEOUT_MS = 5000;

const COLUMNS = `id, name, filter, created_at AS "createdAt", updated_at AS "updatedAt"`;

function rowToSegment(r: Segment): Segment {
  return { ...r, filter: parseSegmentFilter(r.filter, 'filter') };
}

/** The unique index on (tenant, lower(btrim(name))) answers 23505; a campaign's RESTRICT foreign key answers 23503. */
async function mapped<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23505' && e.constraint === 'segments_name_unique') throw new DomainError('segment_name_taken', 'another segment already has this name', 'name');
    if (e.code === '23503') throw new DomainError('segment_in_use', 'a campaign uses this segment: change or delete the campaign first', 'id');
    throw err;
  }
}

/** One segment of the transaction's tenant (RLS); null when absent, not a UUID, or another tenant's. */
export async function getSegment(c: Queryable, id: string): Promise<Segment | null> {
  if (!isUuid(id)) return null;
  const r = await c.query<Segment>(`SELECT ${COLUMNS} FROM segments WHERE id = $1`, [id]);
  return r.rows[0] ? rowToSegment(r.rows[0]) : null;
}

/** The tenant's segments by name (case-insensitive). */
export async function listSegments(c: Queryable): Promise<Segment[]> {
  const r = await c.query<Segment>(`SELECT ${COLUMNS} FROM segments ORDER BY lower(name), id`);
  return r.rows.map(rowToSegment);
}

/**
 * Refuses a filter that names a list the tenant does not have or has deleted (archived lists are
 * fine): DomainError invalid_segment whose field is the path of that `list` key (e.g. filter.all[1].list).
 * Checked when a filter is saved or counted unsaved; a list deleted later simply matches no one.
 */
export async function assertSegmentLists(c: Queryable, filter: SegmentFilter, field = 'filter'): Promise<void> {
  const refs = listReferences(filter, field);
  if (refs.length === 0) return;
  const live = new Set((await listsByIds(c, [...new Set(refs.map((r) => r.list))])).map((l) => l.id));
  const missing = refs.find((r) => !live.has(r.list));
  if (missing) throw new DomainError('invalid_segment', `${missing.path}: no such list (unknown or deleted)`, missing.path);
}

/**
 * Saves a new segment (name trimmed). DomainError segment_name_taken (field name) when the tenant has
 * that name already; invalid_segment when the filter names an unknown or deleted list (assertSegmentLists).
 */
export async function createSegment(c: Queryable, tenantId: string, v: { name: string; filter: SegmentFilter }): Promise<Segment> {
  await assertSegmentLists(c, v.filter);
  const r = await mapped(() => c.query<Segment>(`INSERT INTO segments (tenant_id, name, filter) VALUES ($1, btrim($2), $3::jsonb) RETURNING ${COLUMNS}`,
    [tenantId, v.name, JSON.stringify(v.filter)]));
  return rowToSegment(r.rows[0]);
}

/** Renames a segment and/or replaces its filter; null when absent. DomainError segment_name_taken and invalid_segment as for create. */
export async function updateSegment(c: Queryable, id: string, v: { name?: string; filter?: SegmentFilter }): Promise<Segment | null> {
  if (!isUuid(id)) return null;
  if (v.filter !== undefined) await assertSegmentLists(c, v.filter);
  const r = await mapped(() => c.query<Segment>(`UPDATE segments SET name = coalesce(btrim($2), name), filter = coalesce($3::jsonb, filter), updated_at = now()
    WHERE id = $1 RETURNING ${COLUMNS}`, [id, v.name ?? null, v.filter === undefined ? null : JSON.stringify(v.filter)]));
  return r.rows[0] ? rowToSegment(r.rows[0]) : null;
}

/** Deletes a segment: false when absent; DomainError segment_in_use when a campaign names it (the foreign key RESTRICTs). */
export async function deleteSegment(c: Queryable, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const r = await mapped(() => c.query('DELETE FROM segments WHERE id = $1', [id]));
  return (r.rowCount ?? 0) > 0;
}

/**
 * How many of the tenant's contacts (erased ones never) the filter matches, under a statement
 * timeout (`timeoutMs`, local to the transaction) so no filter holds the database long: over it,
 * DomainError segment_count_timeout (the transaction is then aborted: count last in it).
 */
export async function countSegment(c: Queryable, filter: SegmentFilter, timeoutMs = SEGMENT_COUNT_TIMEOUT_MS): Promise<number> {
  const where = compileSegment(filter, 'ct', 1);
  await c.query(`SELECT set_config('statement_timeout', $1, true)`, [String(Math.max(1, Math.round(timeoutMs)))]);
  try {
    const r = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM contacts ct WHERE ct.status <> 'erased' AND (${where.sql})`, where.params);
    return r.rows[0].n;
  } catch (err) {
    if ((err as { code?: string }).code === '57014') throw new DomainError('segment_count_timeout', `the count took over ${timeoutMs} ms: narrow the filter`, 'filter');
    throw err;
  }
}

/** How many of the newest contacts attributeNames reads: a sample, so the list stays quick on a million contacts. */
export const ATTRIBUTE_SAMPLE = 10_000;

/** An attribute name in use, and the JSON types its values have (string, number, boolean, array, object). */
export interface AttributeName { name: string; types: string[] }

/**
 * The attribute names (top-level keys of contacts.attributes) among the tenant's newest
 * ATTRIBUTE_SAMPLE contacts (erased ones never), by name, at most `limit`, each with the JSON types
 * of its non-null values: what a filter builder offers. A sample: a name only older contacts have is
 * not listed (a filter may still use it).
 */
export async function attributeNames(c: Queryable, limit = 500): Promise<AttributeName[]> {
  const r = await c.query<AttributeName>(`SELECT a.key AS name, array_agg(DISTINCT jsonb_typeof(a.value) ORDER BY jsonb_typeof(a.value)) AS types
    FROM (SELECT attributes FROM contacts WHERE status <> 'erased' ORDER BY created_at DESC, id DESC LIMIT $1) s
    CROSS JOIN LATERAL jsonb_each(s.attributes) a
    WHERE jsonb_typeof(a.value) <> 'null' GROUP BY a.key ORDER BY a.key LIMIT $2`, [ATTRIBUTE_SAMPLE, limit]);
  return r.rows;
}
