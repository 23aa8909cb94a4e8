// HTTP side of bounces (scope admin): POST /api/inbound takes a raw RFC 822 report from an MTA that
// pipes bounces or a relay (body message/rfc822, text/plain or application/octet-stream, at most
// INBOUND_MAX_BYTES, else 413), optionally with ?to=<envelope recipient>; only the key's own
// tenant can be affected. GET /api/bounces lists recorded bounces; GET /api/bounces/:id/raw returns
// a raw report while it is kept.
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { ApiError, notFound, type Api } from '../platform/http.js';
import { uuid } from '../platform/schemas.js';
import { processInbound, type BounceDeps, type InboundResult } from './process.js';
import { bounceRaw, listBounces } from './store.js';

const inboundQuery = z.object({ to: z.string().max(1024).optional() }).strict();
const listQuery = z.object({
  messageId: uuid.optional(), contactId: uuid.optional(),
  kind: z.enum(['hard', 'soft', 'blocked', 'complaint', 'autoreply', 'unknown']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
}).strict();

const ACCEPTED_TYPES = /^(message\/rfc822|text\/plain|application\/octet-stream)$/i;

/** Reads the raw request body (the JSON parser left it alone: it only takes JSON types). */
function readRaw(req: Request, res: Response, limit: number): Promise<Buffer> {
  const type = (req.get('content-type') ?? 'message/rfc822').split(';')[0].trim();
  if (!ACCEPTED_TYPES.test(type)) {
    return Promise.reject(new ApiError(415, 'unsupported_media_type', 'send the report as message/rfc822, text/plain or application/octet-stream', 'body'));
  }
  const parser = express.raw({ type: () => true, limit });
  return new Promise((resolve, reject) => {
    parser(req, res, (err?: unknown) => {
      if (err) return reject(err);
      resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    });
  });
}

function summary(r: InboundResult): Record<string, unknown> {
  const c = r.classification;
  return {
    kind: c.kind, status: c.status, reason: c.reason, recipient: c.recipient, diagnostic: c.diagnostic, feedbackType: c.feedbackType,
    bounces: r.bounces.map((b) => ({ id: b.bounceId, duplicate: b.duplicate, messageId: b.messageId, contactId: b.contactId,
      matchedBy: b.matchedBy, action: b.action, campaignPaused: b.campaignPaused })),
    unsubscribes: r.unsubscribes.map((u) => ({ contactId: u.contactId, changedListIds: u.changedListIds })),
    timeline: r.timeline,
  };
}

export function bounceRoutes(api: Api, deps: BounceDeps, maxBytes: number): void {
  api.route({ method: 'post', path: '/api/inbound', scope: 'admin', raw: true, query: inboundQuery,
    summary: 'Submit a raw bounce, complaint or auto-reply (RFC 822 body; ?to= the envelope recipient when known)' },
  async ({ tenantId, query, req, res }) => {
    const raw = await readRaw(req, res, maxBytes);
    if (raw.length === 0) throw new ApiError(422, 'invalid', 'the body must be the raw message', 'body');
    const result = await processInbound(deps, { raw, source: 'api', recipients: query.to ? [query.to] : [], tenantScope: tenantId });
    if (result.bounces.length === 0 && result.unsubscribes.length === 0 && result.timeline.length === 0) throw notFound('message');
    return { status: 202, body: summary(result) };
  });

  api.route({ method: 'get', path: '/api/bounces', scope: 'admin', query: listQuery, summary: 'Recorded bounces, complaints and auto-replies, newest first' },
    async ({ tenantId, query }) => ({ body: { bounces: await deps.db.withTenant(tenantId, (c) => listBounces(c, query)) } }));

  api.route({ method: 'get', path: '/api/bounces/:id/raw', scope: 'admin', summary: 'The raw report as received (while it is kept)' },
    async ({ tenantId, params, res }) => {
      const id = params.id;
      const raw = uuid.safeParse(id).success ? await deps.db.withTenant(tenantId, (c) => bounceRaw(c, id)) : null;
      if (!raw) throw notFound('raw report');
      res.status(200).type('message/rfc822').send(raw);
    });
}
