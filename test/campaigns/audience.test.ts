// Who gets a campaign: only active contacts subscribed to one of its lists and not suppressed;
// everyone else is skipped and counted under the gate's reason. Over real SMTP and PostgreSQL.
import { describe, expect, it } from 'vitest';
import { addSuppression } from '../../src/consent/suppressions.js';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { perRecipient, waitForCampaign } from './helpers.js';

const { app, t } = useApp();

describe('campaign audience and the send-time gate', () => {
  it('sends only to subscribed, active, unsuppressed contacts and counts every skip by reason', async () => {
    const list = await given(app, t).defaultList();
    const other = await given(app, t).list('Other');
    const receivers = await given(app, t).contacts({ prefix: 'ok', n: 20, listId: list });
    const pending = await given(app, t).contacts({ prefix: 'pending', n: 3, listId: list, contactStatus: 'pending' });
    const unsubscribed = await given(app, t).contacts({ prefix: 'gone', n: 3, listId: list, subscription: 'unsubscribed' });
    const unconfirmed = await given(app, t).contacts({ prefix: 'unconf', n: 2, listId: list, subscription: 'unconfirmed' });
    const bounced = await given(app, t).contacts({ prefix: 'hard', n: 3, listId: list });
    const complained = await given(app, t).contacts({ prefix: 'complaint', n: 2, listId: list });
    const suppressedContact = await given(app, t).contacts({ prefix: 'suppc', n: 1, listId: list, contactStatus: 'suppressed' });
    const elsewhere = await given(app, t).contacts({ prefix: 'other', n: 3, listId: other });
    await app.pg.deps.db.withTenant(t.id, async (c) => {
      for (const e of bounced) await addSuppression(c, t.id, e.toUpperCase(), 'all', 'hard_bounce');
      for (const e of complained) await addSuppression(c, t.id, e, 'marketing', 'complaint');
    });

    const templateId = await given(app, t).template();
    const campaign = await given(app, t).campaign(templateId, [list]);
    expect(campaign).toMatchObject({ status: 'draft', replyTo: 'support@acme.org', templateVersion: 1 });
    expect((await t.api('POST', `/api/campaigns/${campaign.id}/start`)).status).toBe(202);
    const done = await waitForCampaign(t, campaign.id, (c) => c.status === 'completed');

    const got = perRecipient(app);
    expect([...got.keys()].sort()).toEqual(receivers.map((e) => e.toLowerCase()).sort());
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    for (const e of [...pending, ...unsubscribed, ...unconfirmed, ...bounced, ...complained, ...suppressedContact, ...elsewhere]) {
      expect(got.has(e.toLowerCase())).toBe(false);
    }
    expect(done.progress).toMatchObject({
      audience: 20 + 3 + 3 + 2 + 1, sent: 20, failed: 0, queued: 0, sending: 0, deferred: 0,
      skipped: { total: 3 + 3 + 2 + 3 + 2 + 1, byReason: { not_active: 3, unsubscribed: 3, not_subscribed: 2, suppressed: 4, complained: 2 } },
    });

    // The ledger: one row per (campaign, contact), with the gate's reason on every skipped one.
    const rows = await ownerQuery<{ status: string; reason: string | null; n: number }>(app.db.url,
      'SELECT status, reason, count(*)::int AS n FROM messages WHERE campaign_id = $1 GROUP BY 1, 2 ORDER BY 1, 2', [campaign.id]);
    expect(rows).toEqual([
      { status: 'sent', reason: null, n: 20 },
      { status: 'suppressed', reason: 'complained', n: 2 },
      { status: 'suppressed', reason: 'not_active', n: 3 },
      { status: 'suppressed', reason: 'suppressed', n: 4 },
    ]);
    const dup = await ownerQuery<{ n: number }>(app.db.url,
      'SELECT count(*)::int AS n FROM (SELECT contact_id FROM messages WHERE campaign_id = $1 GROUP BY contact_id HAVING count(*) > 1) x', [campaign.id]);
    expect(dup[0].n).toBe(0);
  });
});
