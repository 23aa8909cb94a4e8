// Lists (newsletters) over the API (scope subscribers). A tenant always has exactly one default list:
// making a list the default moves the flag; the flag cannot be removed, only moved. Lists are public
// or private, may be archived (no new opt-ins or campaigns) and soft-deleted (gone from every read;
// subscriptions and consent records kept). Names are unique per tenant (409 list_name_taken).
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { id, page, timestamp } from '../platform/responses.js';
import { notFound, type Api } from '../platform/http.js';
import { isUuid } from '../policy/ids.js';
import { allLists, createList, deleteList, getList, updateList } from './lists.js';
import { listPatchSchema, newListSchema } from './schemas.js';
import { subscriptionCountsByList } from './subscriptions.js';

const listView = z.object({
  id, name: z.string(), description: z.string().nullable(), isDefault: z.boolean(), createdAt: timestamp,
  visibility: z.enum(['public', 'private']), archivedAt: timestamp.nullable(),
});

const count = z.number().int().min(0);
const listCountsView = z.object({ listId: id, subscribed: count, unconfirmed: count, unsubscribed: count });

export function listRoutes(api: Api, deps: AppDeps): void {
  const db = deps.db;
  api.route({ method: 'get', path: '/api/lists', scope: 'subscribers', summary: 'The lists (newsletters) of this tenant (all of them: nextCursor is null)', response: page(listView) },
    async ({ tenantId }) => ({ body: { items: await db.withTenant(tenantId, (c) => allLists(c)), nextCursor: null } }));

  // before /api/lists/:id, which would take "counts" for an id
  api.route({ method: 'get', path: '/api/lists/counts', scope: 'subscribers', response: page(listCountsView),
    summary: 'How many subscribed, unconfirmed and unsubscribed contacts each list has (all lists not deleted: nextCursor is null)' },
  async ({ tenantId }) => ({ body: { items: await db.withTenant(tenantId, (c) => subscriptionCountsByList(c)), nextCursor: null } }));

  api.route({ method: 'get', path: '/api/lists/:id', scope: 'subscribers', summary: 'One list', response: listView },
    async ({ tenantId, params }) => {
      const list = isUuid(params.id) ? await db.withTenant(tenantId, (c) => getList(c, params.id)) : null;
      if (!list) throw notFound('list');
      return { body: list };
    });

  api.route({ method: 'post', path: '/api/lists', scope: 'subscribers', summary: 'Create a list (optionally the new default, private or archived); names are unique per tenant', body: newListSchema, response: listView, success: [201], errors: [409] },
    async ({ tenantId, body }) => ({
      status: 201,
      body: await db.withTenant(tenantId, (c) => createList(c, tenantId, { ...body, description: body.description ?? null, isDefault: body.isDefault ?? false })),
    }));

  api.route({ method: 'patch', path: '/api/lists/:id', scope: 'subscribers', summary: 'Rename, describe, archive or restore, change the visibility of, or make the default list', body: listPatchSchema, response: listView, errors: [409] },
    async ({ tenantId, params, body }) => ({
      body: await db.withTenant(tenantId, async (c) => {
        const list = isUuid(params.id) ? await updateList(c, params.id, body) : null;
        if (!list) throw notFound('list');
        return list;
      }),
    }));

  api.route({ method: 'delete', path: '/api/lists/:id', scope: 'subscribers', success: [204], errors: [409],
    summary: 'Delete a list: it disappears, its subscriptions and consent records are kept (a re-created list of that name starts empty); not the default list' },
  async ({ tenantId, params }) => {
    const deleted = isUuid(params.id) && await db.withTenant(tenantId, (c) => deleteList(c, params.id));
    if (!deleted) throw notFound('list');
  });
}
