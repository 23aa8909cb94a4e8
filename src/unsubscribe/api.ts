// The JSON API of this module (scope subscribers):
//   POST   /api/contacts/:id/unsubscribe  {listIds?, ip?, userAgent?}  the app unsubscribes a contact
//   GET    /api/contacts/:id/export       everything held about the person (one JSON document)
//   DELETE /api/contacts/:id              erasure (see erase.ts)
// Unknown, erased and other tenants' contacts are all 404: a tenant's transaction sees only its rows.
import { z } from 'zod';
import { isUuid } from '../platform/db.js';
import { ApiError, notFound, type Api } from '../platform/http.js';
import { headerText, uuid } from '../platform/schemas.js';
import type { AppDeps } from '../deps.js';
import { eraseContact } from './erase.js';
import { exportContact } from './export.js';
import { unsubscribeContact } from './unsubscribe.js';

const unsubscribeBody = z.object({
  listIds: z.array(uuid).min(1).max(200).optional(),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  userAgent: headerText(500).optional(),
}).strict();

function contactId(params: Record<string, string>): string {
  const id = params.id;
  if (!isUuid(id)) throw notFound('contact');
  return id.toLowerCase();
}

export function unsubscribeApi(deps: AppDeps, api: Api): void {
  api.route({ method: 'post', path: '/api/contacts/:id/unsubscribe', scope: 'subscribers', body: unsubscribeBody,
    summary: 'Unsubscribe a contact from the given lists (default: all lists); recorded as a consent event with source api' },
  async ({ tenantId, params, body }) => {
    const id = contactId(params);
    return deps.db.withTenant(tenantId, async (c) => {
      const listIds = body.listIds ? [...new Set(body.listIds.map((l) => l.toLowerCase()))] : 'all';
      if (listIds !== 'all') {
        const known = new Set((await c.query<{ id: string }>('SELECT id FROM lists WHERE id = ANY($1::uuid[])', [listIds])).rows.map((r) => r.id));
        const missing = (body.listIds ?? []).findIndex((l) => !known.has(l.toLowerCase()));
        if (missing >= 0) throw new ApiError(422, 'unknown_list', `list ${body.listIds?.[missing]} does not exist`, `listIds[${missing}]`);
      }
      const r = await unsubscribeContact(c, { tenantId, contactId: id, listIds, source: 'api', ip: body.ip, userAgent: body.userAgent });
      if (!r.found) throw notFound('contact');
      const subscriptions = (await c.query(`SELECT s.list_id AS "listId", l.name AS "listName", s.status FROM subscriptions s
        JOIN lists l ON l.id = s.list_id WHERE s.contact_id = $1 ORDER BY l.created_at, l.id`, [id])).rows;
      return { body: { contactId: id, unsubscribedFrom: r.changedListIds, subscriptions } };
    });
  });

  api.route({ method: 'get', path: '/api/contacts/:id/export', scope: 'subscribers',
    summary: 'Export everything held about a contact: profile, attributes, subscriptions, consent records, messages, bounces and complaints' },
  async ({ tenantId, params, res }) => {
    const id = contactId(params);
    const doc = await deps.db.withTenant(tenantId, (c) => exportContact(c, tenantId, id));
    if (!doc) throw notFound('contact');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Disposition', `attachment; filename="contact-${id}.json"`);
    return { body: doc };
  });

  api.route({ method: 'delete', path: '/api/contacts/:id', scope: 'subscribers',
    summary: 'Erase a contact: personal data removed everywhere; a salted hash stays on the suppression list' },
  async ({ tenantId, params }) => {
    const id = contactId(params);
    const out = await deps.db.withTenant(tenantId, (c) => eraseContact(c, tenantId, id));
    if (!out) throw notFound('contact');
    deps.log.info({ tenantId, contactId: id, counts: out.counts }, 'contact erased');
    return { body: out };
  });
}
