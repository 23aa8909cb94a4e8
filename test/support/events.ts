// The event feed in tests: reading GET /api/events to its end, waiting for events, and
// `produceEveryEvent(app, t)`, which drives real flows (API, SMTP sink, inbound reports, campaigns,
// imports, erasure, tracked links) until the tenant's feed holds every type the triggers of migration
// 074 and the engagement links produce (all of EVENTS_TYPES but webhook.disabled).
//
// produceEveryEvent needs the app's SMTP sink to refuse some recipients; start the app with
// EVENTS_APP (or spread it into your own options):
//
//   const { app, t } = useApp(EVENTS_APP);
//   const made = await produceEveryEvent(app, t);   // ids of what it made, per event type
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { EventType } from '../../src/events/types.js';
import type { TestApp, TestTenant, UseAppOptions } from './app.js';
import { given } from './given.js';
import { consent } from './mail.js';
import type { SinkOptions } from './smtp-sink.js';
import { waitFor } from './wait.js';
import { ownerQuery } from './db.js';
import { arf, dsn } from '../bounces/helpers.js';

/** Addresses the sink refuses with 451 (a temporary failure: Postgate defers and retries) while they are here. */
export const heldRecipients = new Set<string>();

/** The sink's rules: `fail-…` local parts get 550 5.1.1 at RCPT; held addresses get 451. */
export const EVENTS_SINK: SinkOptions = {
  onRcpt(address) {
    const a = address.toLowerCase();
    if (a.startsWith('fail-')) return { code: 550, message: '5.1.1 User unknown' };
    if (heldRecipients.has(a)) return { code: 451, message: '4.7.1 Try again later' };
    return null;
  },
};
export const EVENTS_APP: UseAppOptions = { sink: EVENTS_SINK };

/** One feed event as GET /api/events returns it. */
export interface FeedItem { id: string; type: EventType; at: string; data: Record<string, any> }

/** Every event of the tenant visible now, from the start (or `after`), paging with nextCursor. */
export async function readAllEvents(t: TestTenant, o: { types?: string; after?: string; limit?: number } = {}): Promise<{ items: FeedItem[]; cursor: string }> {
  const items: FeedItem[] = [];
  let cursor = o.after;
  for (;;) {
    const q = new URLSearchParams({ limit: String(o.limit ?? 1000) });
    if (cursor) q.set('after', cursor);
    if (o.types) q.set('types', o.types);
    const r = await t.api('GET', `/api/events?${q}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    items.push(...(r.body.items as FeedItem[]));
    const same = r.body.nextCursor === cursor;
    cursor = r.body.nextCursor as string;
    if (same || r.body.items.length === 0) return { items, cursor };
  }
}

/** Waits until the feed holds an event matching `pred`; returns it. */
export async function waitForEvent(t: TestTenant, pred: (e: FeedItem) => boolean, what: string, timeoutMs = 15_000): Promise<FeedItem> {
  let seen: string[] = [];
  return waitFor(async () => {
    const { items } = await readAllEvents(t);
    seen = items.map((e) => e.type);
    return items.find(pred);
  }, { timeout: timeoutMs, interval: 100, message: () => `no ${what} in the feed; it holds ${seen.join(', ')}` });
}

async function waitForStatus(t: TestTenant, id: string, ok: (s: string) => boolean, what: string): Promise<any> {
  let last: any;
  return waitFor(async () => {
    last = (await t.api('GET', `/api/messages/${id}`)).body;
    return ok(last.status) && last;
  }, { timeout: 15_000, interval: 50, message: () => `message ${id} (${what}) still ${last?.status}` });
}

/** What produceEveryEvent made, to find each event by. */
export interface ProducedEvents {
  /** The expected (type → a data subset) of every event type it produced, one each at least. */
  expected: { type: EventType; data: Record<string, unknown> }[];
  messages: Record<'sent' | 'failed' | 'hard' | 'soft' | 'complained' | 'feedback' | 'suppressedInvoice' | 'cancelled' | 'receipt' | 'engaged', string>;
  contacts: Record<'bounced' | 'optIn' | 'manual' | 'erased', string>;
  campaigns: Record<'paused' | 'cancelled' | 'scheduled', string>;
  importId: string;
  /** The invoice's transaction id (its message purpose is invoice:<transactionId>). */
  transactionId: string;
}

const RAW = { 'content-type': 'message/rfc822' };
/** The tracked campaign's one link, and the browser that follows it (a scanner's user agent would not count). */
const ENGAGED_LINK = 'https://shop.example/events?from=mail';
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

/**
 * Drives, for tenant `t`, every event type the triggers produce (message queued, sent, deferred,
 * failed, suppressed, bounced hard/soft/blocked, complained, feedback, cancelled; contact confirmed,
 * unsubscribed, resubscribed, suppressed, unsuppressed, erased; campaign scheduled, started, paused,
 * resumed, completed, cancelled; import finished) through the real API, SMTP and inbound paths, and
 * waits until the feed shows them. Needs an app started with EVENTS_APP. Takes a few seconds.
 */
export async function produceEveryEvent(app: TestApp, t: TestTenant): Promise<ProducedEvents> {
  const tag = randomUUID().slice(0, 8);
  const addr = (name: string) => `${name}-${tag}@events.example`;
  const g = given(app, t);
  const notice = async (to: string): Promise<string> => {
    const post = () => t.api('POST', '/api/messages', { kind: 'technical', contact: to, data: { body: 'Your account changed.' } });
    let r = await post();
    if (r.status === 422 && r.body.error?.code === 'no_association') { await g.pendingContact(to); r = await post(); }
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body.id as string;
  };
  const sentNotice = async (to: string) => {
    const id = await notice(to);
    const m = await waitForStatus(t, id, (s) => s === 'sent', to);
    return { id, header: m.messageId as string, envelopeFrom: app.sink.received.find((r) => r.envelopeTo.includes(to))?.envelopeFrom ?? 'bounces@relay.example' };
  };
  const inbound = async (raw: string) => {
    const r = await t.api('POST', '/api/inbound', raw, RAW);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body;
  };

  // The parts run at once (each warms its own worker: renderer, classifier, campaign and import jobs).
  const messagesPart = async () => {
    // message.queued, message.sent; message.failed (550 at RCPT)
    const failedId = await notice(addr('fail'));
    const sent = await sentNotice(addr('sent'));
    await waitForStatus(t, failedId, (s) => !['queued', 'sending', 'deferred'].includes(s), 'fail');
    return { sent, failedId };
  };
  const hardPart = async () => {
    // message.bounced (hard) and contact.suppressed; then an invoice to that contact: 202, then message.suppressed
    const bouncedContact = await g.subscribedContact(addr('hard'));
    const hard = await sentNotice(addr('hard'));
    await inbound(dsn({ to: hard.envelopeFrom, finalRecipient: addr('hard'), messageId: hard.header }));
    const inv = await t.api('POST', '/api/invoices', {
      transactionId, contact: { id: bouncedContact.id }, currency: 'EUR', issuedAt: '2024-05-31',
      lines: [{ description: 'Annual plan', quantity: 1, unitAmount: 1000 }], taxes: [], total: 1000,
    });
    expect(inv.status, JSON.stringify(inv.body)).toBe(202);
    await waitForStatus(t, inv.body.id, (s) => s === 'suppressed', 'invoice to a suppressed contact');
    return { bouncedContact, hard, invoiceId: inv.body.id as string };
  };
  const reportsPart = async () => {
    // message.bounced soft and blocked (status unchanged), complained, feedback
    const [soft, complained, feedback] = await Promise.all([sentNotice(addr('soft')), sentNotice(addr('complaint')), sentNotice(addr('feedback'))]);
    await inbound(dsn({ to: soft.envelopeFrom, finalRecipient: addr('soft'), messageId: soft.header, status: '4.2.2',
      diagnostic: `smtp; 452 4.2.2 <${addr('soft')}>: Mailbox full` }));
    await inbound(dsn({ to: soft.envelopeFrom, finalRecipient: addr('soft'), messageId: soft.header, status: '5.7.1', id: 'blocked',
      diagnostic: 'smtp; 550 5.7.1 Service unavailable; client host [192.0.2.1] blocked using zen.spamhaus.org' }));
    await inbound(arf({ to: complained.envelopeFrom, recipient: addr('complaint'), messageId: complained.header }));
    await inbound(arf({ to: feedback.envelopeFrom, recipient: addr('feedback'), messageId: feedback.header }).replace(/Feedback-Type: abuse/i, 'Feedback-Type: not-spam'));
    return { soft, complained, feedback };
  };
  const contactsPart = async () => {
    // contact.confirmed (double opt-in), unsubscribed, resubscribed, suppressed, unsuppressed, erased
    const list = await g.list(`Events ${tag}`);
    const optIn = await g.subscribedContact(addr('optin'), { via: 'opt-in', lists: [list] });
    expect((await t.api('DELETE', `/api/contacts/${optIn.id}/subscriptions/${list}`)).status).toBe(200);
    const again = await t.api('POST', `/api/contacts/${optIn.id}/subscriptions`, { listIds: [list], consent });
    expect([200, 202], JSON.stringify(again.body)).toContain(again.status);
    const manual = await g.subscribedContact(addr('manual'));
    expect((await t.api('POST', '/api/suppressions', { address: addr('manual'), reason: 'manual' })).status).toBe(201);
    expect((await t.api('DELETE', `/api/suppressions/${encodeURIComponent(addr('manual'))}?reason=asked`)).status).toBe(200);
    const erased = await g.subscribedContact(addr('erased'));
    expect((await t.api('DELETE', `/api/contacts/${erased.id}`)).status).toBe(200);
    return { list, optIn, manual, erased };
  };
  // campaigns: one started, paused, resumed and completed (a held recipient keeps it running: message.deferred);
  // one started then cancelled while its recipient is deferred (message.cancelled); one scheduled.
  const tpl = await g.template();
  const heldCampaign = async (name: string, then: (id: string) => Promise<void>) => {
    const list = await g.list(`${name} ${tag}`);
    const held = addr(`held-${name}`);
    await g.subscribedContact(held, { lists: [list] });
    if (name === 'paused') await g.subscribedContact(addr('reader'), { lists: [list] });
    heldRecipients.add(held);
    const c = await g.campaign(tpl, [list]);
    expect((await t.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(202);
    const deferred = await waitForEvent(t, (e) => e.type === 'message.deferred' && e.data.recipient === held, 'message.deferred');
    await then(c.id);
    heldRecipients.delete(held);
    return { id: c.id as string, held, list, messageId: deferred.data.messageId as string };
  };
  const pausedPart = () => heldCampaign('paused', async (id) => {
    expect((await t.api('POST', `/api/campaigns/${id}/pause`)).status).toBe(200);
    expect((await t.api('POST', `/api/campaigns/${id}/resume`)).status).toBe(202);
  });
  const cancelledPart = () => heldCampaign('cancelled', async (id) => {
    expect((await t.api('POST', `/api/campaigns/${id}/cancel`)).status).toBe(200);
  });
  const importPart = async () => {
    // import.finished
    const csv = `email,name\n${addr('imported')},Imported Reader\n`;
    const options = { consent: { source: 'old ESP export', text: 'Yes, send me news.', date: '2024-03-01' } };
    const up = await fetch(`${app.url}/api/imports?options=${encodeURIComponent(JSON.stringify(options))}`,
      { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'text/csv' }, body: csv });
    const view = await up.json() as { id: string };
    expect(up.status, JSON.stringify(view)).toBe(202);
    return view.id;
  };
  const deliveredPart = async () => {
    // message.delivery_report: an RFC 3464 report whose Action is `delivered`, for a sent message
    const m = await sentNotice(addr('receipt'));
    await inbound(dsn({ to: m.envelopeFrom, finalRecipient: addr('receipt'), messageId: m.header, action: 'delivered', status: '2.0.0',
      diagnostic: 'smtp; 250 2.0.0 Ok: queued as 4Xb7' }));
    return m.id;
  };
  const engagementPart = async () => {
    // message.clicked and message.opened: a tracked campaign's /c/ link and /o/ pixel, followed by a
    // browser after the scanner window (its message backdated a minute, as the owner)
    const list = await g.list(`Engaged ${tag}`);
    const reader = addr('engaged');
    await g.subscribedContact(reader, { lists: [list] });
    const template = await g.template({ mjml: `<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{name}}, see
      <a href="${ENGAGED_LINK}">our news</a>.</mj-text></mj-column></mj-section></mj-body></mjml>` });
    const c = await g.campaign(template, [list], { trackClicks: true, trackOpens: true });
    expect((await t.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(202);
    const sentEvent = await waitForEvent(t, (e) => e.type === 'message.sent' && e.data.recipient === reader, 'message.sent (tracked campaign)');
    const html = String((await waitFor(() => app.sink.received.find((r) => r.envelopeTo.includes(reader)))).parsed.html);
    const link = (kind: 'c' | 'o') => new RegExp(`https://postgate\\.test/${kind}/[A-Za-z0-9_.-]+`).exec(html)?.[0];
    const [click, open] = [link('c'), link('o')];
    expect(click && open, html).toBeTruthy();
    const messageId = sentEvent.data.messageId as string;
    await ownerQuery(app.db.url, `UPDATE messages SET sent_at = now() - interval '1 minute' WHERE id = $1`, [messageId]);
    for (const url of [click, open] as string[]) {
      const r = await fetch(url.replace('https://postgate.test', app.url), { redirect: 'manual', headers: { 'user-agent': BROWSER } });
      expect(r.status).toBeLessThan(400);
    }
    return { campaignId: c.id as string, messageId };
  };
  const transactionId = `T-${tag}`;
  const [{ sent, failedId }, { bouncedContact, hard, invoiceId }, { soft, complained, feedback }, { list, optIn, manual, erased }, c1, c2, importId, receiptId, engaged] =
    await Promise.all([messagesPart(), hardPart(), reportsPart(), contactsPart(), pausedPart(), cancelledPart(), importPart(), deliveredPart(), engagementPart()]);
  const c3 = await g.campaign(tpl, [c2.list], { sendAt: new Date(Date.now() + 86_400_000).toISOString() });

  const expected: ProducedEvents['expected'] = [
    { type: 'message.queued', data: { messageId: sent.id, purpose: expect.stringMatching(/^notice:/), kind: 'technical', recipient: addr('sent') } },
    { type: 'message.sent', data: { messageId: sent.id, recipient: addr('sent'), smtpResponse: expect.stringMatching(/^250/) } },
    { type: 'message.failed', data: { messageId: failedId, recipient: addr('fail'), smtpResponse: expect.stringContaining('550') } },
    { type: 'message.bounced', data: { messageId: hard.id, bounceKind: 'hard', reason: expect.any(String), status: '5.1.1', contactId: bouncedContact.id } },
    { type: 'contact.suppressed', data: { contactId: bouncedContact.id, recipient: addr('hard'), source: expect.any(String) } },
    { type: 'message.suppressed', data: { messageId: invoiceId, purpose: `invoice:${transactionId}`, reason: expect.any(String), contactId: bouncedContact.id } },
    { type: 'message.bounced', data: { messageId: soft.id, bounceKind: 'soft', status: '4.2.2' } },
    { type: 'message.bounced', data: { messageId: soft.id, bounceKind: 'blocked', status: '5.7.1' } },
    { type: 'message.complained', data: { messageId: complained.id, recipient: addr('complaint'), feedbackType: 'abuse' } },
    { type: 'message.feedback', data: { messageId: feedback.id, feedbackType: 'not-spam' } },
    { type: 'contact.confirmed', data: { contactId: optIn.id, listId: list, recipient: addr('optin') } },
    { type: 'contact.unsubscribed', data: { contactId: optIn.id, listId: list, source: 'api' } },
    { type: 'contact.resubscribed', data: { contactId: optIn.id, listId: list } },
    { type: 'contact.suppressed', data: { contactId: manual.id, recipient: addr('manual'), reason: 'manual' } },
    { type: 'contact.unsuppressed', data: { contactId: manual.id, recipient: addr('manual') } },
    { type: 'contact.erased', data: { contactId: erased.id } },
    { type: 'campaign.started', data: { campaignId: c1.id, from: 'draft' } },
    { type: 'message.deferred', data: { messageId: c1.messageId, campaignId: c1.id, recipient: c1.held, smtpResponse: expect.stringContaining('451') } },
    { type: 'campaign.paused', data: { campaignId: c1.id, from: 'running' } },
    { type: 'campaign.resumed', data: { campaignId: c1.id, from: 'paused' } },
    { type: 'campaign.completed', data: { campaignId: c1.id, from: 'running' } },
    { type: 'message.cancelled', data: { messageId: c2.messageId, campaignId: c2.id, recipient: c2.held, reason: 'campaign_cancelled' } },
    { type: 'campaign.cancelled', data: { campaignId: c2.id, from: 'running' } },
    { type: 'campaign.scheduled', data: { campaignId: c3.id, sendAt: expect.any(String) } },
    { type: 'import.finished', data: { importId, status: 'completed', counts: expect.any(Object) } },
    { type: 'message.delivery_report', data: { messageId: receiptId, action: 'delivered', status: '2.0.0' } },
    { type: 'message.clicked', data: { messageId: engaged.messageId, campaignId: engaged.campaignId, url: ENGAGED_LINK,
      link: 'https://shop.example/events', unique: true, firstClick: true, scanner: false } },
    { type: 'message.opened', data: { messageId: engaged.messageId, campaignId: engaged.campaignId, unique: true, scanner: false, machineOpenPossible: true } },
  ];
  let missing: unknown[] = [];
  await waitFor(async () => {
    const { items } = await readAllEvents(t);
    missing = expected.filter((x) => !items.some((e) => e.type === x.type && matches(e.data, x.data)))
      .map((x) => ({ ...x, got: items.filter((e) => e.type === x.type).map((e) => e.data) }));
    return missing.length === 0;
  }, { timeout: 30_000, interval: 200, message: () => `the feed never held these events: ${JSON.stringify(missing)}` });
  return {
    expected,
    messages: { sent: sent.id, failed: failedId, hard: hard.id, soft: soft.id, complained: complained.id, feedback: feedback.id,
      suppressedInvoice: invoiceId, cancelled: c2.messageId, receipt: receiptId, engaged: engaged.messageId },
    contacts: { bounced: bouncedContact.id, optIn: optIn.id, manual: manual.id, erased: erased.id },
    campaigns: { paused: c1.id, cancelled: c2.id, scheduled: c3.id },
    importId, transactionId,
  };
}

/** Whether `data` holds every key of `subset` with an equal value (asymmetric matchers allowed). */
export function matches(data: Record<string, unknown>, subset: Record<string, unknown>): boolean {
  try { expect(data).toMatchObject(subset); return true; } catch { return false; }
}
