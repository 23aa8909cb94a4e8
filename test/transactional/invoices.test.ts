// POST /api/invoices over real HTTP, PostgreSQL and SMTP: the invoice's content, its totals, the
// idempotency rules, association and suppression, and header injection.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { sleep } from '../support/wait.js';
import { invoice, mailsTo, suppress, waitForMessage } from './helpers.js';

const { app, t } = useApp();

const count = async (sql: string, params: unknown[] = []) => Number((await ownerQuery<{ n: string }>(app.db.url, sql, params))[0].n);

describe('invoice content', () => {
  it('sends lines, totals and amounts formatted for en/EUR', async () => {
    await given(app, t).pendingContact('ann@example.org', { name: 'Ann Smith' });
    const r = await t.api('POST', '/api/invoices', invoice('T-EN-1', 'ann@example.org', {
      lines: [{ description: 'Annual plan', quantity: 1, unitAmount: 100_000 }, { description: 'Extra seat', quantity: 2, unitAmount: 11_725 }],
      taxes: [{ name: 'VAT', rate: 20, amount: 24_690 }], total: 148_140,
    }));
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ kind: 'invoice', template: 'invoice', status: 'queued', recipient: 'ann@example.org', purpose: 'invoice:T-EN-1' });
    const done = await waitForMessage(t, r.body.id);
    expect(done.status).toBe('sent');
    const [mail] = mailsTo(app.sink.received, 'ann@example.org');
    const text = mail.parsed.text ?? '';
    expect(mail.parsed.subject).toBe('Invoice T-EN-1 from Acme');
    expect(text).toContain('Hello Ann Smith,');
    expect(text).toMatch(/Annual plan\s+1 × €1,000\.00 = €1,000\.00/);
    expect(text).toMatch(/Extra seat\s+2 × €117\.25 = €234\.50/);
    expect(text).toContain('Subtotal: €1,234.50');
    expect(text).toContain('VAT (20%): €246.90');
    expect(text).toContain('Total (EUR): €1,481.40');
    expect(text).toContain('May 31, 2024');
    const html = String(mail.parsed.html);
    for (const s of ['Annual plan', 'Extra seat', '€117.25', '€234.50', '€1,234.50', '€246.90', '€1,481.40']) expect(html).toContain(s);
    // Identity, threading and the record: From on the tenant, a real reply-to, the recorded Message-ID.
    expect(mail.parsed.from?.value[0].address).toBe('news@acme.org');
    expect(mail.parsed.replyTo?.value[0].address).toBe('support@acme.org');
    expect(mail.parsed.messageId).toBe(done.messageId);
    expect(mail.parsed.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail.parsed.headers.has('list-unsubscribe')).toBe(false);
    expect(done.subject).toBe('Invoice T-EN-1 from Acme');
    expect(done.body.text).toContain('€1,481.40');
  });

  it('formats for de-DE and for a currency without decimals', async () => {
    await given(app, t).pendingContact('bert@example.org');
    const de = await t.api('POST', '/api/invoices', invoice('T-DE-1', 'bert@example.org', { locale: 'de-de' }));
    const jp = await t.api('POST', '/api/invoices', invoice('T-JP-1', 'bert@example.org', {
      currency: 'JPY', lines: [{ description: 'Tea', quantity: 1, unitAmount: 1_235 }], taxes: [], total: 1_235,
    }));
    expect([de.status, jp.status]).toEqual([202, 202]);
    await waitForMessage(t, de.body.id, 'sent');
    await waitForMessage(t, jp.body.id, 'sent');
    const mails = mailsTo(app.sink.received, 'bert@example.org');
    const deText = mails.find((m) => m.parsed.subject?.includes('T-DE-1'))?.parsed.text ?? '';
    expect(deText).toContain('Gesamtbetrag (EUR): 1.234,50\u00a0€');
    expect(deText).toContain('2 × 117,25\u00a0€ = 234,50\u00a0€');
    expect(deText).toContain('31. Mai 2024');
    const jpText = mails.find((m) => m.parsed.subject?.includes('T-JP-1'))?.parsed.text ?? '';
    expect(jpText).toContain('Total (JPY): ¥1,235');
  });

  it('sends whatever the newsletter status (an unsubscribed, never-confirmed contact)', async () => {
    const c = await given(app, t).pendingContact('nonews@example.org');
    await ownerQuery(app.db.url, `INSERT INTO subscriptions (tenant_id, contact_id, list_id, status)
      SELECT $1, $2, id, 'unsubscribed' FROM lists WHERE tenant_id = $1 AND is_default`, [t.id, c.id]);
    const r = await t.api('POST', '/api/invoices', invoice('T-NONEWS', { id: c.id }));
    expect(r.status).toBe(202);
    expect((await waitForMessage(t, r.body.id)).status).toBe('sent');
  });
});

describe('invoice validation', () => {
  it('refuses a total that is not the lines plus taxes, with the difference, storing nothing', async () => {
    await given(app, t).pendingContact('carl@example.org');
    const before = await count('SELECT count(*) AS n FROM messages');
    const r = await t.api('POST', '/api/invoices', invoice('T-BAD-TOTAL', 'carl@example.org', { total: 123_400 }));
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'total_mismatch', field: 'total', expected: 123_450, got: 123_400, difference: -50 });
    expect(await count('SELECT count(*) AS n FROM messages')).toBe(before);
  });

  it.each([
    ['currency', { currency: 'XYZ' }],
    ['currency', { currency: 'eur' }],
    ['locale', { locale: 'not a locale' }],
    ['issuedAt', { issuedAt: '2024-02-30' }],
    ['issuedAt', { issuedAt: 'yesterday' }],
    ['lines', { lines: [] }],
    ['lines[0].quantity', { lines: [{ description: 'x', quantity: 1.5, unitAmount: 100 }], total: 150 }],
    ['lines[0].unitAmount', { lines: [{ description: 'x', quantity: 1, unitAmount: 10.5 }] }],
    ['lines[0].description', { lines: [{ description: '', quantity: 1, unitAmount: 100 }] }],
    ['total', { total: 1e300 }],
    ['contact', { contact: 'not-an-address' }],
    ['surprise', { surprise: 1 }],
  ])('refuses a bad %s', async (field, over) => {
    const r = await t.api('POST', '/api/invoices', invoice('T-INVALID', 'carl@example.org', over));
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('invalid');
    expect(r.body.error.field === field || String(r.body.error.message).includes(field)).toBe(true);
  });

  it('refuses header injection in the transactionId (it reaches the Subject) and stores nothing', async () => {
    const before = await count('SELECT count(*) AS n FROM messages');
    for (const id of ['T-1\r\nBcc: victim@example.net', 'T-2\nX-Evil: 1', 'T-3\r']) {
      const r = await t.api('POST', '/api/invoices', invoice(id, 'carl@example.org'));
      expect(r.status).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'invalid', field: 'transactionId' });
    }
    const viaContact = await t.api('POST', '/api/invoices', invoice('T-4', 'carl@example.org\r\nBcc: victim@example.net'));
    expect(viaContact.status).toBe(422);
    expect(viaContact.body.error.field).toBe('contact');
    expect(await count('SELECT count(*) AS n FROM messages')).toBe(before);
  });
});

describe('idempotency', () => {
  it('returns the first message for the same payload (200) and refuses a different one (409)', async () => {
    await given(app, t).pendingContact('dora@example.org');
    const body = invoice('T-IDEM-1', 'dora@example.org', { locale: 'en-us' });
    const first = await t.api('POST', '/api/invoices', body);
    expect(first.status).toBe(202);
    const again = await t.api('POST', '/api/invoices', { ...body, contact: { email: 'Dora@Example.org' }, locale: 'EN-us' }); // same invoice, other spellings
    const reordered = await t.api('POST', '/api/invoices', Object.fromEntries(Object.entries(body).reverse()));
    expect([again.status, reordered.status]).toEqual([200, 200]);
    expect(again.body.id).toBe(first.body.id);
    expect(reordered.body.id).toBe(first.body.id);
    const changed = await t.api('POST', '/api/invoices', { ...body, lines: [{ description: 'Other', quantity: 1, unitAmount: 123_450 }] });
    expect(changed.status).toBe(409);
    expect(changed.body.error).toMatchObject({ code: 'idempotency_conflict', field: 'transactionId', messageId: first.body.id });
    await waitForMessage(t, first.body.id, 'sent');
    const replayAfterSend = await t.api('POST', '/api/invoices', body);
    expect(replayAfterSend.status).toBe(200);
    expect(replayAfterSend.body).toMatchObject({ id: first.body.id, status: 'sent' });
    await sleep(300);
    expect(mailsTo(app.sink.received, 'dora@example.org').filter((m) => m.parsed.subject?.includes('T-IDEM-1'))).toHaveLength(1);
  });

  it('sends one email for five identical concurrent requests', async () => {
    await given(app, t).pendingContact('eve@example.org');
    const body = invoice('T-RACE-1', 'eve@example.org');
    const rs = await Promise.all(Array.from({ length: 5 }, () => t.api('POST', '/api/invoices', body)));
    expect(rs.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 202]);
    expect(new Set(rs.map((r) => r.body.id)).size).toBe(1);
    await waitForMessage(t, rs[0].body.id, 'sent');
    await sleep(300);
    expect(mailsTo(app.sink.received, 'eve@example.org')).toHaveLength(1);
    expect(await count(`SELECT count(*) AS n FROM messages WHERE purpose = 'invoice:T-RACE-1'`)).toBe(1);
  });

  it('keeps transaction ids per tenant', async () => {
    const other = await app.tenant({ name: 'Other', fromEmail: 'billing@other.org', replyTo: 'help@other.org' });
    await given(app, other).pendingContact('dora@example.org');
    const r = await other.api('POST', '/api/invoices', invoice('T-IDEM-1', 'dora@example.org', { total: 123_450 }));
    expect(r.status).toBe(202);
    const foreign = await t.api('GET', `/api/messages/${r.body.id}`);
    expect(foreign.status).toBe(404);
  });
});

describe('association and suppression', () => {
  it('refuses an unknown address or id with no_association, records the refusal, sends nothing', async () => {
    const byEmail = await t.api('POST', '/api/invoices', invoice('T-STRANGER', 'stranger@example.org'));
    expect(byEmail.status).toBe(422);
    expect(byEmail.body.error).toMatchObject({ code: 'no_association', field: 'contact' });
    const rec = (await t.api('GET', `/api/messages/${byEmail.body.error.messageId}`)).body;
    expect(rec).toMatchObject({ kind: 'invoice', status: 'suppressed', reason: 'no_association', recipient: 'stranger@example.org' });
    expect(rec.events.map((e: any) => [e.type, e.detail.reason])).toEqual([['suppressed', 'no_association']]);
    const byId = await t.api('POST', '/api/invoices', invoice('T-STRANGER-ID', { id: '00000000-0000-4000-8000-000000000000' }));
    expect(byId.status).toBe(422);
    expect(byId.body.error.code).toBe('no_association');
    expect(await count(`SELECT count(*) AS n FROM send_queue sq JOIN messages m ON m.id = sq.message_id WHERE m.reason = 'no_association'`)).toBe(0);
    // The refusal does not hold the transaction id: once the contact exists the invoice goes out.
    await given(app, t).pendingContact('stranger@example.org');
    const later = await t.api('POST', '/api/invoices', invoice('T-STRANGER', 'stranger@example.org'));
    expect(later.status).toBe(202);
    expect((await waitForMessage(t, later.body.id)).status).toBe('sent');
    expect(mailsTo(app.sink.received, 'stranger@example.org')).toHaveLength(1);
  });

  it('records a suppressed (hard-bounced) contact as suppressed and never sends', async () => {
    await given(app, t).pendingContact('bounced@example.org');
    await suppress(app, t, 'bounced@example.org');
    const r = await t.api('POST', '/api/invoices', invoice('T-SUPP-1', 'bounced@example.org'));
    expect(r.status).toBe(202);
    const done = await waitForMessage(t, r.body.id);
    expect(done).toMatchObject({ status: 'suppressed', reason: 'suppressed', messageId: null });
    expect(done.events.map((e: any) => e.type)).toEqual(['queued', 'suppressed']);
    // A later invoice to someone else arrives: the dispatcher has moved past the suppressed one.
    await given(app, t).pendingContact('after@example.org');
    const after = await t.api('POST', '/api/invoices', invoice('T-SUPP-2', 'after@example.org'));
    await waitForMessage(t, after.body.id, 'sent');
    expect(mailsTo(app.sink.received, 'bounced@example.org')).toHaveLength(0);
  });
});
