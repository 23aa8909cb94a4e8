// The import job (pg-boss queue import-run): reads the uploaded file back from import_chunks (any
// worker process can run it; none holds the whole file), parses it as a stream (import-parse.ts),
// and writes each batch of rows in ONE transaction with the import's progress, counts and row
// report, so what GET /api/imports/{id} shows is exactly what was committed, and a retried job
// resumes after the last committed row. A dry run reads the same facts and writes only the report.
import { isIP } from 'node:net';
import type { Db, PoolClient } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { InFlightJobs, QUEUES, type Boss } from '../platform/queue.js';
import { isDomainError } from '../domain-error.js';
import { findCardData } from '../policy/cards.js';
import { isTransientError } from '../campaigns/outage.js';
import { assertUnderCap, latestImportActivationDue, queueActivation } from '../consent/activation.js';
import { contactsByEmailKeys, insertContacts, updateContactsBatch, type ContactBatchUpdate, type ContactKeyRow, type NewContactRow } from '../consent/contacts.js';
import { allLists, defaultList } from '../consent/lists.js';
import { recordConsents, storeConsentTexts, type ConsentEventInput } from '../consent/records.js';
import { importOptOuts, importSubscriptions, subscriptionsOfContactsToLists, type SubscriptionKey } from '../consent/subscriptions.js';
import { addSuppressions, suppressionsOfAddresses } from '../consent/suppressions.js';
import { parseImport, ImportFormatError, type ParsedRow } from './import-parse.js';
import { ATTESTATION_WITHOUT_DATE, importOptions, type ImportOptions } from './import-options.js';
import { resolveMapping } from './import-map.js';
import { planRow, type RowPlan, type SubStatus } from './import-rules.js';
import {
  claimImport, finishImport, MAX_ROW_REPORTS, readChunks, recordProgress, releaseImport,
  emptyCounts, SKIP_REASONS, type ImportCounts, type ImportFailure, type ImportRow, type RowReport,
} from './imports.js';

/** Rows written per transaction. */
export const IMPORT_BATCH_ROWS = 2000;
/** File pieces read per query (~1 MiB each). */
const CHUNKS_PER_READ = 2;

export interface ImportSettings { ttlDays: number; capPerDay: number; activationsPerMinute: number }
export interface ImportJob { tenantId: string; importId: string }

/** Lists as the job resolves them: names of the lists column (trimmed, case-insensitive) and the fixed ones. */
interface ListContext { byName: Map<string, { id: string; archived: boolean }>; fixed: string[]; fallback: string | null }

/** What a batch carries to its transaction: parsed rows and the reports of rows that failed to parse. */
interface Batch { rows: ParsedRow[]; reports: RowReport[]; errors: number; duplicates: number; lastRow: number }
const newBatch = (lastRow: number): Batch => ({ rows: [], reports: [], errors: 0, duplicates: 0, lastRow });

/** Reads the uploaded file back piece by piece, counting bytes. */
async function* chunksOf(db: Db, tenantId: string, importId: string, onRead: (bytes: number) => void): AsyncGenerator<Buffer> {
  let seq = 0;
  for (;;) {
    const rows = await db.withTenant(tenantId, (c) => readChunks(c, importId, seq, CHUNKS_PER_READ));
    if (rows.length === 0) return;
    for (const r of rows) { seq = r.seq + 1; onRead(r.data.length); yield r.data; }
  }
}

const listKey = (name: string) => name.trim().toLowerCase();

async function listContext(c: PoolClient, o: ImportOptions): Promise<ListContext> {
  const lists = await allLists(c);
  const byName = new Map(lists.map((l) => [listKey(l.name), { id: l.id, archived: l.archivedAt !== null }]));
  const live = new Set(lists.map((l) => l.id));
  const fixed = o.lists.map((id) => id.toLowerCase()).filter((id) => live.has(id));
  return { byName, fixed, fallback: o.lists.length === 0 ? (await defaultList(c))?.id ?? null : null };
}

/** A row's target lists, or the report of why it has none it may use. */
function targetLists(row: ParsedRow, ctx: ListContext): { lists: string[] } | { report: RowReport } {
  const ids = new Set(ctx.fixed);
  for (const name of row.lists) {
    const l = ctx.byName.get(listKey(name));
    const fail = (code: string, message: string) => ({ report: { row: row.row, line: row.line, column: 'lists', code, message } });
    if (!l) return fail('unknown_list', `no list named "${name.slice(0, 100)}"`);
    if (l.archived) return fail('list_archived', `the list "${name.slice(0, 100)}" is archived`);
    ids.add(l.id);
  }
  if (ids.size === 0 && ctx.fallback) ids.add(ctx.fallback);
  if (ids.size === 0) return { report: { row: row.row, line: row.line, column: 'lists', code: 'no_default_list', message: 'the row names no list and the tenant has no default list' } };
  return { lists: [...ids] };
}

const validIp = (ip: string | null | undefined): string | null => (ip && isIP(ip) ? ip : null);

/** The card check of a row costs up to ~15 µs: the batch lets other work in every this many rows. */
const YIELD_EVERY_ROWS = 250;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Batches written at once, each in its own transaction (their progress updates commit in order).
 * The import is CPU-bound in PostgreSQL (index and foreign-key work per row): 3 beat 2 by 15–20% on
 * 2 cores (bench/import.bench.ts, 200,000 rows), 4 gained nothing more; each holds two connections at most.
 */
export const BATCHES_IN_FLIGHT = 3;

/**
 * One import being run: what is committed (counts, the row report, rows_done) and what every batch
 * shares. Batches run concurrently (BATCHES_IN_FLIGHT; their rows are distinct addresses, so they
 * never wait on each other's rows), but each records the progress only once the batch before it has
 * committed, adding its own figures to the committed ones: rows_done only grows, and a batch that
 * fails rolls back the ones after it.
 */
class ImportRun {
  committed: { counts: ImportCounts; reports: RowReport[] };
  rowsDone: number;
  bytesRead = 0;
  format: { encoding: string | null; delimiter: string | null } = { encoding: null, delimiter: null };
  readonly attestationDate: string | null;
  /** When this run's last activation mail is due (ms), or null before its first. */
  private lastActivationDue: number | null = null;

  constructor(readonly db: Db, readonly tenantId: string, readonly imp: ImportRow, readonly o: ImportOptions,
    readonly ctx: ListContext, readonly s: ImportSettings) {
    this.committed = { counts: structuredClone(imp.counts), reports: [...imp.rowErrors] };
    this.rowsDone = imp.rowsDone;
    this.attestationDate = imp.attestation?.date ?? null;
  }

  /**
   * When the next activation mail may go out: the TENANT's import activations are paced together,
   * one every 60/IMPORT_ACTIVATIONS_PER_MINUTE seconds, each after the latest one scheduled
   * (`tenantLatest`, read once per batch: other imports' and this one's committed batches) and after
   * this run's last (its batches in flight). A batch rolled back leaves a gap: harmless.
   */
  nextActivationAt(tenantLatest: Date | null): Date {
    const gap = 60_000 / this.s.activationsPerMinute;
    const due = Math.max(Date.now(), (tenantLatest?.getTime() ?? -Infinity) + gap, (this.lastActivationDue ?? -Infinity) + gap);
    this.lastActivationDue = due;
    return new Date(due);
  }

  /** Judges and (unless a dry run) writes one batch, then records the progress once `previous` (the batch before) committed. */
  async flush(b: Batch, previous: Promise<void>): Promise<void> {
    const work = new BatchWork(this);
    const next = await this.db.withTenant(this.tenantId, async (c) => {
      work.counts.rows += b.rows.length + b.errors + b.duplicates;
      work.counts.errors += b.errors;
      work.counts.duplicates += b.duplicates;
      await work.apply(c, b.rows);
      await previous;
      // The parse reports (errors, duplicates) and the batch's own (skips, list errors…), each its first
      // MAX_ROW_REPORTS, merged in row order: the report lists the first rows at fault, in file order.
      const reports = [...b.reports.slice(0, MAX_ROW_REPORTS), ...work.reports].sort((x, y) => x.row - y.row);
      const merged = { counts: addCounts(this.committed.counts, work.counts), reports: [...this.committed.reports, ...reports].slice(0, MAX_ROW_REPORTS) };
      await recordProgress(c, this.imp.id, { rowsDone: b.lastRow, bytesRead: this.bytesRead, counts: merged.counts, rowErrors: merged.reports, ...this.format });
      return merged;
    });
    this.committed = next;
    this.rowsDone = b.lastRow;
  }
}

/** a + b, figure by figure. */
function addCounts(a: ImportCounts, b: ImportCounts): ImportCounts {
  const out = structuredClone(a);
  for (const k of ['rows', 'created', 'updated', 'subscribed', 'unconfirmed', 'unchanged', 'duplicates', 'errors', 'activations', 'optedOut'] as const) out[k] += b[k];
  for (const r of SKIP_REASONS) out.skipped[r] += b.skipped[r];
  return out;
}

/** The work of one batch: its figures and row reports (added to the committed ones when it commits). */
class BatchWork {
  readonly counts = emptyCounts();
  readonly reports: RowReport[] = [];
  private readonly db: Db;
  private readonly tenantId: string;
  private readonly imp: ImportRow;
  private readonly o: ImportOptions;
  private readonly ctx: ListContext;
  private readonly s: ImportSettings;
  private readonly attestationDate: string | null;

  constructor(private readonly run: ImportRun) {
    ({ db: this.db, tenantId: this.tenantId, imp: this.imp, o: this.o, ctx: this.ctx, s: this.s, attestationDate: this.attestationDate } = run);
  }

  private report(r: RowReport): void { if (this.reports.length < MAX_ROW_REPORTS) this.reports.push(r); }

  async apply(c: PoolClient, rows: ParsedRow[]): Promise<void> {
    const usable: { row: ParsedRow; lists: string[] }[] = [];
    for (const [i, row] of rows.entries()) {
      if (i % YIELD_EVERY_ROWS === YIELD_EVERY_ROWS - 1) await yieldToLoop();
      const card = findCardData({ name: row.name, attributes: row.attributes, consent: { source: row.consent.source, text: row.consent.text } });
      if (card) { this.rowError(row, card, 'card_data_rejected', 'payment-card numbers are never accepted or stored'); continue; }
      const t = targetLists(row, this.ctx);
      if ('report' in t) { this.counts.errors++; this.report(t.report); continue; }
      usable.push({ row, lists: t.lists });
    }
    const write = !this.imp.dryRun;
    const existing = new Map((await contactsByEmailKeys(c, usable.map((u) => u.row.emailKey), write)).map((x) => [x.emailKey, x]));
    const suppressions = await suppressionsOfAddresses(c, this.tenantId, usable.map((u) => u.row.email));
    const allListIds = [...new Set(usable.flatMap((u) => u.lists))];
    const subs = await subscriptionsOfContactsToLists(c, [...existing.values()].map((x) => x.id), allListIds, write);
    const current = new Map<string, Map<string, SubStatus>>();
    for (const s of subs) current.set(s.contactId, (current.get(s.contactId) ?? new Map()).set(s.listId, s.status));
    const planned = usable.map(({ row, lists }) => {
      const found = existing.get(row.emailKey) ?? null;
      const plan = planRow({
        existing: found, suppressionReasons: (suppressions.get(row.email) ?? []).map((x) => x.reason), lists,
        current: found ? current.get(found.id) ?? new Map() : new Map(), sourceStatus: row.sourceStatus, attested: this.attested(row),
        profileUpdate: this.o.updateExisting && (row.name !== null || Object.keys(row.attributes).length > 0), sendActivation: this.o.sendActivation,
      });
      return { row, plan, found };
    });
    const imported = planned.filter((p) => this.tally(p.row, p.plan));
    if (write) await this.applyOptOuts(c, planned.filter((p): p is OptOut => p.plan.kind === 'optout'));
    if (write) await this.writeBatch(c, imported as Planned[]);
    // A dry run counts the activations it would queue (a real run counts those it queued, in activate()).
    if (!write) for (const p of imported) if (p.plan.kind === 'import' && p.plan.activationLists.length) this.counts.activations++;
  }

  private rowError(row: ParsedRow, column: string | null, code: string, message: string): void {
    this.counts.errors++;
    this.report({ row: row.row, line: row.line, column, code, message });
  }

  /** A row has attested consent: the import's attestation, a consent date from the row or the attestation, and a source status other than pending. */
  private attested(row: ParsedRow): boolean {
    return this.imp.attestation !== null && (row.consent.at ?? this.attestationDate) !== null && row.sourceStatus !== 'pending';
  }

  /** Counts a plan; true when the row is imported. */
  private tally(row: ParsedRow, plan: RowPlan): boolean {
    if (plan.kind === 'skip' || plan.kind === 'optout') {
      this.counts.skipped[plan.reason]++;
      if (plan.kind === 'optout' && (plan.unsubscribe.length > 0 || plan.suppress !== null)) this.counts.optedOut++;
      this.report({ row: row.row, line: row.line, column: null, code: plan.reason, message: plan.message });
      return false;
    }
    if (plan.contact === 'create') this.counts.created++;
    if (plan.contact === 'update') this.counts.updated++;
    this.counts[plan.outcome]++;
    if (plan.keptUnsubscribed.length) {
      this.report({ row: row.row, line: row.line, column: 'lists', code: 'unsubscribed', message: `left unsubscribed from ${plan.keptUnsubscribed.length} list(s): never re-subscribed` });
    }
    return true;
  }

  /**
   * Applies the source's opt-outs of a batch: the suppressions (cleaned, blocklisted), a pending
   * contact holding a new unsubscribed address's lists, the target lists set to unsubscribed, and
   * their consent records (opt_out per list, suppress for an existing contact; source 'import').
   */
  private async applyOptOuts(c: PoolClient, rows: OptOut[]): Promise<void> {
    if (rows.length === 0) return;
    const facts = ({ row }: OptOut) => ({
      importId: this.imp.id, row: row.row, line: row.line, sourceStatus: row.sourceStatus, sourceStatusAt: row.sourceStatusAt, consentAt: row.consent.at,
    });
    const added = await addSuppressions(c, this.tenantId, rows.flatMap((p) => (p.plan.suppress
      ? [{ address: p.row.email, scope: p.plan.suppress.scope, reason: p.plan.suppress.reason, source: { type: 'import', ...facts(p) } }] : [])));
    const made = await insertContacts(c, this.tenantId, rows.filter((p) => p.plan.contact === 'create').map(({ row }) => ({
      email: row.email, name: row.name, attributes: row.attributes, status: 'pending' as const,
    })));
    const events: ConsentEventInput[] = [];
    const lists: { contactId: string; listId: string }[] = [];
    for (const p of rows) {
      const contactId = p.found?.id ?? made.get(p.row.emailKey);
      if (!contactId) {
        if (p.plan.contact === 'create') this.rowError(p.row, 'email', 'conflict', 'the address was added by someone else meanwhile; import the row again');
        continue;
      }
      const base = { contactId, source: 'import', ip: null, userAgent: null, textHash: null };
      for (const u of p.plan.unsubscribe) {
        lists.push({ contactId, listId: u.listId });
        events.push({ ...base, listId: u.listId, action: 'opt_out', detail: { ...facts(p), from: u.from } });
      }
      if (p.plan.suppress && added.has(p.row.email) && p.found) {
        events.push({ ...base, listId: null, action: 'suppress', detail: { ...facts(p), scope: p.plan.suppress.scope, reason: p.plan.suppress.reason } });
      }
    }
    await importOptOuts(c, this.tenantId, lists);
    // The details hold ids, numbers, the source's status and dates only: nothing a card check would find.
    await recordConsents(c, this.tenantId, events, { cardChecked: true });
  }

  private async writeBatch(c: PoolClient, planned: Planned[]): Promise<void> {
    const creates: NewContactRow[] = planned.filter((p) => p.plan.contact === 'create').map(({ row }) => ({
      email: row.email, name: row.name, attributes: row.attributes, status: this.attested(row) ? 'active' : 'pending',
    }));
    const made = await insertContacts(c, this.tenantId, creates);
    const updates: ContactBatchUpdate[] = [];
    const withIds: (Planned & { contactId: string; status: ContactKeyRow['status'] })[] = [];
    for (const p of planned) {
      const id = p.found?.id ?? made.get(p.row.emailKey);
      if (!id) { this.counts.created--; this.rowError(p.row, 'email', 'conflict', 'the address was added by someone else meanwhile; import the row again'); continue; }
      withIds.push({ ...p, contactId: id, status: p.found?.status ?? (this.attested(p.row) ? 'active' : 'pending') });
      if (p.plan.contact === 'update') updates.push(this.updateOf(id, p));
    }
    await updateContactsBatch(c, updates);
    const subs: SubscriptionKey[] = withIds.flatMap((p) => p.plan.changes.map((ch) => ({ contactId: p.contactId, listId: ch.listId, status: ch.to })));
    await importSubscriptions(c, this.tenantId, subs);
    // Every free-text value of the details (the row's consent source) passed the row's card check above; the rest are ids, numbers, dates, IPs.
    await recordConsents(c, this.tenantId, await this.consentEvents(withIds), { cardChecked: true });
    if (!withIds.some((p) => p.plan.activationLists.length)) return;
    const tenantLatest = await latestImportActivationDue(c, this.tenantId);
    for (const p of withIds) if (p.plan.activationLists.length) await this.activate(c, p, tenantLatest);
  }

  private updateOf(id: string, p: Planned): ContactBatchUpdate {
    const profile = this.o.updateExisting;
    return { id, name: profile ? p.row.name : null, attributes: profile && Object.keys(p.row.attributes).length ? p.row.attributes : null, activate: p.plan.activate };
  }

  /** One 'import' consent record per subscription the row changed, with the attestation and the source's facts. */
  private async consentEvents(rows: (Planned & { contactId: string })[]): Promise<ConsentEventInput[]> {
    const a = this.imp.attestation;
    const textOf = (row: ParsedRow) => row.consent.text ?? a?.text ?? null;
    // The wordings are stored in a transaction of their own, committed at once: two batches in flight
    // storing the same wording would otherwise wait on each other's uncommitted row while the later
    // batch waits for the earlier one to commit (a deadlock PostgreSQL cannot see). A wording stored
    // for a batch that then fails is harmless: texts are content-addressed and only referenced.
    const texts = rows.map((p) => textOf(p.row)).filter((t): t is string => t !== null);
    const hashes = texts.length ? await this.db.withTenant(this.tenantId, (own) => storeConsentTexts(own, this.tenantId, texts)) : new Map<string, string>();
    return rows.flatMap(({ row, plan, contactId }) => plan.changes.map((ch) => {
      const attested = ch.to === 'subscribed';
      const text = textOf(row);
      return {
        contactId, listId: ch.listId, action: 'import' as const, source: 'import', ip: validIp(row.consent.ip ?? a?.ip),
        userAgent: null, textHash: text ? hashes.get(text) ?? null : null,
        detail: {
          importId: this.imp.id, row: row.row, line: row.line, from: ch.from, to: ch.to, attested,
          attestation: attested && a ? { by: a.by, source: a.source, date: a.date } : null,
          consentAt: row.consent.at ?? (attested ? a?.date ?? null : null), consentSource: row.consent.source, sourceIp: row.consent.ip,
        },
      };
    }));
  }

  /**
   * Queues the activation mail of an unconfirmed row, paced per tenant (ImportRun.nextActivationAt).
   * The mailbox cap applies; the tenant's hourly ceiling of the API and forms does not count it.
   */
  private async activate(c: PoolClient, p: Planned & { contactId: string; status: ContactKeyRow['status'] }, tenantLatest: Date | null): Promise<void> {
    try {
      await assertUnderCap(c, this.tenantId, p.row.email, this.s.capPerDay);
    } catch (err) {
      if (!isDomainError(err) || err.code !== 'rate_limited') throw err;
      this.report({ row: p.row.row, line: p.row.line, column: 'email', code: 'activation_capped', message: err.message });
      return;
    }
    const notBefore = this.run.nextActivationAt(tenantLatest);
    this.counts.activations++;
    await queueActivation(c, this.tenantId, {
      id: p.contactId, email: p.row.email, name: p.row.name, attributes: {}, status: p.status, createdAt: new Date(), verifiedAt: null,
    }, p.plan.activationLists, this.s.ttlDays, notBefore, this.imp.id);
  }
}

type Planned = { row: ParsedRow; plan: Extract<RowPlan, { kind: 'import' }>; found: ContactKeyRow | null };
type OptOut = { row: ParsedRow; plan: Extract<RowPlan, { kind: 'optout' }>; found: ContactKeyRow | null };

/**
 * An attestation without a date, for a file whose mapping (a preset's, or headers recognised by name)
 * has no consent date column, would make nobody subscribed: the import fails before its first row
 * with invalid_option, field options.consent.date (the upload refuses it already when the mapping is given).
 */
function refuseUndatedAttestation(run: ImportRun, headers: string[]): void {
  if (run.imp.attestation === null || run.attestationDate !== null) return;
  if (resolveMapping(headers, { mapping: run.o.mapping, preset: run.o.preset }).consentDate.length > 0) return;
  throw new ImportFormatError('invalid_option', 'options.consent.date', `options.consent.date ${ATTESTATION_WITHOUT_DATE}`);
}

/**
 * The failure of an import stopped by a whole-file error: its line, and whether rows before it were
 * processed (partial: written, or in a dry run reported; rowsDone says how many).
 */
function formatFailure(err: ImportFormatError, run: ImportRun): ImportFailure {
  const partial = run.rowsDone > 0;
  const before = !partial ? '' : run.imp.dryRun ? `; the ${run.rowsDone} rows before it were checked`
    : `; the ${run.rowsDone} rows before it were imported (importing the fixed file again is safe: existing contacts are deduplicated)`;
  return { code: err.code, field: err.field, message: err.message + before, line: err.line, partial };
}

/** Runs imports from the queue; stop() lets the current batch commit and hands the rest to a fresh job. */
export class ImportJobs {
  private stopping = false;
  private worker: string | null = null;
  private readonly jobs: InFlightJobs;

  constructor(private readonly db: Db, private readonly boss: Boss, private readonly log: Logger, private readonly s: ImportSettings) {
    this.jobs = new InFlightJobs(log, 'import job failed; pg-boss will retry it');
  }

  /** Queues the job of an uploaded import. */
  async enqueue(job: ImportJob): Promise<void> {
    await this.boss.send(QUEUES.importRun, job);
    if (this.worker) this.boss.notifyWorker(this.worker);
  }

  async register(): Promise<void> {
    this.worker = await this.boss.work<ImportJob>(QUEUES.importRun, { batchSize: 1, pollingIntervalSeconds: 0.5 }, ([job]) => this.track(this.run(job.data)));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.worker) await this.boss.offWork({ id: this.worker }).catch(() => undefined);
    await this.jobs.settled();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    return this.jobs.track(p);
  }

  /** Runs (or resumes) one import to its end. Transient database errors are thrown (pg-boss retries); others fail the import. */
  async run(job: ImportJob): Promise<void> {
    const { tenantId, importId } = job;
    const started = await this.db.withTenant(tenantId, async (c) => {
      const imp = await claimImport(c, importId);
      if (!imp) return null;
      const o = importOptions.parse(imp.options);
      return { imp, o, ctx: await listContext(c, o) };
    });
    if (!started) return;
    const run = new ImportRun(this.db, tenantId, started.imp, started.o, started.ctx, this.s);
    try {
      const done = await this.parseInto(run, job);
      if (!done) return;
      await this.db.withTenant(tenantId, (c) => finishImport(c, importId, { status: 'completed' }));
      this.log.info({ importId, counts: run.committed.counts }, 'import completed');
    } catch (err) {
      if (isTransientError(err)) throw err;
      const error = err instanceof ImportFormatError ? formatFailure(err, run)
        : { code: 'internal', field: null, message: 'the import stopped on an internal error; the rows counted so far were written' };
      if (!(err instanceof ImportFormatError)) this.log.error({ importId, err: (err as Error).message }, 'import failed');
      await this.db.withTenant(tenantId, (c) => finishImport(c, importId, { status: 'failed', error }));
    }
  }

  /** Streams the file through the parser into batches; false when stopped (a fresh job resumes it). */
  private async parseInto(run: ImportRun, job: ImportJob): Promise<boolean> {
    const o = run.o;
    const parsed = parseImport(chunksOf(this.db, job.tenantId, job.importId, (n) => { run.bytesRead += n; }),
      { delimiter: o.delimiter, encoding: o.encoding, mapping: o.mapping, preset: o.preset });
    const resumeAfter = run.rowsDone;
    let batch = newBatch(resumeAfter);
    let inFlight: Promise<void> = Promise.resolve(); // the last batch sent: its commit means every earlier one committed
    const pending: Promise<void>[] = [];
    const send = async (b: Batch) => {
      if (pending.length >= BATCHES_IN_FLIGHT) await pending.shift();
      const s = parsed.summary();
      run.format = { encoding: s.encoding, delimiter: s.delimiter };
      inFlight = run.flush(b, inFlight);
      inFlight.catch(() => undefined);
      pending.push(inFlight);
    };
    let checked = false;
    try {
      for await (const ev of parsed.events) {
        if (!checked) { checked = true; refuseUndatedAttestation(run, parsed.summary().headers); }
        const row = ev.kind === 'row' ? ev.row.row : ev.kind === 'error' ? ev.error.row : ev.row;
        if (row <= resumeAfter) continue;
        if (ev.kind === 'row') batch.rows.push(ev.row);
        else if (ev.kind === 'error') { batch.errors++; batch.reports.push(ev.error); } else {
          batch.duplicates++;
          if (batch.reports.length < MAX_ROW_REPORTS) batch.reports.push({ row, line: ev.line, column: 'email', code: 'duplicate', message: 'the address is in an earlier row of the file' });
        }
        batch.lastRow = row;
        if (batch.rows.length + batch.errors + batch.duplicates >= IMPORT_BATCH_ROWS) {
          await send(batch);
          batch = newBatch(row);
          if (this.stopping) return this.handOver(job, inFlight);
        }
      }
    } catch (err) {
      // A whole-file error late in the file (an unclosed quote, an invalid byte): the parser gave every
      // row before it, so those are written and reported like any other before the import fails.
      if (!(err instanceof ImportFormatError)) throw err;
      await send(batch);
      await inFlight;
      throw err;
    }
    await send(batch);
    await inFlight;
    return true;
  }

  /** Stopping: the batch in flight commits, the import goes back to queued, and a fresh job will resume it. */
  private async handOver(job: ImportJob, inFlight: Promise<void>): Promise<false> {
    await inFlight;
    await this.db.withTenant(job.tenantId, (c) => releaseImport(c, job.importId));
    await this.boss.send(QUEUES.importRun, job);
    return false;
  }
}
