// Campaigns API: validation, the compliance pre-check (every reason at once), test sends to the
// tenant's own test addresses, scheduling with sendAt, and the status machine.
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDkimKey, insertDkimKey } from '../../src/tenants/dkim.js';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { sleep, waitFor } from '../support/wait.js';
import { verifiedTestAddress } from '../support/test-addresses.js';
import { perRecipient, rawHeader, setTenant, waitForCampaign } from './helpers.js';

const { app, t } = useApp();
let list: string;
let templateId: string;

beforeAll(async () => {
  list = await given(app, t).defaultList();
  templateId = await given(app, t).template();
});

describe('campaigns API', () => {
  it('validates lists, template, subject and reply-to', async () => {
    const base = { name: 'X', templateId, listIds: [list] };
    const noList = await t.api('POST', '/api/campaigns', { ...base, listIds: [list, '7d0a7f4e-0000-4000-8000-000000000000'] });
    expect(noList.status).toBe(422);
    expect(noList.body.error.field).toBe('listIds[1]');
    const noTemplate = await t.api('POST', '/api/campaigns', { ...base, templateId: '7d0a7f4e-0000-4000-8000-000000000000' });
    expect(noTemplate.body.error).toMatchObject({ code: 'invalid', field: 'templateId' });
    const badSubject = await t.api('POST', '/api/campaigns', { ...base, subject: 'Hi {{#if}}' });
    expect(badSubject.body.error).toMatchObject({ code: 'invalid_template', field: 'subject' });
    const badReply = await t.api('POST', '/api/campaigns', { ...base, replyTo: 'noreply@acme.org' });
    expect(badReply.body.error).toMatchObject({ code: 'invalid', field: 'replyTo' });
    const ok = await t.api('POST', '/api/campaigns', base);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ status: 'draft', subject: 'News for {{name}}', replyTo: 'support@acme.org' }); // template's subject, tenant's reply-to
    expect((await t.api('GET', '/api/campaigns/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await t.api('GET', '/api/campaigns')).body.items.some((c: any) => c.id === ok.body.id)).toBe(true);
  });

  it('refuses to schedule or start a campaign that could not be compliant, naming every reason', async () => {
    const bad = await app.tenant({ name: 'Sloppy', postalAddress: null });
    await setTenant(app, bad.id, "reply_to = 'noreply@sloppy.org', require_dkim = true");
    const noLink = await given(app, bad).template({ mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi {{name}}</mj-text></mj-column></mj-section></mj-body></mjml>' });
    const badList = await given(app, bad).defaultList();
    const c = await given(app, bad).campaign(noLink, [badList]);
    // No unsubscribe link in the template is not a reason: Postgate's footer adds a visible one.
    const expected = ['no_postal_address', 'no_reply_to', 'no_dkim_key'];
    for (const action of ['start', 'schedule']) {
      const r = await bad.api('POST', `/api/campaigns/${c.id}/${action}`, action === 'schedule' ? { sendAt: new Date(Date.now() + 3600_000).toISOString() } : undefined);
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('not_compliant');
      expect(r.body.error.reasons).toEqual(expected);
    }
    const withSendAt = await bad.api('POST', '/api/campaigns', { name: 'Later', templateId: noLink, listIds: [badList], sendAt: new Date(Date.now() + 3600_000).toISOString() });
    expect(withSendAt.status).toBe(422);
    expect(withSendAt.body.error.reasons).toEqual(expected);
    const stored = await ownerQuery<{ name: string; status: string }>(app.db.url, 'SELECT name, status FROM campaigns WHERE tenant_id = $1', [bad.id]);
    expect(stored).toEqual([{ name: 'Spring', status: 'draft' }]); // nothing half-written

    // Fix the tenant one thing at a time: the remaining reasons shrink accordingly.
    await setTenant(app, bad.id, "postal_address = '2 Side Road', reply_to = 'help@sloppy.org'");
    let r = await bad.api('POST', `/api/campaigns/${c.id}/start`);
    expect(r.body.error.reasons).toEqual(['no_dkim_key']);
    const pair = await generateDkimKey();
    await app.pg.deps.db.withTenant(bad.id, (tx) => insertDkimKey(tx, bad.id, 'acme.org', 's1', pair, { activate: true }));
    // A template whose whole body is hidden would hide Postgate's footer link too: that one is refused.
    const hiddenBody = await given(app, bad).template({ name: 'Hidden', mjml: '<mjml><mj-head><mj-style>body, .all { display: none }</mj-style></mj-head><mj-body css-class="all"><mj-section><mj-column><mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a></mj-text></mj-column></mj-section></mj-body></mjml>' });
    const hidden = await given(app, bad).campaign(hiddenBody, [badList]);
    r = await bad.api('POST', `/api/campaigns/${hidden.id}/start`);
    expect(r.status).toBe(422);
    expect(r.body.error.reasons).toEqual(['no_unsubscribe_link']);
    r = await bad.api('POST', `/api/campaigns/${c.id}/start`);
    expect(r.status).toBeLessThan(300);
  });

  it("test-sends only to the tenant's verified test addresses, through the gate, marked as a test", async () => {
    await verifiedTestAddress(app, t, 'qa@acme.org');
    const c = await given(app, t).campaign(templateId, [list]);
    const refused = await t.api('POST', `/api/campaigns/${c.id}/test`, { emails: ['qa@acme.org', 'someone@else.org'] });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'not_test_address', field: 'emails[1]' });
    const before = app.sink.received.length;
    const r = await t.api('POST', `/api/campaigns/${c.id}/test`, { emails: ['QA@acme.org'] });
    expect(r.status).toBe(202);
    expect(r.body.messages).toHaveLength(1);
    const got = (await app.sink.waitFor(before + 1))[before];
    expect(got.envelopeTo).toEqual(['QA@acme.org']);
    expect(got.parsed.subject).toBe('[TEST] Spring news for Jane Doe');
    expect(rawHeader(got.parsed.headerLines, 'list-unsubscribe')).toMatch(/^<https:\/\/postgate\.test\/u\//);
    expect(got.parsed.html).toContain('1 Main Street, Springfield');
    const ledger = () => ownerQuery<{ kind: string; campaign_id: string | null; status: string; purpose: string }>(app.db.url,
      'SELECT kind, campaign_id, status, purpose FROM messages WHERE id = $1', [r.body.messages[0].id]);
    await waitFor(async () => (await ledger())[0].status === 'sent', { timeout: 10_000, interval: 50, message: 'timed out waiting for the ledger to record the test send' }); // SMTP answers before the ledger write
    const rows = await ledger();
    expect(rows[0]).toMatchObject({ kind: 'test', campaign_id: null, status: 'sent' });
    expect(rows[0].purpose.startsWith(`test:${c.id}:`)).toBe(true);
    expect((await t.api('GET', `/api/campaigns/${c.id}`)).body.progress.audience).toBe(0); // tests are not the audience
  });

  it('sendAt schedules the campaign; it starts by itself at that time', async () => {
    const emails = await given(app, t).contacts({ prefix: 'sched', n: 4, listId: list });
    const sendAt = new Date(Date.now() + 1500).toISOString();
    const c = await given(app, t).campaign(templateId, [list], { sendAt });
    expect(c.status).toBe('scheduled');
    expect(new Date(c.sendAt).toISOString()).toBe(sendAt);
    await sleep(700);
    expect((await t.api('GET', `/api/campaigns/${c.id}`)).body.status).toBe('scheduled');
    const done = await waitForCampaign(t, c.id, (x) => x.status === 'completed');
    expect(new Date(done.startedAt).getTime()).toBeGreaterThanOrEqual(new Date(sendAt).getTime() - 50);
    const got = perRecipient(app);
    for (const e of emails) expect(got.get(e)).toBe(1);
  });

  it('a cancelled or rescheduled schedule does not fire at the old time', async () => {
    const c1 = await given(app, t).campaign(templateId, [list], { sendAt: new Date(Date.now() + 800).toISOString() });
    expect((await t.api('POST', `/api/campaigns/${c1.id}/cancel`)).body.status).toBe('cancelled');
    const c2 = await given(app, t).campaign(templateId, [list], { sendAt: new Date(Date.now() + 800).toISOString() });
    const later = new Date(Date.now() + 3600_000).toISOString();
    const moved = await t.api('POST', `/api/campaigns/${c2.id}/schedule`, { sendAt: later });
    expect(moved.status).toBe(202);
    await sleep(2500);
    expect((await t.api('GET', `/api/campaigns/${c1.id}`)).body).toMatchObject({ status: 'cancelled', progress: { audience: 0 } });
    expect((await t.api('GET', `/api/campaigns/${c2.id}`)).body).toMatchObject({ status: 'scheduled', progress: { audience: 0 } });
    expect((await t.api('POST', `/api/campaigns/${c2.id}/schedule`, {})).status).toBe(202); // the stored sendAt
  });

  it("keeps tenants apart: another tenant's campaigns, templates and lists are not found", async () => {
    const other = await app.tenant({ name: 'Other', fromEmail: 'hi@other.org', replyTo: 'help@other.org' });
    const c = await given(app, t).campaign(templateId, [list]);
    expect((await other.api('GET', `/api/campaigns/${c.id}`)).status).toBe(404);
    expect((await other.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(404);
    expect((await other.api('GET', `/api/templates/${templateId}`)).status).toBe(404);
    expect((await other.api('POST', `/api/templates/${templateId}/preview`, {})).status).toBe(404);
    const r = await other.api('POST', '/api/campaigns', { name: 'Steal', templateId, listIds: [list] });
    expect(r.body.error.field).toBe('templateId');
    const own = await given(app, other).template();
    expect((await other.api('POST', '/api/campaigns', { name: 'Steal', templateId: own, listIds: [list] })).body.error.field).toBe('listIds[0]');
    expect((await other.api('GET', '/api/campaigns')).body.items).toEqual([]);
  });

  it('enforces the status machine with 409 and the current status', async () => {
    const c = await given(app, t).campaign(templateId, [list]);
    const pause = await t.api('POST', `/api/campaigns/${c.id}/pause`);
    expect(pause.status).toBe(409);
    expect(pause.body.error).toMatchObject({ code: 'invalid_state', status: 'draft' });
    expect((await t.api('POST', `/api/campaigns/${c.id}/resume`)).status).toBe(409);
    expect((await t.api('POST', `/api/campaigns/${c.id}/schedule`, {})).body.error.field).toBe('sendAt');
    expect((await t.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(202);
    expect((await t.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(409);
    await waitForCampaign(t, c.id, (x) => x.status === 'completed');
    expect((await t.api('POST', `/api/campaigns/${c.id}/cancel`)).status).toBe(409);
    expect((await t.api('POST', '/api/campaigns/nope/start')).status).toBe(404);
    await waitFor(async () => (await ownerQuery(app.db.url, "SELECT 1 FROM messages WHERE status IN ('queued', 'sending')")).length === 0, { timeout: 20_000, interval: 50 });
  });
});
