// GET /api/event-types: the list the console offers when choosing a webhook's types (no second copy in
// the browser). Scope events; every type webhooks accept.
import { expect, it } from 'vitest';
import { useApp } from '../support/app.js';

const { app, t } = useApp();

it('lists every event type a webhook endpoint accepts, to a key with the events scope only', async () => {
  const r = await t.api('GET', '/api/event-types');
  expect(r.status).toBe(200);
  expect(r.body.nextCursor).toBeNull();
  expect(r.body.items).toContain('message.sent');
  expect(r.body.items).toContain('webhook.disabled');
  expect(new Set(r.body.items).size).toBe(r.body.items.length);
  // Each one is accepted by POST /api/webhooks.
  const made = await t.api('POST', '/api/webhooks', { url: 'https://hooks.example.com/in', types: r.body.items });
  expect(made.status).toBe(201);
  expect(made.body.types).toEqual(r.body.items);

  const events = await app.tenant({ name: 'Events only', scopes: ['events'] });
  expect((await events.api('GET', '/api/event-types')).body.items).toEqual(r.body.items);
  const subscribers = await app.tenant({ name: 'Subscribers only', scopes: ['subscribers'] });
  expect((await subscribers.api('GET', '/api/event-types')).status).toBe(403);
});
