// Reading what the SMTP sink received: mails to one address, waiting for them, following the
// activation link they carry (rebased from PUBLIC_URL onto the test server).
import type { TestApp } from './app.js';
import type { Received } from './smtp-sink.js';

export const consent = { text: 'Yes, send me the Acme newsletter. I can unsubscribe at any time.', source: 'signup-form', ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Test)' };

/** The mails received for an address so far. */
export function mailsTo(app: TestApp, address: string): Received[] {
  return app.sink.received.filter((r) => r.envelopeTo.map((a) => a.toLowerCase()).includes(address.toLowerCase()));
}

/** Waits until the n-th mail to this address arrived; returns it. */
export async function waitForMail(app: TestApp, address: string, n = 1, timeoutMs = 10_000): Promise<Received> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = mailsTo(app, address);
    if (got.length >= n) return got[n - 1];
    if (Date.now() > until) throw new Error(`expected ${n} mails to ${address}, got ${got.length}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The activation link of a mail (from its text part), rebased onto the test server. */
export function activationLink(app: TestApp, mail: Received): string {
  const m = /https:\/\/postgate\.test\/a\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/.exec(mail.parsed.text ?? '');
  if (!m) throw new Error('no activation link in the mail');
  return m[0].replace('https://postgate.test', app.url);
}

/** Waits until no message is queued or being sent, so a state snapshot is not taken mid-delivery. */
export async function settled(app: TestApp, timeoutMs = 10_000): Promise<void> {
  const { ownerQuery } = await import('./db.js');
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await ownerQuery<{ n: number }>(app.db.url, "SELECT count(*)::int AS n FROM messages WHERE status IN ('queued', 'sending')");
    if (row.n === 0) return;
    if (Date.now() > until) throw new Error(`${row.n} messages still in delivery`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
