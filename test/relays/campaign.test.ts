// Relays under a real campaign (a Postgate with SMTP_URLS, real PostgreSQL, real SMTP relays over
// TCP): a relay that is down loses nothing (every recipient in the ledger 'sent' and accepted exactly
// once by the other), and a destination domain answering 421 4.7.0 is backed off for everyone while
// the other domains flow on: its mail is deferred (reason domain_backoff, no attempt counted) and
// delivered once the back-off ends.
import { afterEach, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { fastTenant, ledgerCounts, query, startCampaign, waitForCompletion } from '../faults/helpers.js';
import { startRelaySink, type RelaySink } from './relay-sink.js';

const BACKOFF_SECONDS = 3;
let down: RelaySink;
let relay: RelaySink;
const { app } = useApp(async () => {
  down = await startRelaySink({ down: true });
  relay = await startRelaySink();
  return {
    smtp: false, tenant: false, roles: { inbound: false },
    config: {
      SMTP_URLS: `${down.url}?name=down,${relay.url}?name=up`, RELAY_PAUSE_AFTER_FAILURES: 2, RELAY_COOLDOWN_SECONDS: 600, RELAY_STATE_REFRESH_MS: 100,
      DOMAIN_BACKOFF_BASE_SECONDS: BACKOFF_SECONDS, DOMAIN_BACKOFF_MAX_SECONDS: 10, DOMAIN_CONCURRENCY_OVERRIDES: 'slow.example=2',
    },
  };
});
afterEach(() => { relay.accepted.length = 0; relay.throttled.length = 0; relay.setThrottled([]); });

async function campaign(domains: Record<string, number>, name: string): Promise<string> {
  const t = await app.tenant();
  await fastTenant(t.api);
  const list = await given(app, t).defaultList();
  for (const [domain, n] of Object.entries(domains)) await given(app, t).contacts({ prefix: `${name}-`, n, listId: list, domain, city: false });
  return startCampaign(t.api, list, name);
}

describe('relays under a campaign', () => {
  it('a relay that is down: nothing lost, nothing twice, the relay paused', async () => {
    const id = await campaign({ 'inbox.example': 60 }, 'failover');
    await waitForCompletion(app.db.url, id, 30_000);
    expect(await ledgerCounts(app.db.url, id)).toEqual({ total: 60, byStatus: { sent: 60 } });
    const sent = await query<{ id: string }>(app.db.url, 'SELECT id FROM messages WHERE campaign_id = $1', [id]);
    expect(new Set(relay.accepted.map((a) => a.key))).toEqual(new Set(sent.map((r) => r.id)));
    expect(relay.duplicates()).toEqual([]);
    expect(down.accepted).toEqual([]);
    expect(down.refused).toBeGreaterThanOrEqual(2);
    const [h] = await query<{ paused: boolean }>(app.db.url, "SELECT paused_until > now() AS paused FROM relay_health WHERE relay = 'down'");
    expect(h.paused).toBe(true);
    // Failover happened inside the send: no message needed a second attempt.
    const [a] = await query<{ max: number }>(app.db.url, 'SELECT max(attempts)::int AS max FROM messages WHERE campaign_id = $1', [id]);
    expect(a.max).toBe(1);
  });

  it('421 4.7.0 from one domain: it backs off, its mail waits without burning attempts, the others are not delayed', async () => {
    relay.setThrottled(['slow.example']);
    const id = await campaign({ 'slow.example': 12, 'inbox.example': 12 }, 'backoff');
    // The domain throttles until shortly before the back-off ends (what was already in flight when it
    // began gets 421 too, however slow the machine); it is fine again when the back-off ends.
    while (relay.throttled.length === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, BACKOFF_SECONDS * 1000 - 500));
    relay.setThrottled([]);
    await waitForCompletion(app.db.url, id, 30_000);
    expect(await ledgerCounts(app.db.url, id)).toEqual({ total: 24, byStatus: { sent: 24 } });
    expect(relay.duplicates()).toEqual([]);

    const slow = relay.accepted.filter((a) => a.rcpt.endsWith('@slow.example'));
    const fast = relay.accepted.filter((a) => a.rcpt.endsWith('@inbox.example'));
    expect(slow).toHaveLength(12);
    expect(fast).toHaveLength(12);
    // When the back-off began (PostgreSQL's clock; the same machine's as the relay's).
    const [d] = await query<{ level: number; began: number }>(app.db.url,
      `SELECT level, (extract(epoch FROM until) * 1000 - $1::float8 * 1000)::float8 AS began FROM domain_throttles WHERE domain = 'slow.example'`, [BACKOFF_SECONDS]);
    expect(d.level).toBe(1);
    // Others flow on: every inbox.example message went out before the back-off ended.
    expect(Math.max(...fast.map((a) => a.at))).toBeLessThan(d.began + BACKOFF_SECONDS * 1000);
    // slow.example got nothing until its back-off ended (a few ms for rounding).
    expect(Math.min(...slow.map((a) => a.at))).toBeGreaterThanOrEqual(d.began + BACKOFF_SECONDS * 1000 - 50);
    // Once it began, at most what was already in flight to the domain (its concurrency, 2) reached the relay.
    expect(relay.throttled.filter((x) => x.at > d.began + 20).length).toBeLessThanOrEqual(2);

    const rows = await query<{ recipient: string; attempts: number; held: number }>(app.db.url, `SELECT m.recipient, m.attempts,
        (SELECT count(*)::int FROM message_events e WHERE e.message_id = m.id AND e.type = 'deferred' AND e.detail->>'reason' = 'domain_backoff') AS held
      FROM messages m WHERE m.campaign_id = $1 AND m.recipient LIKE '%@slow.example'`, [id]);
    expect(rows.filter((r) => r.held > 0).length).toBeGreaterThan(0);
    // An attempt counts only where the relay was asked: the one that went through, plus each 421 the recipient got.
    for (const r of rows) expect(r.attempts, r.recipient).toBe(1 + relay.throttled.filter((x) => x.rcpt === r.recipient).length);
  });
});
