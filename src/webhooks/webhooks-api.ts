// Webhook endpoints over the API (scope events, or admin): create (the secret is shown once), list, read, change,
// delete, rotate the secret, the delivery log (newest first, with attempts) and replays.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { DomainError } from '../domain-error.js';
import { EVENT_TYPES } from '../events/types.js';
import { notFound, type Api } from '../platform/http.js';
import { id, page, timestamp } from '../platform/responses.js';
import { checkEndpointUrl, checkEventTypes, newSecret } from './urls.js';
import {
  createEndpoint, deleteEndpoint, getEndpoint, listDeliveries, listEndpoints, replay, setEndpointSecret, updateEndpoint,
  type DeliveryView, type Endpoint,
} from './store.js';

/** The most events one replay may select (beyond: 422 on `since`, nothing written). */
export const REPLAY_CAP = 10_000;

const TYPES_HELP = `Event types to deliver: ["*"] for every type, or some of ${EVENT_TYPES.join(', ')}.`;
const URL_HELP = 'An https URL (http too when WEBHOOK_ALLOW_PRIVATE=1). A literal private, loopback or link-local IP address is refused (422); '
  + 'a host name resolving to one is refused at connect time (attempt error ssrf_refused).';

const url = z.string().min(1).max(2000).describe(URL_HELP);
const types = z.array(z.string().max(100)).min(1).max(EVENT_TYPES.length + 1).describe(TYPES_HELP);
const description = z.string().max(500).nullable().describe('A note for people (shown in listings)');

const newEndpoint = z.strictObject({ url, types, enabled: z.boolean().optional(), description: description.optional() });
const endpointPatch = z.strictObject({
  url: url.optional(), types: types.optional(), description: description.optional(),
  enabled: z.boolean().optional().describe('true re-enables an endpoint disabled after persistent failure (its pending deliveries resume)'),
});

const endpointView = z.object({
  id, url: z.string(), types: z.array(z.string()), description: z.string().nullable(), enabled: z.boolean(),
  disabledReason: z.string().nullable().describe('Why the endpoint was disabled automatically (persistent failure); null otherwise'),
  disabledAt: timestamp.nullable(), lastSuccessAt: timestamp.nullable(), createdAt: timestamp, updatedAt: timestamp,
});
const withSecret = endpointView.extend({
  secret: z.string().describe('The signing secret (Standard Webhooks "whsec_<base64>"). Shown only in this answer.'),
});

const attemptView = z.object({
  attempt: z.number().int(), at: timestamp, statusCode: z.number().int().nullable(), durationMs: z.number().int(),
  error: z.string().nullable().describe('timeout, ssrf_refused, redirect_not_followed, http_<status>, connection_error:<code>, aborted'),
  response: z.string().nullable().describe("The first 1 KiB of the receiver's answer"),
});
const deliveryView = z.object({
  id: z.string().describe('The delivery id (a decimal integer)'),
  eventId: z.string(), eventType: z.string().nullable().describe('null once the event is gone (erased or purged)'),
  webhookId: z.string().describe('The webhook-id header sent: evt_<eventId>, the same on every retry and replay'),
  replay: z.number().int().describe('0: the first delivery of the event; n: its n-th replay'),
  status: z.enum(['pending', 'sending', 'delivered', 'failed', 'dropped']),
  attempts: z.number().int(), nextAttemptAt: timestamp.nullable(), createdAt: timestamp, finishedAt: timestamp.nullable(),
  lastStatusCode: z.number().int().nullable(), lastError: z.string().nullable(), attemptLog: z.array(attemptView),
});
const deliveriesQuery = z.strictObject({
  cursor: z.string().max(40).optional().describe('nextCursor of the previous page'),
  limit: z.coerce.number().int().min(1).max(200).optional().describe('Deliveries per page (default 50)'),
});
const replayBody = z.strictObject({
  eventId: z.string().regex(/^\d{1,18}$/, 'must be an event id (a decimal integer)').optional().describe('One event (any type) to deliver again'),
  since: timestamp.optional().describe('With until: the events of the endpoint\'s types in [since, until)'),
  until: timestamp.optional(),
}).describe(`Either eventId, or since and until; a range may select at most ${REPLAY_CAP} events (422 beyond).`);
const replayView = z.object({ replayed: z.number().int().describe('Deliveries created (each gets the event\'s usual webhook-id)') });

function deliveryOut(d: DeliveryView) {
  return { ...d, webhookId: `evt_${d.eventId}` };
}

function selection(b: z.infer<typeof replayBody>): { eventId: string } | { since: Date; until: Date } {
  if (b.eventId !== undefined) {
    if (b.since !== undefined || b.until !== undefined) throw new DomainError('invalid', 'eventId: give eventId, or since and until, not both', 'eventId');
    return { eventId: b.eventId };
  }
  if (b.since === undefined) throw new DomainError('invalid', 'since: give eventId, or since and until', 'since');
  if (b.until === undefined) throw new DomainError('invalid', 'until: required with since', 'until');
  const since = new Date(b.since); const until = new Date(b.until);
  if (until <= since) throw new DomainError('invalid', 'until: must be after since', 'until');
  return { since, until };
}

/** Registers /api/webhooks (scope events): endpoints, secret rotation, the delivery log and replays. */
export function webhookRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;
  const allowPrivate = deps.config.WEBHOOK_ALLOW_PRIVATE;
  const find = async (tenantId: string, endpointId: string): Promise<Endpoint> => {
    const e = await db.withTenant(tenantId, (c) => getEndpoint(c, endpointId));
    if (!e) throw notFound('webhook endpoint');
    return e;
  };

  api.route({ method: 'post', path: '/api/webhooks', scope: 'events', body: newEndpoint, response: withSecret, success: [201], errors: [409],
    summary: 'Add a webhook endpoint; its signing secret is in this answer only',
    description: `${URL_HELP} ${TYPES_HELP} The endpoint gets the events committed from now on (a replay sends earlier ones). At most 20 endpoints per tenant (409 conflict beyond).`,
    replayBody: (b) => ({ ...(b as Record<string, unknown>), secret: null }) },
  async ({ tenantId, body }) => {
    const e = { url: checkEndpointUrl(body.url, allowPrivate), types: checkEventTypes(body.types), description: body.description ?? null,
      enabled: body.enabled ?? true, secret: newSecret() };
    const created = await db.withTenant(tenantId, (c) => createEndpoint(c, tenantId, e));
    return { status: 201, body: { ...created, secret: e.secret } };
  });

  api.route({ method: 'get', path: '/api/webhooks', scope: 'events', response: page(endpointView),
    summary: "The tenant's webhook endpoints, oldest first (all of them: nextCursor is null)" },
  async ({ tenantId }) => ({ body: { items: await db.withTenant(tenantId, (c) => listEndpoints(c)), nextCursor: null } }));

  api.route({ method: 'get', path: '/api/webhooks/:id', scope: 'events', response: endpointView, summary: 'One webhook endpoint' },
    async ({ tenantId, params }) => ({ body: await find(tenantId, params.id) }));

  api.route({ method: 'patch', path: '/api/webhooks/:id', scope: 'events', body: endpointPatch, response: endpointView,
    summary: 'Change an endpoint: URL, types, description, enabled', description: 'Setting enabled to true clears the disabled state.' },
  async ({ tenantId, params, body }) => {
    const patch = { url: body.url === undefined ? undefined : checkEndpointUrl(body.url, allowPrivate),
      types: body.types === undefined ? undefined : checkEventTypes(body.types), description: body.description, enabled: body.enabled };
    const e = await db.withTenant(tenantId, (c) => updateEndpoint(c, params.id, patch));
    if (!e) throw notFound('webhook endpoint');
    return { body: e };
  });

  api.route({ method: 'delete', path: '/api/webhooks/:id', scope: 'events', success: [204],
    summary: 'Delete an endpoint with its delivery log' },
  async ({ tenantId, params }) => {
    if (!(await db.withTenant(tenantId, (c) => deleteEndpoint(c, params.id)))) throw notFound('webhook endpoint');
  });

  api.route({ method: 'post', path: '/api/webhooks/:id/rotate-secret', scope: 'events', response: withSecret,
    summary: 'Replace the signing secret; the new one is in this answer only', description: 'Attempts from now on are signed with the new secret and, for 24 hours, also with the previous one (two space-separated signatures in webhook-signature), so a receiver may switch late.',
    replayBody: (b) => ({ ...(b as Record<string, unknown>), secret: null }) },
  async ({ tenantId, params }) => {
    const secret = newSecret();
    const e = await db.withTenant(tenantId, async (c) => (await setEndpointSecret(c, params.id, secret) ? getEndpoint(c, params.id) : null));
    if (!e) throw notFound('webhook endpoint');
    return { body: { ...e, secret } };
  });

  api.route({ method: 'get', path: '/api/webhooks/:id/deliveries', scope: 'events', query: deliveriesQuery, response: page(deliveryView),
    summary: "An endpoint's delivery log, newest first, each delivery with its attempts" },
  async ({ tenantId, params, query }) => {
    const before = query.cursor ?? null;
    if (before !== null && !/^\d{1,19}$/.test(before)) throw new DomainError('invalid', 'query.cursor: not a cursor returned by this listing', 'query.cursor');
    const limit = query.limit ?? 50;
    await find(tenantId, params.id);
    const items = await db.withTenant(tenantId, (c) => listDeliveries(c, params.id, before, limit));
    return { body: { items: items.map(deliveryOut), nextCursor: items.length === limit ? items[items.length - 1].id : null } };
  });

  api.route({ method: 'post', path: '/api/webhooks/:id/replay', scope: 'events', body: replayBody, response: replayView, success: [202],
    summary: 'Deliver one event, or the events of a time range, again',
    description: `New deliveries, sent like any other (same webhook-id as the first delivery). At most ${REPLAY_CAP} events per range (422 on since beyond). An unknown eventId is 404. A disabled endpoint is 409 endpoint_disabled: re-enable it first (PATCH enabled: true).` },
  async ({ tenantId, params, body }) => {
    const sel = selection(body);
    const ep = await find(tenantId, params.id);
    if (!ep.enabled) throw new DomainError('endpoint_disabled', 'enabled: the endpoint is disabled; re-enable it first (PATCH enabled: true), then replay', 'enabled');
    const r = await db.withTenant(tenantId, (c) => replay(c, tenantId, params.id, sel, REPLAY_CAP));
    if (r.tooMany) throw new DomainError('invalid', `since: the range holds more than ${REPLAY_CAP} events; narrow it`, 'since');
    if ('eventId' in sel && r.created === 0) throw notFound('event');
    return { status: 202, body: { replayed: r.created } };
  });
}
