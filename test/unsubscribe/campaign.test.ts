// Unsubscribe meets a running campaign, end to end over HTTP, SMTP and PostgreSQL:
//  - a campaign's mail carries RFC 8058 headers whose URL one-click unsubscribes (from that campaign's list);
//  - an unsubscribe while the campaign runs takes effect at once: that recipient's message, not yet
//    handed to SMTP, is skipped and they receive nothing;
//  - after erasure, an address re-imported without fresh consent receives no campaign, while a
//    fresh registration confirmed by the person does.
// The tenant's send rate keeps the campaign running for a few seconds (3 messages a second).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { unsubscribeUrl } from '../../src/unsubscribe/links.js';
import { activeContact, form, mailsTo, optOuts, subscriptionStates } from './helpers.js';

const MJML = `<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello {{name}}, news from {{tenantName}}.</mj-text>
  <mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a> · <a href="{{preferencesUrl}}">Preferences</a></mj-text>
</mj-column></mj-section></mj-body></mjml>`;

let app: TestApp;
let t: TestTenant;
let listId: string;
let templateId: string;

beforeAll(async () => {
  app = await startTestApp();
  t = await app.tenant();
  listId = (await t.api('GET', '/api/lists')).body.items[0].id;
  const tpl = await t.api('POST', '/api/templates', { name: 'News', mjml: MJML, subject: 'News for {{name}}' });
  expect(tpl.status, JSON.stringify(tpl.body)).toBe(201);
  templateId = tpl.body.id;
});
afterAll(() => app.stop());

/** n active contacts subscribed to the list, in one statement (the double opt-in itself is tested elsewhere). */
async function seed(prefix: string, n: number): Promise<string[]> {
  const rows = await ownerQuery<{ email: string }>(app.db.url, `WITH c AS (
      INSERT INTO contacts (tenant_id, email, email_key, name, status, verified_at)
      SELECT $1, $2 || i || '@inbox.example', $2 || i || '@inbox.example', 'Reader ' || i, 'active', now() FROM generate_series(1, $3::int) AS i
      RETURNING id, email),
    s AS (INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) SELECT $1, id, $4, 'subscribed' FROM c)
    SELECT email FROM c`, [t.id, prefix, n, listId]);
  return rows.map((r) => r.email);
}

async function runCampaign(name: string): Promise<string> {
  const c = await t.api('POST', '/api/campaigns', { name, templateId, listIds: [listId] });
  expect(c.status, JSON.stringify(c.body)).toBe(201);
  const s = await t.api('POST', `/api/campaigns/${c.body.id}/start`);
  expect(s.status, JSON.stringify(s.body)).toBeLessThan(300);
  return c.body.id;
}

async function waitForCompletion(id: string, timeoutMs = 25_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < until) {
    last = (await t.api('GET', `/api/campaigns/${id}`)).body;
    if (last.status === 'completed') return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`campaign did not complete: ${JSON.stringify(last)}`);
}

/** The unfolded header section of a raw message. */
const headerBlock = (raw: Buffer): string => raw.toString('utf8').split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');

const campaignMailsTo = (address: string, campaignId: string) =>
  mailsTo(app, address).filter((m) => String(m.parsed.headers.get('feedback-id') ?? '').includes(campaignId));

describe('unsubscribe during a running campaign', () => {
  it('skips the recipient at once: their message, not yet handed to SMTP, is never sent', async () => {
    expect((await t.api('PATCH', '/api/tenant', { sendRatePerSecond: 3 })).status).toBe(200);
    const audience = await seed('run', 12);
    const campaignId = await runCampaign('Running');
    // Wait until the campaign is under way, then pick a recipient whose message is still queued.
    const until = Date.now() + 10_000;
    while (app.sink.received.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const [row] = await ownerQuery<{ contact_id: string; recipient: string; id: string }>(app.db.url, `SELECT id, contact_id, recipient FROM messages
      WHERE campaign_id = $1 AND status = 'queued' ORDER BY ctid DESC LIMIT 1`, [campaignId]);
    expect(row, 'a recipient still queued while the campaign runs').toBeTruthy();
    const url = unsubscribeUrl('https://postgate.test', app.pg.deps.tokens, { tenantId: t.id, contactId: row.contact_id, campaignId })
      .replace('https://postgate.test', app.url);
    expect((await form(url, 'List-Unsubscribe=One-Click')).status).toBe(200);

    const done = await waitForCompletion(campaignId);
    expect(campaignMailsTo(row.recipient, campaignId)).toEqual([]);
    const [msg] = await ownerQuery<{ status: string; reason: string; sent_at: Date | null }>(app.db.url, 'SELECT status, reason, sent_at FROM messages WHERE id = $1', [row.id]);
    expect(msg).toMatchObject({ status: 'suppressed', reason: 'unsubscribed', sent_at: null });
    for (const address of audience.filter((a) => a !== row.recipient)) expect(campaignMailsTo(address, campaignId), address).toHaveLength(1);
    expect(done.progress).toMatchObject({ audience: 12, sent: 11, unsubscribed: 1 });
    expect(await optOuts(app, row.contact_id)).toEqual([expect.objectContaining({ source: 'one_click', detail: expect.objectContaining({ campaignId }) })]);
  });

  it('the mail carries RFC 8058 headers whose URL unsubscribes in one click', async () => {
    const mail = app.sink.received.find((m) => /^List-Unsubscribe:/im.test(headerBlock(m.raw)));
    expect(mail).toBeTruthy();
    const headers = headerBlock(mail?.raw as Buffer);
    expect(/^List-Unsubscribe-Post: (.*)$/im.exec(headers)?.[1]).toBe('List-Unsubscribe=One-Click');
    const target = /^List-Unsubscribe: <(https:[^>]+)>/im.exec(headers)?.[1];
    expect(target).toMatch(/^https:\/\/postgate\.test\/u\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const recipient = mail?.envelopeTo[0] as string;
    const [contact] = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM contacts WHERE email_key = lower($1)', [recipient]);
    expect(await subscriptionStates(app, contact.id)).toEqual({ Newsletter: 'subscribed' });
    const r = await form((target as string).replace('https://postgate.test', app.url), 'List-Unsubscribe=One-Click');
    expect(r.status).toBe(200);
    expect(await subscriptionStates(app, contact.id)).toEqual({ Newsletter: 'unsubscribed' });
    // The body's link leads to the page; its preferences link too.
    expect(String(mail?.parsed.html)).toContain(`${target}/preferences`);
  });
});

describe('after erasure', () => {
  it('no campaign reaches an address re-imported without fresh consent; a confirmed fresh registration does receive', async () => {
    expect((await t.api('PATCH', '/api/tenant', { sendRatePerSecond: 100 })).status).toBe(200);
    await ownerQuery(app.db.url, `UPDATE subscriptions SET status = 'unsubscribed' WHERE tenant_id = $1`, [t.id]); // earlier audiences out
    const imported = 'imported@example.com';
    const returner = 'returner@example.com';
    for (const address of [imported, returner]) {
      const id = await activeContact(app, t, address, 'Somebody');
      expect((await t.api('DELETE', `/api/contacts/${id}`)).status).toBe(200);
    }
    // An import that marks the address subscribed without any fresh consent...
    await ownerQuery(app.db.url, `WITH c AS (INSERT INTO contacts (tenant_id, email, email_key, status, verified_at) VALUES ($1, $2, $2, 'active', now()) RETURNING id)
      INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) SELECT $1, id, $3, 'subscribed' FROM c`, [t.id, imported, listId]);
    // ...and a fresh registration that the person confirms.
    const fresh = await activeContact(app, t, returner, 'Returning Reader');
    expect(await subscriptionStates(app, fresh)).toEqual({ Newsletter: 'subscribed' });
    const other = await seed('control', 2);

    const campaignId = await runCampaign('After erasure');
    const done = await waitForCompletion(campaignId);
    expect(campaignMailsTo(imported, campaignId)).toEqual([]);
    expect(campaignMailsTo(returner, campaignId)).toHaveLength(1);
    for (const address of other) expect(campaignMailsTo(address, campaignId)).toHaveLength(1);
    expect(done.progress.sent).toBe(3);
  });
});
