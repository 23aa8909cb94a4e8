// A relay's rate (SMTP_URLS `rate=`) holds across processes: two real `postgate worker` processes
// drain one campaign through a relay limited to RATE messages per second, and the relay counts what
// it accepts per second of its clock. The tenant's own rate is twice the relay's (its claims are small,
// so both workers get rows), so only the relay's limit (shared in PostgreSQL, relay_rate_windows)
// can hold them to RATE.
import { afterEach, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { killAll, startProcess } from '../support/processes.js';
import { ledgerCounts, query, report, startCampaign, waitForCompletion } from '../faults/helpers.js';
import { startRelaySink } from './relay-sink.js';

const RATE = 20;
const N = 100;
const { app } = useApp({ roles: { worker: false, inbound: false }, tenant: false, smtp: false });
afterEach(async () => { await killAll(); });

describe('relay rate across worker processes', () => {
  it(`two workers, one relay at rate=${RATE}: never more than ${RATE} a second at the relay (window edge allowed), both workers sending`, async () => {
    const relay = await startRelaySink();
    try {
      const t = await app.tenant();
      const r = await t.api('PATCH', '/api/tenant', { sendRatePerSecond: 2 * RATE });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const list = await given(app, t).defaultList();
      await given(app, t).contacts({ prefix: 'rate-', n: N, listId: list, city: false });
      const env = { SMTP_URLS: `${relay.url}?rate=${RATE}&name=limited`, SMTP_POOL_SIZE: '5', RELAY_STATE_REFRESH_MS: '200' };
      await Promise.all([1, 2].map(() => startProcess('worker', { databaseUrl: app.db.url, env })));
      const t0 = Date.now();
      const id = await startCampaign(t.api, list, 'Rate');
      await waitForCompletion(app.db.url, id, 60_000);
      const seconds = (Date.now() - t0) / 1000;
      expect(await ledgerCounts(app.db.url, id)).toEqual({ total: N, byStatus: { sent: N } });
      expect(relay.accepted).toHaveLength(N);
      expect(relay.duplicates()).toEqual([]);

      const perSecond = new Map<number, number>();
      for (const a of relay.accepted) perSecond.set(Math.floor(a.at / 1000), (perSecond.get(Math.floor(a.at / 1000)) ?? 0) + 1);
      const counts = [...perSecond.entries()].sort(([a], [b]) => a - b).map(([, n]) => n);
      report('relay rate across two workers', { rate: RATE, recipients: N, seconds: seconds.toFixed(1), perSecond: counts });
      // A message granted at the very end of a database second may reach the relay in the next one:
      // one slice (a quarter of the rate) of slack for that edge.
      expect(Math.max(...counts)).toBeLessThanOrEqual(RATE + Math.ceil(RATE / 4));
      // Over the whole run the rate holds: N messages need ceil(N / RATE) one-second windows, and the
      // first may be used at its very end and the last at its very start: more than windows − 2 seconds.
      const span = (Math.max(...relay.accepted.map((a) => a.at)) - Math.min(...relay.accepted.map((a) => a.at))) / 1000;
      expect(span).toBeGreaterThan(Math.ceil(N / RATE) - 2);
      expect(counts.length).toBeGreaterThanOrEqual(Math.ceil(N / RATE));
      // Both processes sent (each 'sent' event names its worker).
      const workers = await query<{ worker: string }>(app.db.url, `SELECT DISTINCT e.detail->>'worker' AS worker FROM message_events e
        JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = $1 AND e.type = 'sent'`, [id]);
      expect(workers.length).toBe(2);
    } finally {
      await relay.close();
    }
  }, 120_000);
});
