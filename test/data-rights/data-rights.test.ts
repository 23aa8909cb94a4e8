// Data rights over real HTTP, SMTP and PostgreSQL: GET /api/contacts/:id/export holds everything
// about the person (and nothing about anyone else); DELETE /api/contacts/:id erases them, after which
// export finds nothing and a scan of EVERY text/json/bytea/array column of EVERY table in every
// schema finds neither the address nor the name; the salted-hash suppression stops marketing without
// fresh consent, and a fresh registration with a confirmed opt-in still works.
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { waitFor } from '../support/wait.js';
import { ownerQuery } from '../support/db.js';
import { addressHash, suppressionsFor } from '../../src/consent/suppressions.js';
import { decide } from '../../src/policy/gate.js';
import { literalPattern } from '../../src/data-rights/erase.js';
import { redactOthers } from '../../src/data-rights/export.js';
import { confirmActivation, consent, form, mailsTo, subscriptionStates, unsubscribePath, waitForMail } from '../unsubscribe/helpers.js';

const ADDRESS = 'Quintessa.V@Example.net';
const STORED = 'Quintessa.V@example.net'; // the address as normalised on input (domain lower-cased)
const NAME = 'Quintessa Vandermolen';
const OTHER = 'bystander@example.org';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other Co', fromEmail: 'hello@other.example' });
let id: string;
let otherId: string;
let offersId: string;

beforeAll(async () => {
  offersId = await given(app, t).list('Offers');
});

async function sentMessage(messageId: string): Promise<{ message_id_header: string; envelope: string }> {
  const row = await waitFor(async () => (await ownerQuery<{ status: string; message_id_header: string }>(app.db.url,
    `SELECT status, message_id_header FROM messages WHERE id = $1 AND status = 'sent'`, [messageId]))[0], { message: `timed out waiting for message ${messageId} sent` });
  const mail = await waitFor(async () => app.sink.received.find((m) => m.parsed.messageId === row.message_id_header), { message: 'timed out waiting for mail at the sink' });
  return { message_id_header: row.message_id_header, envelope: mail.envelopeFrom };
}

function dsn(to: string, messageIdHeader: string, recipient: string): string {
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>', `To: <${to}>`, 'Subject: Delivery Status Notification (Failure)',
    'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"', '',
    '--b1', 'Content-Type: text/plain', '', `Delivery to ${recipient} failed: mailbox full. Also failed: someone.else@example.com`, '',
    '--b1', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.net', '',
    `Final-Recipient: rfc822; ${recipient}`, 'Action: failed', 'Status: 4.2.2', `Diagnostic-Code: smtp; 452 4.2.2 <${recipient}> Mailbox full`, '',
    '--b1', 'Content-Type: text/rfc822-headers', '', `Message-ID: ${messageIdHeader}`, `To: ${NAME} <${recipient}>`, 'Subject: About your account', '',
    '--b1--', '',
  ].join('\r\n');
}

function arf(to: string, messageIdHeader: string, recipient: string): string {
  return [
    'From: feedback@isp.example', `To: <${to}>`, 'Subject: Abuse report', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="b2"', '',
    '--b2', 'Content-Type: text/plain', '', 'This is an email abuse report.', '',
    '--b2', 'Content-Type: message/feedback-report', '', 'Feedback-Type: abuse', 'User-Agent: ISP-Feedback/1.0', 'Version: 1',
    `Original-Rcpt-To: ${recipient}`, '',
    '--b2', 'Content-Type: message/rfc822', '', `Message-ID: ${messageIdHeader}`, 'From: Acme News <news@acme.org>', `To: ${NAME} <${recipient}>`,
    'Subject: Hello', '', `Hello ${NAME}`, '',
    '--b2--', '',
  ].join('\r\n');
}

async function inbound(raw: string, to: string): Promise<void> {
  const r = await fetch(`${app.url}/api/inbound?to=${encodeURIComponent(to)}`, { method: 'POST', body: raw,
    headers: { authorization: `Bearer ${t.key}`, 'content-type': 'message/rfc822' } });
  if (r.status !== 202) throw new Error(`inbound answered ${r.status}: ${await r.text()}`);
}

/**
 * Scans EVERY column of EVERY table in every schema (public, pgboss, …) as the owner: each value cast
 * to text (bytea decoded with escapes, so ASCII stays readable), searched case-insensitively for any
 * needle. Returns schema.table.column of each hit.
 */
async function scanEverything(needles: string[]): Promise<string[]> {
  const c = new pg.Client({ connectionString: app.db.url });
  await c.connect();
  try {
    const cols = (await c.query<{ s: string; t: string; c: string; type: string }>(`SELECT c.table_schema AS s, c.table_name AS t,
        c.column_name AS c, c.data_type AS type FROM information_schema.columns c
        JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name AND tb.table_type = 'BASE TABLE'
      WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg_toast%'
      ORDER BY 1, 2, c.ordinal_position`)).rows;
    expect(cols.length).toBeGreaterThan(100);
    expect(new Set(cols.map((x) => x.s))).toEqual(new Set(['public', 'pgboss']));
    const tables = new Map<string, typeof cols>();
    for (const col of cols) tables.set(`"${col.s}"."${col.t}"`, [...(tables.get(`"${col.s}"."${col.t}"`) ?? []), col]);
    const hits: string[] = [];
    const lowered = needles.map((n) => n.toLowerCase());
    for (const [ident, list] of tables) {
      const tests = list.map((col) => {
        const v = col.type === 'bytea' ? `encode("${col.c}", 'escape')` : `"${col.c}"::text`;
        return `count(*) FILTER (WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) AS n WHERE position(n IN lower(${v})) > 0))::int AS "${col.c}"`;
      });
      const [row] = (await c.query<Record<string, number>>(`SELECT ${tests.join(', ')} FROM ${ident}`, [lowered])).rows;
      for (const col of list) if (row[col.c] > 0) hits.push(`${col.s}.${col.t}.${col.c}`);
    }
    return hits;
  } finally {
    await c.end();
  }
}

describe('pure helpers', () => {
  it('redacts other addresses but keeps the person\'s own', () => {
    expect(redactOthers('to a@b.example and x.y@z.example, A@B.EXAMPLE', 'a@b.example')).toBe('to a@b.example and [redacted address], A@B.EXAMPLE');
  });
  it('quotes an address for a regular expression', () => {
    expect(literalPattern('a.b+c@d.example')).toBe('a\\.b\\+c@d\\.example');
  });
});

describe('a person with data everywhere', () => {
  let notice: { id: string };

  beforeAll(async () => {
    // Registration + confirmation (consent records with IP/UA and wordings, activation mail and body).
    id = (await given(app, t).subscribedContact(ADDRESS, { name: NAME, lists: [offersId], via: 'opt-in' })).id;
    await t.api('POST', `/api/contacts/${id}/subscriptions`, { listIds: [(await t.api('GET', '/api/lists')).body.items[0].id], consent });
    await confirmActivation(app, ADDRESS, 2);
    await ownerQuery(app.db.url, `UPDATE contacts SET attributes = '{"plan":"pro","city":"Utrecht"}' WHERE id = $1`, [id]);
    // A necessary notice, then a soft bounce for it and a complaint (via the real inbound API).
    notice = (await t.api('POST', '/api/messages', { kind: 'account', contact: { id }, idempotencyKey: `welcome-${ADDRESS.toLowerCase()}`,
      data: { body: `Dear ${NAME}, your account ${ADDRESS} is ready.` } })).body;
    const sent = await sentMessage(notice.id);
    await inbound(dsn(sent.envelope, sent.message_id_header, ADDRESS.toLowerCase()), sent.envelope);
    const [activation] = await ownerQuery<{ id: string }>(app.db.url, `SELECT id FROM messages WHERE contact_id = $1 AND kind = 'activation' ORDER BY created_at LIMIT 1`, [id]);
    const act = await sentMessage(activation.id);
    await inbound(arf(act.envelope, act.message_id_header, ADDRESS.toLowerCase()), act.envelope);
    // One-click on a campaign link (an unsubscribe event).
    await form(app.url + unsubscribePath(app, t.id, id), 'List-Unsubscribe=One-Click', { 'user-agent': 'Quintessa-Phone/1' });
    // A campaign message and a test send as the campaigns module writes them, with body and timeline.
    await ownerQuery(app.db.url, `INSERT INTO test_addresses (tenant_id, address, address_key, state, verified_at)
      SELECT $1, a, lower(a), 'verified', now() FROM unnest(ARRAY['qa@acme.org', $2]) AS a`, [t.id, ADDRESS]);
    const [m] = await ownerQuery<{ id: string }>(app.db.url, `INSERT INTO messages (tenant_id, purpose, kind, contact_id, campaign_id, recipient, template, subject, data, status, smtp_response, sent_at)
      VALUES ($1, $2, 'marketing', $3, gen_random_uuid(), $4, 'campaign', $5, $6, 'sent', $7, now()) RETURNING id`,
    [t.id, `campaign:x:${id}`, id, ADDRESS, `Hello ${NAME}`, JSON.stringify({ name: NAME }), `250 2.0.0 OK queued for <${ADDRESS}>`]);
    await ownerQuery(app.db.url, `INSERT INTO message_bodies (message_id, tenant_id, html, text, expires_at) VALUES ($1, $2, $3, $4, now() + interval '1 day')`,
      [m.id, t.id, `<p>Hello ${NAME}</p>`, `Hello ${NAME} (${ADDRESS})`]);
    await ownerQuery(app.db.url, `INSERT INTO message_events (tenant_id, message_id, type, detail) VALUES ($1, $2, 'sent', $3)`,
      [t.id, m.id, JSON.stringify({ response: `250 OK <${ADDRESS}>` })]);
    await ownerQuery(app.db.url, `INSERT INTO messages (tenant_id, purpose, kind, recipient, template, subject, status)
      VALUES ($1, 'test:x:1', 'test', $2, 'campaign', 'Test send', 'sent')`, [t.id, ADDRESS.toUpperCase()]);
    // A bystander in the same tenant, with a bounce whose raw report names both of them.
    otherId = (await given(app, t).subscribedContact(OTHER, { name: 'Bystander Person', via: 'opt-in' })).id;
    const [ob] = await ownerQuery<{ id: string }>(app.db.url, `INSERT INTO bounces (tenant_id, contact_id, kind, source, matched_by, recipient, raw, raw_hash, raw_expires_at)
      VALUES ($1, $2, 'hard', 'api', 'recipient', $3, $4, 'h-other', now() + interval '1 day') RETURNING id`,
    [t.id, otherId, OTHER, Buffer.from(`Final-Recipient: rfc822; ${OTHER}\r\nFinal-Recipient: rfc822; ${ADDRESS}\r\n`)]);
    expect(ob.id).toBeTruthy();
  });

  it('exports one JSON document with everything held about the person', async () => {
    const r = await t.api('GET', `/api/contacts/${id}/export`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toContain(`contact-${id}.json`);
    const doc = r.body;
    expect(doc.format).toBe('postgate.contact-export/1');
    expect(doc.controller).toEqual({ tenantId: t.id, name: 'Acme' });
    expect(doc.contact).toMatchObject({ id, email: STORED, name: NAME, status: 'active', attributes: { plan: 'pro', city: 'Utrecht' } });
    expect(doc.subscriptions.map((s: any) => [s.listName, s.status]).sort()).toEqual([['Newsletter', 'unsubscribed'], ['Offers', 'unsubscribed']]);
    const actions = doc.consentRecords.map((e: any) => `${e.action}/${e.source}`);
    expect(actions).toEqual(expect.arrayContaining(['register/api', 'opt_in/api', 'confirm/page', 'opt_out/complaint', 'suppress/complaint', 'opt_out/one_click']));
    const register = doc.consentRecords.find((e: any) => e.action === 'register');
    expect(register).toMatchObject({ text: consent.text, ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Test)' });
    expect(doc.consentRecords.find((e: any) => e.action === 'confirm' && e.listName === 'Offers').text).toContain('Offers');
    expect(doc.unsubscribes.map((e: any) => e.source)).toEqual(['complaint', 'complaint', 'one_click']);
    expect(doc.suppression).toEqual({ all: false, marketing: true });
    expect(doc.testAddress).toMatchObject({ state: 'verified' }); // the address is one of the tenant's test addresses
    const kinds = doc.messages.map((m: any) => m.kind).sort();
    expect(kinds).toEqual(['account', 'activation', 'activation', 'marketing', 'test']);
    const act = doc.messages.find((m: any) => m.kind === 'activation');
    expect(act).toMatchObject({ recipient: STORED, status: 'complained', template: 'activation' }); // the complaint was about it
    expect(act.events.map((e: any) => e.type)).toEqual(['queued', 'sending', 'sent', 'complained']);
    expect(act.body.html).toContain(NAME);
    const account = doc.messages.find((m: any) => m.kind === 'account');
    expect(JSON.stringify(account.data)).toContain('your account');
    expect(account.purpose).toBe('notice:welcome-quintessa.v@example.net');
    expect(account.events.map((e: any) => e.type)).toContain('soft_bounce');
    expect(account.body.text).toContain(`Hello ${NAME}`);
    expect(doc.bounces).toHaveLength(1);
    expect(doc.bounces[0]).toMatchObject({ kind: 'soft', status: '4.2.2', messageId: notice.id });
    expect(doc.bounces[0].raw).toContain(`Final-Recipient: rfc822; ${ADDRESS.toLowerCase()}`);
    expect(doc.bounces[0].raw).toContain('Also failed: [redacted address]');
    expect(doc.complaints).toEqual([expect.objectContaining({ kind: 'complaint', feedbackType: 'abuse' })]);
    expect(doc.complaints[0].raw).toContain(`Hello ${NAME}`);
    const text = JSON.stringify(doc);
    expect(text).not.toContain(OTHER);
    expect(text).not.toContain('Bystander');
    expect(text).not.toContain('someone.else@');
  });

  it('answers 404 for unknown ids and for another tenant\'s key', async () => {
    expect((await t.api('GET', '/api/contacts/00000000-0000-4000-8000-000000000000/export')).status).toBe(404);
    expect((await t.api('GET', '/api/contacts/nope/export')).status).toBe(404);
    expect((await other.api('GET', `/api/contacts/${id}/export`)).status).toBe(404);
    expect((await other.api('DELETE', `/api/contacts/${id}`)).status).toBe(404);
  });

  it('erases the person: export then finds nothing and no column of any table holds the address or the name', async () => {
    const before = await scanEverything([ADDRESS, 'Vandermolen']);
    expect(before).toEqual(expect.arrayContaining(['public.contacts.email', 'public.messages.recipient', 'public.bounces.raw',
      'public.message_bodies.html', 'public.consent_texts.text', 'public.test_addresses.address', 'public.suppressions.address']));
    const r = await t.api('DELETE', `/api/contacts/${id}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, status: 'erased', counts: { messages: 5, bounces: 2 } });
    expect(r.body.counts.consentEvents).toBeGreaterThan(5);
    expect((await t.api('GET', `/api/contacts/${id}/export`)).status).toBe(404);
    expect((await t.api('DELETE', `/api/contacts/${id}`)).status).toBe(404);
    expect(await scanEverything([ADDRESS, ADDRESS.toLowerCase(), 'Vandermolen', 'Quintessa', 'Utrecht'])).toEqual([]);
  });

  it('keeps counts without identifying anyone, and leaves the bystander alone', async () => {
    const [contact] = await ownerQuery(app.db.url, 'SELECT email, email_key, name, attributes, status, erased_at FROM contacts WHERE id = $1', [id]);
    expect(contact).toMatchObject({ email: null, email_key: null, name: null, attributes: {}, status: 'erased' });
    expect(contact.erased_at).toBeInstanceOf(Date);
    const msgs = await ownerQuery<{ kind: string; status: string; recipient: string | null; subject: string | null }>(app.db.url,
      `SELECT kind, status, recipient, subject FROM messages WHERE contact_id = $1 OR purpose = 'test:x:1' ORDER BY kind`, [id]);
    expect(msgs.map((m) => m.kind)).toEqual(['account', 'activation', 'activation', 'marketing', 'test']);
    expect(msgs.every((m) => m.recipient === null && m.subject === null)).toBe(true);
    const events = await ownerQuery<{ action: string; ip: string | null; user_agent: string | null }>(app.db.url,
      'SELECT action, ip, user_agent FROM consent_events WHERE contact_id = $1 ORDER BY at, id', [id]);
    expect(events.filter((e) => e.action === 'opt_out').length).toBe(3);
    expect(events.at(-1)?.action).toBe('erase');
    expect(events.every((e) => e.ip === null && e.user_agent === null)).toBe(true);
    expect(await ownerQuery(app.db.url, 'SELECT 1 FROM message_bodies b JOIN messages m ON m.id = b.message_id WHERE m.contact_id = $1', [id])).toEqual([]);
    const testAddresses = await ownerQuery<{ address: string }>(app.db.url, 'SELECT address FROM test_addresses WHERE tenant_id = $1', [t.id]);
    expect(testAddresses).toEqual([{ address: 'qa@acme.org' }]); // the erased person's row is deleted, the other stays
    const [bystander] = await ownerQuery<{ email: string }>(app.db.url, 'SELECT email FROM contacts WHERE id = $1', [otherId]);
    expect(bystander.email).toBe(OTHER);
    const [ob] = await ownerQuery<{ recipient: string; raw: Buffer | null }>(app.db.url, `SELECT recipient, raw FROM bounces WHERE raw_hash = 'h-other'`);
    expect(ob.recipient).toBe(OTHER); // the bystander's bounce keeps its metadata; its raw named the erased person, so it went
    expect(ob.raw).toBeNull();
    expect((await t.api('GET', `/api/contacts/${otherId}/export`)).body.contact.email).toBe(OTHER);
  });
});

describe('after erasure', () => {
  const address = 'returner@example.com';
  let first: string;

  beforeAll(async () => {
    first = (await given(app, t).subscribedContact(address, { name: 'Returning Person', via: 'opt-in' })).id;
    expect((await t.api('DELETE', `/api/contacts/${first}`)).status).toBe(200);
  });

  it('a salted hash of the address stays on the suppression list, blocking marketing but not necessary mail', async () => {
    const [salt] = await ownerQuery<{ hash_salt: Buffer }>(app.db.url, 'SELECT hash_salt FROM tenants WHERE id = $1', [t.id]);
    const rows = await ownerQuery(app.db.url, 'SELECT address_hash, scope, reason FROM suppressions WHERE tenant_id = $1 AND reason = $2', [t.id, 'erased']);
    expect(rows).toContainEqual({ address_hash: addressHash(salt.hash_salt, address), scope: 'marketing', reason: 'erased' });
    const suppressed = await app.pg.deps.db.withTenant(t.id, (c) => suppressionsFor(c, t.id, address.toUpperCase()));
    expect(suppressed).toEqual({ all: false, marketing: true });
    const facts = { recipient: address, contact: { status: 'active' as const, email: address }, suppressed, subscription: 'subscribed' as const,
      replyTo: 'support@acme.org', fromAddress: 'news@acme.org', tenantFromAddress: 'news@acme.org', postalAddress: '1 Main Street',
      domains: { verified: ['acme.org'], envelope: null },
      hasUnsubscribeLink: true, hasListUnsubscribeHeaders: true, isTestAddress: false };
    expect(decide({ ...facts, kind: 'marketing' }).allow).toBe(false);
    expect(decide({ ...facts, kind: 'activation', contact: { status: 'pending', email: address }, subscription: null }).allow).toBe(true);
  });

  it('a re-import without fresh consent stays suppressed; a fresh registration confirmed by the person lifts it', async () => {
    const before = mailsTo(app, address).length;
    const r = await t.api('POST', '/api/contacts', { email: address, name: 'Returning Person', newsletter: true, consent });
    expect(r.status).toBe(201);
    expect(r.body.id).not.toBe(first);
    await waitForMail(app, address, before + 1); // the activation email is not blocked
    // Until the person confirms, the erasure suppression holds (an import that marks them subscribed would not be mailed).
    expect(await app.pg.deps.db.withTenant(t.id, (c) => suppressionsFor(c, t.id, address))).toEqual({ all: false, marketing: true });
    await confirmActivation(app, address, before + 1);
    expect(await subscriptionStates(app, r.body.id)).toEqual({ Newsletter: 'subscribed' });
    expect(await app.pg.deps.db.withTenant(t.id, (c) => suppressionsFor(c, t.id, address))).toEqual({ all: false, marketing: false });
  });

  it('a complaint suppression is not lifted by a fresh confirmation', async () => {
    const address2 = 'complainer@example.com';
    const cid = (await given(app, t).subscribedContact(address2, { name: 'Complainer', via: 'opt-in' })).id;
    await app.pg.deps.db.withTenant(t.id, async (c) => {
      const { addSuppression } = await import('../../src/consent/suppressions.js');
      await addSuppression(c, t.id, address2, 'marketing', 'complaint');
    });
    expect((await t.api('DELETE', `/api/contacts/${cid}`)).status).toBe(200);
    const n = mailsTo(app, address2).length;
    expect((await t.api('POST', '/api/contacts', { email: address2, newsletter: true, consent })).status).toBe(201);
    await confirmActivation(app, address2, n + 1);
    expect(await app.pg.deps.db.withTenant(t.id, (c) => suppressionsFor(c, t.id, address2))).toEqual({ all: false, marketing: true });
  });
});
