// HTTP side of bounces (scope admin): POST /api/inbound takes a raw RFC 822 report from an MTA that
// pipes bounces or a relay (body message/rfc822, text/plain or application/octet-stream, at most
// INBOUND_MAX_BYTES, else 413), optionally with ?to=<envelope recipient>; only the key's own
// tenant can be affected. GET /api/bounces lists recorded bounces; GET /api/bounces/:id/raw returns
// a raw report while it is kept.
import { z } from 'zod';
import { DomainError } from '../domain-error.js';
import { notFound, type Api } from '../platform/http.js';
import { uuid } from '../platform/schemas.js';
import { decodeKeyset, encodeKeyset, id, page, timestamp } from '../platform/responses.js';
import { processInbound, type BounceDeps, type InboundResult } from './process.js';
import { bounceRaw, listBounces, type BounceRow } from './store.js';
import { BLOCKED_REASONS, HARD_REASONS, OTHER_REASONS, SOFT_REASONS } from './reasons.js';

const KINDS = ['hard', 'soft', 'blocked', 'complaint', 'feedback', 'autoreply', 'unknown'] as const;
const inboundQuery = z.strictObject({ to: z.string().max(1024).optional() });
const listQuery = z.strictObject({
  messageId: uuid.optional(), contactId: uuid.optional(),
  kind: z.enum(KINDS).optional(),
  reason: z.enum([...HARD_REASONS, ...BLOCKED_REASONS, ...SOFT_REASONS, ...OTHER_REASONS]).optional().describe('the reason token (userunknown, mailboxfull, …)'),
  recipient: z.string().trim().min(3).max(320).refine((v) => v.includes('@') && !/[\u0000-\u001f\u007f]/.test(v), 'must be an email address').optional()
    .describe('the reported recipient, exact and case-insensitive'),
  campaignId: uuid.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

const bounceItem = z.object({
  id, messageId: id.nullable(), contactId: id.nullable(), campaignId: id.nullable(), kind: z.enum(KINDS),
  source: z.enum(['smtp', 'api', 'send']), matchedBy: z.enum(['verp', 'message_id', 'recipient', 'ledger', 'none']),
  status: z.string().nullable(), reason: z.string().nullable(), diagnostic: z.string().nullable(), recipient: z.string().nullable(),
  feedbackType: z.string().nullable(), action: z.string().nullable(), rawKept: z.boolean(), rawWithheld: z.string().nullable(),
  rawExpiresAt: timestamp.nullable(), receivedAt: timestamp,
});
const inboundResponse = z.object({
  kind: z.enum(KINDS), status: z.string().nullable(), reason: z.string(), recipient: z.string().nullable(),
  diagnostic: z.string().nullable(), feedbackType: z.string().nullable(),
  bounces: z.array(z.object({
    id: id.nullable(), duplicate: z.boolean(), messageId: id.nullable(), contactId: id.nullable(),
    matchedBy: z.string(), action: z.string().nullable(), campaignPaused: z.string().nullable(),
  })),
  unsubscribes: z.array(z.object({ contactId: id, changedListIds: z.array(id) })),
  timeline: z.array(id),
});

/** Why a raw report was not kept (bounces.raw_withheld), as the raw endpoint says it. */
const WITHHELD: Record<string, string> = {
  card_data: 'it held a payment-card number',
  capability_link: 'it quoted a confirm or unsubscribe link that acts for the recipient',
  unchecked: 'it could not be checked within the time budget',
  erased: 'the contact was erased',
};

const ACCEPTED_TYPES = /^(message\/rfc822|text\/plain|application\/octet-stream)$/i;

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

function bounceView({ cursorAt: _cursor, ...b }: BounceRow & { cursorAt?: string }): BounceRow {
  return b;
}

export function bounceRoutes(api: Api, deps: BounceDeps, maxBytes: number): void {
  api.route({ method: 'post', path: '/api/inbound', scope: 'admin', query: inboundQuery, response: inboundResponse, success: [202], errors: [404],
    raw: { types: ACCEPTED_TYPES, limit: maxBytes, accepts: 'message/rfc822, text/plain, application/octet-stream', defaultType: 'message/rfc822' },
    summary: 'Submit a raw bounce, complaint or auto-reply (RFC 822 body; ?to= the envelope recipient when known)' },
  async ({ tenantId, query, rawBody }) => {
    const raw = rawBody ?? Buffer.alloc(0);
    if (raw.length === 0) throw new DomainError('invalid', 'the body must be the raw message', 'body');
    const result = await processInbound(deps, { raw, source: 'api', recipients: query.to ? [query.to] : [], tenantScope: tenantId });
    if (result.bounces.length === 0 && result.unsubscribes.length === 0 && result.timeline.length === 0) throw notFound('message');
    return { status: 202, body: summary(result) };
  });

  api.route({ method: 'get', path: '/api/bounces', scope: 'admin', query: listQuery, response: page(bounceItem),
    summary: 'Recorded bounces, complaints and auto-replies, newest first: filter by message, contact, campaign, kind, reason and recipient; cursor-paged' },
  async ({ tenantId, query }) => {
    const after = query.cursor === undefined ? undefined : decodeKeyset(query.cursor);
    const rows = await deps.db.withTenant(tenantId, (c) => listBounces(c, { ...query, after }));
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return { body: { items: items.map(bounceView), nextCursor: rows.length > query.limit && last ? encodeKeyset({ at: last.cursorAt, id: last.id }) : null } };
  });

  api.route({ method: 'get', path: '/api/bounces/:id/raw', scope: 'admin', responseMediaType: 'message/rfc822',
    summary: 'The raw report as received (while it is kept)' },
  async ({ tenantId, params, res }) => {
    const bounceId = params.id;
    const found = uuid.safeParse(bounceId).success ? await deps.db.withTenant(tenantId, (c) => bounceRaw(c, bounceId)) : null;
    if (found && !found.raw && found.withheld) {
      throw new DomainError('not_found', `raw report withheld (${found.withheld}): ${WITHHELD[found.withheld] ?? 'it was not kept'}`, null,
        { rawWithheld: found.withheld });
    }
    if (!found?.raw) throw notFound('raw report');
    res.status(200).type('message/rfc822').send(found.raw);
  });
}
