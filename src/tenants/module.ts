// Tenant settings, API keys and DKIM keys over the API (scope admin).
import { z } from 'zod';
import type { AppDeps, Module } from '../deps.js';
import { ApiError, SCOPES, type Scope } from '../platform/http.js';
import { headerText, replyTo, email } from '../platform/schemas.js';
import { createApiKey, dkimTxtRecord, getTenant, storeDkimKey, updateTenant } from './store.js';

export const tenantPatchSchema = z.object({
  name: headerText(200).min(1).optional(),
  fromEmail: email.optional(),
  fromName: headerText(200).min(1).optional(),
  replyTo: replyTo.optional(),
  postalAddress: z.string().trim().min(5).max(500).refine((v) => !v.includes('\u0000'), 'no NUL').nullable().optional(),
  bounceDomain: z.string().regex(/^[a-z0-9.-]+\.[a-z0-9-]+$/i, 'must be a domain name').nullable().optional(),
  requireDkim: z.boolean().optional(),
  testEmails: z.array(email).max(50).optional(),
  sendRatePerSecond: z.number().int().min(1).max(100_000).nullable().optional(),
}).strict();

const keySchema = z.object({ scopes: z.array(z.enum(SCOPES as [Scope, ...Scope[]])).min(1) }).strict();
const dkimSchema = z.object({
  selector: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/i, 'must be a DNS label'),
  domain: z.string().regex(/^[a-z0-9.-]+\.[a-z0-9-]+$/i, 'must be a domain name').optional(),
}).strict();

export function tenantsModule(deps: AppDeps): Module {
  return {
    name: 'tenants',
    routes(api) {
      api.route({ method: 'get', path: '/api/tenant', scope: 'admin', summary: 'The tenant of this key and its sender identity' },
        async ({ tenantId }) => ({ body: await deps.db.withTenant(tenantId, (c) => getTenant(c, tenantId)) }));
      api.route({ method: 'patch', path: '/api/tenant', scope: 'admin', summary: 'Update the sender identity', body: tenantPatchSchema },
        async ({ tenantId, body }) => ({ body: await deps.db.withTenant(tenantId, (c) => updateTenant(c, tenantId, body)) }));
      api.route({ method: 'post', path: '/api/keys', scope: 'admin', summary: 'Create an API key (shown once)', body: keySchema },
        async ({ tenantId, body }) => ({ status: 201, body: await deps.db.withTenant(tenantId, (c) => createApiKey(c, tenantId, body.scopes)) }));
      api.route({ method: 'post', path: '/api/dkim', scope: 'admin', summary: 'Generate a DKIM key; returns the DNS TXT record', body: dkimSchema },
        async ({ tenantId, body }) => {
          const out = await deps.db.withTenant(tenantId, async (c) => {
            const t = await getTenant(c, tenantId);
            if (!t) throw new ApiError(404, 'not_found', 'tenant not found');
            const domain = (body.domain ?? t.fromEmail.split('@')[1]).toLowerCase();
            return storeDkimKey(c, tenantId, domain, body.selector);
          });
          return { status: 201, body: { domain: out.domain, selector: out.selector, dnsRecord: dkimTxtRecord(out) } };
        });
    },
  };
}
