// Helpers for the consent tests: find the activation mail sent to an address, follow its link,
// snapshot the state a link may change.
import type { TestApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { waitFor } from '../support/wait.js';

export { consent, mailsTo, waitForMail, activationLink as linkOf } from '../support/mail.js';

export const tokenOf = (link: string): string => link.slice(link.lastIndexOf('/') + 1);

export async function get(url: string): Promise<{ status: number; html: string; headers: Headers }> {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, html: await res.text(), headers: res.headers };
}

/** Submits the page's form as a browser would (urlencoded, empty body). */
export async function post(url: string, userAgent = 'TestBrowser/1.0'): Promise<{ status: number; html: string }> {
  const res = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent }, body: '' });
  return { status: res.status, html: await res.text() };
}

/** Everything a link could change, for "changes nothing" assertions. */
export async function snapshot(app: TestApp, tenantId: string): Promise<unknown> {
  const q = (sql: string) => ownerQuery(app.db.url, sql, [tenantId]);
  return {
    contacts: await q('SELECT id, status, verified_at, updated_at FROM contacts WHERE tenant_id = $1 ORDER BY id'),
    subscriptions: await q('SELECT contact_id, list_id, status, updated_at FROM subscriptions WHERE tenant_id = $1 ORDER BY contact_id, list_id'),
    events: await q('SELECT id FROM consent_events WHERE tenant_id = $1 ORDER BY id'),
    uses: await q('SELECT token_hash FROM token_uses WHERE tenant_id = $1 ORDER BY token_hash'),
  };
}

/** Waits until a ledger row reaches a final status; returns it. */
export async function waitForStatus(app: TestApp, messageId: string, statuses: string[], timeoutMs = 10_000): Promise<{ status: string; reason: string | null }> {
  let row: { status: string; reason: string | null } | undefined;
  return waitFor(async () => {
    [row] = await ownerQuery<{ status: string; reason: string | null }>(app.db.url, 'SELECT status, reason FROM messages WHERE id = $1', [messageId]);
    return row && statuses.includes(row.status) ? row : null;
  }, { timeout: timeoutMs, message: () => `message ${messageId} stayed ${row?.status}` });
}
