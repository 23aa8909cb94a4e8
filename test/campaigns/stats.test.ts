// Campaign figures (GET /api/campaigns/{id}/stats) end to end: a real campaign through the SMTP sink,
// then a hard bounce, a soft bounce and a complaint through POST /api/inbound, an unsubscribe through
// the mail's one-click link, and clicks and opens as the engagement links record them (feed events,
// then real hits on the signed /c/ and /o/ links of a tracked campaign) →
// exact figures and rates, an hourly series that sums to the totals, delivered only once the send
// hour is STATS_DELIVERED_AFTER_HOURS past, erasure that leaves the figures alone, a second campaign
// kept apart, and another tenant's 404.
import { beforeAll, describe, expect, it } from 'vitest';
import { appendEvent } from '../../src/events/feed.js';
import { statsLink } from '../../src/engagement/links.js';
import type { NewEvent } from '../../src/events/feed.js';
import { useApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { arf, dsn } from '../bounces/helpers.js';
import { form } from '../unsubscribe/helpers.js';
import { waitForCampaign } from './helpers.js';

const N_HOURS = 2;
// ENGAGEMENT_SCANNER_SECONDS 0: a click right after sending is a person's here (only HEAD marks a scanner).
const { app, t, tenant } = useApp({ config: { STATS_DELIVERED_AFTER_HOURS: N_HOURS, ENGAGEMENT_SCANNER_SECONDS: 0 } });
const other = tenant({ name: 'Other' });
const tracked = tenant({ name: 'Tracked' });
const RAW = { 'content-type': 'message/rfc822' };
const LINK_A = 'https://acme.example/a?utm=1';
const LINK_B = 'https://acme.example/b';
/** LINK_A as the figures count it: without its query. */
const LINK_A_COUNTED = 'https://acme.example/a';

interface Row { id: string; recipient: string; contact_id: string; message_id_header: string }
let templateId: string;

beforeAll(async () => {
  templateId = await given(app, t).template();
});

/** A campaign to `n` fresh contacts on a list of its own, run to completion through the sink. */
async function sentCampaign(tt: TestTenant, prefix: string, n: number): Promise<{ id: string; rows: Row[] }> {
  const list = await given(app, tt).list(`${prefix} list`);
  await given(app, tt).contacts({ prefix, n, listId: list });
  const c = await given(app, tt).campaign(tt === t ? templateId : await given(app, tt).template(), [list], { name: prefix });
  expect((await tt.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(202);
  await waitForCampaign(tt, c.id, (x) => x.status === 'completed' && x.progress.sent === n);
  const rows = await ownerQuery<Row>(app.db.url, `SELECT id, recipient, contact_id, message_id_header FROM messages
    WHERE campaign_id = $1 ORDER BY recipient`, [c.id]);
  return { id: c.id, rows };
}

const mailTo = (r: Row) => {
  const m = app.sink.received.find((x) => x.envelopeTo.includes(r.recipient));
  if (!m) throw new Error(`no mail to ${r.recipient}`);
  return m;
};

async function inbound(raw: string, kind: string): Promise<void> {
  const res = await t.api('POST', '/api/inbound', raw, RAW);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body.kind).toBe(kind);
}

/** The one-click unsubscribe (RFC 8058) of the List-Unsubscribe header the mail carried. */
async function oneClick(r: Row): Promise<void> {
  const head = mailTo(r).raw.toString('utf8').split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  const target = /^List-Unsubscribe: <(https:[^>]+)>/im.exec(head)?.[1] as string;
  expect(target).toBeTruthy();
  expect((await form(target.replace('https://postgate.test', app.url), 'List-Unsubscribe=One-Click')).status).toBe(200);
}

/** An engagement event as src/engagement/store.ts recordHit appends it. */
function hit(campaignId: string, r: Row, kind: 'click' | 'open', o: { url?: string; unique: boolean; scanner: boolean; firstClick?: boolean }): NewEvent {
  return {
    type: kind === 'click' ? 'message.clicked' : 'message.opened', messageId: r.id, contactId: r.contact_id, campaignId,
    data: {
      messageId: r.id, campaignId, contactId: r.contact_id, recipient: r.recipient, unique: o.unique, scanner: o.scanner,
      ...(kind === 'click' ? { url: o.url, link: statsLink(o.url as string), firstClick: o.firstClick ?? false } : { machineOpenPossible: true }),
      ...(o.scanner ? { scannerReason: 'user_agent' } : {}),
    },
  };
}

const stats = async (tt: TestTenant, id: string) => {
  const r = await tt.api('GET', `/api/campaigns/${id}/stats`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};

describe('campaign figures', () => {
  let first: { id: string; rows: Row[] };

  it('counts every figure exactly, with rates over sent and an hourly series that sums to the totals', async () => {
    first = await sentCampaign(t, 'figs', 8);
    const [hard, soft, complaint, unsub, clicker, clicker2] = first.rows;
    await inbound(dsn({ to: mailTo(hard).envelopeFrom, finalRecipient: hard.recipient, messageId: hard.message_id_header }), 'hard');
    await inbound(dsn({ to: mailTo(soft).envelopeFrom, finalRecipient: soft.recipient, messageId: soft.message_id_header,
      status: '4.2.2', diagnostic: 'smtp; 452 4.2.2 Mailbox full' }), 'soft');
    await inbound(dsn({ to: mailTo(soft).envelopeFrom, finalRecipient: soft.recipient, messageId: soft.message_id_header,
      status: '4.2.2', diagnostic: 'smtp; 452 4.2.2 Mailbox full', id: 'again' }), 'soft'); // the same message again: once
    await inbound(arf({ to: mailTo(complaint).envelopeFrom, recipient: complaint.recipient, messageId: complaint.message_id_header }), 'complaint');
    await oneClick(unsub);
    await oneClick(unsub); // again: one unsubscribe
    await app.pg.deps.db.withTenant(t.id, async (c) => {
      for (const e of [
        hit(first.id, clicker, 'click', { url: LINK_A, unique: true, scanner: false, firstClick: true }),
        hit(first.id, clicker, 'click', { url: LINK_A, unique: false, scanner: false }),
        hit(first.id, clicker, 'click', { url: LINK_B, unique: false, scanner: true }),
        hit(first.id, clicker2, 'click', { url: LINK_A, unique: true, scanner: false, firstClick: true }),
        hit(first.id, clicker2, 'click', { url: LINK_B, unique: true, scanner: false }), // unique on B, not the message's first click
        hit(first.id, clicker, 'open', { unique: true, scanner: false }),
        hit(first.id, clicker, 'open', { unique: false, scanner: false }),
        hit(first.id, clicker2, 'open', { unique: false, scanner: true }),
      ]) await appendEvent(c, t.id, e);
    });

    const s = await stats(t, first.id);
    expect(s).toMatchObject({
      campaignId: first.id, audience: 8, sent: 8, delivered: 0, pending: 6, deliveredAfterHours: N_HOURS,
      bounced: { total: 2, hard: 1, soft: 1, blocked: 0 }, complaints: 1, unsubscribes: 1,
      opens: { total: 2, unique: 1, scanner: 1, machineOpensPossible: true },
      clicks: {
        total: 4, unique: 2, scanner: 1, links: [ // unique: messages with a human click (2), not the per-link sum (3)
          { url: LINK_A_COUNTED, total: 3, unique: 2, scanner: 0, uniqueRate: 2 / 8 },
          { url: LINK_B, total: 1, unique: 1, scanner: 1, uniqueRate: 1 / 8 },
        ],
      },
      rates: { delivered: 0, bounced: 2 / 8, hardBounced: 1 / 8, complaints: 1 / 8, unsubscribes: 1 / 8, uniqueOpens: 1 / 8, uniqueClicks: 2 / 8 },
    });
    const sum = (k: string) => s.series.reduce((a: number, h: Record<string, number>) => a + h[k], 0);
    expect(s.series.length).toBeGreaterThan(0);
    for (const h of s.series) expect(h.hour).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/);
    expect({ sent: sum('sent'), bounced: sum('bounced'), complaints: sum('complaints'), unsubscribes: sum('unsubscribes'),
      opens: sum('opens'), uniqueOpens: sum('uniqueOpens'), clicks: sum('clicks'), uniqueClicks: sum('uniqueClicks'), scannerClicks: sum('scannerClicks') })
      .toEqual({ sent: 8, bounced: 2, complaints: 1, unsubscribes: 1, opens: 2, uniqueOpens: 1, clicks: 4, uniqueClicks: 2, scannerClicks: 1 });
  });

  it('counts a message as delivered only once its send hour is STATS_DELIVERED_AFTER_HOURS past', async () => {
    // Just inside the window: still pending. Backdated as the owner (as if sent hours ago).
    const shift = async (hours: number) => ownerQuery(app.db.url, `UPDATE campaign_stats_hours SET hour = date_trunc('hour', now(), 'UTC') - $2 * interval '1 hour'
      WHERE campaign_id = $1`, [first.id, hours]);
    await shift(N_HOURS);
    expect(await stats(t, first.id)).toMatchObject({ delivered: 0, pending: 6 });
    await shift(N_HOURS + 1);
    const s = await stats(t, first.id);
    expect(s).toMatchObject({ sent: 8, delivered: 6, pending: 0, rates: { delivered: 6 / 8 } });
    expect(s.series).toHaveLength(1);
  });

  it('keeps the figures when a person is erased (aggregates, not personal data)', async () => {
    const before = await stats(t, first.id);
    const clicker = first.rows[4];
    expect((await t.api('DELETE', `/api/contacts/${clicker.contact_id}`)).status).toBeLessThan(300);
    expect(await ownerQuery(app.db.url, 'SELECT count(*)::int AS n FROM events WHERE message_id = $1', [clicker.id])).toEqual([{ n: 0 }]);
    expect(await stats(t, first.id)).toEqual(before);
  });

  it('keeps a second campaign apart, and answers 404 to another tenant and to a malformed id', async () => {
    const second = await sentCampaign(t, 'second', 3);
    expect(await stats(t, second.id)).toMatchObject({
      audience: 3, sent: 3, pending: 3, delivered: 0, bounced: { total: 0 }, complaints: 0, unsubscribes: 0,
      clicks: { total: 0, links: [] }, rates: { bounced: 0, uniqueClicks: 0 },
    });
    expect((await stats(t, first.id)).sent).toBe(8);
    const r = await other.api('GET', `/api/campaigns/${first.id}/stats`);
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ code: 'not_found' });
    expect((await t.api('GET', '/api/campaigns/nope/stats')).status).toBe(404);
  });

  it('reports zeros and null rates for a campaign that sent nothing', async () => {
    const list = await given(app, t).list('empty list');
    const c = await given(app, t).campaign(templateId, [list], { name: 'Empty' });
    expect(await stats(t, c.id)).toMatchObject({
      audience: 0, sent: 0, delivered: 0, pending: 0, series: [], clicks: { links: [] },
      rates: { delivered: null, bounced: null, hardBounced: null, complaints: null, unsubscribes: null, uniqueOpens: null, uniqueClicks: null },
    });
  });

  it('counts a bounce against the hour its message.sent event counted the send in (one clock)', async () => {
    const c = await sentCampaign(t, 'clock', 2);
    const [bounced] = c.rows;
    // The ledger's sent_at (transaction start) in another hour than the event's clock_timestamp, as around an hour boundary.
    await ownerQuery(app.db.url, `UPDATE messages SET sent_at = sent_at - interval '10 hours' WHERE id = $1`, [bounced.id]);
    await inbound(dsn({ to: mailTo(bounced).envelopeFrom, finalRecipient: bounced.recipient, messageId: bounced.message_id_header }), 'hard');
    expect(await stats(t, c.id)).toMatchObject({ sent: 2, bounced: { total: 1 }, delivered: 0, pending: 1 });
    expect(await ownerQuery(app.db.url, `SELECT hour, sum(sent - bounced_of_sent)::int AS n FROM campaign_stats_hours
      WHERE campaign_id = $1 GROUP BY hour HAVING sum(sent - bounced_of_sent) < 0`, [c.id])).toEqual([]);
  });

  it('counts real clicks and opens through the signed /c/ and /o/ links: per link without its query, unique per message, HEAD hits as scanners', async () => {
    expect((await tracked.api('PATCH', '/api/tenant', { trackClicks: true, trackOpens: true })).status).toBe(200);
    const list = await given(app, tracked).list('tracked list');
    await given(app, tracked).contacts({ prefix: 'trk', n: 2, listId: list });
    const tpl = await given(app, tracked).template({ name: 'Links', subject: 'Links', mjml: `<mjml><mj-body><mj-section><mj-column>
      <mj-text>Hello {{name}}: <a href="${LINK_A}">A</a> and <a href="${LINK_B}">B</a>, <a href="https://acme.example/p?e={{email}}">yours</a>,
        <a href="https://acme.example/u/{{email}}">your page</a>, <a href="https://x.example/share?u={{unsubscribeUrl}}">share</a>.</mj-text>
      <mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a></mj-text></mj-column></mj-section></mj-body></mjml>` });
    const c = await given(app, tracked).campaign(tpl, [list], { name: 'Tracked', subject: 'Links' });
    expect((await tracked.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(202);
    await waitForCampaign(tracked, c.id, (x) => x.status === 'completed' && x.progress.sent === 2);
    const rows = await ownerQuery<Row>(app.db.url, 'SELECT id, recipient, contact_id, message_id_header FROM messages WHERE campaign_id = $1 ORDER BY recipient', [c.id]);
    const links = (r: Row) => {
      const html = String(mailTo(r).parsed.html);
      const found = (kind: 'c' | 'o') => [...html.matchAll(new RegExp(`https://postgate\\.test/${kind}/[A-Za-z0-9_.-]+`, 'g'))].map((m) => m[0].replace('https://postgate.test', app.url));
      return { html, clicks: found('c'), open: found('o')[0] };
    };
    const hitLink = async (url: string, method: 'GET' | 'HEAD') => (await fetch(url, { method, redirect: 'manual' })).status;
    const one = links(rows[0]);
    const two = links(rows[1]);
    expect(one.clicks).toHaveLength(4); // A, B, yours, your page; never the unsubscribe link, nor the link that carries it
    expect(one.html).toMatch(/href="https:\/\/x\.example\/share\?u=https:\/\/postgate\.test\/u\//);
    expect(await hitLink(one.clicks[0], 'GET')).toBe(302);
    expect(await hitLink(one.clicks[0], 'GET')).toBe(302);
    expect(await hitLink(one.clicks[1], 'HEAD')).toBe(302);
    expect(await hitLink(one.clicks[2], 'GET')).toBe(302);
    expect(await hitLink(one.clicks[3], 'GET')).toBe(302);
    expect(await hitLink(two.clicks[0], 'GET')).toBe(302);
    expect(await hitLink(two.clicks[2], 'GET')).toBe(302);
    expect(await hitLink(one.open, 'GET')).toBe(200);
    expect(await hitLink(two.open, 'HEAD')).toBe(200);
    const page = `https://acme.example/u/${rows[0].recipient}`;
    const before = await stats(tracked, c.id);
    expect(before).toMatchObject({
      sent: 2,
      opens: { total: 1, unique: 1, scanner: 1, machineOpensPossible: true },
      clicks: {
        total: 6, unique: 2, scanner: 1, links: [ // unique: the 2 messages with a human click, not 2 + 2 + 1 per link
          { url: LINK_A_COUNTED, total: 3, unique: 2, scanner: 0, uniqueRate: 1 },
          { url: 'https://acme.example/p', total: 2, unique: 2, scanner: 0, uniqueRate: 1 },
          { url: page, total: 1, unique: 1, scanner: 0, uniqueRate: 1 / 2 },
          { url: LINK_B, total: 0, unique: 0, scanner: 1, uniqueRate: 0 },
        ],
      },
      rates: { uniqueOpens: 1 / 2, uniqueClicks: 1 },
    });
    expect(before.clicks.links).toHaveLength(4);
    expect(before.series.reduce((a: number, h: { uniqueClicks: number }) => a + h.uniqueClicks, 0)).toBe(2);
    // The person's event keeps the full target; the counters never do (no query, so no address there).
    const clicked = await ownerQuery<{ data: Record<string, unknown> }>(app.db.url, `SELECT data FROM events WHERE message_id = $1 AND type = 'message.clicked'
      AND data->>'link' = 'https://acme.example/p'`, [rows[1].id]);
    expect(clicked).toEqual([{ data: expect.objectContaining({ url: `https://acme.example/p?e=${rows[1].recipient}`, unique: true, firstClick: false }) }]);
    const stored = async () => (await ownerQuery<{ url: string }>(app.db.url, 'SELECT url FROM campaign_stats_links WHERE campaign_id = $1', [c.id])).map((x) => x.url);
    expect((await stored()).filter((u) => u.includes(rows[1].recipient))).toEqual([]);
    expect((await stored()).filter((u) => u.includes(rows[0].recipient))).toEqual([page]); // in the path: until erasure

    // Erasure scrubs the address out of the link figures; the totals stay exact.
    expect((await tracked.api('DELETE', `/api/contacts/${rows[0].contact_id}`)).status).toBe(200);
    expect((await stored()).filter((u) => u.toLowerCase().includes(rows[0].recipient.toLowerCase()))).toEqual([]);
    const after = await stats(tracked, c.id);
    expect(after.clicks.links).toContainEqual({ url: 'https://acme.example/u/[erased]', total: 1, unique: 1, scanner: 0, uniqueRate: 1 / 2 });
    expect({ ...after, clicks: { ...after.clicks, links: [] } }).toEqual({ ...before, clicks: { ...before.clicks, links: [] } });
  });
});
