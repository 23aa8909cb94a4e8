// The JSON API of the person's data rights (scope subscribers):
//   GET    /api/contacts/:id/export   everything held about the person (one JSON document, export.ts)
//   DELETE /api/contacts/:id          erasure (erase.ts)
// Unknown, erased and other tenants' contacts are all 404: a tenant's transaction sees only its rows.
import { z } from 'zod';
import { isUuid } from '../policy/ids.js';
import { id, timestamp } from '../platform/responses.js';
import { notFound, type Api } from '../platform/http.js';
import type { AppDeps } from '../deps.js';
import { eraseContact, type ErasureResult } from './erase.js';
import { exportContact } from './export.js';

function contactId(params: Record<string, string>): string {
  const id = params.id;
  if (!isUuid(id)) throw notFound('contact');
  return id.toLowerCase();
}

const exportView = z.looseObject({
  format: z.string(), exportedAt: timestamp, controller: z.object({ tenantId: id, name: z.string().nullable() }),
  contact: z.record(z.string(), z.unknown()), subscriptions: z.array(z.record(z.string(), z.unknown())),
  consentRecords: z.array(z.record(z.string(), z.unknown())), unsubscribes: z.array(z.record(z.string(), z.unknown())),
  suppression: z.unknown(), messages: z.array(z.record(z.string(), z.unknown())),
  bounces: z.array(z.record(z.string(), z.unknown())), complaints: z.array(z.record(z.string(), z.unknown())),
  engagements: z.array(z.record(z.string(), z.unknown())).describe('clicks and opens of tracked campaign mail'),
}).describe('everything held about the person (see the export format in the README)');
const erasureView = z.object({ id, status: z.literal('erased'), erasedAt: timestamp, counts: z.record(z.string(), z.number().int()) });

export function dataRightsApi(deps: AppDeps, api: Api): void {
  api.route({ method: 'get', path: '/api/contacts/:id/export', scope: 'subscribers',
    summary: 'Export everything held about a contact: profile, attributes, subscriptions, consent records, messages, bounces and complaints', response: exportView },
  async ({ tenantId, params, res }) => {
    const id = contactId(params);
    const doc = await deps.db.withTenant(tenantId, (c) => exportContact(c, tenantId, id));
    if (!doc) throw notFound('contact');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Disposition', `attachment; filename="contact-${id}.json"`);
    return { body: doc };
  });

  api.route({ method: 'delete', path: '/api/contacts/:id', scope: 'subscribers',
    summary: 'Erase a contact: personal data removed everywhere; a salted hash stays on the suppression list', response: erasureView },
  async ({ tenantId, params }) => {
    const id = contactId(params);
    const out = await deps.db.withTenant(tenantId, (c) => eraseContact(c, tenantId, id));
    if (!out) throw notFound('contact');
    return { body: await afterErasure(deps, tenantId, out, 'api') };
  });
}

/**
 * After an erasure committed (the API's or the person's own, self-service-pages.ts): the copies
 * outside the database go (the outbox's .eml files of the person's messages), and it is logged.
 */
export async function afterErasure(deps: AppDeps, tenantId: string, out: ErasureResult, via: 'api' | 'self_service'): Promise<Omit<ErasureResult, 'messageIds'>> {
  const { messageIds, ...erased } = out;
  const files = await deps.mailer.forget?.(messageIds) ?? 0;
  deps.log.info({ tenantId, contactId: out.id, counts: out.counts, outboxFiles: files, via }, 'contact erased');
  return erased;
}
