// A raw body (message/rfc822 at POST /api/inbound) at its size limit goes through the card guard
// without holding the event loop: bytes are not walked one by one as if they were JSON values
// (policy/cards.ts; the report's text is scanned by bounces/card-check.ts). It held ~160 ms at 256 KiB.
import { expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { measureLoop } from '../support/loop-hold.js';

const { app, t } = useApp();

it('takes a report at INBOUND_MAX_BYTES holding the loop under 50 ms', async () => {
  const limit = app.pg.config.INBOUND_MAX_BYTES;
  const head = 'From: MAILER-DAEMON@mx.example\r\nTo: bounces@postgate.test\r\nSubject: Undelivered\r\nContent-Type: text/plain\r\n\r\n';
  const body = head + 'x'.repeat(limit - head.length - 16);
  const { result, loop } = await measureLoop(() => t.api('POST', '/api/inbound', body, { 'content-type': 'message/rfc822' }));
  expect(result.status).toBeLessThan(500);
  expect(loop.holdMaxMs).toBeLessThan(50);
});
