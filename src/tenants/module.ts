// Tenant settings, API keys, sending domains and DKIM keys over the API (scope admin).
import { z } from 'zod';
import type { AppDeps, Module } from '../deps.js';
import { keyRoutes } from './keys-api.js';
import { replyTo, email, senderName } from '../platform/schemas.js';
import { id } from '../platform/responses.js';
import { getTenant, updateTenant } from './store.js';
import { domainName, domainRoutes } from './domains-api.js';
import { stringRoutes } from './strings-api.js';
import { assertIdentityDomains } from './domains.js';
import { languageOf, canonicalLocale } from '../i18n/translate.js';
import { contrastWithWhite, MIN_CONTRAST } from '../policy/branding.js';

/** A BCP 47 locale whose language has a catalogue (locales/), canonicalised ('DE-de' → 'de-DE'). */
export const localeTag = z.string().max(35).refine((v) => languageOf(v) !== null, 'must be a BCP 47 locale of a language Postgate speaks (en, de, fr, es)')
  .transform((v) => canonicalLocale(v) as string);
/** An https URL without credentials, in its WHATWG serialisation (scheme and host lower-cased). */
const httpsUrl = (what: string) => z.string().trim().max(500).url().transform((v) => new URL(v))
  .refine((u) => u.protocol === 'https:', `${what} must be an https URL`)
  .refine((u) => !u.username && !u.password, `${what} must not carry a user name or password`)
  .transform((u) => u.href).pipe(z.string().max(500));
const accentColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a #rrggbb colour').transform((v) => v.toLowerCase())
  .superRefine((v, ctx) => {
    const ratio = contrastWithWhite(v);
    if (ratio < MIN_CONTRAST) ctx.addIssue({ code: 'custom', message: `contrast ${ratio.toFixed(2)}:1 against white is below ${MIN_CONTRAST}:1 (WCAG 2.2, 1.4.3): white button text would be unreadable` });
  });

export const tenantPatchSchema = z.object({
  name: senderName(200).min(1).optional(),      // reaches subjects ("Confirm … for <name>")
  fromEmail: email.optional(),
  fromName: senderName(200).min(1).optional(),  // the From display name
  replyTo: replyTo.optional(),
  postalAddress: z.string().trim().min(5).max(500).refine((v) => !v.includes('\u0000'), 'no NUL').nullable().optional(),
  bounceDomain: domainName.nullable().optional(),   // strict (policy/domains isDomainName), normalised
  requireDkim: z.boolean().optional(),
  sendRatePerSecond: z.number().int().min(1).max(100_000).nullable().optional(),
  trackClicks: z.boolean().describe('Rewrite links of campaign mail to signed /c/ redirects (a campaign may override); default false').optional(),
  trackOpens: z.boolean().describe('Add an open pixel (/o/) to campaign mail (a campaign may override); default false').optional(),
  defaultLocale: localeTag.describe('Locale of pages and mail when neither the contact nor the browser names one; default en').optional(),
  logoUrl: httpsUrl('logoUrl').describe('Logo shown on public pages and built-in mail (https)').nullable().optional(),
  accentColor: accentColor.describe('Accent colour of buttons and links, #rrggbb, at least 4.5:1 against white').nullable().optional(),
  privacyUrl: httpsUrl('privacyUrl').describe('Privacy policy linked from every public page and built-in mail (https)').nullable().optional(),
}).strict();

const tenantView = z.object({
  id, name: z.string(), fromEmail: z.string(), fromName: z.string(), replyTo: z.string(), postalAddress: z.string().nullable(),
  bounceDomain: z.string().nullable(), requireDkim: z.boolean(), sendRatePerSecond: z.number().int().nullable(),
  trackClicks: z.boolean(), trackOpens: z.boolean(),
  defaultLocale: z.string(), logoUrl: z.string().nullable(), accentColor: z.string().nullable(), privacyUrl: z.string().nullable(),
});

export function tenantsModule(deps: AppDeps): Module {
  return {
    name: 'tenants',
    routes(api) {
      api.route({ method: 'get', path: '/api/tenant', scope: 'admin', summary: 'The tenant of this key and its sender identity', response: tenantView },
        async ({ tenantId }) => ({ body: await deps.db.withTenant(tenantId, (c) => getTenant(c, tenantId)) }));
      api.route({ method: 'patch', path: '/api/tenant', scope: 'admin', body: tenantPatchSchema, response: tenantView,
        summary: 'Update the sender identity (fromEmail and bounceDomain only on verified domains: 422 unverified_domain)' },
      async ({ tenantId, body }) => ({ body: await deps.db.withTenant(tenantId, async (c) => {
        await assertIdentityDomains(c, body, deps.config.BOUNCE_DOMAIN);
        return updateTenant(c, tenantId, body);
      }) }));
      keyRoutes(api, deps);
      domainRoutes(api, deps);
      stringRoutes(api, deps);
    },
  };
}
