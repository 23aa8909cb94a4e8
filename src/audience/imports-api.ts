// CSV import over the API (scope subscribers): POST /api/imports (multipart or raw text/csv,
// streamed into storage; 202 and a queued job), GET /api/imports/{id} (status, progress, counts,
// the first row errors) and GET /api/imports (newest first). The job runs in worker processes.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import type { Api } from '../platform/http.js';
import { ApiError, notFound, tooLarge } from '../platform/http.js';
import { id, page, timestamp } from '../platform/responses.js';
import { pagination } from '../platform/schemas.js';
import { isUuid } from '../policy/ids.js';
import { ImportJobs } from './import-job.js';
import { ImportFormatError, suggestMapping } from './import-map.js';
import { columnMapping } from './import-options.js';
import { PREVIEW_PARSE_BYTES, previewImport } from './import-parse.js';
import { receiveImport } from './imports-upload-api.js';
import { finishImport, getImport, listImports, SKIP_REASONS, type ImportRow } from './imports.js';

const count = z.number().int().min(0);
const rowReport = z.object({
  row: z.number().int().describe('data row, from 1 (the header is not counted)'), line: z.number().int().describe('line of the file where the row starts'),
  column: z.string().nullable(), code: z.string(), message: z.string(),
});
const importView = z.object({
  id, status: z.enum(['queued', 'running', 'completed', 'failed']), dryRun: z.boolean(),
  progress: z.object({
    rows: count.describe('data rows processed and committed'), bytesRead: count, bytes: count.describe('the file size'),
    percent: z.number().min(0).max(100),
  }),
  counts: z.object({
    rows: count, created: count, updated: count, subscribed: count, unconfirmed: count, unchanged: count,
    skipped: z.object(Object.fromEntries(SKIP_REASONS.map((r) => [r, count])) as Record<(typeof SKIP_REASONS)[number], typeof count>),
    duplicates: count, errors: count, activations: count,
    optedOut: count.describe('rows whose source opt-out was applied: lists unsubscribed, or a suppression added (cleaned, blocklisted); also counted under skipped'),
  }),
  rowErrors: z.array(rowReport).describe('the first 100 row errors and skips'),
  encoding: z.string().nullable(), delimiter: z.string().nullable(),
  error: z.object({
    code: z.string(), field: z.string().nullable(), message: z.string(),
    line: z.number().int().nullable().optional().describe('the line of the file at fault (an unclosed quote, an invalid byte)'),
    partial: z.boolean().optional().describe('true: the rows before the fault (rowsDone) were imported and reported before the import failed'),
  }).nullable(),
  options: z.record(z.string(), z.unknown()),
  attestation: z.object({ by: z.string(), source: z.string(), text: z.string().nullable(), date: z.string().nullable(), ip: z.string().nullable() }).nullable(),
  createdAt: timestamp, startedAt: timestamp.nullable(), finishedAt: timestamp.nullable(),
});

function importJson(r: ImportRow): z.input<typeof importView> {
  const percent = r.status === 'completed' ? 100 : r.bytes > 0 ? Math.min(100, Math.floor((r.bytesRead / r.bytes) * 1000) / 10) : 0;
  return {
    id: r.id, status: r.status === 'receiving' ? 'queued' : r.status, dryRun: r.dryRun,
    progress: { rows: r.rowsDone, bytesRead: r.bytesRead, bytes: r.bytes, percent },
    counts: r.counts, rowErrors: r.rowErrors, encoding: r.encoding, delimiter: r.delimiter, error: r.error,
    options: r.options, attestation: r.attestation,
    createdAt: r.createdAt.toISOString(), startedAt: r.startedAt?.toISOString() ?? null, finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

const uploadQuery = z.strictObject({
  options: z.string().max(65_536).optional().describe('The options as JSON (or a multipart part named options before the file): '
    + '{dryRun, delimiter, encoding, preset, mapping, lists, updateExisting, consent: {source, text, date, ip}, sendActivation}'),
});
const listQuery = z.strictObject(pagination);

/** The most a preview reads: a client sends the start of a larger file (partial=true). */
export const PREVIEW_MAX_BYTES = 1024 * 1024;
const previewQuery = z.strictObject({
  partial: z.enum(['true', 'false']).optional().describe('true: the body is only the start of the file (its last, perhaps cut, line is dropped)'),
  encoding: z.enum(['utf-8', 'windows-1252', 'latin1']).optional().describe('Detected when absent, as the import does'),
  delimiter: z.enum([',', ';', '\t']).optional().describe('Sniffed from the header line when absent, as the import does'),
});
const previewView = z.object({
  encoding: z.string(), delimiter: z.string(),
  headers: z.array(z.string()).describe('The header row, in file order'),
  rows: z.array(z.array(z.string())).describe('The first data rows as raw cells (at most 5), for a column-mapping form'),
  more: z.boolean().describe('The file holds more data rows than shown'),
  partial: z.boolean().describe('Only the first 64 KiB of the file were read (a longer body, or partial=true): rows that do not fit there are not shown'),
  mapping: columnMapping.describe('The mapping the import uses without one (headers recognised by name, other columns string attributes), as options.mapping takes it'),
  ignored: z.array(z.string()).describe('Headers that mapping leaves out'),
});

const UPLOAD_DESCRIPTION = 'The file as a raw text/csv body, or multipart/form-data with an optional `options` part (JSON) before the `file` part. '
  + 'Streamed into storage (limit IMPORT_MAX_BYTES, 413 beyond), then run by a worker: poll GET /api/imports/{id}. '
  + 'Rows arrive subscribed only with options.consent (the attestation: source, and a date here or per row); otherwise unconfirmed. '
  + 'An attestation without a date when no column holds a consent date is refused (options.consent.date): 422 when options.mapping is given, else the import fails. '
  + 'Suppressed, complained, bounced, erased and unsubscribed addresses are skipped with the reason, never re-subscribed.';

/** The import part of the audience module: its routes, its worker, and a stop that hands a running import over. */
export function importsPart(deps: AppDeps): { routes(api: Api): void; workers(): Promise<void>; stop(): Promise<void> } {
  const { config, db } = deps;
  const jobs = new ImportJobs(db, deps.boss, deps.log, {
    ttlDays: config.ACTIVATION_TTL_DAYS, capPerDay: config.ACTIVATION_CAP_PER_DAY, activationsPerMinute: config.IMPORT_ACTIVATIONS_PER_MINUTE,
  });
  return {
    routes: (api) => importRoutes(api, deps, jobs),
    workers: () => jobs.register(),
    stop: () => jobs.stop(),
  };
}

/**
 * The first PREVIEW_PARSE_BYTES + 1 bytes of a request body (one more than a preview parses, so it
 * knows the file goes on); the rest is read and dropped. Throws 413 once the body passes `limit` bytes.
 */
async function previewHead(body: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const keep = PREVIEW_PARSE_BYTES + 1;
  const pieces: Buffer[] = [];
  let kept = 0;
  let total = 0;
  for await (const piece of body) {
    total += piece.length;
    if (total > limit) throw tooLarge(limit);
    if (kept < keep) {
      const part = piece.subarray(0, keep - kept);
      pieces.push(part);
      kept += part.length;
    }
  }
  return Buffer.concat(pieces);
}

function importRoutes(api: Api, deps: AppDeps, jobs: ImportJobs): void {
  const { db, config } = deps;
  const previewLimit = Math.min(PREVIEW_MAX_BYTES, config.IMPORT_MAX_BYTES);
  api.route({
    method: 'post', path: '/api/imports/preview', scope: 'subscribers', query: previewQuery, response: previewView,
    // Streamed: only the first PREVIEW_PARSE_BYTES are kept (the rest is read and dropped), so no
    // step walks a 1 MiB body on the event loop.
    raw: { types: /^(text\/csv|application\/csv|text\/plain)$/, limit: previewLimit, accepts: 'text/csv', stream: true },
    summary: "A CSV file's columns and first rows, and the mapping an import would use (nothing is stored)",
    description: 'Send the file (or its first bytes with partial=true, up to 1 MiB) as text/csv. Read as POST /api/imports reads it, '
      + 'but only its first 64 KiB are parsed (a longer body is read as partial: partial and more are true); '
      + 'whole-file faults are 422 with the import\'s code (empty_file, not_csv, invalid_encoding, too_many_columns, unclosed_quote; '
      + 'record_too_large when the header row does not fit in those 64 KiB).',
  }, async ({ req, query }) => {
    const head = await previewHead(req, previewLimit);
    try {
      const p = await previewImport(head, { encoding: query.encoding, delimiter: query.delimiter, partial: query.partial === 'true' });
      return { body: { ...p, ...suggestMapping(p.headers) } };
    } catch (err) {
      if (err instanceof ImportFormatError) throw new ApiError(422, err.code, err.message, err.field ?? 'file');
      throw err;
    }
  });

  api.route({
    method: 'post', path: '/api/imports', scope: 'subscribers', query: uploadQuery, response: importView, success: [202],
    raw: { types: /^(text\/csv|application\/csv|text\/plain|multipart\/form-data)$/, limit: config.IMPORT_MAX_BYTES, accepts: 'text/csv or multipart/form-data', stream: true },
    summary: 'Import contacts from a CSV file (a job with progress)', description: UPLOAD_DESCRIPTION,
  }, async ({ req, res, auth, query }) => {
    const row = await receiveImport(db, { req, res, auth, queryOptions: query.options, log: deps.log }, config.IMPORT_MAX_BYTES);
    await jobs.enqueue({ tenantId: auth.tenantId, importId: row.id }).catch(async (err: unknown) => {
      // No job, no run: the import must not wait forever as queued.
      await db.withTenant(auth.tenantId, (c) => finishImport(c, row.id, { status: 'failed', error: { code: 'internal', field: null, message: 'the import could not be queued; upload it again' } }));
      throw err;
    });
    return { status: 202, body: importJson(row), headers: { Location: `/api/imports/${row.id}` } };
  });

  api.route({ method: 'get', path: '/api/imports/:id', scope: 'subscribers', response: importView, summary: 'An import: status, progress, counts and the first row errors' },
    async ({ tenantId, params }) => {
      const row = isUuid(params.id) ? await db.withTenant(tenantId, (c) => getImport(c, params.id)) : null;
      if (!row) throw notFound('import');
      return { body: importJson(row) };
    });

  api.route({ method: 'get', path: '/api/imports', scope: 'subscribers', query: listQuery, response: page(importView), summary: 'Imports, newest first; cursor-paged' },
    async ({ tenantId, query }) => {
      if (query.cursor !== undefined && !isUuid(query.cursor)) throw new ApiError(422, 'invalid', 'query.cursor: not a cursor from this API', 'query.cursor');
      const rows = await db.withTenant(tenantId, (c) => listImports(c, { limit: query.limit, before: query.cursor }));
      return { body: { items: rows.map(importJson), nextCursor: rows.length === query.limit ? rows[rows.length - 1].id : null } };
    });
}
