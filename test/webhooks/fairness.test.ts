// One slow receiver must not starve the others: a receiver that never answers (each POST waits for
// WEBHOOK_TIMEOUT_MS) with many due deliveries holds at most WEBHOOK_ENDPOINT_CONCURRENCY of them in
// flight, and the worker's other slots stay free for every other endpoint, of this tenant and others.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';
import { appendEvent } from '../../src/events/feed.js';
import type { EventType } from '../../src/events/types.js';
import { startReceiver, type Receiver } from './receiver.js';

const { app, t, tenant } = useApp({ config: {
  WEBHOOK_ALLOW_PRIVATE: true, WEBHOOK_RETRY_SCHEDULE: '100ms,200ms', WEBHOOK_POLL_MS: 100, WEBHOOK_TIMEOUT_MS: 3000,
  WEBHOOK_CONCURRENCY: 8, WEBHOOK_ENDPOINT_CONCURRENCY: 3,
} });
const other = tenant({ name: 'Other' });

let rx: Receiver;
let hang: http.Server;
let hangUrl = '';
let open = 0;
let maxOpen = 0;
let hung = 0;
beforeAll(async () => {
  rx = await startReceiver();
  hang = http.createServer((req) => { hung += 1; open += 1; maxOpen = Math.max(maxOpen, open); req.on('close', () => { open -= 1; }); req.resume(); });
  await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', () => resolve()));
  hangUrl = `http://127.0.0.1:${(hang.address() as { port: number }).port}/hook`;
});
afterAll(async () => {
  await rx?.close();
  hang.closeAllConnections();
  await new Promise<void>((resolve) => hang.close(() => resolve()));
});

async function event(tenantId: string, type: EventType): Promise<void> {
  await app.pg.deps.db.withTenant(tenantId, (c) => appendEvent(c, tenantId, { type, data: { marker: randomUUID() } }));
}

it('a hanging endpoint with many due deliveries leaves the others prompt, and holds at most its cap in flight', async () => {
  const post = async (tt: typeof t, body: Record<string, unknown>) => { const r = await tt.api('POST', '/api/webhooks', body); expect(r.status).toBe(201); };
  await post(t, { url: hangUrl, types: ['message.sent'] });
  await post(t, { url: rx.url, types: ['message.bounced'] });
  await post(other, { url: rx.url, types: ['message.bounced'] });
  for (let i = 0; i < 40; i++) await event(t.id, 'message.sent');
  await waitFor(() => hung >= 3, { timeout: 5000 });
  const start = Date.now();
  await event(t.id, 'message.bounced');
  await event(other.id, 'message.bounced');
  await waitFor(() => rx.received.length >= 2, { timeout: 10_000 });
  const took = Date.now() - start;
  expect(took).toBeLessThan(2000);
  expect(maxOpen).toBeLessThanOrEqual(3);
}, 20_000);
