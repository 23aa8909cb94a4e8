// GET /api/contacts/export.csv (scope subscribers): every contact matching the listing's filters as
// CSV, streamed. Contacts are read in keyset pages of EXPORT_PAGE rows, each in its own short
// transaction, and written with backpressure (stream.pipeline), so memory stays flat and no
// transaction stays open while a slow client reads. Cells a spreadsheet would take for a formula
// (starting with = + - @ tab or CR) get a leading single quote, as OWASP's CSV-injection advice says.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { Response } from 'express';
import type { AppDeps } from '../deps.js';
import type { Api } from '../platform/http.js';
import { listContacts, type ContactFilter, type ContactRow } from './contacts.js';
import { contactsExportQuery } from './schemas.js';
import { subscriptionsOf, type SubscriptionRow } from './subscriptions.js';

/** Contacts per keyset page (one transaction each). */
export const EXPORT_PAGE = 250;
/** Records formatted between two turns of the event loop (csv-stringify takes ~20-30 µs a record under load). */
const RECORDS_PER_TURN = 100;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export const EXPORT_COLUMNS = ['id', 'email', 'name', 'status', 'created_at', 'verified_at', 'attributes', 'lists'] as const;

/** PURE: a cell made safe to open in a spreadsheet: a leading = + - @ tab or CR gets a single quote in front. */
export function safeCell(v: string): string {
  return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
}

/**
 * PURE: one CSV record of a contact: attributes as JSON, lists as `name:status` joined by `|`
 * (in list order), timestamps ISO 8601 (UTC), empty cells for nulls; every cell injection-safe.
 */
export function exportRecord(contact: ContactRow, subs: readonly SubscriptionRow[]): string[] {
  const lists = subs.map((s) => `${s.listName}:${s.status}`).join('|');
  const cells = [contact.id, contact.email ?? '', contact.name ?? '', contact.status, contact.createdAt.toISOString(),
    contact.verifiedAt?.toISOString() ?? '', JSON.stringify(contact.attributes ?? {}), lists];
  return cells.map(safeCell);
}

/** Every contact matching the filter, page by page (each page in its own tenant transaction). */
async function* exportRecords(deps: AppDeps, tenantId: string, filter: Omit<ContactFilter, 'limit' | 'afterId'>): AsyncGenerator<string[]> {
  let afterId: string | undefined;
  for (;;) {
    const page = await deps.db.withTenant(tenantId, async (c) => {
      const rows = await listContacts(c, { ...filter, limit: EXPORT_PAGE, afterId });
      return { rows, subs: await subscriptionsOf(c, rows.map((r) => r.id)) };
    });
    const byContact = new Map<string, SubscriptionRow[]>();
    for (const s of page.subs) byContact.set(s.contactId, [...(byContact.get(s.contactId) ?? []), s]);
    for (const [i, row] of page.rows.entries()) {
      if (i > 0 && i % RECORDS_PER_TURN === 0) await nextTurn(); // a page is formatted in slices: the loop stays free
      yield exportRecord(row, byContact.get(row.id) ?? []);
    }
    if (page.rows.length < EXPORT_PAGE) return;
    afterId = page.rows[page.rows.length - 1].id;
  }
}

function startCsv(res: Response): void {
  const day = new Date().toISOString().slice(0, 10);
  res.status(200).set({
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': `attachment; filename="contacts-${day}.csv"`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
}

/** Registers the export route; call before the `/api/contacts/:id` routes (which would take `export.csv` as an id). */
export function contactExportRoute(api: Api, deps: AppDeps): void {
  api.route({ method: 'get', path: '/api/contacts/export.csv', scope: 'subscribers', query: contactsExportQuery, responseMediaType: 'text/csv',
    summary: 'Every contact matching the listing\'s filters as CSV (streamed): id,email,name,status,created_at,verified_at,attributes (JSON),lists (name:status|…)' },
  async ({ tenantId, query, res }) => {
    startCsv(res);
    const csv = stringify({ header: true, columns: [...EXPORT_COLUMNS], bom: true, record_delimiter: 'windows' });
    try {
      await pipeline(Readable.from(exportRecords(deps, tenantId, query)), csv, res);
    } catch (err) {
      // Headers are sent: the only honest signal left is a cut connection (the client sees a truncated download).
      deps.log.warn({ err: (err as Error).message }, 'contact export stopped (client gone or database error)');
      res.destroy();
    }
  });
}
