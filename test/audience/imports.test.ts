// CSV import over real HTTP, PostgreSQL and the SMTP sink: multipart and raw uploads run as a job
// to completed; attested rows arrive subscribed with consent records of kind import; suppressed,
// complained, bounced, erased and unsubscribed addresses are skipped with their reason and never
// re-subscribed; a dry run writes nothing; duplicates are caught in the file and against existing
// contacts; activation mail for unconfirmed rows goes out at the capped rate; 413/415/422; listmonk
// and Mailchimp exports; tenant isolation.
import http from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { useApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { mailsTo, waitForMail } from '../support/mail.js';
import { waitFor } from '../support/wait.js';
import { addSuppression } from '../../src/consent/suppressions.js';
import { setSubscription } from '../../src/consent/subscriptions.js';
import { ImportJobs } from '../../src/audience/import-job.js';
import { assertTenantUnderCeiling } from '../../src/consent/activation.js';
import { importOptions } from '../../src/audience/import-options.js';
import { appendChunk, createImport, uploadComplete } from '../../src/audience/imports.js';

const MAX_BYTES = 256 * 1024;
const { app, t, tenant } = useApp({ config: { IMPORT_MAX_BYTES: MAX_BYTES, IMPORT_ACTIVATIONS_PER_MINUTE: 30 } });
const other = tenant({ name: 'Other', fromEmail: 'hi@other.org', replyTo: 'help@other.org' });

type Options = Record<string, unknown>;
const attest = { source: 'signup form on acme.org (old ESP export)', text: 'Yes, send me the Acme newsletter.', date: '2024-03-01' };

/** POST /api/imports: a raw text/csv body (options in the query) or multipart (options part, then file). */
async function upload(tt: TestTenant, csv: string, options?: Options, how: 'raw' | 'multipart' = 'raw', headers: Record<string, string> = {}) {
  const h: Record<string, string> = { authorization: `Bearer ${tt.key}`, ...headers };
  let body: BodyInit;
  let query = '';
  if (how === 'raw') {
    h['content-type'] ??= 'text/csv';
    body = csv;
    if (options) query = `?options=${encodeURIComponent(JSON.stringify(options))}`;
  } else {
    const fd = new FormData();
    if (options) fd.append('options', JSON.stringify(options));
    fd.append('file', new Blob([csv], { type: 'text/csv' }), 'contacts.csv');
    body = fd;
  }
  const res = await fetch(`${app.url}/api/imports${query}`, { method: 'POST', headers: h, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Waits until the import ends; returns its view. */
async function finished(tt: TestTenant, id: string) {
  let view: any;
  await waitFor(async () => {
    view = (await tt.api('GET', `/api/imports/${id}`)).body;
    return view.status === 'completed' || view.status === 'failed';
  }, { timeout: 30_000, message: () => `import ${id} still ${view?.status}` });
  return view;
}

async function importCsv(tt: TestTenant, csv: string, options?: Options, how: 'raw' | 'multipart' = 'raw') {
  const r = await upload(tt, csv, options, how);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return finished(tt, r.body.id);
}

const contactOf = async (tenantId: string, email: string) => (await ownerQuery<{ id: string; status: string; name: string | null; verified_at: Date | null; attributes: any }>(app.db.url,
  'SELECT id, status, name, verified_at, attributes FROM contacts WHERE tenant_id = $1 AND email_key = lower($2)', [tenantId, email]))[0] ?? null;
const subsOf = async (contactId: string) => (await ownerQuery<{ list_id: string; status: string }>(app.db.url,
  'SELECT list_id, status FROM subscriptions WHERE contact_id = $1', [contactId]));
const eventsOf = async (contactId: string) => ownerQuery<{ action: string; source: string; ip: string | null; detail: any; text: string | null; list_id: string | null }>(app.db.url,
  `SELECT e.action, e.source, host(e.ip) AS ip, e.detail, t.text, e.list_id FROM consent_events e
   LEFT JOIN consent_texts t ON t.tenant_id = e.tenant_id AND t.hash = e.text_hash WHERE e.contact_id = $1 ORDER BY e.id`, [contactId]);
const countRows = async (table: string, tenantId: string) =>
  Number((await ownerQuery(app.db.url, `SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`, [tenantId]))[0].n);

describe('uploads', () => {
  it('runs a raw text/csv upload to completed; without an attestation every row is unconfirmed', async () => {
    const csv = 'email,name,city\r\nraw1@example.org,Raw One,Berlin\r\nRAW2@Example.org,Raw Two,Köln\r\n';
    const r = await upload(t, csv);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'queued', dryRun: false, progress: { bytes: Buffer.byteLength(csv) } });
    const view = await finished(t, r.body.id);
    expect(view).toMatchObject({ status: 'completed', progress: { rows: 2, percent: 100, bytesRead: Buffer.byteLength(csv) }, encoding: 'utf-8', delimiter: ',' });
    expect(view.counts).toMatchObject({ rows: 2, created: 2, unconfirmed: 2, subscribed: 0, errors: 0 });
    const c = await contactOf(t.id, 'raw2@example.org');
    expect(c).toMatchObject({ status: 'pending', name: 'Raw Two', attributes: { city: 'Köln' } });
    expect((await subsOf(c.id)).map((s) => s.status)).toEqual(['unconfirmed']);
    const [e] = await eventsOf(c.id);
    expect(e).toMatchObject({ action: 'import', source: 'import', detail: { importId: r.body.id, row: 2, to: 'unconfirmed', attested: false } });
    expect(await ownerQuery(app.db.url, 'SELECT 1 FROM import_chunks WHERE import_id = $1', [r.body.id])).toEqual([]);
  });

  it('runs a multipart upload with an attestation: rows arrive subscribed, with consent records of kind import', async () => {
    const csv = 'email,name,consent_date,consent_ip\nmp1@example.org,Multi One,2023-05-04T10:00:00Z,198.51.100.4\nmp2@example.org,Multi Two,,\n';
    const view = await importCsv(t, csv, { consent: attest }, 'multipart');
    expect(view.counts).toMatchObject({ rows: 2, created: 2, subscribed: 2, unconfirmed: 0 });
    const [key] = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM api_keys WHERE tenant_id = $1', [t.id]);
    expect(view.attestation).toMatchObject({ by: key.id, source: attest.source, date: attest.date });
    const one = await contactOf(t.id, 'mp1@example.org');
    expect(one).toMatchObject({ status: 'active', verified_at: null });
    expect((await subsOf(one.id)).map((s) => s.status)).toEqual(['subscribed']);
    const [e] = await eventsOf(one.id);
    expect(e).toMatchObject({
      action: 'import', source: 'import', ip: '198.51.100.4', text: attest.text,
      detail: { row: 1, to: 'subscribed', attested: true, consentAt: '2023-05-04T10:00:00.000Z', attestation: { by: key.id, source: attest.source } },
    });
    const two = await eventsOf((await contactOf(t.id, 'mp2@example.org')).id);
    expect(two[0].detail).toMatchObject({ consentAt: attest.date, attested: true });
    const api = await t.api('GET', `/api/contacts/${one.id}/consent`);
    expect(api.body.items[0]).toMatchObject({ action: 'import', text: attest.text });
  });

  it('mails subscribed imported contacts with a campaign (the gate accepts them)', async () => {
    const list = await given(app, t).list('Imported readers');
    await importCsv(t, 'email,name\nreader1@example.org,Reader One\n', { consent: attest, lists: [list] });
    const tpl = await given(app, t).template();
    const campaign = await given(app, t).campaign(tpl, [list]);
    expect((await t.api('POST', `/api/campaigns/${campaign.id}/start`)).status).toBe(202);
    const mail = await waitForMail(app, 'reader1@example.org', 1, 30_000);
    expect(mail.parsed.subject).toContain('Reader One');
  });

  it('lists imports newest first, and keeps them from other tenants', async () => {
    const r = await upload(t, 'email\nmine@example.org\n');
    await finished(t, r.body.id);
    const list = await t.api('GET', '/api/imports?limit=1');
    expect(list.body.items[0].id).toBe(r.body.id);
    expect(list.body.nextCursor).toBe(r.body.id);
    expect((await other.api('GET', `/api/imports/${r.body.id}`)).status).toBe(404);
    expect((await other.api('GET', '/api/imports')).body.items.map((i: any) => i.id)).not.toContain(r.body.id);
  });
});

describe('batches', () => {
  it('imports a file of several batches (written concurrently) with exact counts and progress', async () => {
    const n = 5_500;
    const lines = ['email,name,score'];
    for (let i = 1; i <= n; i++) lines.push(i % 1000 === 0 ? 'broken-address,X,1' : `bulk${i % 5_000}@example.org,Bulk ${i},${i}`);
    const view = await importCsv(t, `${lines.join('\n')}\n`, { consent: attest, mapping: { email: 'email', name: 'name', attributes: { score: { attribute: 'score', type: 'number' } } } });
    // rows 1000, 2000 … 5000 are broken; rows 5001–5500 repeat addresses bulk1…bulk500 (duplicates).
    expect(view.counts).toMatchObject({ rows: n, errors: 5, duplicates: 500, created: 4_995, subscribed: 4_995 });
    expect(view.progress).toMatchObject({ rows: n, percent: 100 });
    // the first 100 reports in row order: the broken rows, then the duplicates (code duplicate) up to the cap
    expect(view.rowErrors.map((e: any) => e.row)).toEqual([1000, 2000, 3000, 4000, 5000, ...Array.from({ length: 95 }, (_, i) => 5001 + i)]);
    expect(view.rowErrors[5]).toMatchObject({ row: 5001, line: 5002, column: 'email', code: 'duplicate' });
    expect(Number((await ownerQuery(app.db.url, "SELECT count(*) AS n FROM contacts WHERE tenant_id = $1 AND email_key LIKE 'bulk%'", [t.id]))[0].n)).toBe(4_995);
    expect(await contactOf(t.id, 'bulk4321@example.org')).toMatchObject({ attributes: { score: 4321 } });
  });
});

describe('resuming', () => {
  it('a retried job resumes after the last committed row of a running import whose worker died', async () => {
    const { deps } = app.pg;
    const csv = 'email\nresume1@example.org\nresume2@example.org\nresume3@example.org\n';
    const id = await deps.db.withTenant(t.id, async (c) => {
      const importId = await createImport(c, t.id, { dryRun: false, options: importOptions.parse({}), attestation: null, createdBy: 'test' });
      await appendChunk(c, t.id, importId, 0, Buffer.from(csv));
      await uploadComplete(c, importId, Buffer.byteLength(csv));
      return importId;
    });
    // As if a worker had committed rows 1–2 and died three minutes ago (no job was queued here: no worker saw it).
    await ownerQuery(app.db.url, `UPDATE imports SET status = 'running', rows_done = 2, counts = jsonb_set(counts, '{rows}', '2'), started_at = now() - interval '3 minutes', updated_at = now() - interval '3 minutes' WHERE id = $1`, [id]);
    const jobs = new ImportJobs(deps.db, deps.boss, deps.log, { ttlDays: 7, capPerDay: 3, activationsPerMinute: 60 });
    await jobs.run({ tenantId: t.id, importId: id });
    const view = (await t.api('GET', `/api/imports/${id}`)).body;
    expect(view).toMatchObject({ status: 'completed', progress: { rows: 3 }, counts: { rows: 3, created: 1 } });
    expect(await contactOf(t.id, 'resume2@example.org')).toBeNull();
    expect(await contactOf(t.id, 'resume3@example.org')).not.toBeNull();
    // A running import with recent progress is another worker's: a second job leaves it alone.
    await ownerQuery(app.db.url, `UPDATE imports SET status = 'running', updated_at = now() WHERE id = $1`, [id]);
    await jobs.run({ tenantId: t.id, importId: id });
    expect((await t.api('GET', `/api/imports/${id}`)).body.status).toBe('running');
  });
});

describe('never re-subscribing', () => {
  it('skips suppressed, complained, bounced, erased and unsubscribed addresses with the reason, and leaves them as they were', async () => {
    const g = given(app, t);
    const unsub = await g.subscribedContact('gone@example.org');
    await app.pg.deps.db.withTenant(t.id, (c) => setSubscription(c, t.id, unsub.id, unsub.lists[0], 'unsubscribed'));
    await app.pg.deps.db.withTenant(t.id, async (c) => {
      await addSuppression(c, t.id, 'complainer@example.org', 'marketing', 'complaint');
      await addSuppression(c, t.id, 'bouncer@example.org', 'all', 'hard_bounce');
      await addSuppression(c, t.id, 'blocked@example.org', 'all', 'manual');
    });
    const erased = await g.subscribedContact('erased@example.org');
    expect((await t.api('DELETE', `/api/contacts/${erased.id}`)).status).toBe(200);
    const csv = ['email', 'gone@example.org', 'complainer@example.org', 'Bouncer@Example.org', 'blocked@example.org', 'erased@example.org', 'fresh@example.org'].join('\n');
    const view = await importCsv(t, csv, { consent: attest });
    expect(view.counts).toMatchObject({ rows: 6, created: 1, subscribed: 1, skipped: { unsubscribed: 1, complained: 1, bounced: 1, suppressed: 1, erased: 1 } });
    expect(view.rowErrors.map((e: any) => [e.row, e.code])).toEqual([[1, 'unsubscribed'], [2, 'complained'], [3, 'bounced'], [4, 'suppressed'], [5, 'erased']]);
    expect((await subsOf(unsub.id)).map((s) => s.status)).toEqual(['unsubscribed']);
    expect((await eventsOf(unsub.id)).filter((e) => e.action === 'import')).toEqual([]);
    for (const a of ['complainer@example.org', 'bouncer@example.org', 'blocked@example.org', 'erased@example.org']) expect(await contactOf(t.id, a)).toBeNull();
  });

  it('never re-subscribes a row the source marks unsubscribed, cleaned or blocklisted: a later import of the address is skipped', async () => {
    const csv = 'email,status\nsrc-unsub@example.org,unsubscribed\nsrc-clean@example.org,cleaned\nsrc-block@example.org,blocklisted\n';
    const view = await importCsv(t, csv, { consent: attest });
    expect(view.counts).toMatchObject({ rows: 3, created: 0, subscribed: 0, optedOut: 3, skipped: { unsubscribed: 1, bounced: 1, suppressed: 1 } });
    // The new unsubscribed address is held by a pending contact unsubscribed from the row's lists; the others by a suppression.
    const held = await contactOf(t.id, 'src-unsub@example.org');
    expect(held).toMatchObject({ status: 'pending' });
    expect((await subsOf(held.id)).map((s) => s.status)).toEqual(['unsubscribed']);
    expect(await contactOf(t.id, 'src-clean@example.org')).toBeNull();
    const sup = await ownerQuery<{ scope: string; reason: string; source: any }>(app.db.url,
      `SELECT scope, reason, source FROM suppressions WHERE tenant_id = $1 AND address = ANY($2) ORDER BY reason`, [t.id, ['src-clean@example.org', 'src-block@example.org']]);
    expect(sup).toMatchObject([
      { scope: 'marketing', reason: 'blocklisted', source: { type: 'import', importId: view.id, row: 3, sourceStatus: 'blocklisted' } },
      { scope: 'all', reason: 'hard_bounce', source: { type: 'import', importId: view.id, row: 2, sourceStatus: 'cleaned' } },
    ]);
    const again = await importCsv(t, 'email\nsrc-unsub@example.org\nsrc-clean@example.org\nsrc-block@example.org\n', { consent: attest });
    expect(again.counts).toMatchObject({ created: 0, subscribed: 0, unconfirmed: 0, skipped: { unsubscribed: 1, bounced: 1, suppressed: 1 } });
    expect((await subsOf(held.id)).map((s) => s.status)).toEqual(['unsubscribed']);
    expect(await contactOf(t.id, 'src-clean@example.org')).toBeNull();
  });

  it('applies a Mailchimp unsubscribed or cleaned export to contacts it already has: lists unsubscribed, opt_out records of source import', async () => {
    await importCsv(t, 'email\nalice@example.org\ncarol@example.org\n', { consent: attest });
    const alice = await contactOf(t.id, 'alice@example.org');
    expect((await subsOf(alice.id)).map((s) => s.status)).toEqual(['subscribed']);
    const head = '"Email Address","First Name",OPTIN_TIME,CONFIRM_TIME,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_REASON,LAST_CHANGED,LEID,EUID';
    const view = await importCsv(t, [head, 'alice@example.org,Alice,"2021-06-01 09:00:00","2021-06-01 09:05:00","2023-02-03 04:05:06",Spring,"No longer interested","2023-02-03 04:05:06",1,a'].join('\r\n'),
      { preset: 'mailchimp', consent: { source: 'Mailchimp export' } });
    expect(view.counts).toMatchObject({ rows: 1, optedOut: 1, subscribed: 0, skipped: { unsubscribed: 1 } });
    expect(view.rowErrors[0]).toMatchObject({ row: 1, code: 'unsubscribed', message: expect.stringMatching(/unsubscribed from 1 list/) });
    expect((await subsOf(alice.id)).map((s) => s.status)).toEqual(['unsubscribed']);
    const optOut = (await eventsOf(alice.id)).find((e) => e.action === 'opt_out');
    expect(optOut).toMatchObject({ source: 'import', detail: { importId: view.id, row: 1, from: 'subscribed', sourceStatus: 'unsubscribed', sourceStatusAt: '2023-02-03T04:05:06.000Z' } });
    const cleaned = await importCsv(t, ['"Email Address",CLEAN_TIME,CLEAN_CAMPAIGN_TITLE', 'carol@example.org,"2023-03-01 00:00:00",Spring'].join('\n'), { preset: 'mailchimp', consent: attest });
    expect(cleaned.counts).toMatchObject({ optedOut: 1, skipped: { bounced: 1 } });
    const carol = await contactOf(t.id, 'carol@example.org');
    expect((await subsOf(carol.id)).map((s) => s.status)).toEqual(['unsubscribed']);
    expect((await eventsOf(carol.id)).map((e) => e.action)).toEqual(['import', 'opt_out', 'suppress']);
    const again = await importCsv(t, 'email\ncarol@example.org\n', { consent: attest });
    expect(again.counts).toMatchObject({ subscribed: 0, skipped: { bounced: 1 } });
  });

  it('applies listmonk disabled and blocklisted rows to contacts it already has', async () => {
    await importCsv(t, 'email\nlm-dis@example.org\nlm-block@example.org\n', { consent: attest });
    const csv = ['uuid,email,name,attributes,status,created_at,updated_at',
      'u1,lm-dis@example.org,Dis,{},disabled,2022-01-15 10:20:30 +0000 UTC,2022-01-15 10:20:30 +0000 UTC',
      'u2,lm-block@example.org,Block,{},blocklisted,2022-01-15 10:20:30 +0000 UTC,2022-01-15 10:20:30 +0000 UTC'].join('\n');
    const view = await importCsv(t, csv, { preset: 'listmonk', consent: { source: 'listmonk' } });
    expect(view.counts).toMatchObject({ optedOut: 2, skipped: { unsubscribed: 1, suppressed: 1 } });
    for (const a of ['lm-dis@example.org', 'lm-block@example.org']) expect((await subsOf((await contactOf(t.id, a)).id)).map((s) => s.status)).toEqual(['unsubscribed']);
  });

  it('keeps a row the source marks pending unconfirmed, even with an attestation', async () => {
    const view = await importCsv(t, 'email,status\nsrc-pending@example.org,pending\nsrc-unconf@example.org,unconfirmed\n', { consent: attest });
    expect(view.counts).toMatchObject({ created: 2, subscribed: 0, unconfirmed: 2 });
    const c = await contactOf(t.id, 'src-pending@example.org');
    expect(c).toMatchObject({ status: 'pending' });
    expect((await subsOf(c.id)).map((s) => s.status)).toEqual(['unconfirmed']);
    expect((await eventsOf(c.id))[0].detail).toMatchObject({ to: 'unconfirmed', attested: false, attestation: null });
  });

  it('reports a manual suppression with reason complained as complained', async () => {
    await app.pg.deps.db.withTenant(t.id, (c) => addSuppression(c, t.id, 'manual-complained@example.org', 'marketing', 'complained'));
    const view = await importCsv(t, 'email\nmanual-complained@example.org\n', { consent: attest });
    expect(view.counts.skipped).toMatchObject({ complained: 1, suppressed: 0 });
  });
});

describe('dry runs and duplicates', () => {
  it('a dry run reports what would happen and writes nothing but its report', async () => {
    await given(app, t).subscribedContact('dry-existing@example.org');
    const before = await Promise.all(['contacts', 'subscriptions', 'consent_events', 'messages'].map((x) => countRows(x, t.id)));
    const csv = 'email\ndry-new@example.org\ndry-existing@example.org\nnot-an-address\ndry-new@example.org\n';
    const view = await importCsv(t, csv, { dryRun: true, consent: attest, sendActivation: true });
    expect(view).toMatchObject({ status: 'completed', dryRun: true });
    expect(view.counts).toMatchObject({ rows: 4, created: 1, subscribed: 1, unchanged: 1, duplicates: 1, errors: 1 });
    expect(view.rowErrors[0]).toMatchObject({ row: 3, line: 4, column: 'email' });
    const after = await Promise.all(['contacts', 'subscriptions', 'consent_events', 'messages'].map((x) => countRows(x, t.id)));
    expect(after).toEqual(before);
  });

  it('dedupes within the file and against existing contacts; updates them only when asked', async () => {
    await given(app, t).pendingContact('known@example.org', { name: 'Old Name' });
    const csv = 'email,name\nknown@example.org,New Name\ntwice@example.org,First\nTWICE@example.org,Second\n';
    const view = await importCsv(t, csv);
    expect(view.counts).toMatchObject({ rows: 3, created: 1, duplicates: 1, updated: 0 });
    expect(view.rowErrors).toEqual([expect.objectContaining({ row: 3, line: 4, column: 'email', code: 'duplicate' })]);
    expect((await contactOf(t.id, 'known@example.org')).name).toBe('Old Name');
    expect((await contactOf(t.id, 'twice@example.org')).name).toBe('First');
    const again = await importCsv(t, 'email,name\nknown@example.org,New Name\n', { updateExisting: true });
    expect(again.counts).toMatchObject({ created: 0, updated: 1 });
    expect((await contactOf(t.id, 'known@example.org')).name).toBe('New Name');
    expect(Number((await ownerQuery(app.db.url, "SELECT count(*) AS n FROM contacts WHERE tenant_id = $1 AND email_key = 'twice@example.org'", [t.id]))[0].n)).toBe(1);
  });

  it('lists row errors in row order, whichever step found them', async () => {
    // row 1: an unknown list (found when the batch is judged); row 2: a bad address (found by the parser)
    const view = await importCsv(t, 'email,lists\norder1@example.org,Nope\nnot-an-address,\norder1@example.org,\n');
    expect(view.rowErrors.map((e: any) => [e.row, e.code])).toEqual([[1, 'unknown_list'], [2, 'invalid_email'], [3, 'duplicate']]);
  });

  it('matches the lists column by name; an unknown name is a row error', async () => {
    const vip = await given(app, t).list('VIP');
    const view = await importCsv(t, 'email,lists\nvip1@example.org,vip\nvip2@example.org,Nope\n', { consent: attest });
    expect(view.counts).toMatchObject({ created: 1, errors: 1 });
    expect(view.rowErrors).toEqual([expect.objectContaining({ row: 2, column: 'lists', code: 'unknown_list' })]);
    expect((await subsOf((await contactOf(t.id, 'vip1@example.org')).id))).toEqual([{ list_id: vip, status: 'subscribed' }]);
  });
});

describe('activation mail', () => {
  it('mails unconfirmed rows through the normal activation path, at the capped rate', async () => {
    const addresses = ['act1@example.org', 'act2@example.org', 'act3@example.org'];
    const view = await importCsv(t, `email\n${addresses.join('\n')}\n`, { sendActivation: true });
    expect(view.counts).toMatchObject({ unconfirmed: 3, activations: 3 });
    const arrived: number[] = [];
    let first = null;
    for (const a of addresses) { const m = await waitForMail(app, a, 1, 20_000); first ??= m; arrived.push(Date.now()); }
    // 30 a minute: one every 2 s, so the third arrives about 4 s after the first.
    expect(arrived[2] - arrived[0]).toBeGreaterThanOrEqual(3_000);
    expect(first?.parsed.text).toMatch(/\/a\//);
    const due = await ownerQuery<{ s: number }>(app.db.url, `SELECT extract(epoch FROM max(m.created_at) - min(m.created_at))::float8 AS s
      FROM messages m WHERE m.tenant_id = $1 AND m.kind = 'activation' AND m.recipient = ANY($2)`, [t.id, addresses]);
    expect(due[0].s).toBeLessThan(2); // all queued at once; paced by their dispatch time
    expect(mailsTo(app, 'act1@example.org')).toHaveLength(1);
  });
});

describe('activation pacing per tenant', () => {
  it('paces the activations of a tenant\'s imports together, and the API ceiling does not count them', async () => {
    const tt = await app.tenant();
    const first = await importCsv(tt, 'email\npace1@example.org\npace2@example.org\n', { sendActivation: true });
    const second = await importCsv(tt, 'email\npace3@example.org\npace4@example.org\n', { sendActivation: true });
    expect([first.counts.activations, second.counts.activations]).toEqual([2, 2]);
    const rows = await ownerQuery<{ recipient: string; due: string; import_id: string }>(app.db.url, `SELECT recipient, data->>'dueAt' AS due, data->>'importId' AS import_id
      FROM messages WHERE tenant_id = $1 AND kind = 'activation' ORDER BY recipient`, [tt.id]);
    expect(rows.map((r) => r.import_id)).toEqual([first.id, first.id, second.id, second.id]);
    const due = rows.map((r) => Date.parse(r.due));
    // 30 a minute for the tenant: the second import's mails follow the first's, 2 s apart (not from its own start).
    for (let i = 1; i < due.length; i++) expect(due[i] - due[i - 1]).toBeGreaterThanOrEqual(1_999);
    await app.pg.deps.db.withTenant(tt.id, (c) => assertTenantUnderCeiling(c, tt.id, 1));
  });
});

describe('refusals', () => {
  it('413 for a declared or an actual body over IMPORT_MAX_BYTES, and nothing is kept', async () => {
    const before = await countRows('imports', t.id);
    const big = `email\n${'x'.repeat(MAX_BYTES)}\n`;
    expect((await upload(t, big)).status).toBe(413);
    expect((await upload(t, big, undefined, 'multipart')).status).toBe(413);
    expect(await countRows('imports', t.id)).toBe(before);
    expect(await ownerQuery(app.db.url, 'SELECT i.status, i.bytes, c.seq, length(c.data) FROM import_chunks c JOIN imports i ON i.id = c.import_id WHERE c.tenant_id = $1', [t.id])).toEqual([]);
  });

  it('415 for a body that is not CSV or multipart', async () => {
    const r = await upload(t, '{"email":"a@b.c"}', undefined, 'raw', { 'content-type': 'application/json' });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('unsupported_media_type');
  });

  it.each([
    ['options that are not JSON', 'nope', 'options'],
    ['an attestation without a source', { consent: { text: 'x' } }, 'options.consent.source'],
    ['an unknown option', { everything: true }, 'options.everything'],
    ['a bad delimiter', { delimiter: '|' }, 'options.delimiter'],
    ['a mapping without email', { mapping: { name: 'n' } }, 'options.mapping.email'],
    ['a list id that is not a uuid', { lists: ['x'] }, 'options.lists[0]'],
    ['an unknown list', { lists: ['00000000-0000-4000-8000-000000000000'] }, 'options.lists[0]'],
  ])('422 for %s, naming the field', async (_what, options, field) => {
    const before = await countRows('imports', t.id);
    const query = typeof options === 'string' ? `?options=${options}` : `?options=${encodeURIComponent(JSON.stringify(options))}`;
    const res = await fetch(`${app.url}/api/imports${query}`, { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'text/csv' }, body: 'email\na@example.org\n' });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(422);
    expect(body.error.field).toBe(field);
    expect(await countRows('imports', t.id)).toBe(before);
  });

  it('415 for a compressed body or a charset it cannot read; a declared windows-1252 or iso-8859-1 is the encoding', async () => {
    const before = await countRows('imports', t.id);
    const gz = await upload(t, 'email\ngz@example.org\n', undefined, 'raw', { 'content-encoding': 'gzip' });
    expect([gz.status, gz.body.error.code, gz.body.error.field]).toEqual([415, 'unsupported_encoding', 'content-encoding']);
    const u16 = await upload(t, 'email\nu16@example.org\n', undefined, 'raw', { 'content-type': 'text/csv; charset=utf-16' });
    expect([u16.status, u16.body.error.code, u16.body.error.field]).toEqual([415, 'unsupported_encoding', 'content-type']);
    expect(u16.body.error.message).toContain('utf-16');
    const clash = await upload(t, 'email\nclash@example.org\n', { encoding: 'utf-8' }, 'raw', { 'content-type': 'text/csv; charset=iso-8859-1' });
    expect([clash.status, clash.body.error.field]).toEqual([422, 'options.encoding']);
    expect(await countRows('imports', t.id)).toBe(before);
    // é as the single byte 0xE9: detection alone would say windows-1252; the declared charset is what is used
    const r = await fetch(`${app.url}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'text/csv; charset="ISO-8859-1"' },
      body: Buffer.concat([Buffer.from('email,name\nlatin@example.org,Ren'), Buffer.from([0xe9]), Buffer.from('\n')]) });
    expect(r.status).toBe(202);
    const view = await finished(t, (await r.json()).id);
    expect(view).toMatchObject({ status: 'completed', encoding: 'latin1' });
    expect((await contactOf(t.id, 'latin@example.org')).name).toBe('René');
  });

  it('422 for multipart without a file, for options after the file and for an unknown part; nothing is kept', async () => {
    const before = await countRows('imports', t.id);
    const noFile = new FormData();
    noFile.append('options', '{}');
    let res = await fetch(`${app.url}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${t.key}` }, body: noFile });
    expect(res.status).toBe(422);
    expect((await res.json()).error.field).toBe('file');
    const late = new FormData();
    late.append('file', new Blob(['email\nlate@example.org\n']), 'c.csv');
    late.append('options', '{"dryRun":true}');
    res = await fetch(`${app.url}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${t.key}` }, body: late });
    expect(res.status).toBe(422);
    expect((await res.json()).error.field).toBe('options');
    const extra = new FormData();
    extra.append('options', '{}');
    extra.append('file', new Blob(['email\nextra@example.org\n']), 'c.csv');
    extra.append('comment', 'hello');
    res = await fetch(`${app.url}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${t.key}` }, body: extra });
    expect(res.status).toBe(422);
    expect((await res.json()).error.field).toBe('comment');
    expect(await contactOf(t.id, 'late@example.org')).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await countRows('imports', t.id)).toBe(before);
    expect(await countRows('import_chunks', t.id)).toBe(0);
  });

  it('refuses consent dates in the future: a row\'s is a row error naming the column, the attestation\'s a 422', async () => {
    const soon = new Date(Date.now() + 60_000).toISOString();
    const view = await importCsv(t, `email,consent_date\nfuture@example.org,2099-01-01\nskew@example.org,${soon}\n`, { consent: attest });
    expect(view.counts).toMatchObject({ errors: 1, subscribed: 1 });
    expect(view.rowErrors).toEqual([expect.objectContaining({ row: 1, column: 'consent_date', code: 'invalid_date' })]);
    expect(await contactOf(t.id, 'future@example.org')).toBeNull();
    const r = await upload(t, 'email\nfuture2@example.org\n', { consent: { ...attest, date: '2099-01-01' } });
    expect(r.status).toBe(422);
    expect(r.body.error.field).toBe('options.consent.date');
  });

  it('refuses an attestation that could subscribe nobody (no date, no consent date column): 422 with a mapping, a failed import without one', async () => {
    const noDate = { source: attest.source };
    const before = await countRows('imports', t.id);
    const mapped = await upload(t, 'email,name\nundated1@example.org,A\n', { dryRun: true, mapping: { email: 'email', name: 'name' }, consent: noDate }, 'multipart');
    expect(mapped.status, JSON.stringify(mapped.body)).toBe(422);
    expect(mapped.body.error).toMatchObject({ field: 'options.consent.date' });
    expect(mapped.body.error.message).toMatch(/nobody would arrive subscribed/);
    expect(await countRows('imports', t.id)).toBe(before);

    // Headers recognised by name: the job decides once it has read them, before any row.
    const auto = await importCsv(t, 'email,name\nundated2@example.org,B\n', { consent: noDate });
    expect(auto).toMatchObject({ status: 'failed', error: { code: 'invalid_option', field: 'options.consent.date' }, counts: { rows: 0, created: 0 } });
    expect(await contactOf(t.id, 'undated2@example.org')).toBeNull();

    // A consent date column (mapped, or found by name) carries the dates: accepted, its rows subscribed.
    const column = await importCsv(t, 'email,optin\nundated3@example.org,2024-03-01\n', { mapping: { email: 'email', consentDate: 'optin' }, consent: noDate });
    expect(column).toMatchObject({ status: 'completed', counts: { subscribed: 1 } });
    const named = await importCsv(t, 'email,consent_date\nundated4@example.org,2024-03-01\nundated5@example.org,\n', { consent: noDate });
    expect(named).toMatchObject({ status: 'completed', counts: { subscribed: 1, unconfirmed: 1 } });
  });

  it('fails an import whose file has no address column, with the code and field', async () => {
    const view = await importCsv(t, 'name,city\nAnn,Berlin\n');
    expect(view).toMatchObject({ status: 'failed', error: { code: 'no_email_column' } });
  });

  it('a whole-file error late in the file: the rows before it are imported and reported, and the failure says so with its line', async () => {
    const rowsOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}@example.org,N\n`).join('');
    // 5,000 good rows (batches of 2,000 in flight), then an unclosed quote at line 5012
    const quote = await importCsv(t, `email,name\n${rowsOf('late', 5000)}${Array.from({ length: 10 }, (_, i) => `bad${i},N\n`).join('')}x@example.org,"open\n${rowsOf('after', 50)}`);
    expect(quote).toMatchObject({ status: 'failed', error: { code: 'unclosed_quote', line: 5012, partial: true } });
    expect(quote.error.message).toMatch(/line 5012.*5010 rows before it were imported/);
    expect(quote.counts).toMatchObject({ rows: 5010, created: 5000, errors: 10 });
    expect(quote.rowErrors.map((e: any) => e.row)).toEqual([5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008, 5009, 5010]);
    expect(Number((await ownerQuery(app.db.url, "SELECT count(*) AS n FROM contacts WHERE tenant_id = $1 AND email_key LIKE 'late%'", [t.id]))[0].n)).toBe(5000);
    expect(await contactOf(t.id, 'after0@example.org')).toBeNull();
    // valid UTF-8 first (Zoë decides utf-8), a stray Latin-1 byte at row 4,502: the 4,501 rows before it are imported, nothing is mis-decoded
    const bytes = Buffer.concat([Buffer.from(`email,name\nzoe@example.org,Zoë\n${rowsOf('enc', 4500)}rene@example.org,Ren`), Buffer.from([0xe9]), Buffer.from(`\n${rowsOf('encafter', 20)}`)]);
    const r = await fetch(`${app.url}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'text/csv' }, body: bytes });
    expect(r.status).toBe(202);
    const enc = await finished(t, (await r.json()).id);
    expect(enc).toMatchObject({ status: 'failed', encoding: 'utf-8', error: { code: 'invalid_encoding', field: 'encoding', line: 4503, partial: true }, counts: { created: 4501 } });
    expect(enc.error.message).toContain(`at byte ${bytes.indexOf(0xe9)}`);
    expect((await contactOf(t.id, 'zoe@example.org')).name).toBe('Zoë');
    expect(await contactOf(t.id, 'rene@example.org')).toBeNull();
    expect(await contactOf(t.id, 'encafter0@example.org')).toBeNull();
  });

  it('an upload the client abandons is logged once at info, never as a server error, and nothing is kept', async () => {
    const before = await countRows('imports', t.id);
    const info = vi.spyOn(app.pg.deps.log, 'info');
    const error = vi.spyOn(app.pg.deps.log, 'error');
    try {
      const req = http.request(`${app.url}/api/imports`, { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'text/csv', 'content-length': '100000' } });
      req.on('error', () => undefined);
      req.write(`email\n${'gone@example.org\n'.repeat(100)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      req.destroy();
      await waitFor(async () => info.mock.calls.some((c) => String(c[1]).includes('abandoned')), { timeout: 5_000, message: () => 'no info log' });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(info.mock.calls.filter((c) => String(c[1]).includes('abandoned'))).toHaveLength(1);
      expect(error).not.toHaveBeenCalled();
      expect(await countRows('imports', t.id)).toBe(before);
    } finally {
      info.mockRestore();
      error.mockRestore();
    }
  });

  it('needs the subscribers scope', async () => {
    const campaignsOnly = await app.tenant({ scopes: ['campaigns'] });
    expect((await upload(campaignsOnly, 'email\na@example.org\n')).status).toBe(403);
  });
});

describe('exports of other systems', () => {
  it('imports a listmonk export: enabled rows subscribed with created_at as the consent date, blocklisted skipped', async () => {
    const csv = [
      'uuid,email,name,attributes,status,created_at,updated_at',
      '5e0b8c3a-1111-4a4a-9c1b-000000000001,lm1@example.org,Listmonk One,"{""city"": ""Berlin"", ""plan"": ""pro""}",enabled,2022-01-15 10:20:30.123456 +0000 UTC,2022-01-15 10:20:30 +0000 UTC',
      '5e0b8c3a-1111-4a4a-9c1b-000000000002,lm2@example.org,Listmonk Two,{},blocklisted,2022-01-16 10:20:30 +0000 UTC,2022-01-16 10:20:30 +0000 UTC',
    ].join('\n');
    const view = await importCsv(t, csv, { preset: 'listmonk', consent: { source: 'listmonk signup form' } });
    expect(view.counts).toMatchObject({ rows: 2, created: 1, subscribed: 1, skipped: { suppressed: 1 } });
    const c = await contactOf(t.id, 'lm1@example.org');
    expect(c).toMatchObject({ status: 'active', name: 'Listmonk One', attributes: { city: 'Berlin', plan: 'pro' } });
    expect((await eventsOf(c.id))[0].detail).toMatchObject({ consentAt: '2022-01-15T10:20:30.123Z', attested: true });
  });

  it('imports a Mailchimp export: CONFIRM_TIME and CONFIRM_IP are the consent facts', async () => {
    const csv = [
      '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES',
      'mc1@example.org,Mail,Chimp,2,"2021-06-01 09:00:00",192.0.2.10,"2021-06-01 09:05:00",192.0.2.11,,,,,,,,"2021-06-01 09:05:00",123,abc,',
    ].join('\r\n');
    const view = await importCsv(t, csv, { preset: 'mailchimp', consent: { source: 'Mailchimp hosted signup form' } });
    expect(view.counts).toMatchObject({ rows: 1, created: 1, subscribed: 1 });
    const c = await contactOf(t.id, 'mc1@example.org');
    expect(c).toMatchObject({ status: 'active', name: 'Mail Chimp' });
    const [e] = await eventsOf(c.id);
    expect(e).toMatchObject({ ip: '192.0.2.11', detail: { consentAt: '2021-06-01T09:05:00.000Z' } });
  });

  it('takes a mapping given with a preset key by key: {"preset":"mailchimp","mapping":{"lists":"TAGS"}} needs no email', async () => {
    const news = await given(app, t).list('MC Newsletter');
    const csv = '"Email Address","First Name","Last Name",TAGS\r\nmctags@example.org,Tag,Ged,"""MC Newsletter"""\r\n';
    const view = await importCsv(t, csv, { preset: 'mailchimp', mapping: { lists: 'TAGS' }, consent: { source: 'Mailchimp hosted signup form', date: '2024-01-01' } }, 'multipart');
    expect(view, JSON.stringify(view.rowErrors)).toMatchObject({ status: 'completed', counts: { created: 1, subscribed: 1, errors: 0 } });
    expect(await subsOf((await contactOf(t.id, 'mctags@example.org')).id)).toEqual([{ list_id: news, status: 'subscribed' }]);
  });
});
