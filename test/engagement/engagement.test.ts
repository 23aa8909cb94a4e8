// Engagement tracking end to end: a real campaign to the SMTP sink, its links followed over real
// HTTP. Off by default; click links rewritten except capability links and mailto; the redirect goes
// to the signed target only; tampered links get 400; scanners (HEAD, too soon, scanner user agent)
// are counted apart and a later human click is unique; opens only when enabled; the feed gets
// message.clicked / message.opened; export includes the hits and erasure deletes them.
import { describe, expect, it } from 'vitest';
import { useApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import type { Received } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait.js';
import { rawHeader, waitForCampaign } from '../campaigns/helpers.js';
import { MAX_HITS_PER_LINK, recordHit } from '../../src/engagement/store.js';
import { PIXEL_GIF } from '../../src/engagement/pages.js';

const { app, t } = useApp();
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

const MJML = `<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello {{name}}. See <a href="https://shop.example/sale?a=1&b=2">the sale</a>, <a href="https://blog.example/post#top">the blog</a>
    or write to <a href="mailto:help@acme.org">us</a>.</mj-text>
  <mj-button href="https://shop.example/buy">Buy</mj-button>
  <mj-text><a href="{{preferencesUrl}}">Preferences</a> · <a href="{{unsubscribeUrl}}">Unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>`;

let n = 0;
/** One campaign to one new subscriber; the mail it got and its ledger message id. */
async function send(tenant: TestTenant, extra: Record<string, unknown> = {}): Promise<{ mail: Received; messageId: string; contactId: string; email: string }> {
  const email = `reader${++n}@inbox.example`;
  const list = await given(app, tenant).list(`Readers ${n}`); // one recipient per campaign
  const contact = await given(app, tenant).subscribedContact(email, { lists: [list] });
  const templateId = await given(app, tenant).template({ mjml: MJML });
  const campaign = await given(app, tenant).campaign(templateId, [list], extra);
  expect((await tenant.api('POST', `/api/campaigns/${campaign.id}/start`)).status).toBe(202);
  await waitForCampaign(tenant, campaign.id, (c) => c.status === 'completed');
  const mail = await waitFor(() => app.sink.received.find((m) => m.envelopeTo.includes(email)));
  const [row] = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM messages WHERE campaign_id = $1 AND recipient = $2', [campaign.id, email]);
  return { mail, messageId: row.id, contactId: contact.id, email };
}

const hrefs = (html: string): string[] => [...html.matchAll(/<a\b[^>]*\shref="([^"]*)"/g)].map((m) => m[1]);
/** The app's own URL for a link made on PUBLIC_URL (https://postgate.test). */
const local = (url: string): string => url.replace('https://postgate.test', app.url);
const hit = (url: string, method = 'GET', ua = BROWSER) => fetch(local(url), { method, redirect: 'manual', headers: { 'user-agent': ua } });

async function engagements(messageId: string) {
  return ownerQuery<{ kind: string; url: string | null; scanner: boolean; scanner_reason: string | null }>(app.db.url,
    'SELECT kind, url, scanner, scanner_reason FROM engagements WHERE message_id = $1 ORDER BY id', [messageId]);
}
async function feed(messageId: string) {
  return ownerQuery<{ type: string; data: Record<string, unknown> }>(app.db.url,
    `SELECT type, data FROM events WHERE message_id = $1 AND type IN ('message.clicked', 'message.opened') ORDER BY id`, [messageId]);
}

describe('engagement tracking', () => {
  it('is off by default: no /c/ link, no pixel, the links as written', async () => {
    const tenant = (await t.api('GET', '/api/tenant')).body;
    expect(tenant).toMatchObject({ trackClicks: false, trackOpens: false });
    const { mail } = await send(t);
    const html = mail.parsed.html as string;
    expect(html).not.toContain('/c/');
    expect(html).not.toContain('/o/');
    expect(hrefs(html).slice(0, 4)).toEqual(['https://shop.example/sale?a=1&b=2', 'https://blog.example/post#top', 'mailto:help@acme.org', 'https://shop.example/buy']);
  });

  it('rewrites the links (never capability links, mailto or the List-Unsubscribe header), redirects to the signed target only, and counts scanners apart', async () => {
    expect((await t.api('PATCH', '/api/tenant', { trackClicks: true })).body).toMatchObject({ trackClicks: true, trackOpens: false });
    const { mail, messageId, contactId } = await send(t);
    const html = mail.parsed.html as string;
    const links = hrefs(html);
    const tracked = links.filter((h) => h.startsWith('https://postgate.test/c/'));
    expect(tracked).toHaveLength(3);
    expect(links).toContain('mailto:help@acme.org');
    const unsubscribe = rawHeader(mail.parsed.headerLines, 'list-unsubscribe').slice(1, -1);
    expect(links).toContain(unsubscribe);
    expect(links).toContain(`${unsubscribe}/preferences`);
    expect(html).not.toContain('/o/');
    expect(mail.parsed.text).toContain('https://shop.example/sale?a=1&b=2'); // the text part keeps its URLs

    // Right after sending: a too-soon hit; then HEAD and a scanner user agent. All redirect, all scanners.
    const sale = tracked[0];
    const first = await hit(sale);
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe('https://shop.example/sale?a=1&b=2');
    expect((await hit(sale, 'HEAD')).headers.get('location')).toBe('https://shop.example/sale?a=1&b=2');
    expect((await hit(sale, 'GET', 'Mozilla/5.0 (compatible; BingPreview/1.0b)')).status).toBe(302);
    // Later, a person: the first unique click; then a second click, not unique.
    await ownerQuery(app.db.url, `UPDATE messages SET sent_at = now() - interval '1 minute' WHERE id = $1`, [messageId]);
    expect((await hit(sale)).status).toBe(302);
    expect((await hit(sale)).status).toBe(302);
    const buy = await hit(tracked[2]);
    expect(buy.headers.get('location')).toBe('https://shop.example/buy');

    expect(await engagements(messageId)).toEqual([
      { kind: 'click', url: 'https://shop.example/sale?a=1&b=2', scanner: true, scanner_reason: 'too_soon' },
      { kind: 'click', url: 'https://shop.example/sale?a=1&b=2', scanner: true, scanner_reason: 'head' },
      { kind: 'click', url: 'https://shop.example/sale?a=1&b=2', scanner: true, scanner_reason: 'user_agent' },
      { kind: 'click', url: 'https://shop.example/sale?a=1&b=2', scanner: false, scanner_reason: null },
      { kind: 'click', url: 'https://shop.example/sale?a=1&b=2', scanner: false, scanner_reason: null },
      { kind: 'click', url: 'https://shop.example/buy', scanner: false, scanner_reason: null },
    ]);
    const events = await feed(messageId);
    // unique: the first human click of the message on that link; firstClick: on any link (the campaign's unique clicks)
    expect(events.map((e) => [e.data.unique, e.data.firstClick, e.data.scanner, e.data.scannerReason ?? null])).toEqual([
      [false, false, true, 'too_soon'], [false, false, true, 'head'], [false, false, true, 'user_agent'], [true, true, false, null],
      [false, false, false, null], [true, false, false, null],
    ]);
    expect(events[3]).toEqual({ type: 'message.clicked', data: expect.objectContaining({
      messageId, contactId, recipient: mail.envelopeTo[0], url: 'https://shop.example/sale?a=1&b=2', link: 'https://shop.example/sale', unique: true, scanner: false }) });
    expect(events[3].data.campaignId).toMatch(/^[0-9a-f-]{36}$/);

    // Tampered: one character changed; another target under the old MAC; junk. 400, no redirect.
    const token = sale.split('/c/')[1];
    const [body, kid] = token.split('.');
    const i = 30;
    const changed = `${body.slice(0, i)}${body[i] === 'A' ? 'B' : 'A'}${body.slice(i + 1)}.${kid}`;
    const raw = Buffer.from(body, 'base64url');
    const retargeted = `${Buffer.concat([raw.subarray(0, 28), Buffer.from('https://evil.example/')]).toString('base64url')}.${kid}`;
    for (const bad of [changed, retargeted, 'nonsense', `${body}.nokey`]) {
      const r = await hit(`https://postgate.test/c/${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.headers.get('location')).toBeNull();
      expect(await r.text()).toContain('This link is not valid');
    }
    expect(await engagements(messageId)).toHaveLength(6);

    // The export includes the hits.
    const doc = (await t.api('GET', `/api/contacts/${contactId}/export`)).body;
    expect(doc.engagements).toHaveLength(6);
    expect(doc.engagements[3]).toMatchObject({ messageId, kind: 'click', url: 'https://shop.example/sale?a=1&b=2', scanner: false });

    // Erasure deletes them; the link still redirects and records nothing.
    expect((await t.api('DELETE', `/api/contacts/${contactId}`)).status).toBe(200);
    expect(await engagements(messageId)).toEqual([]);
    expect(await feed(messageId)).toEqual([]);
    expect((await hit(sale)).headers.get('location')).toBe('https://shop.example/sale?a=1&b=2');
    expect(await engagements(messageId)).toEqual([]);
  });

  it('adds the open pixel only when opens are enabled (campaign over tenant), recorded as opens with machineOpenPossible', async () => {
    expect((await t.api('PATCH', '/api/tenant', { trackClicks: true })).status).toBe(200);
    const off = await send(t, { trackClicks: false }); // tenant clicks on, this campaign off; opens off
    expect(off.mail.parsed.html).not.toMatch(/\/[co]\//);
    const { mail, messageId } = await send(t, { trackOpens: true, trackClicks: null });
    const html = mail.parsed.html as string;
    const pixel = /<img src="(https:\/\/postgate\.test\/o\/[^"]+)"/.exec(html)?.[1];
    expect(pixel).toBeDefined();
    expect(hrefs(html).some((h) => h.includes('/c/'))).toBe(true);
    await ownerQuery(app.db.url, `UPDATE messages SET sent_at = now() - interval '1 minute' WHERE id = $1`, [messageId]);
    const r = await hit(pixel as string);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/gif');
    expect(r.headers.get('cache-control')).toContain('no-store');
    expect(Buffer.from(await r.arrayBuffer())).toEqual(PIXEL_GIF);
    expect(await engagements(messageId)).toEqual([{ kind: 'open', url: null, scanner: false, scanner_reason: null }]);
    expect((await feed(messageId))[0]).toMatchObject({ type: 'message.opened', data: { unique: true, scanner: false, machineOpenPossible: true } });
  });

  it('takes per-campaign settings while the campaign is editable, and refuses a non-boolean with 422 naming the field', async () => {
    const templateId = await given(app, t).template({ mjml: MJML });
    const c = await given(app, t).campaign(templateId, [await given(app, t).defaultList()]);
    expect(c).toMatchObject({ trackClicks: null, trackOpens: null });
    expect((await t.api('PATCH', `/api/campaigns/${c.id}`, { trackOpens: true })).body).toMatchObject({ trackClicks: null, trackOpens: true });
    const bad = await t.api('PATCH', `/api/campaigns/${c.id}`, { trackClicks: 'yes' });
    expect(bad.status).toBe(422);
    expect(bad.body.error.field).toBe('trackClicks');
    expect((await t.api('PATCH', '/api/tenant', { trackOpens: 1 })).body.error.field).toBe('trackOpens');
  });

  it(`records at most ${MAX_HITS_PER_LINK} hits per message and link for people, and as many for scanners`, async () => {
    const { messageId } = await send(t);
    await ownerQuery(app.db.url, `UPDATE messages SET sent_at = now() - interval '1 minute' WHERE id = $1`, [messageId]);
    const h = { kind: 'click' as const, messageId, url: 'https://shop.example/flood', method: 'GET', userAgent: BROWSER };
    const outcomes = [];
    for (let i = 0; i < MAX_HITS_PER_LINK + 3; i++) outcomes.push(await recordHit(app.pg.deps.db, { ...h, now: Date.now() }, 10));
    expect(outcomes.filter((o) => o.recorded)).toHaveLength(MAX_HITS_PER_LINK);
    expect(outcomes.at(-1)).toEqual({ recorded: false, why: 'capped' });
    expect(await recordHit(app.pg.deps.db, { ...h, method: 'HEAD', now: Date.now() }, 10)).toEqual({ recorded: true, scanner: 'head', unique: false, firstClick: false });
  });

  it('decides firstClick once per message when clicks on different links arrive at once, and unique per link without its query', async () => {
    const { messageId } = await send(t);
    await ownerQuery(app.db.url, `UPDATE messages SET sent_at = now() - interval '1 minute' WHERE id = $1`, [messageId]);
    const urls = ['https://shop.example/a', 'https://shop.example/b', 'https://shop.example/c?x=1', 'https://shop.example/c?x=2', 'https://shop.example/d'];
    const outcomes = await Promise.all(urls.map((url) => recordHit(app.pg.deps.db, { kind: 'click', messageId, url, method: 'GET', userAgent: BROWSER, now: Date.now() }, 10)));
    expect(outcomes.filter((o) => o.recorded && o.firstClick)).toHaveLength(1);
    expect(outcomes.filter((o) => o.recorded && o.unique)).toHaveLength(4); // a, b, d, and one of the two c?x=
  });
});
