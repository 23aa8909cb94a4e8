// CSV imports: named queries on `imports` (one row per upload: options, attestation, progress,
// counts, the first row errors) and `import_chunks` (the uploaded file in ~1 MiB pieces, kept until
// the import ends). The one owner of both tables (migrations/070_imports.sql).
import type { Queryable } from '../platform/db.js';
import { isUuid } from '../policy/ids.js';

export type ImportStatus = 'receiving' | 'queued' | 'running' | 'completed' | 'failed';

/** Why a row was not imported: the address must never be (re)subscribed. */
export const SKIP_REASONS = ['unsubscribed', 'complained', 'bounced', 'erased', 'suppressed'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** The figures of an import (a dry run: what it would do). Rows counts every data row of the file. */
export interface ImportCounts {
  rows: number; created: number; updated: number; subscribed: number; unconfirmed: number; unchanged: number;
  skipped: Record<SkipReason, number>; duplicates: number; errors: number; activations: number;
  /** Rows whose source opt-out (unsubscribed, cleaned, blocklisted) was applied; each is also counted under skipped. */
  optedOut: number;
}

/** One line of the row report: an error (bad address, unknown list…) or a skip (with its reason as code). */
export interface RowReport { row: number; line: number; column: string | null; code: string; message: string }

/** The first this many row errors and skips are kept (the counts cover them all). */
export const MAX_ROW_REPORTS = 100;

/** Why an import failed; a whole-file error found late says its line and whether the rows before it were processed (partial). */
export interface ImportFailure { code: string; field: string | null; message: string; line?: number | null; partial?: boolean }

/** Who attests the consent of the imported rows, and what they state (kept on the import and in each consent record). */
export interface Attestation { by: string; source: string; text: string | null; date: string | null; ip: string | null }

export interface ImportRow {
  id: string; status: ImportStatus; dryRun: boolean; options: Record<string, unknown>; attestation: Attestation | null;
  counts: ImportCounts; rowErrors: RowReport[]; rowsDone: number; bytes: number; bytesRead: number;
  encoding: string | null; delimiter: string | null; error: ImportFailure | null;
  createdBy: string | null; createdAt: Date; updatedAt: Date; startedAt: Date | null; finishedAt: Date | null;
}

const COLUMNS = `id, status, dry_run AS "dryRun", options, attestation, counts, row_errors AS "rowErrors", rows_done AS "rowsDone",
  bytes::float8 AS bytes, bytes_read::float8 AS "bytesRead", encoding, delimiter, error, created_by AS "createdBy",
  created_at AS "createdAt", updated_at AS "updatedAt", started_at AS "startedAt", finished_at AS "finishedAt"`;

/** Counts with every figure at zero. */
export function emptyCounts(): ImportCounts {
  return { rows: 0, created: 0, updated: 0, subscribed: 0, unconfirmed: 0, unchanged: 0,
    skipped: { unsubscribed: 0, complained: 0, bounced: 0, erased: 0, suppressed: 0 }, duplicates: 0, errors: 0, activations: 0, optedOut: 0 };
}

function withCounts(row: ImportRow): ImportRow {
  const base = emptyCounts();
  const stored = row.counts as Partial<ImportCounts>;
  return { ...row, counts: { ...base, ...stored, skipped: { ...base.skipped, ...(stored.skipped ?? {}) } } };
}

/** A new import, 'receiving' its upload. Returns its id. */
export async function createImport(c: Queryable, tenantId: string, v: {
  dryRun: boolean; options: Record<string, unknown>; attestation: Attestation | null; createdBy: string;
}): Promise<string> {
  const r = await c.query<{ id: string }>(`INSERT INTO imports (tenant_id, dry_run, options, attestation, created_by, counts)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
  [tenantId, v.dryRun, JSON.stringify(v.options), v.attestation ? JSON.stringify(v.attestation) : null, v.createdBy, JSON.stringify(emptyCounts())]);
  return r.rows[0].id;
}

/** Stores one piece of the uploaded file (seq from 0). */
export async function appendChunk(c: Queryable, tenantId: string, importId: string, seq: number, data: Buffer): Promise<void> {
  await c.query('INSERT INTO import_chunks (import_id, tenant_id, seq, data) VALUES ($1, $2, $3, $4)', [importId, tenantId, seq, data]);
}

/** The upload is whole: the import is 'queued' with its size in bytes. */
export async function uploadComplete(c: Queryable, importId: string, bytes: number): Promise<ImportRow> {
  const r = await c.query<ImportRow>(`UPDATE imports SET status = 'queued', bytes = $2, updated_at = now()
    WHERE id = $1 AND status = 'receiving' RETURNING ${COLUMNS}`, [importId, bytes]);
  if (!r.rows[0]) throw new Error('import vanished during its upload');
  return withCounts(r.rows[0]);
}

/** Deletes an import whose upload failed (its chunks go with it): nothing half-written stays. */
export async function discardUpload(c: Queryable, importId: string): Promise<void> {
  await c.query(`DELETE FROM imports WHERE id = $1 AND status = 'receiving'`, [importId]);
}

/** Deletes this tenant's uploads that stopped arriving over an hour ago (a process that died mid-upload). */
export async function purgeStaleUploads(c: Queryable): Promise<number> {
  const r = await c.query(`DELETE FROM imports WHERE status = 'receiving' AND updated_at < now() - interval '1 hour'`);
  return r.rowCount ?? 0;
}

/** An import of this tenant; null when absent (or another tenant's, or not a uuid). */
export async function getImport(c: Queryable, id: string): Promise<ImportRow | null> {
  if (!isUuid(id)) return null;
  const r = await c.query<ImportRow>(`SELECT ${COLUMNS} FROM imports WHERE id = $1 AND status <> 'receiving'`, [id]);
  return r.rows[0] ? withCounts(r.rows[0]) : null;
}

/** Newest first, keyset-paged: `before` is the id of the last import of the previous page. At most `limit` rows. */
export async function listImports(c: Queryable, f: { limit: number; before?: string }): Promise<ImportRow[]> {
  const r = await c.query<ImportRow>(`SELECT ${COLUMNS} FROM imports WHERE status <> 'receiving'
      AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM imports WHERE id = $2::uuid))
    ORDER BY created_at DESC, id DESC LIMIT $1`, [f.limit, f.before ?? null]);
  return r.rows.map(withCounts);
}

/**
 * Marks a queued import running and returns it. A running one is taken again only when it has
 * shown no progress for two minutes (its worker died; the retried job resumes it); null otherwise
 * (ended, or alive elsewhere). Every committed batch stamps updated_at.
 */
export async function claimImport(c: Queryable, id: string): Promise<ImportRow | null> {
  const r = await c.query<ImportRow>(`UPDATE imports SET status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
    WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND updated_at < now() - interval '2 minutes')) RETURNING ${COLUMNS}`, [id]);
  return r.rows[0] ? withCounts(r.rows[0]) : null;
}

/** A stopping worker hands a running import back ('queued'); the next job resumes after rows_done. */
export async function releaseImport(c: Queryable, id: string): Promise<void> {
  await c.query(`UPDATE imports SET status = 'queued', updated_at = now() WHERE id = $1 AND status = 'running'`, [id]);
}

/** Up to `n` pieces of the file from seq `from` on, in order. */
export async function readChunks(c: Queryable, importId: string, from: number, n: number): Promise<{ seq: number; data: Buffer }[]> {
  const r = await c.query<{ seq: number; data: Buffer }>(`SELECT seq, data FROM import_chunks WHERE import_id = $1 AND seq >= $2
    ORDER BY seq LIMIT $3`, [importId, from, n]);
  return r.rows;
}

/** What a committed batch moves forward: written in the batch's own transaction. */
export interface ImportProgress {
  rowsDone: number; bytesRead: number; counts: ImportCounts; rowErrors: RowReport[]; encoding: string | null; delimiter: string | null;
}

/** Records the progress of a running import (in the transaction of the batch it describes). */
export async function recordProgress(c: Queryable, id: string, p: ImportProgress): Promise<void> {
  await c.query(`UPDATE imports SET rows_done = $2, bytes_read = $3, counts = $4, row_errors = $5, encoding = coalesce($6, encoding),
      delimiter = coalesce($7, delimiter), updated_at = now() WHERE id = $1`,
  [id, p.rowsDone, p.bytesRead, JSON.stringify(p.counts), JSON.stringify(p.rowErrors.slice(0, MAX_ROW_REPORTS)), p.encoding, p.delimiter]);
}

/** Ends an import: completed, or failed with its error; the uploaded file is deleted either way. */
export async function finishImport(c: Queryable, id: string, end: { status: 'completed' } | { status: 'failed'; error: ImportFailure }): Promise<void> {
  await c.query(`UPDATE imports SET status = $2, error = $3, finished_at = now(), updated_at = now(),
      bytes_read = CASE WHEN $2 = 'completed' THEN bytes ELSE bytes_read END WHERE id = $1`,
  [id, end.status, end.status === 'failed' ? JSON.stringify(end.error) : null]);
  await c.query('DELETE FROM import_chunks WHERE import_id = $1', [id]);
}
