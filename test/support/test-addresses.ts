// Test addresses for tests that need one: ask for it through the API, read the verification mail in
// the SMTP sink and confirm its link (a POST, as the page's form does), like a person would.
import type { TestApp, TestTenant } from './app.js';
import { mailsTo, waitForMail } from './mail.js';
import type { Received } from './smtp-sink.js';

/** The verification link of a mail (from its text part), rebased from PUBLIC_URL onto the test server. */
export function testAddressLink(app: TestApp, mail: Received): string {
  const m = /https:\/\/postgate\.test\/t\/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?/.exec(mail.parsed.text ?? '');
  if (!m) throw new Error('no test address verification link in the mail');
  return m[0].replace('https://postgate.test', app.url);
}

/** POSTs a verification link (the page's form); returns the status and the page. */
export async function confirmLink(link: string): Promise<{ status: number; html: string }> {
  const res = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  return { status: res.status, html: await res.text() };
}

/** Adds `address` as a test address of the tenant and confirms it through the mailed link. */
export async function verifiedTestAddress(app: TestApp, t: Pick<TestTenant, 'api'>, address: string): Promise<void> {
  const before = mailsTo(app, address).length;
  const r = await t.api('POST', '/api/test-addresses', { email: address });
  if (r.status === 200 && r.body.state === 'verified') return;
  if (r.status !== 202) throw new Error(`POST /api/test-addresses answered ${r.status}: ${JSON.stringify(r.body)}`);
  const confirmed = await confirmLink(testAddressLink(app, await waitForMail(app, address, before + 1, 30_000)));
  if (confirmed.status !== 200) throw new Error(`the verification link answered ${confirmed.status}`);
}
