// GET /api/dashboard over HTTP on a real app: a campaign run through the SMTP sink and a complaint
// through POST /api/inbound show in today's figures, the campaign's summary and the complaint-rate
// warning; a pending domain is named; queued single messages show in the queue health (a web-only
// app, so nothing drains them); the query is validated, the scope enforced, tenants kept apart.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { arf } from '../bounces/helpers.js';
import { waitForCampaign } from '../campaigns/helpers.js';
import { localDate } from '../../src/dashboard/days.js';
import { queueCounts } from '../../src/mail/ledger.js';

describe('GET /api/dashboard', () => {
  const { app, t, tenant } = useApp();
  const other = tenant({ name: 'Other' });

  it('answers a fresh tenant with 14 empty UTC days ending today, an idle queue and no warning', async () => {
    const r = await other.api('GET', '/api/dashboard');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ timeZone: 'UTC', days: 14, source: 'campaigns', warnings: [], campaigns: { running: [], recent: [] } });
    expect(r.body.series).toHaveLength(14);
    expect(r.body.series.at(-1).date).toBe(new Date().toISOString().slice(0, 10));
    expect(r.body.series.every((d: { sent: number }) => d.sent === 0)).toBe(true);
    expect(r.body.queue).toEqual({ queued: 0, deferred: 0, sending: 0, countLimit: 10000, oldestQueuedSeconds: null });
    expect(r.body.complaintRate).toMatchObject({ windowDays: 30, sent: 0, complaints: 0, rate: null, warnAt: 0.0025, limit: 0.003 });
  });

  it('validates days and timeZone, naming the field', async () => {
    for (const [q, field] of [['days=0', 'query.days'], ['days=91', 'query.days'], ['days=x', 'query.days'],
      ['timeZone=Mars/Olympus_Mons', 'query.timeZone'], ['timeZone=%2B05:30', 'query.timeZone'], ['zone=UTC', 'query.zone']] as const) {
      const r = await t.api('GET', `/api/dashboard?${q}`);
      expect(r.status, q).toBe(422);
      expect(r.body.error.field, q).toBe(field);
    }
  });

  it('needs the campaigns scope', async () => {
    const key = await app.tenant({ name: 'Subscribers only', scopes: ['subscribers'] });
    const r = await key.api('GET', '/api/dashboard');
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden_scope');
  });

  it('shows a sent campaign, its complaint and the warnings, per day in the asked zone, for its tenant only', async () => {
    const list = await given(app, t).list('Dash list');
    await given(app, t).contacts({ prefix: 'dash', n: 8, listId: list });
    const c = await given(app, t).campaign(await given(app, t).template(), [list], { name: 'Dash campaign' });
    expect((await t.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(202);
    await waitForCampaign(t, c.id, (x) => x.status === 'completed' && x.progress.sent === 8);
    const [row] = await ownerQuery<{ recipient: string; message_id_header: string }>(app.db.url,
      'SELECT recipient, message_id_header FROM messages WHERE campaign_id = $1 ORDER BY recipient LIMIT 1', [c.id]);
    const mail = app.sink.received.find((m) => m.envelopeTo.includes(row.recipient));
    const complaint = await t.api('POST', '/api/inbound', arf({ to: mail?.envelopeFrom ?? '', recipient: row.recipient, messageId: row.message_id_header }),
      { 'content-type': 'message/rfc822' });
    expect(complaint.status, JSON.stringify(complaint.body)).toBe(202);
    expect((await t.api('POST', '/api/domains', { domain: 'pending-dash.example' })).status).toBe(201);

    const tz = 'Pacific/Kiritimati'; // UTC+14: its calendar day is often not UTC's
    const r = await t.api('GET', `/api/dashboard?days=3&timeZone=${encodeURIComponent(tz)}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.series.map((d: { date: string }) => d.date).at(-1)).toBe(localDate(new Date(), tz));
    const today = r.body.series.at(-1);
    expect(today).toMatchObject({ sent: 8, complaints: 1, bounced: 0 });
    expect(today.delivered + today.pending).toBe(8);
    expect(r.body.totals).toMatchObject({ sent: 8, complaints: 1 });
    expect(r.body.complaintRate).toMatchObject({ sent: 8, complaints: 1, rate: 1 / 8 });
    expect(r.body.campaigns.running).toEqual([]);
    expect(r.body.campaigns.recent).toEqual([expect.objectContaining({
      id: c.id, name: 'Dash campaign', status: 'completed', audience: 8, sent: 8, complaints: 1,
      rates: expect.objectContaining({ complaints: 1 / 8 }),
    })]);
    const codes = Object.fromEntries(r.body.warnings.map((w: { code: string }) => [w.code, w]));
    expect(Object.keys(codes).sort()).toEqual(['complaint_rate', 'unverified_domains']);
    expect(codes.complaint_rate).toMatchObject({ severity: 'critical', complaints: 1, sent: 8, rate: 1 / 8 });
    expect(codes.unverified_domains.domains).toEqual(['pending-dash.example']);

    const theirs = await other.api('GET', '/api/dashboard?days=3');
    expect(theirs.body.totals.sent).toBe(0);
    expect(theirs.body.campaigns.recent).toEqual([]);
    expect(theirs.body.warnings).toEqual([]);
  });
});

describe('GET /api/dashboard: queue health', () => {
  const { app, t, tenant } = useApp({ roles: { worker: false } });
  const other = tenant({ name: 'Other' });

  it('counts queued and deferred messages and the age of the oldest queued, of this tenant only', async () => {
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push(await given(app, t).queuedMessage({ kind: 'account', template: 'notice', recipient: `q${n}@example.org`, data: {} }));
    await ownerQuery(app.db.url, `UPDATE messages SET next_attempt_at = now() - interval '90 seconds' WHERE id = $1`, [ids[0]]);
    await ownerQuery(app.db.url, `UPDATE messages SET status = 'deferred', next_attempt_at = now() + interval '1 hour' WHERE id = $1`, [ids[2]]);
    const r = await t.api('GET', '/api/dashboard?days=1');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.queue).toMatchObject({ queued: 2, deferred: 1, sending: 0 });
    expect(r.body.queue.oldestQueuedSeconds).toBeGreaterThanOrEqual(90);
    expect(r.body.queue.oldestQueuedSeconds).toBeLessThan(120);
    // Each count stops at the limit asked (the dashboard's is 10,000).
    expect(await app.pg.deps.db.withTenant(t.id, (c) => queueCounts(c, t.id, [], 1))).toMatchObject({ queued: 1, deferred: 1, sending: 0 });
    expect((await other.api('GET', '/api/dashboard?days=1')).body.queue).toEqual({ queued: 0, deferred: 0, sending: 0, countLimit: 10000, oldestQueuedSeconds: null });
  });
});
