// Helpers for the unsubscribe tests: unsubscribe links and state snapshots. (Active, subscribed
// contacts through the real double opt-in: given(app, t).subscribedContact(…, { via: 'opt-in' }).)
import type { TestApp } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { unsubscribeToken } from '../../src/unsubscribe/links.js';

import { settled } from '../support/mail.js';

export { consent, confirmActivation, mailsTo, waitForMail, activationLink } from '../support/mail.js';

export function unsubscribePath(app: TestApp, tenantId: string, contactId: string, campaignId: string | null = null): string {
  return `/u/${unsubscribeToken(app.pg.deps.tokens, { tenantId, contactId, campaignId })}`;
}

export async function subscriptionStates(app: TestApp, contactId: string): Promise<Record<string, string>> {
  const rows = await ownerQuery<{ name: string; status: string }>(app.db.url,
    'SELECT l.name, s.status FROM subscriptions s JOIN lists l ON l.id = s.list_id WHERE s.contact_id = $1', [contactId]);
  return Object.fromEntries(rows.map((r) => [r.name, r.status]));
}

export async function optOuts(app: TestApp, contactId: string): Promise<{ source: string; list: string | null; ip: string | null; user_agent: string | null; detail: Record<string, unknown> }[]> {
  return ownerQuery(app.db.url, `SELECT e.source, l.name AS list, host(e.ip) AS ip, e.user_agent, e.detail FROM consent_events e
    LEFT JOIN lists l ON l.id = e.list_id WHERE e.contact_id = $1 AND e.action = 'opt_out' ORDER BY e.id`, [contactId]);
}

/** Everything an unsubscribe link could change, for "changes nothing" assertions. */
export async function snapshot(app: TestApp): Promise<unknown> {
  await settled(app);
  const q = (sql: string) => ownerQuery(app.db.url, sql);
  return {
    contacts: await q('SELECT id, status, email, updated_at FROM contacts ORDER BY id'),
    subscriptions: await q('SELECT contact_id, list_id, status, updated_at FROM subscriptions ORDER BY contact_id, list_id'),
    events: await q('SELECT id FROM consent_events ORDER BY id'),
    messages: await q('SELECT id, status FROM messages ORDER BY id'),
    suppressions: await q('SELECT address_hash, scope FROM suppressions ORDER BY address_hash, scope'),
  };
}

export async function form(url: string, body: string | URLSearchParams, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: String(body) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}
