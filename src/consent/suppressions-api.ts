// Suppression management over the API (scope subscribers): GET /api/suppressions (filtered,
// keyset-paged), POST /api/suppressions (manual add, idempotent: 201 created, 200 existing),
// DELETE /api/suppressions/:address (required reason, in the JSON body or ?reason=). The rules live
// in suppression-admin.ts, shared with the CLI; its DomainErrors reach the HTTP layer as they are.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import type { Api } from '../platform/http.js';
import { id, page, timestamp } from '../platform/responses.js';
import { CONTACT_STATUSES } from './state.js';
import {
  addManualSuppression, addSuppressionSchema, listSuppressionPage, removeSuppressionSchema,
  suppressionsQuery, unsuppressAddress, validateInput, type Actor,
} from './suppression-admin.js';

const scope = z.enum(['all', 'marketing']);
const removeQuery = z.strictObject({ reason: z.string().max(1000).optional(), scope: scope.optional() });
const removeBody = z.strictObject({ reason: z.string().max(1000).optional() });

const suppressionView = z.object({
  id, address: z.string().nullable().describe('null when the address was erased (only its salted hash is kept)'), scope, reason: z.string(),
  createdAt: timestamp, note: z.string().nullable(), createdBy: z.string().nullable(),
  source: z.looseObject({ type: z.string() }),
});
const removeView = z.object({
  address: z.string(), removed: z.array(suppressionView), kept: z.array(suppressionView),
  contact: z.object({ id, status: z.enum(CONTACT_STATUSES), previousStatus: z.enum(CONTACT_STATUSES) }).nullable(),
});

export function suppressionRoutes(api: Api, deps: AppDeps): void {
  const db = deps.db;
  const actor = (keyId: string): Actor => ({ kind: 'api', keyId });

  api.route({ method: 'get', path: '/api/suppressions', scope: 'subscribers', query: suppressionsQuery, response: page(suppressionView),
    summary: 'Suppressions, newest first: filter by address (exact, case-insensitive), scope, reason, since/until (created); cursor-paged' },
  async ({ tenantId, query }) => ({ body: await listSuppressionPage(db, tenantId, query, 'query.') }));

  api.route({ method: 'post', path: '/api/suppressions', scope: 'subscribers', body: addSuppressionSchema, response: suppressionView, success: [201, 200],
    summary: 'Suppress an address by hand (scope all or marketing; idempotent: 201 created, 200 already there)' },
  async ({ auth, tenantId, body }) => {
    const out = await addManualSuppression(db, tenantId, body, actor(auth.keyId));
    return { status: out.created ? 201 : 200, body: out.item };
  });

  api.route({ method: 'delete', path: '/api/suppressions/:address', scope: 'subscribers', query: removeQuery, body: removeBody, response: removeView, errors: [409],
    summary: 'Remove the suppressions of an address (one scope, default all) with a required reason ({"reason"} or ?reason=); never re-subscribes' },
  async ({ auth, tenantId, params, query, body }) => {
    const input = validateInput(removeSuppressionSchema, { address: params.address, scope: query.scope, reason: body.reason ?? query.reason });
    return { body: await unsuppressAddress(db, tenantId, input, actor(auth.keyId)) };
  });
}
