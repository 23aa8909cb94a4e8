// The transactional API (scope transactional): POST /api/invoices, POST /api/messages (notices),
// and the record of communications, GET /api/messages and GET /api/messages/:id.
import type { Db } from '../platform/db.js';
import { isUuid } from '../policy/ids.js';
import { notFound, type Api } from '../platform/http.js';
import { createInvoice } from './invoices.js';
import { createNotice } from './notices.js';
import { messageDetail, listMessages, toRecord } from './communications.js';
import { invoiceSchema, messagesQuery, noticeSchema } from './requests.js';

export function transactionalRoutes(api: Api, db: Db): void {
  api.route({
    method: 'post', path: '/api/invoices', scope: 'transactional', body: invoiceSchema,
    summary: 'Queue the invoice email of a completed transaction (idempotent on transactionId: 202 first, 200 on replay, 409 on a different payload)',
  }, async ({ tenantId, body }) => {
    const r = await createInvoice(db, tenantId, body);
    return { status: r.status, body: toRecord(r.message) };
  });

  api.route({
    method: 'post', path: '/api/messages', scope: 'transactional', body: noticeSchema,
    summary: 'Queue a necessary notice (account, technical, legal, support) to a contact (idempotent on idempotencyKey)',
  }, async ({ tenantId, body }) => {
    const r = await createNotice(db, tenantId, body);
    return { status: r.status, body: toRecord(r.message) };
  });

  api.route({
    method: 'get', path: '/api/messages', scope: 'transactional', query: messagesQuery,
    summary: 'The record of communications, newest first: filter by kind, status, contactId, campaignId, recipient, since/until',
  }, async ({ tenantId, query }) => ({ body: await db.withTenant(tenantId, (c) => listMessages(c, tenantId, query)) }));

  api.route({
    method: 'get', path: '/api/messages/:id', scope: 'transactional',
    summary: 'One message: kind, template, subject, recipient, Message-ID, status timeline, and the body while it is kept',
  }, async ({ tenantId, params }) => {
    if (!isUuid(params.id)) throw notFound('message');
    const detail = await db.withTenant(tenantId, (c) => messageDetail(c, params.id));
    if (!detail) throw notFound('message');
    return { body: detail };
  });
}
