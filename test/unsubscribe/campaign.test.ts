// Unsubscribe meets a running campaign, end to end over HTTP, SMTP and PostgreSQL:
//  - a campaign's mail carries RFC 8058 headers whose URL one-click unsubscribes (from that campaign's list);
//  - an unsubscribe while the campaign runs takes effect at once: that recipient's message, not yet
//    handed to SMTP, is skipped and they receive nothing;
//  - after erasure, an address re-imported without fresh consent receives no campaign, while a
//    fresh registration confirmed by the person does.
// The tenant's send rate keeps the campaign running for a few seconds (3 messages a second).
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { waitFor } from '../support/wait.js';
import { unsubscribeUrl } from '../../src/unsubscribe/links.js';
import { form, mailsTo, optOuts, subscriptionStates } from './helpers.js';

const MJML = `<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello {{name}}, news from {{tenantName}}.</mj-text>
  <mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a> · <a href="{{preferencesUrl}}">Preferences</a></mj-text>
</mj-column></mj-section></mj-body></mjml>`;

const { app, t } = useApp();
let listId: string;
let templateId: string;

beforeAll(async () => {
  listId = await given(app, t).defaultList();
  templateId = await given(app, t).template({ name: 'News', mjml: MJML, subject: 'News for {{name}}' });
});

/** n active contacts subscribed to the list, in one statement (the double opt-in itself is tested elsewhere). */
function seed(prefix: string, n: number): Promise<string[]> {
  return given(app, t).contacts({ prefix, n, listId, city: false });
}

async function runCampaign(name: string): Promise<string> {
  const c = await given(app, t).campaign(templateId, [listId], { name, subject: undefined }); // the template's subject
  const s = await t.api('POST', `/api/campaigns/${c.id}/start`);
  expect(s.status, JSON.stringify(s.body)).toBeLessThan(300);
  return c.id;
}

async function waitForCompletion(id: string, timeoutMs = 25_000): Promise<any> {
  let last: any;
  return waitFor(async () => {
    last = (await t.api('GET', `/api/campaigns/${id}`)).body;
    return last.status === 'completed' && last;
  }, { timeout: timeoutMs, interval: 100, message: () => `campaign did not complete: ${JSON.stringify(last)}` });
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
    await waitFor(() => app.sink.received.length > 0, { timeout: 10_000, interval: 20 }).catch(() => undefined); // then look, as before
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
    expect(target).toMatch(/^https:\/\/postgate\.test\/u\/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?$/);
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
      const id = (await given(app, t).subscribedContact(address, { name: 'Somebody', via: 'opt-in' })).id;
      expect((await t.api('DELETE', `/api/contacts/${id}`)).status).toBe(200);
    }
    // An import that marks the address subscribed without any fresh consent...
    await ownerQuery(app.db.url, `WITH c AS (INSERT INTO contacts (tenant_id, email, email_key, status, verified_at) VALUES ($1, $2, $2, 'active', now()) RETURNING id)
      INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) SELECT $1, id, $3, 'subscribed' FROM c`, [t.id, imported, listId]);
    // ...and a fresh registration that the person confirms.
    const fresh = (await given(app, t).subscribedContact(returner, { name: 'Returning Reader', via: 'opt-in' })).id;
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
