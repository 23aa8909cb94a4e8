// The event feed over the API (scope events): GET /api/events, the tenant's events in feed order with
// an opaque cursor to poll from forever. The reading is src/events/feed.ts's; this file holds no SQL.
import { z } from 'zod';
import { DomainError } from '../domain-error.js';
import type { Db } from '../platform/db.js';
import type { Api } from '../platform/http.js';
import { timestamp } from '../platform/responses.js';
import { cursorInFeed, decodeCursor, encodeCursor, FEED_START, readFeed, type FeedEvent, type FeedPosition } from './feed.js';
import { EVENT_TYPES, isEventType, type EventType } from './types.js';

export const eventsQuery = z.strictObject({
  after: z.string().max(64).optional().describe('a nextCursor this endpoint returned; without it, the feed from its start'),
  types: z.string().max(2000).optional().describe(`comma-separated event types (default: all): ${EVENT_TYPES.join(', ')}`),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const feedItem = z.object({
  id: z.string().regex(/^[0-9]{1,19}$/).describe('the event id (a 64-bit integer as a string)'),
  type: z.enum(EVENT_TYPES),
  at: timestamp,
  data: z.record(z.string(), z.unknown()).describe('ids, the recipient address and figures; see the README for each type'),
});
const feedPage = z.object({
  items: z.array(feedItem),
  nextCursor: z.string().describe('always set: where to continue from (poll with it again to get what came after)'),
});

/** The position a request asks for: its `after` cursor (422 on query.after when not one of ours) or the start. */
export function afterPosition(after: string | undefined): FeedPosition {
  if (after === undefined) return FEED_START;
  const p = decodeCursor(after);
  if (!p) throw new DomainError('invalid', 'query.after: not a cursor returned by GET /api/events', 'query.after');
  return p;
}

/** The types a request filters on (null: all); an unknown one is 422 on query.types. */
export function parseTypes(types: string | undefined): EventType[] | null {
  if (types === undefined || types.trim() === '') return null;
  const asked = [...new Set(types.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  const bad = asked.find((s) => !isEventType(s));
  if (bad !== undefined) throw new DomainError('invalid', `query.types: unknown event type '${bad.slice(0, 60)}'`, 'query.types');
  return asked as EventType[];
}

/** An event as the API shows it. */
export function toFeedItem(e: FeedEvent): z.infer<typeof feedItem> {
  return { id: e.id, type: e.type, at: new Date(e.at).toISOString(), data: e.data };
}

const eventTypesPage = z.object({ items: z.array(z.enum(EVENT_TYPES)), nextCursor: z.null() });

export function eventRoutes(api: Api, db: Db): void {
  api.route({
    method: 'get', path: '/api/event-types', scope: 'events', response: eventTypesPage,
    summary: 'Every event type the feed and webhooks know, in documentation order (all of them: nextCursor is null)',
  }, async () => ({ body: { items: [...EVENT_TYPES], nextCursor: null } }));

  api.route({
    method: 'get', path: '/api/events', scope: 'events', query: eventsQuery, response: feedPage,
    summary: 'The tenant\'s event feed in order (message, contact, campaign and import events), with a cursor to poll from',
    description: 'Events appear once every older write has ended, in a stable order: polling with nextCursor never skips or repeats one. '
      + 'An event older than EVENTS_RETENTION_DAYS is gone; erasure removes a person\'s events except contact.erased.',
  }, async ({ tenantId, query }) => {
    const after = afterPosition(query.after);
    const types = parseTypes(query.types);
    const r = await db.withTenant(tenantId, async (c) => {
      if (query.after !== undefined && !(await cursorInFeed(c, after))) throw new DomainError('invalid', 'query.after: beyond the end of the feed: not a cursor returned by GET /api/events', 'query.after');
      return readFeed(c, { after, types, limit: query.limit });
    });
    return { body: { items: r.events.map(toFeedItem), nextCursor: encodeCursor(r.next) } };
  });
}
