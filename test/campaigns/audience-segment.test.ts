// A campaign narrowed by a segment reaches only the subscribed contacts of its lists that match the
// segment (real PostgreSQL, the worker, the SMTP sink); the rest of the lists is counted as
// excluded by reason, not_in_segment among them. The gate still judges each recipient at send time.
import { describe, expect, it } from 'vitest';
import { addSuppression } from '../../src/consent/suppressions.js';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { perRecipient, waitForCampaign } from './helpers.js';

const { app, t } = useApp();

describe('segment-narrowed campaigns', () => {
  it('send only to the subscribed contacts of the lists that match the segment', async () => {
    const g = given(app, t);
    const list = await g.list('Narrowed');
    const elsewhere = await g.list('Elsewhere');
    const pro = (email: string, extra: Record<string, unknown> = {}) => g.subscribedContact(email, { lists: [list], attributes: { plan: 'pro', ...extra } });
    await pro('pro1@narrow.example', { age: 30 });
    await pro('pro2@narrow.example', { age: 41 });
    const young = await pro('young@narrow.example', { age: 17 });
    await pro('stringage@narrow.example', { age: '35' }); // mistyped: not in the range, no error
    await g.subscribedContact('free@narrow.example', { lists: [list], attributes: { plan: 'free', age: 30 } });
    const gone = await pro('gone@narrow.example', { age: 30 });
    await ownerQuery(app.db.url, "UPDATE subscriptions SET status = 'unsubscribed' WHERE contact_id = $1", [gone.id]);
    await g.subscribedContact('other@narrow.example', { lists: [elsewhere], attributes: { plan: 'pro', age: 30 } });
    const blocked = await pro('blocked@narrow.example', { age: 33 });
    await app.pg.deps.db.withTenant(t.id, (c) => addSuppression(c, t.id, blocked.email, 'marketing', 'complaint'));

    const segment = await t.api('POST', '/api/segments', { name: 'Adult pros', filter: { all: [{ attribute: 'plan', op: 'eq', value: 'pro' }, { attribute: 'age', op: 'gte', value: 18 }] } });
    expect(segment.status, JSON.stringify(segment.body)).toBe(201);
    // The count is over all contacts, lists aside: pro1, pro2, gone, other, blocked (not young, stringage or free).
    expect((await t.api('POST', `/api/segments/${segment.body.id}/count`)).body.count).toBe(5);
    const templateId = await g.template();
    const campaign = await g.campaign(templateId, [list], { segmentId: segment.body.id });
    expect(campaign.segmentId).toBe(segment.body.id);
    expect((await t.api('POST', `/api/campaigns/${campaign.id}/start`)).status).toBe(202);
    const done = await waitForCampaign(t, campaign.id, (x) => x.status === 'completed');

    const got = perRecipient(app);
    expect(got.get('pro1@narrow.example')).toBe(1);
    expect(got.get('pro2@narrow.example')).toBe(1);
    for (const e of ['young@narrow.example', 'stringage@narrow.example', 'free@narrow.example', 'gone@narrow.example', 'other@narrow.example', 'blocked@narrow.example']) {
      expect(got.get(e), e).toBeUndefined();
    }
    expect(young.lists).toEqual([list]);
    // blocked matched the segment and was queued; the gate refused it at send time.
    expect(done.progress).toMatchObject({ audience: 3, sent: 2, excluded: { not_in_segment: 3, unsubscribed: 1 } });
    expect(done.progress.skipped).toEqual({ total: 5, byReason: { not_in_segment: 3, unsubscribed: 1, complained: 1 } });
    const deleted = await t.api('DELETE', `/api/segments/${segment.body.id}`);
    expect(deleted.body.error).toMatchObject({ code: 'segment_in_use' });
  });
});
