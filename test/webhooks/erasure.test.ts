// Erasure and the webhook log: a receiver that echoes the payload leaves the person's address in the
// attempts' `response`; erasing the person deletes their events' deliveries (attempts cascade), so no
// webhook table and no delivery log shown by the API holds the address afterwards.
import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { given } from '../support/given.js';
import { waitFor } from '../support/wait.js';
import { appendEvent } from '../../src/events/feed.js';

const { app, t } = useApp({ config: { WEBHOOK_ALLOW_PRIVATE: true, WEBHOOK_POLL_MS: 100, WEBHOOK_RETRY_SCHEDULE: '100ms' } });

let echo: http.Server;
let url = '';
beforeAll(async () => {
  echo = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(echo.address() as { port: number }).port}/hook`;
});
afterAll(async () => { echo.closeAllConnections(); await new Promise<void>((resolve) => echo.close(() => resolve())); });

it('erasing a person deletes their events\' deliveries and the echoed answers with them', async () => {
  const email = 'echoed-person@example.org';
  const contact = await given(app, t).subscribedContact(email);
  const ep = await t.api('POST', '/api/webhooks', { url, types: ['contact.confirmed'] });
  expect(ep.status).toBe(201);
  await app.pg.deps.db.withTenant(t.id, (c) => appendEvent(c, t.id, { type: 'contact.confirmed', contactId: contact.id, data: { contactId: contact.id, source: 'api', recipient: email } }));
  const log = async () => JSON.stringify((await t.api('GET', `/api/webhooks/${ep.body.id}/deliveries`)).body);
  await waitFor(async () => (await log()).includes(email), { message: 'the echoed answer never reached the log' });
  expect((await t.api('DELETE', `/api/contacts/${contact.id}`)).status).toBe(200);
  expect(await log()).not.toContain(email);
  for (const table of ['webhook_endpoints', 'webhook_deliveries', 'webhook_attempts']) {
    const r = await ownerQuery<{ n: number }>(app.db.url, `SELECT count(*)::int AS n FROM ${table} x WHERE x::text ILIKE $1`, [`%${email}%`]);
    expect([table, r[0].n]).toEqual([table, 0]);
  }
});
