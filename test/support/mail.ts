// Reading what the SMTP sink received: mails to one address, waiting for them, following the
// activation link they carry (rebased from PUBLIC_URL onto the test server).
import type { TestApp } from './app.js';
import type { Received } from './smtp-sink.js';
import { waitFor } from './wait.js';

export const consent = { text: 'Yes, send me the Acme newsletter. I can unsubscribe at any time.', source: 'signup-form', ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Test)' };

/** The mails received for an address so far. */
export function mailsTo(app: TestApp, address: string): Received[] {
  return app.sink.received.filter((r) => r.envelopeTo.map((a) => a.toLowerCase()).includes(address.toLowerCase()));
}

/** Waits until the n-th mail to this address arrived; returns it. */
export async function waitForMail(app: TestApp, address: string, n = 1, timeoutMs = 10_000): Promise<Received> {
  return waitFor(() => mailsTo(app, address)[n - 1], {
    timeout: timeoutMs, message: () => `expected ${n} mails to ${address}, got ${mailsTo(app, address).length}`,
  });
}

/** The activation link of a mail (from its text part), rebased onto the test server. */
export function activationLink(app: TestApp, mail: Received): string {
  const m = /https:\/\/postgate\.test\/a\/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?/.exec(mail.parsed.text ?? '');
  if (!m) throw new Error('no activation link in the mail');
  return m[0].replace('https://postgate.test', app.url);
}

/** Waits until no message is queued or being sent, so a state snapshot is not taken mid-delivery. */
export async function settled(app: TestApp, timeoutMs = 10_000): Promise<void> {
  const { ownerQuery } = await import('./db.js');
  let open = 0;
  await waitFor(async () => {
    [{ n: open }] = await ownerQuery<{ n: number }>(app.db.url, "SELECT count(*)::int AS n FROM messages WHERE status IN ('queued', 'sending')");
    return open === 0;
  }, { timeout: timeoutMs, message: () => `${open} messages still in delivery` });
}

/** Follows the activation link of the n-th mail to the address, as the form on its page does. */
export async function confirmActivation(app: TestApp, address: string, n: number): Promise<void> {
  // Generous: a file's first activation mail compiles the template in a cold worker, slow on a loaded CI machine.
  const link = activationLink(app, await waitForMail(app, address, n, 30_000));
  const res = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  if (res.status !== 200) throw new Error(`activation POST answered ${res.status}`);
}
