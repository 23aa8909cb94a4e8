// Test addresses are verified before they get test sends (issue 15): the verification mail and its
// single-use link (GET shows, POST confirms), the gate at send time, suppressed, complained and
// erased addresses, the rate limits (counted in PostgreSQL, shared by two web processes), tenant
// isolation, and the migration of the old tenants.test_emails. Real HTTP, SMTP and PostgreSQL.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { addSuppression } from '../../src/consent/suppressions.js';
import { getCampaign } from '../../src/campaigns/campaigns-store.js';
import { enqueueTestSends } from '../../src/campaigns/test-send.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { migrate } from '../../src/platform/db.js';
import { signToken } from '../../src/policy/tokens.js';
import { getTenant } from '../../src/tenants/store.js';
import { request, startTestApp, useApp, type TestApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { consent, mailsTo, waitForMail } from '../support/mail.js';
import { waitFor } from '../support/wait.js';
import { confirmLink, testAddressLink, verifiedTestAddress } from '../support/test-addresses.js';
import { arf, deliver, listenerPort } from '../bounces/helpers.js';
import { waitForStatus } from '../consent/helpers.js';
import { rawHeader } from './helpers.js';

const LIMITS = { TEST_ADDRESS_VERIFY_PER_HOUR: 4, TEST_ADDRESS_VERIFY_PER_DAY: 2, TEST_SENDS_PER_HOUR: 3 };
const { app, t } = useApp({ config: LIMITS });

/** A campaign of tenant `x` (compliant: the shared template has an unsubscribe link; the tenant a postal address). */
async function campaignOf(x: TestTenant): Promise<string> {
  const list = await given(app, x).defaultList();
  return (await given(app, x).campaign(await given(app, x).template(), [list])).id as string;
}

async function testSend(x: TestTenant, campaignId: string, emails: string[]) {
  return x.api('POST', `/api/campaigns/${campaignId}/test`, { emails });
}

/** Queues a test send the way the API does after its checks, without them: only the gate stands in the way. */
async function queueUnchecked(x: TestTenant, campaignId: string, email: string): Promise<string> {
  const [m] = await app.pg.deps.db.withTenant(x.id, async (c) => {
    const tenant = await getTenant(c, x.id);
    const campaign = await getCampaign(c, campaignId);
    if (!tenant || !campaign) throw new Error('tenant or campaign missing');
    return enqueueTestSends(c, tenant, campaign, [email]);
  });
  return m.id;
}

async function listed(x: TestTenant): Promise<any[]> {
  const r = await x.api('GET', '/api/test-addresses');
  expect(r.status).toBe(200);
  expect(r.body.nextCursor).toBeNull();
  return r.body.items;
}

describe('verification', () => {
  let campaign: string;
  beforeAll(async () => { campaign = await campaignOf(t); });

  it('an unverified address gets no test send (the API says why); the link, confirmed by POST, makes it a test address', async () => {
    const address = 'qa.one@acme.org';
    const add = await t.api('POST', '/api/test-addresses', { email: address });
    expect(add.status, JSON.stringify(add.body)).toBe(202);
    expect(add.body).toMatchObject({ address, state: 'pending', verifiedAt: null });
    expect((await listed(t)).map((a) => [a.address, a.state])).toEqual([[address, 'pending']]);

    // The verification mail: necessary mail with the link, no marketing content, no unsubscribe machinery.
    const mail = await waitForMail(app, address, 1, 30_000);
    expect(mail.parsed.subject).toBe('Confirm test copies from Acme');
    expect(rawHeader(mail.parsed.headerLines, 'auto-submitted')).toBe('auto-generated');
    expect(rawHeader(mail.parsed.headerLines, 'list-unsubscribe')).toBe('');
    expect(mail.parsed.text).toContain('test copies of its email campaigns');
    const link = testAddressLink(app, mail);
    const [row] = await ownerQuery<{ id: string; kind: string; purpose: string; contact_id: string | null }>(app.db.url,
      "SELECT id, kind, purpose, contact_id FROM messages WHERE tenant_id = $1 AND kind = 'verification'", [t.id]);
    expect(row).toMatchObject({ kind: 'verification', contact_id: null });
    expect(row.purpose).toBe(`test-address:${add.body.id}:1`);
    await waitForStatus(app, row.id, ['sent']);
    const kept = (await t.api('GET', `/api/messages/${row.id}`)).body;
    expect(JSON.stringify(kept)).not.toContain(link.slice(link.lastIndexOf('/') + 1)); // the link exists only on the wire
    expect(kept.body.text).toContain('[confirmation link, sent only to the recipient]');

    const refused = await testSend(t, campaign, [address]);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'test_address_unverified', field: 'emails[0]' });
    const unknown = await testSend(t, campaign, ['stranger@else.org']);
    expect(unknown.body.error).toMatchObject({ code: 'not_test_address', field: 'emails[0]' });

    // GET (a mail scanner prefetching) shows a page and changes nothing.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<form method="post"');
    expect(html).toContain(address);
    expect((await listed(t))[0]).toMatchObject({ state: 'pending', verifiedAt: null });

    const confirmed = await confirmLink(link);
    expect(confirmed.status).toBe(200);
    expect(confirmed.html).toContain('Confirmed');
    const [item] = await listed(t);
    expect(item.state).toBe('verified');
    expect(new Date(item.verifiedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    // Single use: the same link again changes nothing and says so.
    expect((await confirmLink(link)).status).toBe(410);
    // Asking again for a verified address mails nothing.
    const again = await t.api('POST', '/api/test-addresses', { email: address.toUpperCase() });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: add.body.id, state: 'verified' });

    const sent = await testSend(t, campaign, [address]);
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    const test = await waitForMail(app, address, 2, 30_000);
    expect(test.parsed.subject).toMatch(/^\[TEST\] /);
    expect(mailsTo(app, address)).toHaveLength(2);
  });

  it('a NUL in the address of DELETE is 422 naming it, never a 500 (found by a clean-clone trial)', async () => {
    const r = await t.api('DELETE', '/api/test-addresses/%00');
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field: 'address' });
  });

  it('a tampered or expired link is refused and changes nothing', async () => {
    const address = 'qa.two@acme.org';
    expect((await t.api('POST', '/api/test-addresses', { email: address })).status).toBe(202);
    const link = testAddressLink(app, await waitForMail(app, address, 1, 30_000));
    const token = link.slice(link.lastIndexOf('/') + 1);
    const raw = Buffer.from(token, 'base64url');
    raw[raw.length - 1] ^= 0x01; // the compact token (policy/tokens.ts), its last byte altered
    const flipped = raw.toString('base64url');
    expect((await confirmLink(`${app.url}/t/${flipped}`)).status).toBe(400);
    expect((await fetch(`${app.url}/t/${flipped}`)).status).toBe(400);
    // An activation token is not a verification token (the purpose is signed).
    const [m] = await ownerQuery<{ id: string }>(app.db.url, `SELECT id FROM messages WHERE recipient = $1`, [address]);
    const [row] = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM test_addresses WHERE address = $1', [address]);
    const wrongPurpose = signToken(app.pg.deps.tokens, 'activation', t.id, { a: row.id, m: m.id }, { ttlSeconds: 3600 });
    expect((await confirmLink(`${app.url}/t/${wrongPurpose}`)).status).toBe(400);
    const expired = signToken(app.pg.deps.tokens, 'test_address', t.id, { a: row.id, m: m.id }, { ttlSeconds: 1, now: Math.floor(Date.now() / 1000) - 10 });
    expect((await confirmLink(`${app.url}/t/${expired}`)).status).toBe(410);
    expect((await listed(t)).find((a) => a.address === address)).toMatchObject({ state: 'pending' });
    // The real link still works.
    expect((await confirmLink(link)).status).toBe(200);
  });

  it('the gate decides at send time: a test send queued for an unverified, unknown or complained address is suppressed with its reason', async () => {
    const pending = 'qa.pending@acme.org';
    expect((await t.api('POST', '/api/test-addresses', { email: pending })).status).toBe(202);
    await waitForMail(app, pending, 1, 30_000);
    const before = app.sink.received.length;
    const unverified = await queueUnchecked(t, campaign, pending);
    expect(await waitForStatus(app, unverified, ['suppressed', 'sent'])).toEqual({ status: 'suppressed', reason: 'test_address_unverified' });
    const unknown = await queueUnchecked(t, campaign, 'nobody@else.org');
    expect(await waitForStatus(app, unknown, ['suppressed', 'sent'])).toEqual({ status: 'suppressed', reason: 'not_test_address' });
    // A verified address that complained since.
    const complained = 'qa.complainer@acme.org';
    await verifiedTestAddress(app, t, complained);
    await app.pg.deps.db.withTenant(t.id, (c) => addSuppression(c, t.id, complained, 'marketing', 'complaint'));
    const late = await queueUnchecked(t, campaign, complained);
    expect(await waitForStatus(app, late, ['suppressed', 'sent'])).toEqual({ status: 'suppressed', reason: 'complained' });
    const events = await ownerQuery<{ type: string; detail: Record<string, unknown> }>(app.db.url,
      'SELECT type, detail FROM message_events WHERE message_id = $1 ORDER BY id', [late]);
    expect(events.map((e) => e.type)).toEqual(['queued', 'suppressed']);
    expect(app.sink.received.slice(before).filter((r) => r.parsed.subject?.startsWith('[TEST]'))).toEqual([]);
  });
});

describe('suppressed, complained and erased addresses', () => {
  let campaign: string;
  let x: TestTenant;
  beforeAll(async () => {
    x = await app.tenant({ name: 'Suppressing' });
    campaign = await campaignOf(x);
  });

  it('a suppressed address gets no verification mail (422) and nothing is stored', async () => {
    for (const [address, scope, reason] of [['bounced@acme.org', 'all', 'hard_bounce'], ['manual@acme.org', 'marketing', 'manual']] as const) {
      await app.pg.deps.db.withTenant(x.id, (c) => addSuppression(c, x.id, address, scope, reason));
      const r = await x.api('POST', '/api/test-addresses', { email: address });
      expect(r.status).toBe(422);
      expect(r.body.error).toMatchObject({ code: 'address_suppressed', field: 'email' });
      expect(mailsTo(app, address)).toEqual([]);
    }
    expect(await listed(x)).toEqual([]);
  });

  it('a complaint about a test send (a real ARF report to the inbound listener) makes the address unusable', async () => {
    const address = 'grumpy@acme.org';
    await verifiedTestAddress(app, x, address);
    expect((await testSend(x, campaign, [address])).status).toBe(202);
    const test = await waitForMail(app, address, 2, 30_000);
    await deliver(listenerPort(app), [test.envelopeFrom], arf({ to: test.envelopeFrom, recipient: address, messageId: test.parsed.messageId as string }), 'fbl@isp.example.net');
    await waitFor(async () => (await ownerQuery(app.db.url, "SELECT 1 FROM suppressions WHERE tenant_id = $1 AND reason = 'complaint' AND address = $2", [x.id, address])).length > 0,
      { timeout: 10_000, message: 'the complaint was not recorded' });
    expect((await testSend(x, campaign, [address])).body.error).toMatchObject({ code: 'address_suppressed', field: 'emails[0]' });
    const again = await x.api('POST', '/api/test-addresses', { email: address });
    expect(again.body.error).toMatchObject({ code: 'address_suppressed' });
    expect(mailsTo(app, address)).toHaveLength(2);
  });

  it('a link mailed before the address was suppressed no longer confirms', async () => {
    const address = 'later@acme.org';
    expect((await x.api('POST', '/api/test-addresses', { email: address })).status).toBe(202);
    const link = testAddressLink(app, await waitForMail(app, address, 1, 30_000));
    await app.pg.deps.db.withTenant(x.id, (c) => addSuppression(c, x.id, address, 'all', 'hard_bounce'));
    expect((await fetch(link)).status).toBe(410);
    expect((await confirmLink(link)).status).toBe(410);
    expect((await listed(x)).find((a) => a.address === address)).toMatchObject({ state: 'pending' });
  });

  it('erasing the person deletes the test address; it cannot be added again nor get test sends', async () => {
    const address = 'forget.me@acme.org';
    await verifiedTestAddress(app, x, address);
    const contact = await x.api('POST', '/api/contacts', { email: address, name: 'Forget Me', newsletter: true, consent });
    expect(contact.status, JSON.stringify(contact.body)).toBe(201);
    expect((await x.api('DELETE', `/api/contacts/${contact.body.id}`)).status).toBe(200);
    expect((await listed(x)).map((a) => a.address)).not.toContain(address);
    expect(await ownerQuery(app.db.url, 'SELECT 1 FROM test_addresses WHERE address_key = $1', [address])).toEqual([]);
    expect((await testSend(x, campaign, [address])).body.error).toMatchObject({ code: 'not_test_address' });
    const readd = await x.api('POST', '/api/test-addresses', { email: address });
    expect(readd.body.error).toMatchObject({ code: 'address_suppressed' });
    const subjects = mailsTo(app, address).map((m) => m.parsed.subject ?? '');
    expect(subjects.filter((s) => s.startsWith('Confirm test copies'))).toHaveLength(1); // the verification mail only
    expect(subjects.filter((s) => s.startsWith('[TEST]'))).toEqual([]);
  });

  it('DELETE removes an address by address or by id; unknown ones are 404', async () => {
    const y = await app.tenant({ name: 'Deleting' });
    const a = await y.api('POST', '/api/test-addresses', { email: 'gone.one@acme.org' });
    const b = await y.api('POST', '/api/test-addresses', { email: 'gone.two@acme.org' });
    expect((await y.api('DELETE', `/api/test-addresses/${encodeURIComponent('Gone.One@acme.org')}`)).status).toBe(204);
    expect((await y.api('DELETE', `/api/test-addresses/${b.body.id}`)).status).toBe(204);
    expect((await y.api('DELETE', `/api/test-addresses/${a.body.id}`)).status).toBe(404);
    expect((await y.api('DELETE', '/api/test-addresses/nobody%40acme.org')).status).toBe(404);
    expect(await listed(y)).toEqual([]);
  });
});

describe('rate limits (counted in PostgreSQL, shared by two web processes)', () => {
  let second: TestApp;
  let r: TestTenant;
  let onSecond: TestTenant;
  beforeAll(async () => {
    r = await app.tenant({ name: 'Rated' });
    second = await startTestApp({ database: app.db, config: LIMITS, roles: { web: true, worker: false, inbound: false } });
    onSecond = { ...r, api: (method, p, body, headers) => request(second.url, r.key, method, p, body, headers) };
    return async () => { await second.stop(); };
  }, 60_000);

  it('verification mails: per address per day, then per tenant per hour: 429 with Retry-After, nothing stored or mailed', async () => {
    const a = 'limit.a@acme.org';
    expect((await r.api('POST', '/api/test-addresses', { email: a })).status).toBe(202);
    expect((await onSecond.api('POST', '/api/test-addresses', { email: a })).status).toBe(202);
    const third = await r.api('POST', '/api/test-addresses', { email: a });
    expect(third.status).toBe(429);
    expect(third.body.error).toMatchObject({ code: 'rate_limited', field: 'email' });
    const retry = Number(third.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(86_000);
    expect(retry).toBeLessThanOrEqual(86_400);
    await waitForMail(app, a, 2, 30_000);

    expect((await onSecond.api('POST', '/api/test-addresses', { email: 'limit.b@acme.org' })).status).toBe(202);
    expect((await r.api('POST', '/api/test-addresses', { email: 'limit.c@acme.org' })).status).toBe(202);
    const fifth = await onSecond.api('POST', '/api/test-addresses', { email: 'limit.d@acme.org' });
    expect(fifth.status).toBe(429);
    expect(fifth.body.error).toMatchObject({ code: 'rate_limited', field: null });
    const hour = Number(fifth.headers.get('retry-after'));
    expect(hour).toBeGreaterThan(3500);
    expect(hour).toBeLessThanOrEqual(3600);
    expect((await listed(r)).map((i) => i.address)).toEqual([a, 'limit.b@acme.org', 'limit.c@acme.org']);
    await new Promise((res) => setTimeout(res, 500));
    expect(mailsTo(app, 'limit.d@acme.org')).toEqual([]);
    const [{ n }] = await ownerQuery<{ n: number }>(app.db.url, "SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1 AND kind = 'verification'", [r.id]);
    expect(n).toBe(LIMITS.TEST_ADDRESS_VERIFY_PER_HOUR);
  });

  it('test sends: per tenant per hour across processes, all or nothing', async () => {
    // The verification of this address was counted above: make it verified by its (already mailed) link.
    const a = 'limit.a@acme.org';
    expect((await confirmLink(testAddressLink(app, mailsTo(app, a)[0]))).status).toBe(200);
    const campaign = await campaignOf(r);
    expect((await testSend(r, campaign, [a])).status).toBe(202);
    expect((await testSend(onSecond, campaign, [a])).status).toBe(202);
    const tooMany = await testSend(r, campaign, [a, a]);
    expect(tooMany.status).toBe(429);
    expect(tooMany.body.error).toMatchObject({ code: 'rate_limited', field: 'emails' });
    expect(Number(tooMany.headers.get('retry-after'))).toBeGreaterThan(3500);
    expect((await testSend(onSecond, campaign, [a])).status).toBe(202);
    const over = await testSend(r, campaign, [a]);
    expect(over.status).toBe(429);
    const [{ n }] = await ownerQuery<{ n: number }>(app.db.url, "SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1 AND kind = 'test'", [r.id]);
    expect(n).toBe(LIMITS.TEST_SENDS_PER_HOUR);
  });
});

describe('tenant isolation', () => {
  it("another tenant neither sees, deletes, uses nor verifies a tenant's test addresses", async () => {
    const a = await app.tenant({ name: 'Alpha' });
    const b = await app.tenant({ name: 'Beta', fromEmail: 'hi@beta.org', replyTo: 'help@beta.org' });
    const address = 'shared.qa@acme.org';
    const added = await a.api('POST', '/api/test-addresses', { email: address });
    expect(added.status).toBe(202);
    const mail = await waitForMail(app, address, 1, 30_000);
    expect(await listed(b)).toEqual([]);
    expect((await b.api('DELETE', `/api/test-addresses/${added.body.id}`)).status).toBe(404);
    expect((await b.api('DELETE', `/api/test-addresses/${encodeURIComponent(address)}`)).status).toBe(404);
    // A link naming tenant B with A's row and mail (signed with the real keys, as a forger cannot): nothing in B's view.
    const [m] = await ownerQuery<{ id: string }>(app.db.url, "SELECT id FROM messages WHERE tenant_id = $1 AND kind = 'verification'", [a.id]);
    const forged = signToken(app.pg.deps.tokens, 'test_address', b.id, { a: added.body.id, m: m.id }, { ttlSeconds: 3600 });
    expect((await confirmLink(`${app.url}/t/${forged}`)).status).toBe(410);
    expect((await listed(a))[0].state).toBe('pending');
    // A's verified address is not B's.
    expect((await confirmLink(testAddressLink(app, mail))).status).toBe(200);
    expect((await testSend(b, await campaignOf(b), [address])).body.error).toMatchObject({ code: 'not_test_address' });
    expect((await listed(a))[0].state).toBe('verified');
    // Row-level security on the table itself: the app's own login, in B's transaction, with no tenant filter.
    const client = new pg.Client({ connectionString: app.pg.deps.db.url });
    await client.connect();
    try {
      expect((await client.query('SELECT 1 FROM test_addresses')).rowCount).toBe(0);
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [b.id]);
      expect((await client.query('SELECT address FROM test_addresses')).rows).toEqual([]);
      expect((await client.query("UPDATE test_addresses SET state = 'pending', verified_at = NULL")).rowCount).toBe(0);
      await expect(client.query("INSERT INTO test_addresses (tenant_id, address, address_key) VALUES ($1, 'x@acme.org', 'x@acme.org')", [a.id]))
        .rejects.toThrow(/row-level security/);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });
});

describe('migration 066', () => {
  it("turns the old tenants.test_emails into pending test addresses and drops the column", async () => {
    const adminUrl = inject('pgAdminUrl');
    const name = `m_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = adminUrl.replace(/\/postgres$/, `/${name}`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'postgate-066-'));
    try {
      const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
      for (const f of files.filter((f) => f < '066')) await copyFile(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
      await migrate(url, dir);
      const tenant = '5f0c3a4e-1111-4111-8111-111111111111';
      await ownerQuery(url, `INSERT INTO tenants (id, name, from_email, from_name, reply_to, test_emails)
        VALUES ($1, 'Old', 'news@old.org', 'Old', 'help@old.org', ARRAY['QA@old.org', ' qa@old.org ', 'second@old.org', ''])`, [tenant]);
      for (const f of files.filter((f) => f >= '066')) await copyFile(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
      expect(await migrate(url, dir)).toContain('066_test_addresses.sql');
      const rows = await ownerQuery(url, 'SELECT address, address_key, state, verified_at FROM test_addresses WHERE tenant_id = $1 ORDER BY address_key', [tenant]);
      expect(rows).toEqual([
        { address: 'QA@old.org', address_key: 'qa@old.org', state: 'pending', verified_at: null },
        { address: 'second@old.org', address_key: 'second@old.org', state: 'pending', verified_at: null },
      ]);
      expect(await ownerQuery(url, "SELECT 1 FROM information_schema.columns WHERE table_name = 'tenants' AND column_name = 'test_emails'")).toEqual([]);
      const [rls] = await ownerQuery<{ relrowsecurity: boolean }>(url, "SELECT relrowsecurity FROM pg_class WHERE relname = 'test_addresses'");
      expect(rls.relrowsecurity).toBe(true);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
