// Tenant settings, API keys and DKIM keys over the API (scope admin).
import { z } from 'zod';
import type { AppDeps, Module } from '../deps.js';
import { ApiError, SCOPES, type Scope } from '../platform/http.js';
import { replyTo, email, senderName } from '../platform/schemas.js';
import { id } from '../platform/responses.js';
import { createApiKey, dkimTxtRecord, getTenant, storeDkimKey, updateTenant } from './store.js';

export const tenantPatchSchema = z.object({
  name: senderName(200).min(1).optional(),      // reaches subjects ("Confirm … for <name>")
  fromEmail: email.optional(),
  fromName: senderName(200).min(1).optional(),  // the From display name
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

const tenantView = z.object({
  id, name: z.string(), fromEmail: z.string(), fromName: z.string(), replyTo: z.string(), postalAddress: z.string().nullable(),
  bounceDomain: z.string().nullable(), requireDkim: z.boolean(), testEmails: z.array(z.string()), sendRatePerSecond: z.number().int().nullable(),
});
const keyView = z.object({ id, key: z.string().nullable().describe('the API key, shown only in this response (null in an Idempotency-Key replay: it is never stored)') });
const dkimView = z.object({ domain: z.string(), selector: z.string(), dnsRecord: z.string().describe('the zone-file line to publish') });

export function tenantsModule(deps: AppDeps): Module {
  return {
    name: 'tenants',
    routes(api) {
      api.route({ method: 'get', path: '/api/tenant', scope: 'admin', summary: 'The tenant of this key and its sender identity', response: tenantView },
        async ({ tenantId }) => ({ body: await deps.db.withTenant(tenantId, (c) => getTenant(c, tenantId)) }));
      api.route({ method: 'patch', path: '/api/tenant', scope: 'admin', summary: 'Update the sender identity', body: tenantPatchSchema, response: tenantView },
        async ({ tenantId, body }) => ({ body: await deps.db.withTenant(tenantId, (c) => updateTenant(c, tenantId, body)) }));
      api.route({ method: 'post', path: '/api/keys', scope: 'admin', summary: 'Create an API key (shown once)', body: keySchema, response: keyView, success: [201],
        replayBody: (b) => ({ ...(b as Record<string, unknown>), key: null }) },
        async ({ tenantId, body }) => ({ status: 201, body: await deps.db.withTenant(tenantId, (c) => createApiKey(c, tenantId, body.scopes)) }));
      api.route({ method: 'post', path: '/api/dkim', scope: 'admin', summary: 'Generate a DKIM key; returns the DNS TXT record', body: dkimSchema, response: dkimView, success: [201] },
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
