// Contacts over the API (scope subscribers): register with opt-in, later opt-ins, opt-outs, lookup,
// a filtered keyset-paged listing, and the consent history (the proof of permission).
import type { AppDeps } from '../deps.js';
import type { Queryable } from '../platform/db.js';
import { isUuid } from '../policy/ids.js';
import { ApiError, notFound, type Api } from '../platform/http.js';
import { z } from 'zod';
import { uuid } from '../platform/schemas.js';
import { id, page, timestamp } from '../platform/responses.js';
import { CONTACT_STATUSES, SUBSCRIPTION_STATUSES } from './state.js';
import type { LedgerMessage } from '../mail/ledger.js';
import type { ActivationSettings } from './activation.js';
import { findContact, listContacts, patchContactProfile, type ContactRow } from './contacts.js';
import { contactExportRoute } from './contacts-export.js';
import { consentHistory } from './records.js';
import { contactTimeline } from './timeline.js';
import { optIn, registerContact } from './register.js';
import { contactPatchSchema, contactsQuery, optInSchema, registerSchema } from './schemas.js';
import { subscriptionsOf, type SubscriptionRow } from './subscriptions.js';
import { unsubscribeContact } from './unsubscribe.js';

export function contactJson(contact: ContactRow, subs: SubscriptionRow[]) {
  return {
    ...contact, locale: contact.locale ?? null,
    subscriptions: subs.filter((s) => s.contactId === contact.id).map(({ listId, listName, status, createdAt, updatedAt }) => ({ listId, listName, status, createdAt, updatedAt })),
  };
}

function activationJson(m: LedgerMessage | null) {
  return m ? { messageId: m.id, status: m.status } : null;
}

async function contactWithSubscriptions(c: Queryable, id: string) {
  const contact = await findContact(c, { id });
  if (!contact) throw notFound('contact');
  return contactJson(contact, await subscriptionsOf(c, [id]));
}

const subscriptionView = z.object({ listId: id, listName: z.string(), status: z.enum(SUBSCRIPTION_STATUSES), createdAt: timestamp, updatedAt: timestamp });
/** A contact as the API shows it, with its subscriptions. */
export const contactView = z.object({
  id, email: z.string().nullable(), name: z.string().nullable(), attributes: z.record(z.string(), z.unknown()),
  status: z.enum(CONTACT_STATUSES), createdAt: timestamp, verifiedAt: timestamp.nullable(),
  locale: z.string().nullable().describe('BCP 47 locale of the person\'s pages and mail; null: their browser\'s, then the tenant\'s default'),
  subscriptions: z.array(subscriptionView),
});
const withActivation = contactView.extend({
  activation: z.object({ messageId: id, status: z.string() }).nullable().describe('the activation email queued by this request, if any'),
});
const consentEventView = z.object({
  id: z.string(), contactId: id, listId: id.nullable(), action: z.string(), source: z.string(), ip: z.string().nullable(),
  userAgent: z.string().nullable(), textHash: z.string().nullable(), text: z.string().nullable().describe('the wording shown to the person'),
  detail: z.record(z.string(), z.unknown()), at: timestamp,
});

const timelineQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(200).optional() });
const timelineItemView = z.discriminatedUnion('type', [
  z.object({ type: z.literal('message'), id, at: timestamp.describe('when it was queued'), kind: z.string(), purpose: z.string(), campaignId: id.nullable(),
    subject: z.string().nullable(), status: z.string().describe('queued, sending, sent, deferred, failed, bounced, complained, suppressed or cancelled'),
    reason: z.string().nullable(), sentAt: timestamp.nullable() }),
  z.object({ type: z.literal('consent'), id: z.string(), at: timestamp, action: z.string().describe('register, opt_in, confirm, opt_out (an unsubscribe), suppress, unsuppress, import, …'),
    source: z.string(), listId: id.nullable(), listName: z.string().nullable(), textHash: z.string().nullable().describe('the wording shown (GET /api/contacts/{id}/consent has its text)'),
    detail: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal('bounce'), id, at: timestamp.describe('when the report was received'), kind: z.string(), reason: z.string().nullable(), status: z.string().nullable(),
    diagnostic: z.string().nullable(), feedbackType: z.string().nullable(), messageId: id.nullable(), campaignId: id.nullable(), action: z.string().nullable(),
    rawKept: z.boolean().describe('GET /api/bounces/{id}/raw has the report'), rawWithheld: z.string().nullable() }),
]);

const cursorOf = (rows: ContactRow[], limit: number): string | null => (rows.length === limit ? rows[rows.length - 1].id : null);

export function contactRoutes(api: Api, deps: AppDeps): void {
  const settings: ActivationSettings = { capPerDay: deps.config.ACTIVATION_CAP_PER_DAY, ttlDays: deps.config.ACTIVATION_TTL_DAYS,
    tenantPerHour: deps.config.ACTIVATION_TENANT_PER_HOUR };
  const db = deps.db;

  api.route({ method: 'post', path: '/api/contacts', scope: 'subscribers', summary: 'Register a contact (pending) with its opt-ins and send the activation email', body: registerSchema,
    response: withActivation, success: [201, 200], errors: [429] },
    async ({ tenantId, body }) => {
      // The activation cap is a DomainError rate_limited: the HTTP layer answers 429 with Retry-After.
      const out = await db.withTenant(tenantId, async (c) => {
        const o = await registerContact(c, tenantId, body, settings);
        return { ...o, json: await contactWithSubscriptions(c, o.contact.id) };
      });
      return { status: out.created ? 201 : 200, body: { ...out.json, activation: activationJson(out.activation) } };
    });

  api.route({ method: 'get', path: '/api/contacts', scope: 'subscribers', summary: 'Contacts, filtered by status, list, subscription status, exact email or q (part of the address or name); keyset-paged', query: contactsQuery, response: page(contactView) },
    async ({ tenantId, query }) => {
      if (query.cursor !== undefined && !isUuid(query.cursor)) throw new ApiError(422, 'invalid', 'query.cursor: not a cursor from this API', 'query.cursor');
      return db.withTenant(tenantId, async (c) => {
        const rows = await listContacts(c, { ...query, afterId: query.cursor });
        const subs = await subscriptionsOf(c, rows.map((r) => r.id));
        return { body: { items: rows.map((r) => contactJson(r, subs)), nextCursor: cursorOf(rows, query.limit) } };
      });
    });

  contactExportRoute(api, deps); // before /api/contacts/:id, which would take export.csv for an id

  api.route({ method: 'get', path: '/api/contacts/:id', scope: 'subscribers', summary: 'A contact with its subscriptions and their statuses', response: contactView },
    async ({ tenantId, params }) => ({ body: await db.withTenant(tenantId, (c) => contactWithSubscriptions(c, params.id)) }));

  api.route({ method: 'patch', path: '/api/contacts/:id', scope: 'subscribers', body: contactPatchSchema, response: contactView, errors: [409],
    summary: 'Change a contact\'s name (null clears it), attributes (merged; a null value removes that key) and locale (null clears it); not an erased contact (409)' },
  async ({ tenantId, params, body }) => ({
    body: await db.withTenant(tenantId, async (c) => {
      if (!(await patchContactProfile(c, params.id, body))) throw notFound('contact');
      return contactWithSubscriptions(c, params.id);
    }),
  }));

  api.route({ method: 'get', path: '/api/contacts/:id/consent', scope: 'subscribers', summary: 'The consent records of a contact, oldest first, with the wording shown (all of them: nextCursor is null)', response: page(consentEventView) },
    async ({ tenantId, params }) => ({
      body: await db.withTenant(tenantId, async (c) => {
        if (!(await findContact(c, { id: params.id }))) throw notFound('contact');
        return { items: await consentHistory(c, params.id), nextCursor: null };
      }),
    }));

  api.route({ method: 'get', path: '/api/contacts/:id/timeline', scope: 'subscribers', query: timelineQuery, response: page(timelineItemView),
    summary: 'A contact\'s timeline, newest first: messages sent (with their states), consent records (opt-ins, confirmations, opt-outs), bounces and complaints; cursor-paged' },
  async ({ tenantId, params, query }) => ({
    body: await db.withTenant(tenantId, async (c) => {
      if (!(await findContact(c, { id: params.id }))) throw notFound('contact');
      return contactTimeline(c, params.id, query);
    }),
  }));

  api.route({ method: 'post', path: '/api/contacts/:id/subscriptions', scope: 'subscribers', summary: 'Opt in to lists; each becomes subscribed after a confirmation click', body: optInSchema,
    response: withActivation, success: [202, 200], errors: [409, 429] },
    async ({ tenantId, params, body }) => {
      const out = await db.withTenant(tenantId, async (c) => {
        const o = await optIn(c, tenantId, params.id, body, settings);
        return { ...o, json: await contactWithSubscriptions(c, o.contact.id) };
      });
      return { status: out.activation ? 202 : 200, body: { ...out.json, activation: activationJson(out.activation) } };
    });

  api.route({ method: 'delete', path: '/api/contacts/:id/subscriptions/:listId', scope: 'subscribers', summary: 'Opt out of a list (recorded as an opt-out via the API)', response: contactView },
    async ({ tenantId, params }) => ({
      body: await db.withTenant(tenantId, async (c) => {
        const listId = uuid.safeParse(params.listId);
        const contact = await findContact(c, { id: params.id }, true);
        if (!contact) throw notFound('contact');
        const sub = listId.success ? (await subscriptionsOf(c, [contact.id], true)).find((s) => s.listId === listId.data.toLowerCase()) : undefined;
        if (!sub) throw notFound('subscription');
        const out = await unsubscribeContact(c, { tenantId, contactId: contact.id, listIds: [sub.listId], source: 'api' });
        if (!out.found) throw notFound('contact');
        return contactWithSubscriptions(c, contact.id);
      }),
    }));
}
