// What the console's campaign pages read from the API (issue 19): the list filtered by status, the
// compliance pre-check of a campaign as it stands, and the gate's refusals by reason in the progress
// (apart from the contacts left out when the audience was materialised). Real PostgreSQL, the worker
// and the SMTP sink.
import { beforeAll, describe, expect, it } from 'vitest';
import { addSuppression } from '../../src/consent/suppressions.js';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { perRecipient, setTenant, waitForCampaign } from './helpers.js';

const { app, t, tenant } = useApp();
const other = tenant({ name: 'Other' });
let list: string;
let templateId: string;

beforeAll(async () => {
  list = await given(app, t).defaultList();
  templateId = await given(app, t).template();
});

const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

describe('campaigns API for the console', () => {
  it('lists campaigns by status (one or several, comma-separated), paged within the filter', async () => {
    const draft = await given(app, t).campaign(templateId, [list], { name: 'Draft one' });
    const scheduled = await given(app, t).campaign(templateId, [list], { name: 'Later', sendAt: inAnHour() });
    const scheduled2 = await given(app, t).campaign(templateId, [list], { name: 'Later too', sendAt: inAnHour() });
    expect(scheduled.status).toBe('scheduled');

    const onlyScheduled = await t.api('GET', '/api/campaigns?status=scheduled');
    expect(onlyScheduled.status).toBe(200);
    const ids = onlyScheduled.body.items.map((c: { id: string }) => c.id);
    expect(ids).toEqual(expect.arrayContaining([scheduled.id, scheduled2.id]));
    expect(ids).not.toContain(draft.id);
    expect(onlyScheduled.body.items.every((c: { status: string }) => c.status === 'scheduled')).toBe(true);

    const first = await t.api('GET', '/api/campaigns?status=scheduled&limit=1');
    expect(first.body.items).toHaveLength(1);
    const next = await t.api('GET', `/api/campaigns?status=scheduled&limit=1&cursor=${first.body.nextCursor}`);
    expect(next.body.items).toHaveLength(1);
    expect(next.body.items[0].status).toBe('scheduled');
    expect(next.body.items[0].id).not.toBe(first.body.items[0].id);

    const both = await t.api('GET', '/api/campaigns?status=draft,scheduled');
    expect(both.body.items.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining([draft.id, scheduled.id]));
    expect((await t.api('GET', '/api/campaigns?status=running')).body.items).toEqual([]);

    const bad = await t.api('GET', '/api/campaigns?status=sent');
    expect(bad.status).toBe(422);
    expect(bad.body.error.field).toMatch(/^query\.status/);
  });

  it('says whether a campaign is compliant now, with every reason and its sentence', async () => {
    const ok = await given(app, t).campaign(templateId, [list]);
    expect(ok.from).toEqual({ email: 'news@acme.org', name: 'Acme News' }); // the tenant's sender, shown beside the draft
    const good = await t.api('GET', `/api/campaigns/${ok.id}/compliance`);
    expect(good.status).toBe(200);
    expect(good.body).toEqual({ compliant: true, reasons: [] });

    const sloppy = await app.tenant({ name: 'Sloppy', postalAddress: null });
    await setTenant(app, sloppy.id, "reply_to = 'noreply@sloppy.org'");
    const c = await given(app, sloppy).campaign(await given(app, sloppy).template(), [await given(app, sloppy).defaultList()]);
    const r = await sloppy.api('GET', `/api/campaigns/${c.id}/compliance`);
    expect(r.status).toBe(200);
    expect(r.body.compliant).toBe(false);
    expect(r.body.reasons.map((x: { reason: string }) => x.reason)).toEqual(['no_postal_address', 'no_reply_to']);
    expect(r.body.reasons[0].message).toMatch(/postal address/);
    // The same reasons a start is refused with.
    const start = await sloppy.api('POST', `/api/campaigns/${c.id}/start`);
    expect(start.body.error.reasons).toEqual(['no_postal_address', 'no_reply_to']);

    expect((await other.api('GET', `/api/campaigns/${ok.id}/compliance`)).status).toBe(404);
    expect((await t.api('GET', '/api/campaigns/not-an-id/compliance')).status).toBe(404);
  });

  it("reports the gate's refusals by reason apart from the contacts left out of the audience", async () => {
    const g = given(app, t);
    const news = await g.list('Refusals');
    await g.subscribedContact('reader@refuse.example', { lists: [news] });
    const blocked = await g.subscribedContact('blocked@refuse.example', { lists: [news] });
    await app.pg.deps.db.withTenant(t.id, (c) => addSuppression(c, t.id, blocked.email, 'marketing', 'complaint'));
    const gone = await g.subscribedContact('gone@refuse.example', { lists: [news] });
    await ownerQuery(app.db.url, "UPDATE subscriptions SET status = 'unsubscribed' WHERE contact_id = $1", [gone.id]);

    const c = await g.campaign(templateId, [news]);
    expect((await t.api('POST', `/api/campaigns/${c.id}/start`)).status).toBe(202);
    const done = await waitForCampaign(t, c.id, (x) => x.status === 'completed');
    expect(perRecipient(app).get('reader@refuse.example')).toBe(1);
    expect(perRecipient(app).get('blocked@refuse.example')).toBeUndefined();
    expect(done.progress.refused).toEqual({ total: 1, byReason: { complained: 1 } });
    expect(done.progress.excluded).toEqual({ unsubscribed: 1 });
    expect(done.progress.skipped).toEqual({ total: 2, byReason: { complained: 1, unsubscribed: 1 } });
  });
});
