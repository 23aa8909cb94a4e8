// Delivery control over real SMTP and PostgreSQL: pause / resume / cancel while sending, an
// unsubscribe during sending, the per-tenant rate limit, 4xx retries with backoff and 5xx failures.
import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import { unsubscribeContact } from '../../src/consent/unsubscribe.js';
import { startTestApp, useApp, type TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { sleep, waitFor } from '../support/wait.js';
import { perRecipient, setTenant, waitForCampaign } from './helpers.js';

const arrivals: number[] = [];
const tempFailures = new Map<string, number>();

const { app } = useApp({
  tenant: false,
  sink: {
    parse: false,
    onRcpt(address) {
      if (address.startsWith('reject')) return { code: 550, message: '5.1.1 no such user' };
      if (address.startsWith('later')) {
        const n = (tempFailures.get(address) ?? 0) + 1;
        tempFailures.set(address, n);
        if (n <= 2) return { code: 451, message: '4.7.1 try again later' };
      }
      return null;
    },
    onData() { arrivals.push(Date.now()); return null; },
  },
});

/** A tenant with its own list and rate, and a template. */
async function setup(rate: number, prefix: string, n: number): Promise<{ t: TestTenant; list: string; templateId: string; emails: string[] }> {
  const t = await app.tenant({ name: prefix });
  await setTenant(app, t.id, 'send_rate_per_second = $2', [rate]);
  const list = await given(app, t).list(`${prefix} list`);
  const emails = await given(app, t).contacts({ prefix, n, listId: list });
  return { t, list, templateId: await given(app, t).template(), emails };
}

const countFor = (emails: string[]) => { const got = perRecipient(app); return emails.filter((e) => got.has(e)).length; };

describe('campaign delivery control', () => {
  it('pause stops sending at the next batch; resume finishes with nobody sent twice', async () => {
    const { t, list, templateId, emails } = await setup(20, 'pause', 60);
    const c = await given(app, t).campaign(templateId, [list]);
    await t.api('POST', `/api/campaigns/${c.id}/start`);
    await waitFor(() => countFor(emails) >= 10, { timeout: 10_000, interval: 50, message: 'timed out waiting for first messages' });
    const paused = await t.api('POST', `/api/campaigns/${c.id}/pause`);
    expect(paused.body).toMatchObject({ status: 'paused', pausedReason: 'manual' });
    await waitFor(async () => (await t.api('GET', `/api/campaigns/${c.id}`)).body.progress.sending === 0, { timeout: 10_000, interval: 50, message: 'timed out waiting for in-flight batch' });
    const atPause = countFor(emails);
    await sleep(1500);
    expect(countFor(emails)).toBe(atPause); // nothing more while paused
    const mid = (await t.api('GET', `/api/campaigns/${c.id}`)).body;
    expect(mid.progress.sent).toBe(atPause);
    expect(mid.progress.queued).toBe(60 - atPause);
    expect(atPause).toBeLessThan(60);

    expect((await t.api('POST', `/api/campaigns/${c.id}/resume`)).body.status).toBe('running');
    const done = await waitForCampaign(t, c.id, (x) => x.status === 'completed');
    expect(done.progress).toMatchObject({ audience: 60, sent: 60, queued: 0 });
    const got = perRecipient(app);
    expect(emails.every((e) => got.get(e) === 1)).toBe(true);
  });

  it('cancel marks everyone not yet sent as cancelled; nothing goes out afterwards', async () => {
    const { t, list, templateId, emails } = await setup(20, 'cancel', 60);
    const c = await given(app, t).campaign(templateId, [list]);
    await t.api('POST', `/api/campaigns/${c.id}/start`);
    await waitFor(() => countFor(emails) >= 5, { timeout: 10_000, interval: 50, message: 'timed out waiting for first messages' });
    const r = await t.api('POST', `/api/campaigns/${c.id}/cancel`);
    expect(r.body.status).toBe('cancelled');
    expect(r.body.cancelledMessages).toBeGreaterThan(0);
    await waitFor(async () => (await t.api('GET', `/api/campaigns/${c.id}`)).body.progress.sending === 0, { timeout: 10_000, interval: 50, message: 'timed out waiting for in-flight batch' });
    const atCancel = countFor(emails);
    await sleep(1500);
    expect(countFor(emails)).toBe(atCancel);
    const p = (await t.api('GET', `/api/campaigns/${c.id}`)).body.progress;
    expect(p.sent).toBe(atCancel);
    expect(p.cancelled).toBe(60 - atCancel);
    expect((await t.api('POST', `/api/campaigns/${c.id}/resume`)).status).toBe(409);
  });

  it('someone who unsubscribes while the campaign is sending gets nothing after that moment', async () => {
    const { t, list, templateId, emails } = await setup(10, 'unsub', 40);
    const c = await given(app, t).campaign(templateId, [list]);
    await t.api('POST', `/api/campaigns/${c.id}/start`);
    await waitFor(() => countFor(emails) >= 5, { timeout: 10_000, interval: 50, message: 'timed out waiting for first messages' });
    // Lock ten rows still waiting (not claimed by a drain), unsubscribe their contacts, commit.
    const gone = await app.pg.deps.db.withTenant(t.id, async (tx) => {
      const rows = (await tx.query<{ contact_id: string; recipient: string }>(`SELECT contact_id, recipient FROM messages
        WHERE campaign_id = $1 AND status = 'queued' LIMIT 10 FOR UPDATE SKIP LOCKED`, [c.id])).rows;
      for (const r of rows) await unsubscribeContact(tx, { tenantId: t.id, contactId: r.contact_id, listIds: [list], source: 'one_click', campaignId: c.id });
      return rows.map((r) => r.recipient);
    });
    expect(gone).toHaveLength(10);
    const done = await waitForCampaign(t, c.id, (x) => x.status === 'completed');
    const got = perRecipient(app);
    for (const e of gone) expect(got.has(e)).toBe(false);
    expect(done.progress).toMatchObject({ audience: 40, sent: 30, unsubscribed: 10, skipped: { byReason: { unsubscribed: 10 } } });
  });

  it('holds the tenant rate across lanes and drains', async () => {
    const { t, list, templateId, emails } = await setup(10, 'rate', 30);
    const c = await given(app, t).campaign(templateId, [list]);
    const from = arrivals.length;
    await t.api('POST', `/api/campaigns/${c.id}/start`);
    await waitForCampaign(t, c.id, (x) => x.status === 'completed');
    expect(countFor(emails)).toBe(30);
    const times = arrivals.slice(from);
    expect(times).toHaveLength(30);
    // Budgets are per clock second and shared by every lane and process: no second's budget was
    // overdrawn, and 30 at 10/s needed three seconds' budgets, so the mail spans more than a second.
    const windows = await ownerQuery<{ used: number }>(app.db.url, 'SELECT used FROM rate_windows WHERE tenant_id = $1 ORDER BY window_start', [t.id]);
    expect(windows.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...windows.map((w) => w.used))).toBeLessThanOrEqual(10);
    expect(times[times.length - 1] - times[0]).toBeGreaterThan(1000);
  });

  it('retries 4xx replies with backoff; a 5xx fails that delivery and goes to bounce handling', async () => {
    const t = await app.tenant({ name: 'Retry' });
    const list = await given(app, t).list('retry list');
    await given(app, t).contacts({ prefix: 'later', n: 2, listId: list });
    await given(app, t).contacts({ prefix: 'reject', n: 1, listId: list });
    await given(app, t).contacts({ prefix: 'fine', n: 2, listId: list });
    const c = await given(app, t).campaign(await given(app, t).template(), [list]);
    await t.api('POST', `/api/campaigns/${c.id}/start`);
    const done = await waitForCampaign(t, c.id, (x) => x.status === 'completed');
    expect(done.progress).toMatchObject({ audience: 5, sent: 4, failed: 1, bounced: 1, deferred: 0 });
    const rows = await ownerQuery<{ recipient: string; status: string; reason: string | null; attempts: number; smtp_response: string; deferrals: number }>(app.db.url,
      `SELECT m.recipient, m.status, m.reason, m.attempts, m.smtp_response,
         (SELECT count(*)::int FROM message_events e WHERE e.message_id = m.id AND e.type = 'deferred') AS deferrals
       FROM messages m WHERE campaign_id = $1 ORDER BY recipient`, [c.id]);
    const later = rows.filter((r) => r.recipient.startsWith('later'));
    expect(later.map((r) => [r.status, r.attempts, r.deferrals])).toEqual([['sent', 3, 2], ['sent', 3, 2]]);
    const rejected = rows.find((r) => r.recipient.startsWith('reject'))!;
    expect(rejected).toMatchObject({ status: 'bounced', attempts: 1 }); // bounce handling took it from 'failed'
    expect(rejected.smtp_response).toMatch(/550/);
    const events = await ownerQuery<{ type: string; reason: string | null }>(app.db.url, `SELECT e.type, e.detail->>'reason' AS reason
      FROM message_events e JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = $1 AND m.recipient LIKE 'reject%' ORDER BY e.id`, [c.id]);
    expect(events.map((e) => e.type)).toEqual(['failed', 'bounced']);
    expect(events[0].reason).toBe('rejected');
    expect(rows.filter((r) => r.recipient.startsWith('fine')).every((r) => r.status === 'sent' && r.attempts === 1)).toBe(true);
  });
});

describe('campaign delivery when the SMTP server is unreachable', () => {
  it('defers on a refused connection and delivers once the server is back', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => { const p = (srv.address() as net.AddressInfo).port; srv.close(() => resolve(p)); });
    });
    const down = await startTestApp({ config: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    let server: SMTPServer | null = null;
    try {
      const t = await down.tenant();
      const list = await given(down, t).list('offline');
      const emails = await given(down, t).contacts({ prefix: 'offline', n: 3, listId: list });
      const c = await given(down, t).campaign(await given(down, t).template(), [list]);
      await t.api('POST', `/api/campaigns/${c.id}/start`);
      await waitFor(async () => (await t.api('GET', `/api/campaigns/${c.id}`)).body.progress.deferred === 3, { timeout: 10_000, interval: 50, message: 'timed out waiting for deferrals' });
      const got: string[] = [];
      server = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false,
        onData(stream, session, cb) { stream.on('end', () => { got.push(...session.envelope.rcptTo.map((r) => r.address)); cb(); }); stream.resume(); } });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', () => resolve()));
      const done = await waitForCampaign(t, c.id, (x) => x.status === 'completed');
      expect(done.progress).toMatchObject({ sent: 3, failed: 0, deferred: 0 });
      expect(got.sort()).toEqual(emails);
      const attempts = await ownerQuery<{ attempts: number }>(down.db.url, 'SELECT attempts FROM messages WHERE campaign_id = $1', [c.id]);
      expect(attempts.every((a) => a.attempts >= 2)).toBe(true);
    } finally {
      await down.stop(); // first: its pooled SMTP connections keep the server's close waiting
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }
  });
});
