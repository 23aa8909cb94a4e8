// A receiver that is down across a Postgate restart still gets every event: the outbox is a table,
// so the second Postgate (same database) carries on where the first stopped. Nothing is lost, and a
// duplicate can only be the same event under the same webhook-id.
import { afterAll, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { request, startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../support/db.js';
import { waitFor } from '../support/wait.js';
import { appendEvent } from '../../src/events/feed.js';
import { startReceiver, type Receiver } from './receiver.js';

const config = {
  WEBHOOK_ALLOW_PRIVATE: true, WEBHOOK_POLL_MS: 100, WEBHOOK_TIMEOUT_MS: 1000,
  WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 50 }, () => '300ms').join(','), // 15 s of retries: the endpoint outlives the outage
};

let db: TestDatabase | undefined;
let first: TestApp | undefined;
let second: TestApp | undefined;
let rx: Receiver | undefined;
afterAll(async () => {
  await rx?.close();
  await first?.stop();
  await second?.stop();
  await db?.drop();
});

async function burst(app: TestApp, tenantId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await app.pg.deps.db.withTenant(tenantId, (c) => appendEvent(c, tenantId, { type: 'contact.unsubscribed', data: { contactId: `c${i}`, source: 'test' } }));
  }
}

it('a receiver down across a restart gets every event, duplicates only under the same webhook-id', async () => {
  db = await createTestDatabase();
  const probe = await startReceiver();
  const port = probe.port;
  await probe.close(); // the port is free: the receiver is down

  first = await startTestApp({ database: db, config });
  const t = await first.tenant();
  const ep = await t.api('POST', '/api/webhooks', { url: `http://127.0.0.1:${port}/hook`, types: ['*'] });
  expect(ep.status).toBe(201);
  await burst(first, t.id, 20);
  // every delivery was tried at least once while the receiver was down
  await waitFor(async () => (await ownerQuery<{ n: string }>(db!.url,
    `SELECT count(*) AS n FROM webhook_deliveries WHERE attempts >= 1 AND status = 'pending'`))[0].n === '20');
  await first.stop();
  first = undefined;

  second = await startTestApp({ database: db, config });
  await burst(second, t.id, 10);
  rx = await startReceiver(port);
  const expected = (await ownerQuery<{ id: string }>(db.url, `SELECT id::text FROM events WHERE tenant_id = $1 AND type = 'contact.unsubscribed'`, [t.id])).map((r) => r.id);
  expect(expected).toHaveLength(30);
  const ids = () => new Set(rx!.received.filter((x) => x.status === 200).map((x) => x.id));
  await waitFor(() => expected.every((e) => ids().has(`evt_${e}`)), { timeout: 20_000, message: () => `got ${ids().size} of ${expected.length}` });

  const wh = new Webhook(ep.body.secret);
  for (const x of rx.received) {
    const body = wh.verify(x.body, { 'webhook-id': x.id, 'webhook-timestamp': x.timestamp, 'webhook-signature': x.signature }) as { data: { eventId: string } };
    expect(x.id).toBe(`evt_${body.data.eventId}`); // a duplicate is recognisable: same event, same webhook-id
  }
  // the receipt is written just after the answer: wait for the log to say so
  const log = await waitFor(async () => {
    const l = await request(second!.url, t.key, 'GET', `/api/webhooks/${ep.body.id}/deliveries?limit=200`);
    return l.body.items.every((d: { status: string }) => d.status === 'delivered') && l;
  });
  expect(log.body.items).toHaveLength(30);
  expect(log.body.items.filter((d: { attempts: number }) => d.attempts > 1).length).toBeGreaterThanOrEqual(20);
});
