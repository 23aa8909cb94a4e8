// The transactional API (scope transactional): POST /api/invoices, POST /api/messages (notices),
// and the record of communications, GET /api/messages and GET /api/messages/:id.
import { z } from 'zod';
import type { Db } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { id, page, timestamp } from '../platform/responses.js';
import { TEMPLATE_VARIABLES } from '../mail/template-variables.js';
import { isUuid } from '../policy/ids.js';
import { notFound, type Api } from '../platform/http.js';
import { createInvoice } from './invoices.js';
import { createNotice } from './notices.js';
import { SubmissionBatcher } from './batch.js';
import { messageDetail, listMessages, toRecord } from './communications.js';
import { idempotentResponseIds } from '../platform/idempotency.js';
import { messageTimeline } from '../events/feed.js';
import { feedItem, toFeedItem } from '../events/events-api.js';
import { invoiceSchema, messagesQuery, noticeSchema } from './requests.js';

const messageRecord = z.object({
  id, purpose: z.string(), kind: z.string(), template: z.string(), templateVersion: z.number().int(), subject: z.string().nullable(),
  recipient: z.string().nullable(), contactId: id.nullable(), campaignId: id.nullable(), status: z.string(), reason: z.string().nullable(),
  attempts: z.number().int(), messageId: z.string().nullable().describe('the Message-ID header, once composed'), smtpResponse: z.string().nullable(),
  createdAt: timestamp, sentAt: timestamp.nullable(),
});
const messageDetailView = messageRecord.extend({
  events: z.array(z.object({ type: z.string(), at: timestamp, detail: z.record(z.string(), z.unknown()) })),
  body: z.object({ html: z.string().nullable(), text: z.string().nullable(), expiresAt: timestamp }).nullable(),
});

const NOTICE_DESCRIPTION = 'Idempotency: the body field idempotencyKey, or else the Idempotency-Key header, is the notice\'s key '
  + '(ledger purpose notice:<key>); both given and different is 422. Without either, every request is a new notice. '
  + 'A built-in notice needs data.body and accepts only the data keys its template prints (subject, preview, body, actionUrl, actionLabel; ticketId for support).';

export function transactionalRoutes(api: Api, db: Db): void {
  const batcher = new SubmissionBatcher(db); // this process's group commit of invoice and notice requests
  api.route({
    method: 'post', path: '/api/invoices', scope: 'transactional', body: invoiceSchema, maxBodyBytes: 1024 * 1024, // up to 500 lines
    summary: 'Queue the invoice email of a completed transaction (idempotent on transactionId: 202 first, 200 on replay, 409 on a different payload)',
    response: messageRecord, success: [202, 200], errors: [409],
  }, async ({ tenantId, body }) => {
    const r = await createInvoice(batcher, tenantId, body);
    return { status: r.status, body: toRecord(r.message) };
  });

  api.route({
    method: 'post', path: '/api/messages', scope: 'transactional', body: noticeSchema,
    summary: 'Queue a necessary notice (account, technical, legal, support) to a contact (idempotent on idempotencyKey)',
    description: NOTICE_DESCRIPTION, response: messageRecord, success: [202, 200], errors: [409],
    extensions: { 'x-template-variables': { notice: TEMPLATE_VARIABLES.notice, helpers: TEMPLATE_VARIABLES.helpers } },
  }, async ({ tenantId, body, idempotencyKey }) => {
    if (idempotencyKey !== null && body.idempotencyKey !== undefined && body.idempotencyKey !== idempotencyKey) {
      throw new DomainError('invalid', 'idempotencyKey differs from the Idempotency-Key header: give one of them, or the same key in both', 'idempotencyKey');
    }
    const r = await createNotice(batcher, tenantId, { ...body, idempotencyKey: body.idempotencyKey ?? idempotencyKey ?? undefined });
    return { status: r.status, body: toRecord(r.message) };
  });

  api.route({
    method: 'get', path: '/api/messages', scope: 'transactional', query: messagesQuery,
    summary: 'The record of communications, newest first: filter by kind, status, contactId, campaignId, recipient, since/until, purpose or idempotencyKey',
    description: 'Looked up by purpose (invoice:<transactionId>, notice:<key>) or idempotencyKey, each message also carries its timeline: its events as GET /api/events gives them.',
    response: page(messageRecord.extend({ timeline: z.array(feedItem).optional() })),
  }, async ({ tenantId, query }) => ({ body: await db.withTenant(tenantId, async (c) => {
    const ids = query.idempotencyKey ? await idempotentResponseIds(c, tenantId, query.idempotencyKey, ['/api/invoices', '/api/messages']) : [];
    const found = await listMessages(c, tenantId, query, ids);
    if (!query.purpose && !query.idempotencyKey) return found;
    const items = [];
    for (const m of found.items) items.push({ ...m, timeline: (await messageTimeline(c, m.id)).map(toFeedItem) });
    return { ...found, items };
  }) }));

  api.route({
    method: 'get', path: '/api/messages/:id', scope: 'transactional',
    summary: 'One message: kind, template, subject, recipient, Message-ID, status timeline, and the body while it is kept',
    response: messageDetailView,
  }, async ({ tenantId, params }) => {
    if (!isUuid(params.id)) throw notFound('message');
    const detail = await db.withTenant(tenantId, (c) => messageDetail(c, params.id));
    if (!detail) throw notFound('message');
    return { body: detail };
  });
}
