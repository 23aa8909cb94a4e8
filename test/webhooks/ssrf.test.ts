// SSRF: with WEBHOOK_ALLOW_PRIVATE unset (the default), a literal private, loopback or link-local
// address is refused when the endpoint is made, and a name resolving to loopback ("localhost") is
// refused by request-filtering-agent at connect time: the receiver never hears a thing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';
import { appendEvent } from '../../src/events/feed.js';
import { startReceiver, type Receiver } from './receiver.js';

const { app, t } = useApp({ config: { WEBHOOK_RETRY_SCHEDULE: '100ms', WEBHOOK_POLL_MS: 100 } });

let rx: Receiver;
beforeAll(async () => { rx = await startReceiver(); });
afterAll(async () => { await rx?.close(); });

describe('SSRF', () => {
  it.each([
    ['http, not https', 'http://example.org/hook'],
    ['loopback', 'https://127.0.0.1/hook'],
    ['loopback IPv6', 'https://[::1]/hook'],
    ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/hook'],
    ['IPv4-compatible loopback (deprecated ::a.b.c.d)', 'https://[::127.0.0.1]:8443/hook'],
    ['private', 'https://10.1.2.3/hook'],
    ['link-local (cloud metadata)', 'https://169.254.169.254/latest/meta-data'],
    ['unspecified', 'https://0.0.0.0/hook'],
    ['decimal loopback', 'https://2130706433/hook'],
  ])('refuses %s at creation (422 on url)', async (_what, url) => {
    const r = await t.api('POST', '/api/webhooks', { url, types: ['*'] });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: 'invalid', field: 'url' });
  });

  it('refuses a name resolving to loopback at connect time (attempt error ssrf_refused)', async () => {
    const r = await t.api('POST', '/api/webhooks', { url: `https://localhost:${rx.port}/hook`, types: ['*'] });
    expect(r.status).toBe(201);
    await app.pg.deps.db.withTenant(t.id, (c) => appendEvent(c, t.id, { type: 'import.finished', data: { importId: 'i' } }));
    const d = await waitFor(async () => {
      const l = await t.api('GET', `/api/webhooks/${r.body.id}/deliveries`);
      return l.body.items[0]?.attemptLog.length >= 1 && l.body.items[0];
    });
    expect(d.attemptLog[0]).toMatchObject({ statusCode: null, error: 'ssrf_refused', response: null });
    expect(rx.received).toEqual([]);
  });
});
