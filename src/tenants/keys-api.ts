// API keys over the API (scope admin): create (the secret shown once), list and read (never the
// secret or its hash), revoke. The SQL and the rules (expiry, the last admin key) are api-keys.ts,
// shared with the CLI's `postgate key` commands.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { SCOPES, type Api, type Scope } from '../platform/http.js';
import { decodeKeyset, encodeKeyset, id, page, timestamp } from '../platform/responses.js';
import { UUID_PATTERN } from '../policy/ids.js';
import { notFoundError } from '../domain-error.js';
import { createApiKey, expiryOf, getApiKey, listApiKeys, MAX_EXPIRES_IN_DAYS, revokeApiKey, type ApiKeyView } from './api-keys.js';

const scope = z.enum(SCOPES as [Scope, ...Scope[]]);
/** A label for people: 1–200 characters, no control characters. */
const keyName = z.string().trim().min(1).max(200).refine((v) => !/[\p{Cc}\p{Cf}]/u.test(v), 'must not contain control or format characters (bidi controls included)');

const keyCreateSchema = z.strictObject({
  scopes: z.array(scope).min(1),
  name: keyName.optional(),
  expiresAt: timestamp.optional().describe('when the key stops working (ISO 8601, in the future); or give expiresInDays'),
  expiresInDays: z.number().int().min(1).max(MAX_EXPIRES_IN_DAYS).optional().describe('days from now until the key stops working; or give expiresAt'),
});
const keysQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

const keyView = z.object({
  id, name: z.string().nullable(), prefix: z.string().describe('the first 7 characters of the key, to recognise it'),
  scopes: z.array(scope), createdAt: timestamp,
  lastUsedAt: timestamp.nullable().describe('when the key last authenticated a request (recorded at most once a minute)'),
  expiresAt: timestamp.nullable().describe('null: the key does not expire'),
  revokedAt: timestamp.nullable().describe('null: not revoked'),
});
const newKeyView = keyView.extend({
  key: z.string().nullable().describe('the API key, shown only in this response (null in an Idempotency-Key replay: it is never stored)'),
});

/** The API view of a key: only the documented fields (never the hash). */
function view(k: ApiKeyView): ApiKeyView {
  return { id: k.id, name: k.name, prefix: k.prefix, scopes: k.scopes, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt, expiresAt: k.expiresAt, revokedAt: k.revokedAt };
}

/** A key id from the path: anything but a UUID is an unknown key (404), as another tenant's key is. */
function keyIdOf(params: Record<string, string>): string {
  const keyId = params.id ?? '';
  if (!UUID_PATTERN.test(keyId)) throw notFoundError('API key', 'id');
  return keyId;
}

/** POST/GET /api/keys, GET/DELETE /api/keys/{id}. */
export function keyRoutes(api: Api, deps: AppDeps): void {
  const db = deps.db;

  api.route({ method: 'post', path: '/api/keys', scope: 'admin', body: keyCreateSchema, response: newKeyView, success: [201],
    summary: 'Create an API key (shown once), optionally named and expiring',
    replayBody: (b) => ({ ...(b as Record<string, unknown>), key: null }) },
  async ({ tenantId, body }) => {
    const expiresAt = expiryOf(body);
    const made = await db.withTenant(tenantId, (c) => createApiKey(c, tenantId, body.scopes, { name: body.name ?? null, expiresAt }));
    return { status: 201, body: { ...view(made), key: made.key } };
  });

  api.route({ method: 'get', path: '/api/keys', scope: 'admin', query: keysQuery, response: page(keyView),
    summary: 'The tenant\'s API keys, newest first, revoked and expired ones included (never the secret); cursor-paged' },
  async ({ tenantId, query }) => {
    const after = query.cursor === undefined ? undefined : decodeKeyset(query.cursor);
    const rows = await db.withTenant(tenantId, (c) => listApiKeys(c, tenantId, { limit: query.limit, after }));
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return { body: { items: items.map(view), nextCursor: rows.length > query.limit && last ? encodeKeyset({ at: last.cursorAt, id: last.id }) : null } };
  });

  api.route({ method: 'get', path: '/api/keys/:id', scope: 'admin', response: keyView, errors: [404],
    summary: 'One API key of the tenant (never the secret)' },
  async ({ tenantId, params }) => {
    const keyId = keyIdOf(params);
    const found = await db.withTenant(tenantId, (c) => getApiKey(c, keyId));
    if (!found) throw notFoundError('API key', 'id');
    return { body: view(found) };
  });

  api.route({ method: 'delete', path: '/api/keys/:id', scope: 'admin', success: [204], errors: [404, 409],
    summary: 'Revoke an API key: from now on it gets 401 (the key making this request too); the last live admin key is refused (409 last_admin_key)' },
  async ({ tenantId, params }) => {
    const keyId = keyIdOf(params);
    await db.withTenant(tenantId, (c) => revokeApiKey(c, tenantId, keyId));
  });
}
