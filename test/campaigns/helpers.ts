// Helpers for campaign tests: a newsletter template, audiences seeded with one SQL statement,
// campaign creation through the API, and polling for a campaign's state.
import { expect } from 'vitest';
import type { TestApp, TestTenant } from '../support/app.js';
import { ownerQuery } from '../support/db.js';

export const NEWSLETTER_MJML = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{name}}, news from {{tenantName}}. City: {{attributes.city}}</mj-text>
        <mj-button href="{{unsubscribeUrl}}">Unsubscribe</mj-button>
        <mj-text><a href="{{preferencesUrl}}">Preferences</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

export async function defaultList(app: TestApp, tenantId: string): Promise<string> {
  const rows = await ownerQuery<{ id: string }>(app.db.url, 'SELECT id FROM lists WHERE tenant_id = $1 AND is_default', [tenantId]);
  return rows[0].id;
}

export async function createList(app: TestApp, tenantId: string, name: string): Promise<string> {
  const rows = await ownerQuery<{ id: string }>(app.db.url, 'INSERT INTO lists (tenant_id, name) VALUES ($1, $2) RETURNING id', [tenantId, name]);
  return rows[0].id;
}

export interface SeedOptions {
  prefix: string; n: number; listId: string; domain?: string;
  contactStatus?: 'pending' | 'active' | 'suppressed'; subscription?: 'subscribed' | 'unconfirmed' | 'unsubscribed';
}

/** n contacts <prefix><i>@<domain> with one subscription each, in one statement; returns their addresses. */
export async function seedContacts(app: TestApp, tenantId: string, o: SeedOptions): Promise<string[]> {
  const domain = o.domain ?? 'inbox.example';
  const rows = await ownerQuery<{ email: string }>(app.db.url, `WITH c AS (
      INSERT INTO contacts (tenant_id, email, email_key, name, attributes, status, verified_at)
      SELECT $1, $2 || i || '@' || $3, lower($2 || i || '@' || $3), 'Reader ' || i, jsonb_build_object('city', 'City ' || i), $4,
        CASE WHEN $4 = 'active' THEN now() END
      FROM generate_series(1, $5::int) AS i RETURNING id, email)
    , s AS (INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) SELECT $1, c.id, $6, $7 FROM c)
    SELECT email FROM c`, [tenantId, o.prefix, domain, o.contactStatus ?? 'active', o.n, o.listId, o.subscription ?? 'subscribed']);
  return rows.map((r) => r.email).sort();
}

export async function createTemplate(t: TestTenant, mjml = NEWSLETTER_MJML, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await t.api('POST', '/api/templates', { name: 'Newsletter', mjml, subject: 'News for {{name}}', ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}

export async function createCampaign(t: TestTenant, templateId: string, listIds: string[], extra: Record<string, unknown> = {}): Promise<any> {
  const r = await t.api('POST', '/api/campaigns', { name: 'Spring', subject: 'Spring news for {{name}}', templateId, listIds, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

export async function getCampaign(t: TestTenant, id: string): Promise<any> {
  const r = await t.api('GET', `/api/campaigns/${id}`);
  expect(r.status).toBe(200);
  return r.body;
}

/** Polls until the predicate holds for the campaign (or fails with the last state seen). */
export async function waitForCampaign(t: TestTenant, id: string, pred: (c: any) => boolean, timeoutMs = 20_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  let last: any = null;
  while (Date.now() < until) {
    last = await getCampaign(t, id);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`campaign never reached the expected state; last: ${JSON.stringify(last)}`);
}

export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function setTenant(app: TestApp, tenantId: string, sql: string, params: unknown[] = []): Promise<void> {
  await ownerQuery(app.db.url, `UPDATE tenants SET ${sql} WHERE id = $1`, [tenantId, ...params]);
}

/** How many messages each envelope recipient got. */
export function perRecipient(app: TestApp): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of app.sink.received) for (const to of r.envelopeTo) m.set(to.toLowerCase(), (m.get(to.toLowerCase()) ?? 0) + 1);
  return m;
}

/** The unfolded value of a header as sent (mailparser turns List-* headers into objects). */
export function rawHeader(lines: readonly { key: string; line: string }[], name: string): string {
  const l = lines.find((x) => x.key === name);
  return l ? l.line.slice(l.line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim() : '';
}
