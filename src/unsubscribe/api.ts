// The JSON API of this module (scope subscribers):
//   POST   /api/contacts/:id/unsubscribe  {listIds?, ip?, userAgent?}  the app unsubscribes a contact
// (Export and erasure of a contact are the data-rights module's.)
// Unknown, erased and other tenants' contacts are all 404: a tenant's transaction sees only its rows.
import { z } from 'zod';
import { isUuid } from '../policy/ids.js';
import { ApiError, notFound, type Api } from '../platform/http.js';
import { headerText, uuid } from '../platform/schemas.js';
import { id } from '../platform/responses.js';
import { SUBSCRIPTION_STATUSES } from '../consent/state.js';
import type { AppDeps } from '../deps.js';
import { listsByIds } from '../consent/lists.js';
import { subscriptionsOf } from '../consent/subscriptions.js';
import { unsubscribeContact } from '../consent/unsubscribe.js';

const unsubscribeBody = z.strictObject({
  listIds: z.array(uuid).min(1).max(200).optional(),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  userAgent: headerText(500).optional(),
});
const unsubscribeView = z.object({
  contactId: id, unsubscribedFrom: z.array(id),
  subscriptions: z.array(z.object({ listId: id, listName: z.string(), status: z.enum(SUBSCRIPTION_STATUSES) })),
});

function contactId(params: Record<string, string>): string {
  const id = params.id;
  if (!isUuid(id)) throw notFound('contact');
  return id.toLowerCase();
}

export function unsubscribeApi(deps: AppDeps, api: Api): void {
  api.route({ method: 'post', path: '/api/contacts/:id/unsubscribe', scope: 'subscribers', body: unsubscribeBody, response: unsubscribeView,
    summary: 'Unsubscribe a contact from the given lists (default: all lists); recorded as a consent event with source api' },
  async ({ tenantId, params, body }) => {
    const id = contactId(params);
    return deps.db.withTenant(tenantId, async (c) => {
      const listIds = body.listIds ? [...new Set(body.listIds.map((l) => l.toLowerCase()))] : 'all';
      if (listIds !== 'all') {
        const known = new Set((await listsByIds(c, listIds)).map((l) => l.id));
        const missing = (body.listIds ?? []).findIndex((l) => !known.has(l.toLowerCase()));
        if (missing >= 0) throw new ApiError(422, 'unknown_list', `list ${body.listIds?.[missing]} does not exist`, `listIds[${missing}]`);
      }
      const r = await unsubscribeContact(c, { tenantId, contactId: id, listIds, source: 'api', ip: body.ip, userAgent: body.userAgent });
      if (!r.found) throw notFound('contact');
      const subscriptions = (await subscriptionsOf(c, [id])).map((s) => ({ listId: s.listId, listName: s.listName, status: s.status }));
      return { body: { contactId: id, unsubscribedFrom: r.changedListIds, subscriptions } };
    });
  });
}
