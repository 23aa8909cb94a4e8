// Campaign auto-pause: a running campaign pauses itself, with the reason on the campaign, once its
// complaints pass COMPLAINT_PAUSE_RATE or its hard bounces pass HARD_BOUNCE_PAUSE_RATE of the
// messages sent, judged only after PAUSE_MIN_SENT. The campaign's messages are ledger rows marked
// sent here (their delivery is the campaigns suite's concern); the reports arrive over SMTP.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { verpAddress } from '../../src/mail/sender.js';
import { pauseReason } from '../../src/bounces/actions.js';
import { bounceSettings } from '../../src/bounces/module.js';
import { arf, deliver, dsn, listenerPort } from './helpers.js';

const { app, t } = useApp({ config: { PAUSE_MIN_SENT: 10 } });
let port: number;

beforeAll(() => { port = listenerPort(app); });

interface Sent { id: string; recipient: string; header: string; verp: string }

/** A running campaign whose `n` recipients were sent (ledger rows with sent_at). */
async function runningCampaign(n: number): Promise<{ id: string; sent: Sent[] }> {
  return app.pg.deps.db.withTenant(t.id, async (c) => {
    const tpl = (await c.query<{ id: string }>(`INSERT INTO templates (tenant_id, name) VALUES ($1, 'News') RETURNING id`, [t.id])).rows[0].id;
    await c.query(`INSERT INTO template_versions (tenant_id, template_id, version, mjml, subject) VALUES ($1, $2, 1, '<mjml></mjml>', 'News')`, [t.id, tpl]);
    const list = (await c.query<{ id: string }>('SELECT id FROM lists WHERE is_default')).rows[0].id;
    // heartbeat in the future keeps the campaigns recovery sweep away from this hand-made campaign
    const id = (await c.query<{ id: string }>(`INSERT INTO campaigns (tenant_id, name, subject, template_id, template_version, list_ids, status, started_at, heartbeat_at)
      VALUES ($1, 'June', 'News', $2, 1, $3, 'running', now(), now() + interval '1 hour') RETURNING id`, [t.id, tpl, [list]])).rows[0].id;
    const sent: Sent[] = [];
    for (let i = 0; i < n; i++) {
      const mid = randomUUID();
      const recipient = `r${i}.${id.slice(0, 8)}@example.net`;
      const header = `<${mid}@acme.org>`;
      await c.query(`INSERT INTO messages (id, tenant_id, purpose, kind, campaign_id, recipient, template, status, message_id_header, sent_at)
        VALUES ($1, $2, $3, 'marketing', $4, $5, 'campaign', 'sent', $6, now())`, [mid, t.id, `campaign:${id}:${i}`, id, recipient, header]);
      sent.push({ id: mid, recipient, header, verp: verpAddress(app.pg.deps.tokens, { id: t.id, bounceDomain: null }, mid, 'bounces.postgate.localhost') });
    }
    return { id, sent };
  });
}

async function campaign(id: string): Promise<{ status: string; paused_reason: string | null }> {
  const [row] = await ownerQuery<{ status: string; paused_reason: string | null }>(app.db.url, 'SELECT status, paused_reason FROM campaigns WHERE id = $1', [id]);
  return row;
}

const hardBounce = (s: Sent) => deliver(port, [s.verp], dsn({ to: s.verp, finalRecipient: s.recipient, messageId: s.header }));

describe('campaign auto-pause', () => {
  it('pauses when hard bounces pass 5% of the messages sent, not before', async () => {
    const c = await runningCampaign(20);
    await hardBounce(c.sent[0]);
    expect(await campaign(c.id)).toEqual({ status: 'running', paused_reason: null }); // 1/20 = 5%: not over
    await hardBounce(c.sent[1]);
    const paused = await campaign(c.id);
    expect(paused.status).toBe('paused');
    expect(paused.paused_reason).toMatch(/hard bounce rate 10% \(2 of 20 sent\) is over 5%/);
  });

  it('pauses on complaints past 0.3%', async () => {
    const c = await runningCampaign(20);
    const s = c.sent[3];
    await deliver(port, [s.verp], arf({ to: s.verp, recipient: s.recipient, messageId: s.header }));
    const paused = await campaign(c.id);
    expect(paused.status).toBe('paused');
    expect(paused.paused_reason).toMatch(/complaint rate 5% \(1 of 20 sent\) is over 0\.3%/);
  });

  it('does not judge a campaign before PAUSE_MIN_SENT messages went out', async () => {
    const c = await runningCampaign(5);
    for (const s of c.sent.slice(0, 3)) await hardBounce(s);
    expect(await campaign(c.id)).toEqual({ status: 'running', paused_reason: null });
    expect(await ownerQuery(app.db.url, `SELECT count(*)::int AS n FROM bounces WHERE campaign_id = $1 AND kind = 'hard'`, [c.id])).toEqual([{ n: 3 }]);
  });

  it('judges the rates as configured', () => {
    const s = { ...bounceSettings(app.pg.config), pauseMinSent: 200 };
    expect(pauseReason({ sent: 199, hard: 199, complaints: 199 }, s)).toBeNull();
    expect(pauseReason({ sent: 1000, hard: 50, complaints: 3 }, s)).toBeNull();
    expect(pauseReason({ sent: 1000, hard: 51, complaints: 3 }, s)).toMatch(/hard bounce rate 5\.1%/);
    expect(pauseReason({ sent: 1000, hard: 0, complaints: 4 }, s)).toMatch(/complaint rate 0\.4%/);
  });
});
