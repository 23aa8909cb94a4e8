// Tenants and their sender identity (API keys: api-keys.ts; DKIM keys: dkim.ts; sending domains: domains.ts).
import type { Db, Queryable } from '../platform/db.js';
import { createDefaultList } from '../consent/lists.js';

export interface Tenant {
  id: string; name: string; fromEmail: string; fromName: string; replyTo: string; postalAddress: string | null;
  bounceDomain: string | null; requireDkim: boolean; sendRatePerSecond: number | null;
  /** Engagement tracking of campaign mail (issue 17; a campaign may override): click links, open pixel. Default off. */
  trackClicks: boolean; trackOpens: boolean;
  /** Issue 20: the fallback locale of pages and mail (BCP 47), and the brand on every public page and built-in mail. */
  defaultLocale: string; logoUrl: string | null; accentColor: string | null; privacyUrl: string | null;
}
export interface NewTenant { name: string; fromEmail: string; fromName: string; replyTo: string; postalAddress?: string | null }
export type { DkimKey } from './dkim.js';

const TENANT_COLUMNS = `id, name, from_email AS "fromEmail", from_name AS "fromName", reply_to AS "replyTo",
  postal_address AS "postalAddress", bounce_domain AS "bounceDomain", require_dkim AS "requireDkim",
  send_rate_per_second AS "sendRatePerSecond", track_clicks AS "trackClicks", track_opens AS "trackOpens",
  default_locale AS "defaultLocale", logo_url AS "logoUrl", accent_color AS "accentColor", privacy_url AS "privacyUrl"`;

export async function getTenant(c: Queryable, id: string): Promise<Tenant | null> {
  const r = await c.query<Tenant>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = $1`, [id]);
  return r.rows[0] ?? null;
}

/** A tenant with its string overrides (per language, id → ICU text), for the public pages. */
export type PageTenant = Tenant & { stringOverrides?: Record<string, Record<string, string>> };

/** getTenant plus the string overrides in the same query: a public page's tenant and its words in one round trip. */
export async function getPageTenant(c: Queryable, id: string): Promise<PageTenant | null> {
  const r = await c.query<PageTenant>(`SELECT ${TENANT_COLUMNS}, string_overrides AS "stringOverrides" FROM tenants WHERE id = $1`, [id]);
  return r.rows[0] ?? null;
}

export async function tenantExists(c: Queryable, id: string): Promise<boolean> {
  return ((await c.query('SELECT 1 FROM tenants WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

/** Creates the tenant with its default list, in one transaction scoped to the new tenant. */
export async function createTenant(db: Db, t: NewTenant, id: string): Promise<Tenant> {
  return db.withTenant(id, async (c) => {
    await c.query(`INSERT INTO tenants (id, name, from_email, from_name, reply_to, postal_address)
      VALUES ($1, $2, $3, $4, $5, $6)`, [id, t.name, t.fromEmail, t.fromName, t.replyTo, t.postalAddress ?? null]);
    await createDefaultList(c, id);
    return (await getTenant(c, id)) as Tenant;
  });
}

export interface TenantPatch {
  name?: string; fromEmail?: string; fromName?: string; replyTo?: string; postalAddress?: string | null;
  bounceDomain?: string | null; requireDkim?: boolean; sendRatePerSecond?: number | null;
  trackClicks?: boolean; trackOpens?: boolean;
  defaultLocale?: string; logoUrl?: string | null; accentColor?: string | null; privacyUrl?: string | null;
}
const PATCH_COLUMNS: Record<keyof TenantPatch, string> = {
  name: 'name', fromEmail: 'from_email', fromName: 'from_name', replyTo: 'reply_to', postalAddress: 'postal_address',
  bounceDomain: 'bounce_domain', requireDkim: 'require_dkim', sendRatePerSecond: 'send_rate_per_second',
  trackClicks: 'track_clicks', trackOpens: 'track_opens',
  defaultLocale: 'default_locale', logoUrl: 'logo_url', accentColor: 'accent_color', privacyUrl: 'privacy_url',
};

export async function updateTenant(c: Queryable, id: string, patch: TenantPatch): Promise<Tenant | null> {
  const keys = (Object.keys(patch) as (keyof TenantPatch)[]).filter((k) => patch[k] !== undefined);
  if (keys.length > 0) {
    const sets = keys.map((k, i) => `${PATCH_COLUMNS[k]} = $${i + 2}`).join(', ');
    await c.query(`UPDATE tenants SET ${sets} WHERE id = $1`, [id, ...keys.map((k) => patch[k])]);
  }
  return getTenant(c, id);
}

/** Per language, message id → the tenant's own ICU text (src/i18n/translate.ts StringOverrides); {} when none. */
export async function getStringOverrides(c: Queryable, id: string): Promise<Record<string, Record<string, string>>> {
  const r = await c.query<{ o: Record<string, Record<string, string>> }>('SELECT string_overrides AS o FROM tenants WHERE id = $1', [id]);
  return r.rows[0]?.o ?? {};
}

/** Replaces the tenant's string overrides (validated by the caller: languages, ids, ICU syntax). */
export async function setStringOverrides(c: Queryable, id: string, overrides: Record<string, Record<string, string>>): Promise<void> {
  await c.query('UPDATE tenants SET string_overrides = $2 WHERE id = $1', [id, JSON.stringify(overrides)]);
}
