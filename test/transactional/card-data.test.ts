// No payment-card data, ever: a card-number-like value anywhere in a request is refused with 422
// card_data_rejected before anything is stored, and the number never reaches a log line (the app
// runs here with a trace-level logger writing into memory).
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startPostgate, type Postgate } from '../../src/main.js';
import { createTenant } from '../../src/tenants/store.js';
import { vouchDomain } from '../../src/tenants/domains.js';
import { createApiKey } from '../../src/tenants/api-keys.js';
import { upsertContact } from '../../src/consent/contacts.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../support/db.js';
import { request } from '../support/app.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { invoice } from './helpers.js';
import { luhnValid } from '../../src/policy/cards.js';

let db: TestDatabase;
let sink: SmtpSink;
let pg: Postgate;
let key: string;
let tenantId: string;
const logLines: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  sink = await startSmtpSink();
  const config = loadConfig({}, {
    DATABASE_URL: db.url, DATA_DIR: await mkdtemp(path.join(os.tmpdir(), 'postgate-cards-')), PORT: 0, PUBLIC_URL: 'https://postgate.test',
    SMTP_URL: sink.url, LOG_LEVEL: 'trace', TOKEN_KEYS: 'k1:test-secret-key-0123456789', INBOUND_SMTP_PORT: 0, RETRY_BASE_SECONDS: 0.2,
    BOUNCE_DOMAIN: 'bounces.postgate.test', SMTP_REQUIRE_TLS: false,
  });
  const stream = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  pg = await startPostgate(config, { web: true, worker: true, inbound: true }, { log: pino({ level: 'trace' }, stream) });
  tenantId = randomUUID();
  await createTenant(pg.deps.db, { name: 'Acme', fromEmail: 'news@acme.org', fromName: 'Acme', replyTo: 'support@acme.org', postalAddress: '1 Main St' }, tenantId);
  await pg.deps.db.withTenant(tenantId, (c) => vouchDomain(c, tenantId, 'acme.org')); // the operator vouches (sending domains)
  key = (await pg.deps.db.withTenant(tenantId, (c) => createApiKey(c, tenantId, ['transactional']))).key;
  await pg.deps.db.withTenant(tenantId, (c) => upsertContact(c, tenantId, { email: 'pat@example.org', name: null, attributes: {} }));
});
afterAll(async () => {
  await pg?.stop();
  await sink?.close();
  await db?.drop();
});

const api = (method: string, p: string, body?: unknown) => request(pg.url as string, key, method, p, body);
const CARD_DIGITS = '4111111111111111';
const SPELLINGS = [CARD_DIGITS, '4111 1111 1111 1111', '4111-1111-1111-1111'];

async function snapshot(): Promise<string> {
  const rows = await ownerQuery(db.url, `SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM message_events) AS events,
    (SELECT count(*) FROM contacts) AS contacts, (SELECT count(*) FROM send_queue) AS queue, (SELECT count(*) FROM message_bodies) AS bodies`);
  return JSON.stringify(rows[0]);
}

async function dump(): Promise<string> {
  return JSON.stringify(await ownerQuery(db.url, 'SELECT m.*, e.detail FROM messages m LEFT JOIN message_events e ON e.message_id = m.id'));
}

describe('card data', () => {
  it.each([
    ['an invoice line', invoice('T-CARD-1', 'pat@example.org', { lines: [{ description: `Paid with ${CARD_DIGITS}`, quantity: 1, unitAmount: 123_450 }], total: 123_450 }), 'body.lines[0].description'],
    ['the transaction id', invoice('4111 1111 1111 1111', 'pat@example.org'), 'body.transactionId'],
    ['a numeric field', invoice('T-CARD-3', 'pat@example.org', { total: Number(CARD_DIGITS) }), 'body.total'],
    ['a tax name', invoice('T-CARD-4', 'pat@example.org', { taxes: [{ name: 'card 4111-1111-1111-1111', amount: 0 }] }), 'body.taxes[0].name'],
  ])('refuses a card number in %s, stores nothing, logs nothing of it', async (_what, body, field) => {
    const before = await snapshot();
    const r = await api('POST', '/api/invoices', body);
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'card_data_rejected', field });
    expect(JSON.stringify(r.body)).not.toContain('1111');
    expect(await snapshot()).toBe(before);
  });

  it('refuses it in a notice and in a query string too', async () => {
    const before = await snapshot();
    const notice = await api('POST', '/api/messages', { kind: 'support', contact: 'pat@example.org', template: 'support', data: { body: `Your card ${CARD_DIGITS} was charged` } });
    expect(notice.status).toBe(422);
    expect(notice.body.error).toMatchObject({ code: 'card_data_rejected', field: 'body.data.body' });
    const list = await api('GET', `/api/messages?recipient=${CARD_DIGITS}`);
    expect(list.status).toBe(422);
    expect(list.body.error.code).toBe('card_data_rejected');
    expect(await snapshot()).toBe(before);
  });

  it('accepts ordinary long numbers (a Luhn-invalid reference) and sends', async () => {
    const r = await api('POST', '/api/invoices', invoice('T-REF-4111111111111112', 'pat@example.org'));
    expect(r.status).toBe(202);
    await sink.waitFor(1);
  });

  it('accepts millisecond timestamps and zeros in ids (no payment-card MII, ISO/IEC 7812): Idempotency-Key and transactionId', async () => {
    // A Luhn-valid millisecond timestamp: 1 in 10 of them was refused as a card before the MII rule.
    let ms = 1_733_030_400_000;
    while (!luhnValid(String(ms))) ms++;
    const r = await request(pg.url as string, key, 'POST', '/api/invoices',
      invoice(`tx-${ms}`, 'pat@example.org', { lines: [{ description: 'Ref 0000000000000000', quantity: 1, unitAmount: 123_450 }] }),
      { 'idempotency-key': `k-${ms}` });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const notice = await request(pg.url as string, key, 'POST', '/api/messages',
      { kind: 'account', contact: 'pat@example.org', template: 'account', data: { body: `Order ${ms} shipped.` } }, { 'idempotency-key': `k-${ms + 10}` });
    expect(notice.status, JSON.stringify(notice.body)).toBe(202);
  });

  it('never wrote the card number to the logs or the database', async () => {
    expect(logLines.length).toBeGreaterThan(5); // the logger is live: requests were logged
    const logs = logLines.join('');
    for (const s of SPELLINGS) expect(logs).not.toContain(s);
    const stored = await dump();
    for (const s of SPELLINGS) expect(stored).not.toContain(s);
  });
});
