// The owner of `events` (migration 074), the tenant's event feed. Triggers write the rows of ledger,
// consent, campaign and import changes; this file appends the others and reads the feed.
import type { Queryable } from '../platform/db.js';
import type { EventType } from './types.js';

export interface NewEvent {
  type: EventType;
  messageId?: string | null;
  contactId?: string | null;
  campaignId?: string | null;
  /** The event's payload: ids, the recipient address, figures; never other personal data. */
  data: Record<string, unknown>;
}

/**
 * Appends one event to the tenant's feed, in the caller's transaction (it exists exactly when the
 * caller's change commits), and wakes feed consumers (NOTIFY postgate_events at commit).
 */
export async function appendEvent(c: Queryable, tenantId: string, e: NewEvent): Promise<void> {
  await c.query(`WITH e AS (INSERT INTO events (tenant_id, type, message_id, contact_id, campaign_id, data)
      VALUES ($1, $2, $3, $4, $5, $6) RETURNING tenant_id)
    SELECT pg_notify('postgate_events', tenant_id::text) FROM e`,
  [tenantId, e.type, e.messageId ?? null, e.contactId ?? null, e.campaignId ?? null, JSON.stringify(e.data)]);
}

// ---- reading the feed ----------------------------------------------------------------------------

/**
 * A position in the feed: the (txid, id) of the last event read, both bigints as decimal strings.
 * Feed order is (txid, id); a reader only ever sees rows with txid < events_horizon() (every older
 * transaction of the cluster has ended), so a row committed later always sorts after this position.
 */
export interface FeedPosition { txid: string; id: string }

/** The position before every event (a new reader starts here). */
export const FEED_START: FeedPosition = { txid: '0', id: '0' };

/** One event as the feed gives it: ids as decimal strings, `at` the time of the change. */
export interface FeedEvent {
  id: string; txid: string; type: EventType; at: Date;
  messageId: string | null; contactId: string | null; campaignId: string | null;
  data: Record<string, unknown>;
}

const BIGINT = /^(0|[1-9][0-9]{0,18})$/;
const INT8_MAX = 9223372036854775807n;
const isInt8 = (s: string): boolean => BIGINT.test(s) && BigInt(s) <= INT8_MAX;

/** The opaque cursor of a position: base64url of "<txid>.<id>". */
export function encodeCursor(p: FeedPosition): string {
  return Buffer.from(`${p.txid}.${p.id}`).toString('base64url');
}

/**
 * Reads a cursor made by encodeCursor, in its canonical form only (re-encoding gives the same text);
 * null for anything else (the caller names the field at fault). Whether it lies inside the feed is
 * cursorInFeed's question.
 */
export function decodeCursor(s: string): FeedPosition | null {
  if (s.length > 64 || !/^[A-Za-z0-9_-]+$/.test(s)) return null;
  const parts = Buffer.from(s, 'base64url').toString('latin1').split('.');
  if (parts.length !== 2 || !parts.every(isInt8)) return null;
  const p = { txid: parts[0], id: parts[1] };
  return encodeCursor(p) === s ? p : null;
}

/**
 * Whether a position can have been given by the feed: its txid below events_horizon() (every cursor
 * handed out is) and its id at most the last id the events sequence gave (any tenant). A corrupted or
 * made-up cursor beyond the end (which would silently skip every later event) is false. One row read
 * of the sequence, no scan.
 */
export async function cursorInFeed(c: Queryable, p: FeedPosition): Promise<boolean> {
  const r = await c.query<{ ok: boolean }>(`SELECT $1::bigint < events_horizon()
    AND $2::bigint <= (SELECT last_value FROM events_id_seq) AS ok`, [p.txid, p.id]);
  return r.rows[0].ok;
}

/** What readFeed reads: after a position (exclusive), of these types (null or empty: all), at most `limit` events. */
export interface FeedQuery { after: FeedPosition; types?: readonly EventType[] | null; limit: number }

/** How many rows one read looks at, at most, when a type filter skips rows (bounds the work of one page). */
export const FEED_SCAN_ROWS = 10_000;

// Ids as decimal strings. ORDER BY must name events.txid and events.id (or t, i): the bare names are
// these text columns, which sort '10' before '9'.
const EVENT_COLUMNS = `id::text AS id, txid::text AS txid, type, at, message_id AS "messageId", contact_id AS "contactId",
  campaign_id AS "campaignId", data`;

/**
 * readFeed's query ($1 txid, $2 id after; $3 rows looked at; $4 types or null; $5 limit): the rows after
 * the position below the horizon, in order, on the (tenant_id, txid, id) index; then those of the types,
 * and the last row looked at (edge). Exported for the plan check of test/events/cursor.test.ts.
 */
export const FEED_SQL = `WITH s AS MATERIALIZED (
      SELECT ${EVENT_COLUMNS}, txid AS t, id AS i FROM events
       WHERE (txid, id) > ($1::bigint, $2::bigint) AND txid < events_horizon()
       ORDER BY t, i LIMIT $3)
    SELECT id, txid, type, at, "messageId", "contactId", "campaignId", data, edge FROM (
      (SELECT s.*, false AS edge FROM s WHERE $4::text[] IS NULL OR type = ANY($4::text[]) ORDER BY t, i LIMIT $5)
      UNION ALL
      (SELECT s.*, true FROM s ORDER BY t DESC, i DESC LIMIT 1)) u
    ORDER BY edge, t, i`;

/**
 * The current tenant's events after `q.after`, in feed order, below the horizon: at most `q.limit`
 * of them (1..10,000). `next` is always where to continue from: the last event returned, or, when a
 * type filter skipped rows, the last row looked at (at most FEED_SCAN_ROWS per call), or `q.after`
 * when there is nothing new. Polling with `next` forever sees every matching event exactly once.
 * Runs under the tenant's row security; the (tenant_id, txid, id) index serves it.
 */
export async function readFeed(c: Queryable, q: FeedQuery): Promise<{ events: FeedEvent[]; next: FeedPosition }> {
  const limit = Math.max(1, Math.min(10_000, Math.trunc(q.limit)));
  const types = q.types?.length ? [...q.types] : null;
  const scan = types ? Math.max(limit, FEED_SCAN_ROWS) : limit;
  const r = await c.query<FeedEvent & { edge: boolean }>(FEED_SQL,
  [q.after.txid, q.after.id, scan, types, limit]);
  const events = r.rows.filter((e) => !e.edge).map(({ edge: _edge, ...e }) => e);
  const edge = r.rows.find((e) => e.edge);
  const last = events.length === limit ? events[events.length - 1] : edge;
  return { events, next: last ? { txid: last.txid, id: last.id } : q.after };
}

/**
 * The position at the feed's current end: every event visible now is at or before it, every event
 * committed later after it (a new webhook endpoint starts here, without history).
 */
export async function feedEnd(c: Queryable): Promise<FeedPosition> {
  const r = await c.query<{ h: string }>('SELECT (events_horizon() - 1)::text AS h');
  return { txid: r.rows[0].h, id: INT8_MAX.toString() };
}

/** The current tenant's events with these ids (decimal strings; others ignored), in feed order. */
export async function eventsById(c: Queryable, ids: readonly string[]): Promise<FeedEvent[]> {
  const valid = ids.filter(isInt8);
  if (!valid.length) return [];
  const r = await c.query<FeedEvent>(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ANY($1::bigint[]) ORDER BY events.txid, events.id`, [valid]);
  return r.rows;
}

/**
 * The current tenant's events with `since` <= at < `until`, below the horizon, of these types (null or
 * empty: all), in feed order, at most `limit` (a replay of a time range).
 */
export async function eventsBetween(c: Queryable, q: { since: Date; until: Date; types?: readonly EventType[] | null; limit: number }): Promise<FeedEvent[]> {
  const types = q.types?.length ? [...q.types] : null;
  const r = await c.query<FeedEvent>(`SELECT ${EVENT_COLUMNS} FROM events
    WHERE at >= $1 AND at < $2 AND txid < events_horizon() AND ($3::text[] IS NULL OR type = ANY($3::text[]))
    ORDER BY events.txid, events.id LIMIT $4`, [q.since, q.until, types, Math.max(1, Math.trunc(q.limit))]);
  return r.rows;
}

/** One message's events (its timeline), oldest first, as the feed holds them (no horizon: all committed). */
export async function messageTimeline(c: Queryable, messageId: string): Promise<FeedEvent[]> {
  const r = await c.query<FeedEvent>(`SELECT ${EVENT_COLUMNS} FROM events WHERE message_id = $1 ORDER BY events.txid, events.id`, [messageId]);
  return r.rows;
}

/**
 * Retention: deletes every tenant's events older than `days` days (EVENTS_RETENTION_DAYS), at most
 * `limit` of them (oldest first; omitted: all), through purge_expired_events() (migrations 074, 079:
 * a system sweep sees no tenant's rows; rows another transaction holds are skipped). Returns how many.
 */
export async function purgeExpiredEvents(c: Queryable, days: number, limit?: number): Promise<number> {
  const r = await c.query<{ n: string }>('SELECT purge_expired_events($1, $2)::text AS n', [days, limit ?? null]);
  return Number(r.rows[0].n);
}
