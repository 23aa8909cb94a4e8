// Lists (newsletters) over the API (scope subscribers). A tenant always has exactly one default list:
// making a list the default moves the flag; the flag cannot be removed, only moved.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { id, page, timestamp } from '../platform/responses.js';
import { notFound, type Api } from '../platform/http.js';
import { isUuid } from '../policy/ids.js';
import { allLists, createList, getList, updateList } from './lists.js';
import { listPatchSchema, newListSchema } from './schemas.js';

const listView = z.object({ id, name: z.string(), description: z.string().nullable(), isDefault: z.boolean(), createdAt: timestamp });

export function listRoutes(api: Api, deps: AppDeps): void {
  const db = deps.db;
  api.route({ method: 'get', path: '/api/lists', scope: 'subscribers', summary: 'The lists (newsletters) of this tenant (all of them: nextCursor is null)', response: page(listView) },
    async ({ tenantId }) => ({ body: { items: await db.withTenant(tenantId, (c) => allLists(c)), nextCursor: null } }));

  api.route({ method: 'get', path: '/api/lists/:id', scope: 'subscribers', summary: 'One list', response: listView },
    async ({ tenantId, params }) => {
      const list = isUuid(params.id) ? await db.withTenant(tenantId, (c) => getList(c, params.id)) : null;
      if (!list) throw notFound('list');
      return { body: list };
    });

  api.route({ method: 'post', path: '/api/lists', scope: 'subscribers', summary: 'Create a list (optionally the new default)', body: newListSchema, response: listView, success: [201] },
    async ({ tenantId, body }) => ({
      status: 201,
      body: await db.withTenant(tenantId, (c) => createList(c, tenantId, { name: body.name, description: body.description ?? null, isDefault: body.isDefault ?? false })),
    }));

  api.route({ method: 'patch', path: '/api/lists/:id', scope: 'subscribers', summary: 'Rename, describe, or make the default list', body: listPatchSchema, response: listView },
    async ({ tenantId, params, body }) => ({
      body: await db.withTenant(tenantId, async (c) => {
        const list = isUuid(params.id) ? await updateList(c, params.id, body) : null;
        if (!list) throw notFound('list');
        return list;
      }),
    }));
}
