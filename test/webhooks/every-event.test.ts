// Every event type the feed's triggers produce, from the real flows (API, SMTP, inbound reports,
// campaigns, imports, erasure), arrives at a loopback receiver as a webhook whose signature the
// standardwebhooks library verifies, with the event's data.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { useApp } from '../support/app.js';
import { EVENTS_APP, matches, produceEveryEvent } from '../support/events.js';
import { waitFor } from '../support/wait.js';
import { EVENT_TYPES } from '../../src/events/types.js';
import { startReceiver, type Receiver } from './receiver.js';

const { app, t } = useApp({ ...EVENTS_APP, config: { WEBHOOK_ALLOW_PRIVATE: true, WEBHOOK_POLL_MS: 100, WEBHOOK_RETRY_SCHEDULE: '100ms,200ms' } });

let rx: Receiver;
beforeAll(async () => { rx = await startReceiver(); });
afterAll(async () => { await rx?.close(); });

it('a webhook arrives for each event type and its signature verifies', { timeout: 90_000 }, async () => {
  const ep = await t.api('POST', '/api/webhooks', { url: rx.url, types: ['*'] });
  expect(ep.status).toBe(201);
  const made = await produceEveryEvent(app, t);
  const wh = new Webhook(ep.body.secret);
  const bodies = () => rx.received.map((x) => {
    const body = wh.verify(x.body, { 'webhook-id': x.id, 'webhook-timestamp': x.timestamp, 'webhook-signature': x.signature }) as { type: string; data: Record<string, unknown> };
    expect(x.id).toBe(`evt_${body.data.eventId as string}`);
    return body;
  });
  const missing = () => made.expected.filter((e) => !bodies().some((b) => b.type === e.type && matches(b.data, e.data)));
  await waitFor(() => missing().length === 0, { timeout: 20_000, message: () => `no webhook for ${missing().map((e) => e.type).join(', ')}` });
  expect(new Set(bodies().map((b) => b.type)).size).toBeGreaterThanOrEqual(new Set(made.expected.map((e) => e.type)).size);
  // every type of the feed but webhook.disabled (delivery.test.ts): engagement and delivery reports included
  const arrived = new Set(bodies().map((b) => b.type));
  expect(EVENT_TYPES.filter((type) => type !== 'webhook.disabled' && !arrived.has(type))).toEqual([]);
  // the erased contact's events that had not gone out yet never did; contact.erased names no address
  const erased = bodies().find((b) => b.type === 'contact.erased');
  expect(erased?.data.recipient).toBeUndefined();
});
