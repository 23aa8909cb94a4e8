// Helpers for the unsubscribe tests: active, subscribed contacts made through the real double opt-in
// (register → activation mail over SMTP → POST the link), unsubscribe links, and state snapshots.
import type { TestApp, TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';
import { unsubscribeToken } from '../../src/unsubscribe/links.js';

import { activationLink, consent, mailsTo, settled, waitForMail } from '../support/mail.js';

export { consent, mailsTo, waitForMail, activationLink } from '../support/mail.js';

export async function confirmActivation(app: TestApp, address: string, n: number): Promise<void> {
  const link = activationLink(app, await waitForMail(app, address, n));
  const res = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  if (res.status !== 200) throw new Error(`activation POST answered ${res.status}`);
}

/** Registers and confirms: an active contact subscribed to the given lists (default list when omitted). */
export async function activeContact(app: TestApp, t: TestTenant, email: string, name: string, lists: string[] | true = true): Promise<string> {
  const before = mailsTo(app, email).length;
  const r = await t.api('POST', '/api/contacts', { email, name, newsletter: lists, consent });
  if (r.status !== 201 && r.status !== 200) throw new Error(`register answered ${r.status}: ${JSON.stringify(r.body)}`);
  await confirmActivation(app, email, before + 1);
  return r.body.id as string;
}

export async function createList(t: TestTenant, name: string, description?: string): Promise<string> {
  const r = await t.api('POST', '/api/lists', { name, description });
  if (r.status !== 201) throw new Error(`list create answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

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
